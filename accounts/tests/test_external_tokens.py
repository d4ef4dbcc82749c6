"""Tokens made elsewhere (Better Auth): asymmetric ones against a JWKS served
on loopback, HMAC ones with the shared secret; the user is created on first
sight, accounts are never merged, and every kind of bad token is 401."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings as django_settings
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, RSAPSSAlgorithm
from rest_framework.test import APIClient

from accounts import jwks
from accounts.models import User
from conftest import BUSY_MACHINE_MARGIN_SECONDS, WAIT_GUARD_SECONDS, auth_headers
from tasks.models import Task

pytestmark = pytest.mark.django_db

ISSUER = "http://127.0.0.1:3000"
KEYS = {
    "EdDSA": (ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm),
    "ES256": (ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
    "RS256": (rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
    "PS256": (rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAPSSAlgorithm),
}


def public_jwk(algorithm: str) -> dict[str, Any]:
    private_key, algorithm_class = KEYS[algorithm]
    jwk = json.loads(algorithm_class.to_jwk(private_key.public_key()))
    return {**jwk, "kid": f"key-{algorithm}", "alg": algorithm}


class JWKSServer:
    """Serves a key set on loopback; `hang` makes it answer nothing until `release` is set."""

    def __init__(self) -> None:
        self.keys = [public_jwk(algorithm) for algorithm in KEYS]
        self.hang = False
        self.release = threading.Event()
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                if owner.hang:
                    owner.release.wait(WAIT_GUARD_SECONDS)
                    return
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/auth/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server(settings) -> Iterator[JWKSServer]:
    server = JWKSServer()
    settings.BETTER_AUTH_JWKS_URL = server.url
    jwks._key_set = None
    yield server
    jwks._key_set = None
    server.close()


def better_auth_token(
    algorithm: str = "EdDSA", *, user_id: str = "k3Jd8sLq0PzXw2VbN7mRt5YcA1eG9hUf", **overrides: Any
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": user_id,
        "email": "erin@example.com",
        "name": "Erin",
        "iss": ISSUER,
        "aud": ISSUER,
        "iat": now,
        "exp": now + timedelta(minutes=15),
        **overrides,
    }
    claims = {name: value for name, value in claims.items() if value is not None}
    private_key, _ = KEYS[algorithm]
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": f"key-{algorithm}"})


def as_bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.parametrize("algorithm", list(KEYS))
def test_a_better_auth_token_creates_its_user_on_first_sight(jwks_server, algorithm: str) -> None:
    user_id = f"ba{algorithm}user0000000000000000"[:32]
    client = as_bearer(better_auth_token(algorithm, user_id=user_id))

    me = client.get("/api/auth/me")
    created = client.post(f"/api/{user_id}/tasks", {"title": "From Better Auth"}, format="json")
    again = client.get("/api/auth/me")

    assert me.status_code == 200
    assert me.json()["id"] == user_id
    assert me.json()["email"] == "erin@example.com"
    assert me.json()["name"] == "Erin"
    assert created.status_code == 201
    assert again.json()["id"] == user_id
    assert User.objects.filter(pk=user_id).count() == 1
    assert Task.objects.get().owner_id == user_id
    assert not User.objects.get(pk=user_id).has_usable_password()
    assert jwks_server.fetches == 1  # fetched once, then cached


def test_a_shared_secret_token_from_a_frontend_creates_its_user_too(settings) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "fr0ntendUser42", "email": "Fay@Example.com", "name": "Fay"}
    token = jwt.encode(
        {**claims, "iat": now, "exp": now + timedelta(hours=1)}, settings.BETTER_AUTH_SECRET, "HS256"
    )

    me = as_bearer(token).get("/api/auth/me")

    assert me.status_code == 200
    assert (me.json()["id"], me.json()["email"]) == ("fr0ntendUser42", "fay@example.com")


def test_an_email_of_another_account_is_refused_and_logged(jwks_server, alice: User, caplog) -> None:
    token = better_auth_token(email=alice.email, user_id="someoneElse000111")

    response = as_bearer(token).get("/api/auth/me")

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
    assert not User.objects.filter(pk="someoneElse000111").exists()
    assert "belongs to another account" in caplog.text


def test_a_deactivated_better_auth_user_is_not_made_again(jwks_server) -> None:
    client = as_bearer(better_auth_token())
    assert client.get("/api/auth/me").status_code == 200
    User.objects.update(is_active=False)

    assert client.get("/api/auth/me").status_code == 401
    assert User.objects.count() == 1


def test_a_better_auth_token_never_speaks_for_an_account_that_signed_up_here(
    jwks_server, alice: User, caplog
) -> None:
    """Whatever its email (alice's own, or another), on the Django path and
    on the event loop's task routes."""
    for email in (alice.email, "erin@example.com"):
        client = as_bearer(better_auth_token(user_id=str(alice.pk), email=email))

        me = client.get("/api/auth/me")
        tasks = client.get(f"/api/{alice.pk}/tasks")

        assert (me.status_code, tasks.status_code) == (401, 401)
    assert User.objects.get(pk=alice.pk).external is False
    assert "who signed up here" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_fast_task_routes_refuse_it_too(shared_server, alice: User) -> None:
    now = datetime.now(UTC)
    claims = {"sub": str(alice.pk), "email": alice.email, "iat": now, "exp": now + timedelta(hours=1)}
    token = jwt.encode(claims, django_settings.BETTER_AUTH_SECRET, "HS256")  # no iss: made elsewhere
    server = shared_server()

    listed = httpx.get(f"{server.url}/api/{alice.pk}/tasks", headers={"Authorization": f"Bearer {token}"})
    created = httpx.post(
        f"{server.url}/api/{alice.pk}/tasks",
        headers={"Authorization": f"Bearer {token}"},
        json={"title": "x"},
    )

    assert (listed.status_code, created.status_code) == (401, 401)
    assert not Task.objects.exists()


def test_an_own_token_of_a_deleted_user_does_not_make_them_again(alice: User) -> None:
    client = as_bearer(auth_headers(alice)["Authorization"].split()[1])
    alice.delete()

    assert client.get("/api/auth/me").status_code == 401
    assert not User.objects.exists()


def forged() -> str:
    other = ed25519.Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    claims = {"sub": "forger", "email": "f@example.com", "iat": now, "exp": now + timedelta(minutes=5)}
    return jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": "key-EdDSA"})


def key_in_header(name: str) -> str:
    """A token signed with the attacker's own key, which its header offers
    (jwk) or points to (jku, x5u): only the configured JWKS counts."""
    attacker = ed25519.Ed25519PrivateKey.generate()
    jwk = json.loads(OKPAlgorithm.to_jwk(attacker.public_key()))
    offered = {"jwk": jwk, "jku": "https://evil.example.com/jwks", "x5u": "https://evil.example.com/cert"}[
        name
    ]
    now = datetime.now(UTC)
    claims = {"sub": "attacker", "email": "a@example.com", "iat": now, "exp": now + timedelta(minutes=5)}
    return jwt.encode(claims, attacker, algorithm="EdDSA", headers={"kid": "key-EdDSA", name: offered})


def alg_none() -> str:
    now = int(time.time())
    header = jwt.utils.base64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).decode()
    body = {"sub": "nobody", "email": "n@example.com", "iat": now, "exp": now + 300}
    payload = jwt.utils.base64url_encode(json.dumps(body).encode()).decode()
    return f"{header}.{payload}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(forged, id="forged"),
        pytest.param(lambda: better_auth_token(exp=datetime.now(UTC) - timedelta(minutes=1)), id="expired"),
        pytest.param(lambda: better_auth_token(iss="https://evil.example.com"), id="wrong-issuer"),
        pytest.param(lambda: better_auth_token(aud="https://other.example.com"), id="wrong-audience"),
        pytest.param(alg_none, id="alg-none"),
        pytest.param(lambda: better_auth_token(iat=None), id="no-iat"),
        pytest.param(lambda: better_auth_token(user_id="has spaces/and slashes"), id="bad-subject"),
        pytest.param(
            lambda: jwt.encode(
                {"sub": "x", "iat": int(time.time()), "exp": int(time.time()) + 60},
                KEYS["EdDSA"][0],
                algorithm="EdDSA",
                headers={"kid": "no-such-key"},
            ),
            id="unknown-kid",
        ),
        pytest.param(lambda: key_in_header("jwk"), id="jwk-header"),
        pytest.param(lambda: key_in_header("jku"), id="jku-header"),
        pytest.param(lambda: key_in_header("x5u"), id="x5u-header"),
    ],
)
def test_bad_tokens_are_401(jwks_server, settings, make_token) -> None:
    settings.BETTER_AUTH_ISSUER = ISSUER
    settings.BETTER_AUTH_AUDIENCE = ISSUER

    response = as_bearer(make_token()).get("/api/auth/me")

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
    assert not User.objects.exists()


