"""CORS: FRONTEND_URL's origins may call the API; other origins get no CORS headers."""

import pytest

from todo_project.env import ConfigurationError, env_origins


def preflight(api, origin: str):
    return api.options(
        "/openapi.json",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


def test_a_preflight_from_the_frontend_is_allowed(api) -> None:
    response = preflight(api, "http://localhost:3000")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert set(response["Access-Control-Allow-Methods"].split(", ")) == {
        "GET",
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
        "OPTIONS",
    }
    assert set(response["Access-Control-Allow-Headers"].split(", ")) == {
        "authorization",
        "content-type",
        "idempotency-key",
        "if-match",
        "if-none-match",
        "last-event-id",
    }
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert int(response["Access-Control-Max-Age"]) >= 600


def test_a_preflight_from_another_origin_gets_no_cors_headers(api) -> None:
    response = preflight(api, "https://evil.example.com")

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Methods" not in response
    assert "Access-Control-Allow-Credentials" not in response


def test_a_simple_request_from_the_frontend_carries_the_origin(api) -> None:
    response = api.get("/openapi.json", HTTP_ORIGIN="http://localhost:3000")

    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert set(response["Access-Control-Expose-Headers"].split(", ")) == {
        "Location",
        "X-Total-Count",
        "Retry-After",
        "ETag",
        "Idempotent-Replayed",
        "x-vercel-ai-ui-message-stream",
    }


def test_an_error_answer_carries_the_cors_headers_too(api) -> None:
    response = api.post("/api/auth/signin", {}, format="json", HTTP_ORIGIN="http://localhost:3000")

    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response["Access-Control-Allow-Credentials"] == "true"


def test_a_wildcard_frontend_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTEND_URL", "*")

    with pytest.raises(ConfigurationError, match="wildcard"):
        env_origins("FRONTEND_URL", required=True)


def test_frontend_url_may_list_several_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTEND_URL", "https://app.example.com/, http://localhost:3000")

    assert env_origins("FRONTEND_URL", required=True) == ["https://app.example.com", "http://localhost:3000"]


@pytest.mark.parametrize("value", ["app.example.com", "https://app.example.com/path", "ftp://x.org"])
def test_frontend_url_must_hold_origins(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FRONTEND_URL", value)

    with pytest.raises(ConfigurationError, match="FRONTEND_URL"):
        env_origins("FRONTEND_URL", required=True)
