"""Sign-in and sign-up are throttled per client address; credentials never reach the logs."""

import time

import httpx
import pytest

pytestmark = pytest.mark.django_db

CREDENTIALS = {"email": "alice@example.com", "password": "correct-horse-battery"}


def test_signin_is_throttled_per_address_with_retry_after(api, alice, settings) -> None:
    settings.AUTH_RATE_LIMIT = "3/minute"
    # The limits count in fixed windows: start away from the end of a minute.
    while time.time() % 60 > 55:
        time.sleep(0.5)

    statuses = [api.post("/api/auth/signin", CREDENTIALS, format="json").status_code for _ in range(4)]
    throttled = api.post("/api/auth/signin", CREDENTIALS, format="json")

    assert statuses == [200, 200, 200, 429]
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60


def test_signup_is_throttled_too(api, settings) -> None:
    settings.AUTH_RATE_LIMIT = "2/day"
    bodies = [
        {"email": f"user{n}@example.com", "password": "violet-ladder-42", "name": f"User {n}"}
        for n in range(3)
    ]

    statuses = [api.post("/api/auth/signup", body, format="json").status_code for body in bodies]

    assert statuses == [201, 201, 429]


def test_another_address_has_its_own_allowance(api, alice, settings) -> None:
    settings.AUTH_RATE_LIMIT = "1/day"

    first = api.post("/api/auth/signin", CREDENTIALS, format="json", REMOTE_ADDR="10.0.0.1")
    second = api.post("/api/auth/signin", CREDENTIALS, format="json", REMOTE_ADDR="10.0.0.2")
    again = api.post("/api/auth/signin", CREDENTIALS, format="json", REMOTE_ADDR="10.0.0.1")

    assert (first.status_code, second.status_code, again.status_code) == (200, 200, 429)


def test_a_forwarded_for_header_does_not_buy_a_new_allowance(api, alice, settings) -> None:
    settings.AUTH_RATE_LIMIT = "1/day"

    api.post("/api/auth/signin", CREDENTIALS, format="json")
    spoofed = api.post("/api/auth/signin", CREDENTIALS, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert spoofed.status_code == 429


def test_no_password_or_token_appears_in_the_logs(live_server_process) -> None:
    server = live_server_process(LOG_LEVEL="DEBUG")
    password = "unusual-pass-phrase-93"

    signup = httpx.post(
        f"{server.url}/api/auth/signup",
        json={"email": "erin@example.com", "password": password, "name": "Erin"},
    )
    token = signup.json()["token"]
    signin = httpx.post(
        f"{server.url}/api/auth/signin", json={"email": "erin@example.com", "password": password}
    )
    me = httpx.get(f"{server.url}/api/auth/me?token={token}", headers={"Authorization": f"Bearer {token}"})
    bad = httpx.post(
        f"{server.url}/api/auth/signin", json={"email": "erin@example.com", "password": "x" + password}
    )
    server.stop()

    assert (signup.status_code, signin.status_code, me.status_code, bad.status_code) == (201, 200, 200, 401)
    logs = server.stdout + server.stderr
    assert "/api/auth/me" in logs
    assert password not in logs
    assert token not in logs
    assert signin.json()["token"] not in logs
