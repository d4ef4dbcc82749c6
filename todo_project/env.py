"""Typed readers for the environment.

Each reader names the variable it failed on, so a bad deployment stops with one
line that says what to fix instead of a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from todo_project.patterns import pattern


class ConfigurationError(ImproperlyConfigured):
    """A missing or malformed environment variable."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_RATE = pattern(r"^\d+/(second|minute|hour|day)$")


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str:
    value = _raw(name)
    if value is None:
        if required:
            raise ConfigurationError(f"{name} is required but not set.")
        return default if default is not None else ""
    return value


def env_secret(name: str, *, required: bool = False, min_length: int = 32) -> str:
    value = env_str(name, required=required)
    if value and len(value) < min_length:
        raise ConfigurationError(
            f"{name} must be at least {min_length} characters long "
            f"(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
    return value


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {value!r}.") from None
    _check_range(name, number, minimum, maximum)
    return number


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {value!r}.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigurationError(f"{name} must be a finite number, got {value!r}.")
    _check_range(name, number, minimum, maximum)
    return number


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {value!r}.")


def env_choice(name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
    value = _raw(name)
    if value is None:
        return default
    if upper:
        value = value.upper()
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {value!r}.")
    return value


def env_list(name: str, default: list[str] | None = None, *, required: bool = False) -> list[str]:
    value = env_str(name, required=required)
    if not value:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_origins(name: str, *, required: bool = False) -> list[str]:
    """A comma-separated list of browser origins such as https://app.example.com."""
    origins = env_list(name, required=required)
    if required and not origins:
        raise ConfigurationError(f"{name} is required but not set.")
    if "*" in origins:
        # Browsers send credentials to the API, and credentials are never
        # allowed for every origin: name the frontends.
        raise ConfigurationError(
            f"{name} must list the frontend's origins (https://app.example.com); "
            "a wildcard * is refused because credentials are allowed."
        )
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ConfigurationError(
                f"{name} must be a comma-separated list of origins like https://app.example.com, "
                f"got {origin!r}."
            )
    return [origin.rstrip("/") for origin in origins]


def env_url(name: str, default: str) -> str:
    value = env_str(name, default)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{name} must be an http(s) URL, got {value!r}.")
    return value.rstrip("/")


def env_rate(name: str, default: str) -> str:
    value = env_str(name, default)
    if not _RATE.match(value):
        raise ConfigurationError(
            f"{name} must look like 20/minute (per second, minute, hour or day), got {value!r}."
        )
    return value


def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {number}.")
    if maximum is not None and number > maximum:
        raise ConfigurationError(f"{name} must be at most {maximum}, got {number}.")


@contextmanager
def exit_on_configuration_error() -> Iterator[None]:
    """Turn a ConfigurationError into one line on stderr and exit status 2."""
    try:
        yield
    except ConfigurationError as exc:
        sys.stderr.write(f"Configuration error: {exc}\n")
        sys.stderr.flush()
        raise SystemExit(2) from None


CONNECT_TIMEOUT_SECONDS = 5
_SSL_ALIASES = {"true": "require", "1": "require", "false": "disable", "0": "disable"}


def env_database(name: str, *, pool: dict[str, float]) -> dict:
    """A Django DATABASES entry for PostgreSQL from a URL.

    Accepts postgres:// and postgresql://, libpq's ?sslmode=... and the
    asyncpg-style ?ssl=require that the deployment contract uses.
    """
    import dj_database_url

    url = env_str(name, required=True)
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        raise ConfigurationError(
            f"{name} must be a PostgreSQL URL like postgresql://user:password@host:5432/dbname."
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=0, conn_health_checks=True)
    except ValueError:
        raise ConfigurationError(f"{name} is not a valid database URL.") from None
    if not config.get("NAME"):
        raise ConfigurationError(f"{name} must name a database, e.g. .../dbname.")
    options = dict(config.get("OPTIONS") or {})
    ssl = options.pop("ssl", None)
    if ssl is not None and "sslmode" not in options:
        ssl = str(ssl).lower()
        options["sslmode"] = _SSL_ALIASES.get(ssl, ssl)
    # A database that drops packets must not hold a connection attempt for
    # the operating system's TCP timeout (minutes); the URL may set its own.
    options.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    options["pool"] = pool
    config["OPTIONS"] = options
    return config
