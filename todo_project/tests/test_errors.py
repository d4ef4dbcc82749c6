"""Every error body is JSON in the shape {"detail", "code"[, "errors"]}."""

import json
import logging

import httpx
import pytest
from django.test import Client
from rest_framework import exceptions

from conftest import free_port
from todo_project.exceptions import exception_handler

pytestmark = pytest.mark.urls("todo_project.tests.urls")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def test_an_unknown_url_is_a_json_404(api) -> None:
    assert_error(api.get("/no/such/page"), 404, "not_found")


def test_a_trailing_slash_is_not_redirected(api) -> None:
    assert_error(api.get("/docs/"), 404, "not_found")


def test_http404_in_an_api_view_is_a_json_404(api) -> None:
    body = assert_error(api.get("/test/missing"), 404, "not_found")

    assert "errors" not in body


def test_malformed_json_is_a_parse_error(api) -> None:
    response = api.post("/test/echo", data='{"title": ', content_type="application/json")

    assert_error(response, 400, "parse_error")


def test_a_wrong_content_type_is_415(api) -> None:
    response = api.post("/test/echo", data="title=x", content_type="application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")


def test_a_wrong_method_is_405(api) -> None:
    assert_error(api.delete("/test/echo"), 405, "method_not_allowed")


def test_validation_errors_name_each_field(api) -> None:
    response = api.post("/test/echo", {"title": "far too long a title", "count": "many"}, format="json")

    body = assert_error(response, 400, "validation_error")
    assert set(body["errors"]) == {"title", "count"}
    assert all(isinstance(message, str) for messages in body["errors"].values() for message in messages)


def test_a_missing_body_names_the_required_fields(api) -> None:
    body = assert_error(api.post("/test/echo", {}, format="json"), 400, "validation_error")

    assert body["errors"] == {
        "title": ["This field is required."],
        "count": ["This field is required."],
    }


def test_a_validation_error_detail_names_the_first_problem(api) -> None:
    response = api.post("/test/echo", {"title": "far too long a title", "count": 1}, format="json")

    body = assert_error(response, 400, "validation_error")
    assert body["detail"] == "title: Ensure this field has no more than 10 characters."


def test_an_error_of_the_whole_body_is_its_own_sentence(api) -> None:
    body = assert_error(api.post("/test/echo", [1, 2], format="json"), 400, "validation_error")

    assert body["detail"] == body["errors"]["non_field_errors"][0]
    assert not body["detail"].startswith("non_field_errors")


def test_an_unexpected_exception_is_a_json_500_without_a_traceback() -> None:
    client = Client(raise_request_exception=False)

    response = client.get("/test/broken")

    body = assert_error(response, 500, "server_error")
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert set(body) == {"detail", "code"}


def test_a_csrf_failure_is_a_json_403() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", {"username": "a", "password": "b"})

    assert_error(response, 403, "permission_denied")


def test_throttling_says_when_to_retry() -> None:
    response = exception_handler(exceptions.Throttled(wait=2.2), {})

    assert response.status_code == 429
    assert response.data["code"] == "throttled"
    assert response["Retry-After"] == "3"


def test_authentication_failures_use_the_token_codes() -> None:
    missing = exception_handler(exceptions.NotAuthenticated(), {})
    invalid = exception_handler(exceptions.AuthenticationFailed(), {})

    assert missing.data["code"] == "not_authenticated"
    assert invalid.data["code"] == "invalid_token"


def test_a_body_over_1_mib_is_413_before_django_reads_it(shared_server) -> None:
    server = shared_server()
    body = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'

    declared = httpx.post(
        f"{server.url}/api/anything", content=body, headers={"Content-Type": "application/json"}
    )
    chunked = httpx.post(
        f"{server.url}/api/anything",
        content=iter([body[: 512 * 1024], body[512 * 1024 :]]),
        headers={"Content-Type": "application/json"},
    )

    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"


def test_a_chunked_body_under_the_limit_reaches_django(shared_server) -> None:
    server = shared_server()

    response = httpx.post(
        f"{server.url}/no/such/route",
        content=iter([b'{"a":', b" 1}"]),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_host_not_allowed_is_a_json_400_and_one_warning_line(settings, caplog) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]

    with caplog.at_level(logging.INFO):
        response = Client().get("/openapi.json", HTTP_HOST="evil.example.com\r\nX: " + "y" * 500)

    assert_error(response, 400, "invalid_host")
    assert response["X-Content-Type-Options"] == "nosniff"
    [record] = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "evil.example.com" in record.getMessage()
    assert "\n" not in record.getMessage()
    assert len(record.getMessage()) < 200


def test_responses_carry_the_security_headers(api) -> None:
    for response in (api.get("/openapi.json"), api.get("/no/such/page")):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"


def test_a_lost_database_is_503_service_unavailable(live_server_process) -> None:
    closed_port = free_port()
    server = live_server_process(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port}/todo", DB_POOL_TIMEOUT="1"
    )

    response = httpx.post(
        f"{server.url}/api/auth/signin",
        json={"email": "a@example.com", "password": "whatever-123"},
    )

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response.headers["retry-after"] == "5"
