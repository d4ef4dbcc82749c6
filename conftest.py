"""The cast and the tools shared by every app's tests.

alice owns things; bob is another user who must never see them. `api` is
DRF's test client; `live_server_process` runs the real uvicorn server for one
test, `shared_server` one that the tests asking for the same settings share.

Time in the tests: a wait ends when what it waits for happens (`wait_until`);
its limit only stops a hang, so it sits far above what the wait takes on a
slow, busy machine (ten times and more). A test of a bound the product
promises measures the product's own clock (a notification's created_at) or
the order of events it controls, never how fast this machine happens to be."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from accounts.auth import issue_token
from accounts.models import User
from chat.tests.fake_llm import FakeChatCompletions

ROOT = Path(__file__).resolve().parent

# Limits that only stop a hang (see the module's docstring). A server starts
# in about 2 s here and a request to one takes milliseconds; a burst of
# sign-ins (PBKDF2, about 0.25 s of CPU each) takes seconds.
START_GUARD_SECONDS = 120
REQUEST_GUARD_SECONDS = 120
WAIT_GUARD_SECONDS = 60
# A bound the product keeps by a timer of its own (the head's 10 s, /ready's
# 2 s), as a test sees it, also holds the work around the timer and the wait
# for a core: milliseconds on an idle machine, under a second measured on one
# core shared with two CPU-hungry processes (`make test-busy`). Tests of such
# bounds add this to the timer.
BUSY_MACHINE_MARGIN_SECONDS = 3.0

# Every server the suite starts writes its output here; at the end of the
# session all of it is searched for credentials (no_credential_in_any_server_log).
SERVER_LOGS: list[Path] = []
# Passwords the tests use, and a database password put in one server's URL.
TEST_PASSWORDS = ["correct-horse-battery", "another-staple-battery", "violet-ladder-42"]
DATABASE_PASSWORD = "db-password-never-logged"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked runs_long first, the rest in their order: parallel
    workers then finish at about the same time."""
    items.sort(key=lambda item: item.get_closest_marker("runs_long") is None)


@contextlib.contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """One process of this machine at a time in the block (parallel test
    workers, two test runs), for work on a directory they share."""
    with (Path(tempfile.gettempdir()) / f"{name}.lock").open("w") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield


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
    """A server the tests started. `stdout` and `stderr` are what it wrote
    from `log_start` on: for a shared server, since the test asked for it."""

    process: subprocess.Popen[str]
    url: str
    stdout_path: Path
    stderr_path: Path
    shared: bool = False
    log_start: tuple[int, int] = (0, 0)
    _stopped: bool = field(default=False, repr=False)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit status; `timeout` only stops a hang (a stop takes about a second)."""
        assert not self.shared, "a shared server outlives the test: use live_server_process to stop one"
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

    def from_now(self) -> ServerProcess:
        """The same server, its output read from this moment on."""
        return replace(self, log_start=(self.stdout_path.stat().st_size, self.stderr_path.stat().st_size))

    @property
    def stdout(self) -> str:
        return _read_from(self.stdout_path, self.log_start[0])

    @property
    def stderr(self) -> str:
        return _read_from(self.stderr_path, self.log_start[1])


def _read_from(path: Path, offset: int) -> str:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read().decode(errors="replace")


def server_environment(**overrides: str | None) -> dict[str, str]:
    """The test run's environment with some variables changed (None removes one)."""
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def spawn_worker(
    tmp_path: Path, name: str, database_url: str | None = None, **environment: str | None
) -> subprocess.Popen[str]:
    """`manage.py run_worker` polling every 0.2 s, its output in
    tmp_path/{name}.log (the process's `log`), once it has started."""
    log = tmp_path / f"{name}.log"
    env = server_environment(
        DATABASE_URL=database_url or database_url_for_tests(), PYTHONPATH=str(ROOT), **environment
    )
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "run_worker", "--poll-seconds", "0.2"],
        cwd=tmp_path,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )

    def started() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the worker exited: {log.read_text()}")
        return log.read_text().count("Starting worker") >= 2  # the reminders' and the push queue's

    if not wait_until(started, guard=START_GUARD_SECONDS):
        pytest.fail(f"the worker did not start: {log.read_text()}")
    process.log = log  # type: ignore[attr-defined]
    return process


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
        wait_until_serving(server)
    return server


def start_test_server(
    *,
    directory: Path,
    wait: bool = True,
    image_process: bool = False,
    port: int | None = None,
    **overrides: str | None,
) -> ServerProcess:
    """`uvicorn todo_project.asgi:application` as SPEC.md gives it (or, with
    image_process=True, the image's `python -m todo_project.serve`) on the
    test database, in `directory` (without a .env), on a free port (or `port`),
    with environment overrides."""
    port = port or free_port()
    # No reminders' worker unless a test asks for one: a test's reminders
    # fire only where it expects them. Small pools: the parallel workers'
    # servers share one PostgreSQL (max_connections 100 by default), and with
    # the image's 5 to 20 connections each they reached 92 at once.
    env = server_environment(
        **{
            "DATABASE_URL": database_url_for_tests(),
            "PYTHONPATH": str(ROOT),
            "RUN_WORKER": "false",
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "10",
            **overrides,
        }
    )
    if image_process:
        # The image's own process (todo_project.serve), on all interfaces.
        command = [sys.executable, "-m", "todo_project.serve"]
        env["PORT"] = str(port)
    else:
        command = [sys.executable, "-m", "uvicorn", "todo_project.asgi:application", "--host", "127.0.0.1"]
        command += ["--port", str(port)]
    return spawn_server(command, cwd=directory, env=env, port=port, log_dir=directory, wait=wait)


