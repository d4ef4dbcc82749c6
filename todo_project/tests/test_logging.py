"""Logs: uvicorn-style text or JSON, and never a credential."""

import json
import logging

import httpx
import pytest

from chat.tests.conftest import GROQ_KEY
from conftest import DATABASE_PASSWORD, auth_headers, credentials_in, database_url_for_tests, free_port
from todo_project.log import REDACTED, RedactingFilter, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("headers={'authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ('{"email": "a@b.c", "password": "hunter2-secret"}', "hunter2-secret"),
        ("GET /api/x?token=tok-123456&page=2", "tok-123456"),
        ("GROQ_API_KEY=gsk_abcdefghijklmnopqrstuvwxyz", "gsk_abcdefghijklmnopqrstuvwxyz"),
        ("calling with key gsk_abcdefghijklmnopqrstuvwxyz", "gsk_abcdefghijklmnopqrstuvwxyz"),
        (f"token {JWT} refused", JWT),
        ("postgresql://todo:db-pass-word@db:5432/todo", "db-pass-word"),
        ("BETTER_AUTH_SECRET: 'a-long-secret-value-0123456789'", "a-long-secret-value-0123456789"),
    ],
)
def test_redact_removes_each_kind_of_credential(text: str, secret: str) -> None:
    redacted = redact(text)

    assert secret not in redacted
    assert REDACTED in redacted


def test_redact_keeps_ordinary_text() -> None:
    text = '127.0.0.1:5000 - "GET /api/123/tasks?status=pending HTTP/1.1" 200'

    assert redact(text) == text


def make_record(msg: str, args: tuple = (), name: str = "app", exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, exc_info)


def test_the_filter_redacts_a_secret_split_between_format_and_arguments() -> None:
    record = make_record("login with password=%s for %s", ("hunter2-secret", "alice"))

    RedactingFilter().filter(record)

    assert "hunter2-secret" not in record.getMessage()
    assert "alice" in record.getMessage()


def test_the_filter_keeps_access_log_arguments_usable() -> None:
    record = make_record(
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/x?access_token=abcdef", "1.1", 200),
        name="uvicorn.access",
    )

    RedactingFilter().filter(record)

    assert len(record.args) == 5
    assert "abcdef" not in record.getMessage()


def test_the_filter_redacts_tracebacks() -> None:
    try:
        raise ValueError("bad password=hunter2-secret")
    except ValueError:
        import sys

        record = make_record("failed", exc_info=sys.exc_info())

    RedactingFilter().filter(record)

    assert "hunter2-secret" not in record.exc_text
    assert "ValueError" in record.exc_text


def test_a_request_with_a_token_and_a_password_leaves_neither_in_the_logs(live_server_process) -> None:
    server = live_server_process(LOG_LEVEL="DEBUG")

    httpx.post(
        f"{server.url}/api/auth/signin?token={JWT}",
        json={"email": "alice@example.com", "password": "hunter2-secret"},
        headers={"Authorization": f"Bearer {JWT}"},
    )
    httpx.get(f"{server.url}/no/such/page?api_key=gsk_abcdefghijklmnopqrstuvwxyz")
    server.stop()

    logs = server.stdout + server.stderr
    assert "/api/auth/signin" in logs
    for secret in (JWT, "hunter2-secret", "gsk_abcdefghijklmnopqrstuvwxyz"):
        assert secret not in logs


def test_json_log_format_writes_one_object_per_line(live_server_process) -> None:
    server = live_server_process(LOG_FORMAT="json")

    httpx.get(f"{server.url}/health")
    server.stop()

    entries = [json.loads(line) for line in server.stdout.splitlines()]
    messages = [entry["message"] for entry in entries]
    assert "Application startup complete." in messages
    assert any('"GET /health HTTP/1.1" 200' in message for message in messages)
    assert {"time", "level", "logger", "message"} <= set(entries[0])


def test_no_database_password_or_provider_key_reaches_the_logs_even_at_debug(
    live_server_process, alice, fake_llm
) -> None:
    with_password = database_url_for_tests().replace(
        "postgresql://postgres", f"postgresql://postgres:{DATABASE_PASSWORD}"
    )
    fake_llm.error(500, message=f"echo {GROQ_KEY}").error(500, message=f"echo {GROQ_KEY}")
    fake_llm.error(401, message=f"bad key {GROQ_KEY}")
    server = live_server_process(
        LOG_LEVEL="DEBUG",
        DATABASE_URL=with_password,
        LLM_PROVIDER="GROQ",
        GROQ_API_KEY=GROQ_KEY,
        GROQ_BASE_URL=fake_llm.url,
    )
    unreachable = live_server_process(
        LOG_LEVEL="DEBUG",
        DATABASE_URL=f"postgresql://postgres:{DATABASE_PASSWORD}@127.0.0.1:{free_port()}/todo",
        DB_POOL_TIMEOUT="1",
    )

    chat = httpx.post(
        f"{server.url}/api/{alice.pk}/chat",
        json={"message": "Hello"},
        headers=auth_headers(alice),
    )
    ready = httpx.get(f"{unreachable.url}/ready")
    signin = httpx.post(
        f"{unreachable.url}/api/auth/signin",
        json={"email": "alice@example.com", "password": "correct-horse-battery"},
    )
    server.stop()
    unreachable.stop()

    assert (chat.status_code, ready.status_code, signin.status_code) == (200, 503, 503)
    logs = server.stdout + server.stderr + unreachable.stdout + unreachable.stderr
    assert "failed (attempt 1): HTTP 500" in logs
    assert credentials_in(logs) == []
