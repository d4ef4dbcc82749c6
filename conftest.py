"""The cast and the tools shared by every app's tests.

alice owns things; bob is another user who must never see them. `api` is
DRF's test client; `live_server_process` runs the real uvicorn server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from accounts.auth import issue_token
from accounts.models import User
from chat.tests.fake_llm import FakeChatCompletions

ROOT = Path(__file__).resolve().parent

# Every server the suite starts writes its output here; at the end of the
# session all of it is searched for credentials (no_credential_in_any_server_log).
SERVER_LOGS: list[Path] = []
# Passwords the tests use, and a database password put in one server's URL.
TEST_PASSWORDS = ["correct-horse-battery", "another-staple-battery", "violet-ladder-42"]
DATABASE_PASSWORD = "db-password-never-logged"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice@example.com", "Alice", "correct-horse-battery")


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob@example.com", "Bob", "another-staple-battery")


def auth_headers(user: User) -> dict[str, str]:
    """Headers carrying a real token of the user's, for HTTP clients."""
    return {"Authorization": f"Bearer {issue_token(user).token}"}


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=auth_headers(user)["Authorization"])
    return client


@pytest.fixture
def alice_api(alice: User) -> APIClient:
    """An API client carrying a real token of alice's."""
    return client_for(alice)


@pytest.fixture
def bob_api(bob: User) -> APIClient:
    return client_for(bob)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_tests(*, host: str | None = None, port: int | None = None) -> str:
    """A URL for the database pytest-django created for this run, optionally
    reached through another host and port."""
    settings = connection.settings_dict
    host = host or settings["HOST"] or "localhost"
    if host.startswith("/"):
        host = host.replace("/", "%2F")
    port = port or settings["PORT"]
    port = f":{port}" if port else ""
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return f"postgresql://{user}{password}@{host}{port}/{settings['NAME']}"


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    url: str
    stdout_path: Path
    stderr_path: Path
    _stopped: bool = field(default=False, repr=False)

    def stop(self, timeout: float = 30) -> int:
        if not self._stopped:
            self._stopped = True
            if self.process.poll() is None:
                self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()


def server_environment(**overrides: str | None) -> dict[str, str]:
    """The test run's environment with some variables changed (None removes one)."""
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def spawn_server(
    command: list[str], *, cwd: Path, env: dict[str, str], port: int, log_dir: Path, wait: bool = True
) -> ServerProcess:
    """Run a server command with its output in files under `log_dir`; with
    `wait`, return once /health answers on `port`."""
    stdout_path = log_dir / f"server-{port}.out"
    stderr_path = log_dir / f"server-{port}.err"
    SERVER_LOGS.extend([stdout_path, stderr_path])
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=stdout_path.open("w"), stderr=stderr_path.open("w"), text=True
    )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", stdout_path, stderr_path)
    if wait:
        _wait_until_serving(server)
    return server


@pytest.fixture
def live_server_process(tmp_path: Path, transactional_db: None) -> Iterator[Callable[..., ServerProcess]]:
    """Start `uvicorn todo_project.asgi:application` as SPEC.md gives it (or,
    with image_process=True, the image's `python -m todo_project.serve`), in a
    working directory without a .env, on a free port (or `port`). Call it with environment
    overrides; the server is stopped at the end of the test. The server commits
    to the test database, so the tables are emptied after the test."""
    servers: list[ServerProcess] = []
    database_url = database_url_for_tests()

    def start(
        *, wait: bool = True, image_process: bool = False, port: int | None = None, **overrides: str | None
    ) -> ServerProcess:
        port = port or free_port()
        # No reminders' worker unless a test asks for one: the queue's tables
        # are not emptied between tests (procrastinate's models are unmanaged),
        # so a server's worker would run jobs that earlier tests left.
        env = server_environment(
            **{"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT), "RUN_WORKER": "false", **overrides}
        )
        if image_process:
            # The image's own process (todo_project.serve), on all interfaces.
            command = [sys.executable, "-m", "todo_project.serve"]
            env["PORT"] = str(port)
        else:
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "todo_project.asgi:application",
                "--host",
                "127.0.0.1",
            ]
            command += ["--port", str(port)]
        server = spawn_server(command, cwd=tmp_path, env=env, port=port, log_dir=tmp_path, wait=wait)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _wait_until_serving(server: ServerProcess, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"server exited with {server.process.returncode}: {server.stderr}")
        try:
            httpx.get(f"{server.url}/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail("server did not start in time")


@pytest.fixture
def fake_llm() -> Iterator[FakeChatCompletions]:
    """A chat-completions server on loopback for the providers to talk to."""
    with FakeChatCompletions() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    """Production hashes with Django's default (PBKDF2); tests need speed, not strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()


def credentials_in(text: str) -> list[str]:
    """The credentials found in a log: the test run's secrets, passwords and
    provider keys, and anything shaped like a JWT."""
    from chat.tests.conftest import GROQ_KEY, OPENROUTER_KEY

    secrets = [os.environ["BETTER_AUTH_SECRET"], GROQ_KEY, OPENROUTER_KEY, DATABASE_PASSWORD, *TEST_PASSWORDS]
    found = [secret for secret in secrets if secret in text]
    found += re.findall(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]+", text)
    return found


@pytest.fixture(scope="session", autouse=True)
def no_credential_in_any_server_log() -> Iterator[None]:
    """After every server of the session has run: no credential in any line they wrote."""
    yield
    leaks = {
        str(path): found
        for path in SERVER_LOGS
        if path.exists() and (found := credentials_in(path.read_text(errors="replace")))
    }
    assert not leaks, f"credentials in server logs: {leaks}"
