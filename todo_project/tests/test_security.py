"""The server as an attacker meets it: bounded memory per request, slow
clients cut off, limits that one client cannot turn against another, a
sealed admin and cookies fit for HTTPS. Real processes on loopback; the two
client addresses are 127.0.0.2 and 127.0.0.3."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from pathlib import Path

import httpx
import pytest
from django.test import Client

from accounts.models import User
from conftest import BUSY_MACHINE_MARGIN_SECONDS, REQUEST_GUARD_SECONDS, ServerProcess, auth_headers
from todo_project.protocol import BODY_TIMEOUT_SECONDS, HEAD_TIMEOUT_SECONDS

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = {"email": "alice@example.com", "password": "correct-horse-battery"}
WRONG = {"email": "alice@example.com", "password": "not-alices-password"}


@pytest.fixture
def alice(db: None, settings) -> User:
    """alice and bob with passwords hashed as a server process checks them (PBKDF2)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    return User.objects.create_user("alice@example.com", "Alice", "correct-horse-battery")


@pytest.fixture
def bob(alice: User) -> User:
    return User.objects.create_user("bob@example.com", "Bob", "another-staple-battery")


@pytest.fixture
def root(alice: User) -> User:
    return User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1")


def from_address(server: ServerProcess, address: str, **kwargs: object) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z is loopback)."""
    return httpx.Client(base_url=server.url, transport=httpx.HTTPTransport(local_address=address), **kwargs)


def rss_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)[1])


def send_and_read(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_GUARD_SECONDS) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        chunks = b""
        try:
            while chunk := sock.recv(65536):
                chunks += chunk
        except OSError:
            pass
        return chunks


# --- memory and slow clients -----------------------------------------------------


def test_huge_headers_and_tokens_cost_little_memory(live_server_process, alice: User) -> None:
    server = live_server_process(image_process=True)
    port = int(server.url.rsplit(":", 1)[1])
    for _ in range(20):  # warm: the code paths below have run once
        httpx.get(f"{server.url}/api/auth/me", headers=auth_headers(alice))
    idle = rss_kib(server.process.pid, "VmRSS")
    huge = b"x" * (30 * 1024 * 1024)
    requests = [
        b"GET /api/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + huge + b"\r\n\r\n",
        b"GET /api/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + huge + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: " + huge + b"\r\n\r\n",
    ]

    async def send_all() -> list[bytes]:
        return await asyncio.gather(*(asyncio.to_thread(send_and_read, port, data) for data in requests))

    answers = asyncio.run(send_all())

    assert all(answer.startswith(b"HTTP/1.1 431 ") for answer in answers)
    assert rss_kib(server.process.pid, "VmHWM") - idle < 100 * 1024
    token = "x" * 9000  # over 8 KB, under the 16 KB head: refused as a token
    response = httpx.get(f"{server.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


def test_slow_clients_are_cut_off(live_server_process) -> None:
    """Heads that trickle in are closed after HEAD_TIMEOUT_SECONDS, with a 408;
    meanwhile the server answers others."""
    server = live_server_process(image_process=True)
    port = int(server.url.rsplit(":", 1)[1])
    connected = 0
    cut_at: list[float] = []

    async def trickle() -> tuple[float, bytes]:
        nonlocal connected
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        connected += 1
        received = b""
        try:
            while not reader.at_eof() and time.monotonic() - started < HEAD_TIMEOUT_SECONDS + 20:
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    received += await asyncio.wait_for(reader.read(1024), timeout=0.5)
        except ConnectionError:
            pass
        cut_at.append(time.monotonic())
        writer.close()
        return cut_at[-1] - started, received

    async def scenario() -> tuple[list[tuple[float, bytes]], list[float]]:
        slow = [asyncio.ensure_future(trickle()) for _ in range(200)]
        while connected < len(slow):
            await asyncio.sleep(0.01)
        answered_at = []
        async with httpx.AsyncClient(base_url=server.url) as client:
            for _ in range(10):
                assert (await client.get("/health")).status_code == 200
                answered_at.append(time.monotonic())
                await asyncio.sleep(0.1)
        return await asyncio.gather(*slow), answered_at

    cut, answered_at = asyncio.run(scenario())

    # Served while all 200 slow heads were still open: none waited for them to be cut.
    assert max(answered_at) < min(cut_at)
    for seconds, received in cut:
        assert HEAD_TIMEOUT_SECONDS - 1 < seconds < HEAD_TIMEOUT_SECONDS + BUSY_MACHINE_MARGIN_SECONDS
        assert received.startswith(b"HTTP/1.1 408 ")


def test_a_body_that_never_arrives_is_cut_off(live_server_process, alice: User) -> None:
    server = live_server_process(image_process=True)
    port = int(server.url.rsplit(":", 1)[1])
    token = auth_headers(alice)["Authorization"]
    head = (
        f"POST /api/{alice.pk}/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )

    with socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT_SECONDS + 20) as sock:
        sock.sendall(head.encode() + b'{"title": ')
        started = time.monotonic()
        received = sock.recv(65536)
        elapsed = time.monotonic() - started

    assert received == b""  # closed, without an answer: the request never arrived whole
    assert BODY_TIMEOUT_SECONDS - 1 < elapsed < BODY_TIMEOUT_SECONDS + BUSY_MACHINE_MARGIN_SECONDS
    assert "Traceback" not in server.stderr


# --- limits that cannot be turned against others ---------------------------------


def test_failures_from_one_address_do_not_lock_the_owner_out_from_another(
    live_server_process, alice: User
) -> None:
    server = live_server_process(image_process=True, AUTH_RATE_LIMIT="3/day")
    attacker = from_address(server, "127.0.0.2")
    owner = from_address(server, "127.0.0.3")

    attempts = [attacker.post("/api/auth/signin", json=WRONG).status_code for _ in range(4)]
    signed_in = owner.post("/api/auth/signin", json=ALICE)

    assert attempts == [401, 401, 401, 429]
    assert signed_in.status_code == 200


def test_failures_for_one_account_lock_only_that_account_from_that_address(
    live_server_process, alice: User, bob: User
) -> None:
    server = live_server_process(image_process=True, AUTH_RATE_LIMIT="100/day", AUTH_FAILURE_LIMIT="2/day")
    attacker = from_address(server, "127.0.0.2")
    owner = from_address(server, "127.0.0.3")

    failures = [attacker.post("/api/auth/signin", json=WRONG).status_code for _ in range(2)]
    locked = attacker.post("/api/auth/signin", json=ALICE)
    other_account = attacker.post(
        "/api/auth/signin", json={"email": "bob@example.com", "password": "another-staple-battery"}
    )
    owner_signs_in = owner.post("/api/auth/signin", json=ALICE)

    assert failures == [401, 401]
    assert locked.status_code == 429
    assert locked.json()["code"] == "throttled"
    assert int(locked.headers["retry-after"]) > 0
    assert other_account.status_code == 200
    assert owner_signs_in.status_code == 200


def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(live_server_process, alice: User) -> None:
    untrusting = live_server_process(image_process=True, AUTH_RATE_LIMIT="2/day")
    trusting = live_server_process(
        image_process=True, AUTH_RATE_LIMIT="2/day", FORWARDED_ALLOW_IPS="127.0.0.2"
    )

    def attempts(server: ServerProcess) -> list[int]:
        with from_address(server, "127.0.0.2") as proxy:
            return [
                proxy.post(
                    "/api/auth/signin", json=WRONG, headers={"X-Forwarded-For": f"198.51.100.{n}"}
                ).status_code
                for n in range(8)
            ]

    assert attempts(untrusting) == [401, 401] + [429] * 6
    assert attempts(trusting) == [401] * 8


# --- the admin -------------------------------------------------------------------


def admin_login(client: Client, password: str, address: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "root@example.com", "password": password},
        REMOTE_ADDR=address,
    )


@pytest.mark.django_db
def test_the_admin_login_has_the_sign_in_limits(settings) -> None:
    settings.AUTH_FAILURE_LIMIT = "3/hour"
    User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1")
    client = Client()

    wrong = [admin_login(client, "guess", "10.0.0.1").status_code for _ in range(3)]
    locked = admin_login(client, "an-admin-password-1", "10.0.0.1")
    elsewhere = admin_login(Client(), "an-admin-password-1", "10.0.0.2")

    assert wrong == [200, 200, 200]
    assert locked.status_code == 429
    assert locked.json()["code"] == "throttled"
    assert elsewhere.status_code == 302


@pytest.mark.django_db
def test_the_admin_login_counts_attempts_per_address(settings) -> None:
    settings.AUTH_RATE_LIMIT = "2/day"
    client = Client()

    statuses = [admin_login(client, "guess", "10.0.0.1").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_the_admin_can_be_switched_off(live_server_process) -> None:
    server = live_server_process(ADMIN_ENABLED="false")

    for path in ("/admin/", "/admin/login/", "/admin"):
        response = httpx.get(f"{server.url}{path}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert httpx.get(f"{server.url}/health").status_code == 200


# --- cookies, HTTPS and headers ----------------------------------------------------


@pytest.mark.django_db
def test_the_admins_cookies_are_secure_outside_debug() -> None:
    User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1")
    client = Client()

    page = client.get("/admin/login/", secure=True)
    signed_in = client.post(
        "/admin/login/", {"username": "root@example.com", "password": "an-admin-password-1"}, secure=True
    )

    assert page.cookies["csrftoken"]["secure"] is True
    assert signed_in.cookies["sessionid"]["secure"] is True
    assert signed_in.cookies["sessionid"]["httponly"] is True


@pytest.mark.django_db
def test_https_answers_carry_hsts_and_plain_http_does_not(api) -> None:
    assert api.get("/openapi.json", secure=True)["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains"
    )
    assert "Strict-Transport-Security" not in api.get("/openapi.json")


def admin_sign_in_behind_a_tls_ingress(server: ServerProcess) -> httpx.Response:
    """The admin's login as a browser does it through an ingress that ends TLS."""
    headers = {"Host": "api.example.com", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    with from_address(server, "127.0.0.2", headers=headers) as browser:
        page = browser.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        return browser.post(
            "/admin/login/?next=/admin/",
            data={
                "username": "root@example.com",
                "password": "an-admin-password-1",
                "csrfmiddlewaretoken": token,
            },
            headers={
                "Origin": "https://api.example.com",
                "Referer": "https://api.example.com/admin/login/",
                # The cookie is Secure and this leg is plain HTTP: the browser sent it over TLS.
                "Cookie": f"csrftoken={page.cookies['csrftoken']}",
            },
        )


def test_the_admin_works_behind_a_tls_ingress_that_is_trusted(live_server_process, root: User) -> None:
    trusted = live_server_process(
        image_process=True, ALLOWED_HOSTS="api.example.com", FORWARDED_ALLOW_IPS="127.0.0.2"
    )
    untrusted = live_server_process(image_process=True, ALLOWED_HOSTS="api.example.com")

    signed_in = admin_sign_in_behind_a_tls_ingress(trusted)
    refused = admin_sign_in_behind_a_tls_ingress(untrusted)

    assert signed_in.status_code == 302
    assert signed_in.headers["location"] == "/admin/"
    assert "Secure" in signed_in.headers["set-cookie"]
    assert signed_in.headers["strict-transport-security"].startswith("max-age=")
    assert refused.status_code == 403


def test_answers_do_not_name_the_server_software(shared_server) -> None:
    server = shared_server(image_process=True)

    for path in ("/health", "/openapi.json", "/api/auth/me"):
        assert "server" not in httpx.get(f"{server.url}{path}").headers