def test_a_public_key_is_not_taken_as_an_hmac_secret(jwks_server) -> None:
    # Key confusion: an HS256 token "signed" with the published public key.
    public_pem = (
        KEYS["RS256"][0]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    now = int(time.time())
    parts = [
        jwt.utils.base64url_encode(json.dumps(part).encode())
        for part in ({"alg": "HS256", "kid": "key-RS256"}, {"sub": "x", "iat": now, "exp": now + 60})
    ]
    signing_input = b".".join(parts)
    signature = jwt.utils.base64url_encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest())
    token = (signing_input + b"." + signature).decode()

    assert as_bearer(token).get("/api/auth/me").status_code == 401


def test_asymmetric_tokens_without_a_jwks_url_are_refused(settings) -> None:
    settings.BETTER_AUTH_JWKS_URL = ""

    assert as_bearer(better_auth_token()).get("/api/auth/me").status_code == 401


def test_an_unknown_kid_refetches_at_most_once_a_minute(jwks_server) -> None:
    assert as_bearer(better_auth_token()).get("/api/auth/me").status_code == 200
    # The deployment rotates to a new key.
    jwks_server.keys.append({**public_jwk("ES256"), "kid": "key-rotated"})
    now = datetime.now(UTC)
    claims = {"sub": "k3Jd8sLq0PzXw2VbN7mRt5YcA1eG9hUf", "iat": now, "exp": now + timedelta(minutes=5)}
    rotated = jwt.encode(claims, KEYS["ES256"][0], algorithm="ES256", headers={"kid": "key-rotated"})

    refused = [as_bearer(rotated).get("/api/auth/me").status_code for _ in range(5)]
    fetches_within_the_minute = jwks_server.fetches
    jwks.key_set()._next_fetch = 0.0  # a minute later
    accepted = as_bearer(rotated).get("/api/auth/me").status_code

    assert refused == [401] * 5
    assert fetches_within_the_minute == 1
    assert (accepted, jwks_server.fetches) == (200, 2)


