"""Logs: uvicorn-style text or JSON, and never a credential."""

import json
import logging

import httpx
import pytest

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
