"""Logging: uvicorn-style text or JSON lines, info to stdout, problems to stderr,
and a filter that keeps credentials out of every record."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from todo_project.patterns import pattern

REDACTED = "[REDACTED]"

_SENSITIVE_KEY = pattern(
    r"(?i)password|passwd|pwd|secret|token|ticket|api[_-]?key|apikey|authorization|"
    r"credentials?|private[_-]?key|session[_-]?id|cookie"
)


def _redact_if_sensitive_key(match: re.Match[str]) -> str:
    key, separator = match[1], match[2]
    return f"{key}{separator}{REDACTED}" if _SENSITIVE_KEY.search(key) else match[0]


_PATTERNS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # "Authorization: Bearer abc", authorization='Basic abc'
    (
        pattern(r"(?i)(authorization[\"']?\s*+[:=]\s*+[\"']?)(?:bearer\s+|basic\s+|token\s+)?[^\s\"',;}]++"),
        rf"\1{REDACTED}",
    ),
    # password=..., "token": "...", 'api-key': '...', ?access_token=...: a key
    # (a whole word, hyphens included, taken once) that names a secret, and its value.
    (
        pattern(r"(?<![\w-])([\w-]++)([\"']?\s*+[:=]\s*+[\"']?)[^\s\"'&,;}]++"),
        _redact_if_sensitive_key,
    ),
    # A bare bearer token or JWT anywhere in a message.
    (pattern(r"(?i)(bearer\s+)[\w\-.~+/=]+"), rf"\1{REDACTED}"),
    (pattern(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"), REDACTED),
    # Provider keys (Groq gsk_..., OpenAI-style sk-...).
    (pattern(r"\b(?:gsk|sk)[_-][A-Za-z0-9_\-]{16,}"), REDACTED),
    # The password part of scheme://user:password@host.
    (pattern(r"(\b[a-z][a-z0-9+.\-]*://[^:/\s@]*:)[^@\s/]+(@)"), rf"\1{REDACTED}\2"),
]


# Every pattern above needs one of these words in the text: one search tells
# most lines (an access line's address, method, path) apart from the rest.
_MAYBE_SENSITIVE = pattern(rf"{_SENSITIVE_KEY.pattern}|(?i:bearer)|eyJ|\b(?:gsk|sk)[_-]|://")


def redact(text: str) -> str:
    if not _MAYBE_SENSITIVE.search(text):
        return text
    for compiled, replacement in _PATTERNS:
        text = compiled.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """Rewrites a record so that no credential survives in its message,
    arguments or traceback text. It never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            # One line per request: of (address, method, path, HTTP version,
            # status) only the path, with its query string, can carry a secret.
            address, method, path, version, status = record.args
            record.args = (address, method, _redact_value(path), version, status)
            return True
        if not record.args:
            if isinstance(record.msg, str):
                record.msg = redact(record.msg)
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_value(value) for key, value in record.args.items()}
        # A secret split between the format string and its arguments
        # ("password=%s", secret) only shows once they are joined. uvicorn's
        # access formatter needs its positional arguments, so keep those.
        if record.args and record.name != "uvicorn.access":
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                message = None
            if message is not None and redact(message) != message:
                record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class MaxLevelFilter(logging.Filter):
    """Passes records below a level: info goes to stdout, problems to stderr."""

    def __init__(self, below: str) -> None:
        super().__init__()
        self.below = logging.getLevelName(below)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.below


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """The LOGGING setting. Django applies it when the app loads, which under
    uvicorn is before the server prints its start-up lines, so uvicorn's own
    loggers are configured here too."""
    if fmt == "json":
        formatters = {
            "default": {"()": JsonFormatter},
            "access": {"()": JsonFormatter},
        }
    else:
        formatters = {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
                "use_colors": False,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        }
    filters = {
        "redact": {"()": RedactingFilter},
        "below_warning": {"()": MaxLevelFilter, "below": "WARNING"},
    }
    handlers = {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "default",
            "filters": ["redact", "below_warning"],
        },
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "default",
            "filters": ["redact"],
            "level": "WARNING",
        },
        "access": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "access",
            "filters": ["redact"],
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "filters": filters,
        "handlers": handlers,
        "root": {"handlers": ["stdout", "stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["stdout", "stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level, "propagate": True},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            # Django logs every 4xx as a warning; expected client errors are
            # not problems of the server. 5xx still reach stderr.
            "django.request": {"level": "ERROR"},
            "django.db.backends": {"level": "INFO"},
            # The MCP SDK tells of its session manager starting and of every
            # refused tool argument at INFO; its warnings (a refused Host) stay.
            "mcp": {"level": "WARNING"},
            # procrastinate (the reminders' queue) tells of each task it
            # registers at INFO; `manage.py run_worker` lowers this to LOG_LEVEL.
            "procrastinate": {"level": "WARNING"},
            # httpx tells of every request to a model provider at INFO.
            "httpx": {"level": "WARNING"},
        },
    }