@pytest.mark.django_db(transaction=True)
def test_a_hanging_jwks_is_401_within_the_timeout_and_others_go_on(live_server_process, alice: User) -> None:
    hanging = JWKSServer()
    hanging.hang = True
    server = live_server_process(BETTER_AUTH_JWKS_URL=hanging.url)
    assert httpx.get(f"{server.url}/api/auth/me", headers=auth_headers(alice)).status_code == 200  # warm

    async def both() -> tuple[float, int, float, int]:
        async with httpx.AsyncClient(base_url=server.url) as client:
            started = time.monotonic()

            async def timed(headers: dict[str, str]) -> tuple[float, int]:
                response = await client.get("/api/auth/me", headers=headers)
                return time.monotonic() - started, response.status_code

            (external_time, external), (own_time, own) = await asyncio.gather(
                timed({"Authorization": f"Bearer {better_auth_token()}"}),
                timed(auth_headers(alice)),
            )
            return external_time, external, own_time, own

    try:
        external_time, external, own_time, own = asyncio.run(both())
    finally:
        hanging.close()

    # The JWKS still hangs (until close()): the 401 came from the server's own timeout.
    assert external == 401
    assert external_time < jwks.FETCH_TIMEOUT_SECONDS + BUSY_MACHINE_MARGIN_SECONDS
    # alice's token, sent at the same moment, did not wait for the key set.
    assert own == 200
    assert own_time < external_time