@pytest.fixture
def live_server_process(tmp_path: Path, transactional_db: None) -> Iterator[Callable[..., ServerProcess]]:
    """Start a server of this test's own (start_test_server's arguments); it
    is stopped at the end of the test. For a test that stops, signals or
    measures its server, or needs one fresh. The server commits to the test
    database, so the tables are emptied after the test."""
    servers: list[ServerProcess] = []

    def start(**arguments: object) -> ServerProcess:
        server = start_test_server(directory=tmp_path, **arguments)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def _shared_servers(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[object, ...], ServerProcess]]:
    """The session's shared servers by their settings; stopped before the
    test database is dropped (hence django_db_setup)."""
    servers: dict[tuple[object, ...], ServerProcess] = {}
    yield servers
    for server in servers.values():
        replace(server, shared=False).stop()


@pytest.fixture
def shared_server(
    _shared_servers: dict[tuple[object, ...], ServerProcess],
    tmp_path_factory: pytest.TempPathFactory,
    transactional_db: None,
) -> Callable[..., ServerProcess]:
    """A server (start_test_server's image_process and overrides) that every
    test of the session asking for the same settings shares: a start costs
    about 2 s of CPU. For tests that only send it requests: it cannot be
    stopped, and its stdout and stderr begin when the test asks for it. The
    tables are emptied after each test, as for live_server_process."""

    def get(*, image_process: bool = False, **overrides: str | None) -> ServerProcess:
        key = (image_process, *sorted(overrides.items()))
        server = _shared_servers.get(key)
        if server is None or server.process.poll() is not None:
            directory = tmp_path_factory.mktemp("shared-server")
            server = start_test_server(directory=directory, image_process=image_process, **overrides)
            server = _shared_servers[key] = replace(server, shared=True)
        return server.from_now()

    return get


def wait_until(condition: Callable[[], object], *, guard: float = WAIT_GUARD_SECONDS) -> bool:
    """Poll `condition` until it holds; False if it still does not after
    `guard` seconds, a limit that only stops a hang."""
    deadline = time.monotonic() + guard
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_until_serving(server: ServerProcess, guard: float = START_GUARD_SECONDS) -> None:
    def serving() -> bool:
        if server.process.poll() is not None:
            pytest.fail(f"server exited with {server.process.returncode}: {server.stderr}")
        try:
            httpx.get(f"{server.url}/health", timeout=guard)
        except httpx.TransportError:
            return False
        return True

    if not wait_until(serving, guard=guard):
        pytest.fail(f"server did not start within {guard} s: {server.stderr}")


@pytest.fixture
def fake_llm() -> Iterator[FakeChatCompletions]:
    """A chat-completions server on loopback for the providers to talk to."""
    with FakeChatCompletions() as fake:
        yield fake


@pytest.fixture(scope="session", autouse=True)
def http_requests_wait_for_a_slow_machine() -> None:
    """httpx gives up on a request after 5 s unless it is told otherwise,
    which a request to a test server on a slow, busy machine can reach (a
    burst of sign-ins). The tests' requests and clients wait up to
    REQUEST_GUARD_SECONDS instead; a timeout a test passes itself still holds."""
    requests = (httpx.request, httpx.get, httpx.head, httpx.options, httpx.post, httpx.put, httpx.patch)
    for function in (*requests, httpx.delete, httpx.Client.__init__, httpx.AsyncClient.__init__):
        function.__kwdefaults__["timeout"] = httpx.Timeout(REQUEST_GUARD_SECONDS)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    """Production hashes with Django's default (PBKDF2); tests need speed, not strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_job_queue(request: pytest.FixtureRequest, django_db_blocker) -> Iterator[None]:
    """After a test that committed: the reminders' jobs it left, which the
    flush of the tables misses (procrastinate's models are unmanaged) and a
    later test's worker or count would find."""
    yield
    marker = request.node.get_closest_marker("django_db")
    committed = "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction"))
    if committed:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE procrastinate_jobs CASCADE")


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


# --- A real browser: headless Chromium (Debian's chromium and chromium-driver) ---

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return None


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve_page() -> Iterator[Callable[[Path], str]]:
    """Serve a directory of pages on a new loopback port: each call is a new origin."""
    servers: list[ThreadingHTTPServer] = []

    def start(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The flags of a closed network: no background requests to Google's hosts.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(REQUEST_GUARD_SECONDS)  # the journey takes a few seconds
    try:
        yield driver
    finally:
        driver.quit()
