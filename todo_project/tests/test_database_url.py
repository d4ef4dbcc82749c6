"""DATABASE_URL: both schemes, the contract's ?ssl=require and libpq's ?sslmode=."""

import pytest
from django.conf import settings

from todo_project.env import ConfigurationError, env_database

POOL = {"min_size": 5, "max_size": 20, "timeout": 30.0, "max_idle": 300.0}


def parse(monkeypatch: pytest.MonkeyPatch, url: str) -> dict:
    monkeypatch.setenv("DATABASE_URL", url)
    return env_database("DATABASE_URL", pool=POOL)


def test_the_contracts_ssl_require_form_becomes_libpq_sslmode(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse(monkeypatch, "postgresql://todo:s3cret@db.example.com:5432/todo?ssl=require")

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example.com", 5432, "todo")
    assert (config["USER"], config["PASSWORD"]) == ("todo", "s3cret")
    assert config["OPTIONS"]["sslmode"] == "require"
    assert "ssl" not in config["OPTIONS"]


def test_neons_sslmode_and_channel_binding_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse(
        monkeypatch,
        "postgres://neondb_owner:pw@ep-cool-1.eu-central-1.aws.neon.tech/neondb"
        "?sslmode=require&channel_binding=require",
    )

    assert config["NAME"] == "neondb"
    assert config["OPTIONS"]["sslmode"] == "require"
    assert config["OPTIONS"]["channel_binding"] == "require"


def test_ssl_true_means_require_and_false_means_disable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse(monkeypatch, "postgres://u@h/db?ssl=true")["OPTIONS"]["sslmode"] == "require"
    assert parse(monkeypatch, "postgres://u@h/db?ssl=false")["OPTIONS"]["sslmode"] == "disable"


def test_the_pool_and_connection_rules_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse(monkeypatch, "postgres://u@h/db")

    assert config["OPTIONS"]["pool"] == POOL
    assert config["CONN_MAX_AGE"] == 0
    assert config["CONN_HEALTH_CHECKS"] is True


def test_a_connection_attempt_gives_up_after_five_seconds_unless_the_url_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse(monkeypatch, "postgres://u@h/db")["OPTIONS"]["connect_timeout"] == 5
    assert parse(monkeypatch, "postgres://u@h/db?connect_timeout=2")["OPTIONS"]["connect_timeout"] == 2


def test_a_percent_encoded_socket_directory_is_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse(monkeypatch, "postgresql://postgres@%2Ftmp%2Fpg/todo")["HOST"] == "/tmp/pg"


@pytest.mark.parametrize("url", ["sqlite:///db.sqlite3", "mysql://root@localhost/todo", "postgres://u@h"])
def test_other_engines_and_urls_without_a_database_are_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        parse(monkeypatch, url)


def test_the_running_settings_share_the_pool_defaults_between_the_two_pools() -> None:
    database = settings.DATABASES["default"]

    assert database["OPTIONS"]["pool"] == POOL | {"min_size": 3, "max_size": 10}
    assert (settings.ASYNC_POOL_MIN, settings.ASYNC_POOL_MAX) == (2, 10)
    assert database["CONN_MAX_AGE"] == 0
    assert database["CONN_HEALTH_CHECKS"] is True
