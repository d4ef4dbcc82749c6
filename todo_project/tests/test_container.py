"""The image's process, run the way the image runs it, without a Docker engine:
`python -m todo_project.serve` as UID/GID 1001, from a copy of the build
context, on a virtualenv holding only requirements.txt (the image's set)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from django.db import connection

from chat.tests.fake_llm import FakeChatCompletions
from conftest import (
    ROOT,
    WAIT_GUARD_SECONDS,
    ServerProcess,
    database_url_for_tests,
    free_port,
    machine_lock,
    server_environment,
    spawn_server,
    wait_until,
)

APP_UID = 1001
SYSTEM_PYTHON = Path("/usr/bin/python3")  # readable by every user, unlike a pyenv under /root
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".venv-*", ".data", ".env", "__pycache__", "staticfiles", ".pytest_cache", ".ruff_cache"
)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="switching to UID 1001 needs root"),
    pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="needs a Python every user can run"),
]


def _readable_by_all(path: Path) -> None:
    subprocess.run(["chmod", "-R", "a+rX", str(path)], check=True)


@pytest.fixture(scope="session")
def runtime_python() -> Path:
    """A virtualenv with the image's requirements, kept between runs per requirements.txt."""
    digest = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()[:12]
    home = Path("/tmp/todo-backend-runtime") / digest
    python = home / "bin" / "python"
    with machine_lock("todo-backend-runtime"):
        if not (home / ".installed").exists():
            shutil.rmtree(home, ignore_errors=True)
            subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(home)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "-r", str(ROOT / "requirements.txt")],
                check=True,
            )
            (home / ".installed").touch()
        _readable_by_all(home.parent)
    return python


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the build context that UID 1001 can read (the checkout may sit in a private directory)."""
    base = tmp_path_factory.mktemp("image")
    app = base / "app"
    shutil.copytree(ROOT, app, ignore=COPY_IGNORE)
    for directory in (*reversed(base.parents), base):
        if str(directory).startswith("/tmp/"):
            directory.chmod(0o755)
    _readable_by_all(app)
    return app


def _skip_unless_the_app_user_reaches_the_database() -> None:
    """A TCP server it does; a Unix socket only when its directory lets UID 1001 in
    (the embedded PostgreSQL keeps its socket in a directory private to its user)."""
    host = connection.settings_dict["HOST"] or ""
    if not host.startswith("/"):
        return
    status = os.stat(host)
    if status.st_uid != APP_UID and status.st_mode & 0o005 != 0o005:
        pytest.skip(
            "PostgreSQL's socket directory is closed to UID 1001; use a TCP server (TEST_DATABASE_URL)"
        )


@pytest.fixture
def fresh_database(django_db_blocker) -> Iterator[str]:
    """A new, empty database for the image to migrate, dropped afterwards."""
    _skip_unless_the_app_user_reaches_the_database()
    name = f"todo_image_{uuid.uuid4().hex[:10]}"
    admin_url = database_url_for_tests().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield database_url_for_tests().rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_as_app_user(
    python: Path, app: Path, log_dir: Path, *, wait: bool = True, **env: str | None
) -> ServerProcess:
    port = free_port()
    environment = server_environment(
        **{"PORT": str(port), "HOME": "/tmp", "PYTHONPATH": None, "DJANGO_SETTINGS_MODULE": None, **env}
    )
    command = [
        "setpriv", f"--reuid={APP_UID}", f"--regid={APP_UID}", "--clear-groups",
        str(python), "-m", "todo_project.serve",
    ]  # fmt: skip
    return spawn_server(command, cwd=app, env=environment, port=port, log_dir=log_dir, wait=wait)


def serves(server: ServerProcess) -> bool:
    try:
        httpx.get(f"{server.url}/health")
    except httpx.TransportError:
        return False
    return True


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_the_image_process_migrates_starts_and_answers_as_uid_1001(
    runtime_python: Path, app_dir: Path, fresh_database: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    server = run_as_app_user(
        runtime_python, app_dir, tmp_path, DATABASE_URL=fresh_database, RUN_MIGRATIONS="true"
    )
    startup_seconds = time.monotonic() - started
    try:
        health = httpx.get(f"{server.url}/health")
        ready = httpx.get(f"{server.url}/ready")
        docs = httpx.get(f"{server.url}/docs")
        css = httpx.get(f"{server.url}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
        assert uid_of(server.process.pid) == APP_UID
    finally:
        assert server.stop() == 0

    assert (health.status_code, ready.status_code, docs.status_code, css.status_code) == (200, 200, 200, 200)
    assert ready.json() == {"status": "ready", "database": "connected"}
    # The contract's maximum (it expects under 30 s); about 5 s here, migrations included.
    assert startup_seconds < 60
    output = server.stdout
    assert "Applying accounts.0001_initial... OK" in output
    lines = output.splitlines()
    started_at = next(
        i for i, line in enumerate(lines) if line.startswith("INFO:     Started server process [")
    )
    assert lines[started_at + 1] == "INFO:     Waiting for application startup."
    assert lines[started_at + 2] == "INFO:     Application startup complete."
    assert lines[started_at + 3].startswith("INFO:     Uvicorn running on http://0.0.0.0:")
    with psycopg.connect(fresh_database) as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert {"users", "tasks", "conversations", "messages"} <= tables


@pytest.fixture
def migrated_database(transactional_db: None) -> str:
    """The test database, already migrated; its tables are emptied after the test."""
    _skip_unless_the_app_user_reaches_the_database()
    return database_url_for_tests()


def test_sigterm_finishes_in_flight_requests_and_exits_0(
    runtime_python: Path, app_dir: Path, migrated_database: str, tmp_path: Path
) -> None:
    model_answers = threading.Event()
    with FakeChatCompletions() as fake_llm:
        fake_llm.held(model_answers, "Answered after a slow model call.")
        server = run_as_app_user(
            runtime_python, app_dir, tmp_path,
            DATABASE_URL=migrated_database,
            LLM_PROVIDER="GROQ", GROQ_API_KEY="gsk_test_key_0123456789abcdefghij", GROQ_BASE_URL=fake_llm.url,
        )  # fmt: skip
        try:
            signup = httpx.post(
                f"{server.url}/api/auth/signup",
                json={"email": "erin@example.com", "password": "violet-ladder-42", "name": "Erin"},
            )
            user_id, token = signup.json()["user"]["id"], signup.json()["token"]
            in_flight: dict[str, httpx.Response] = {}

            def chat() -> None:
                in_flight["response"] = httpx.post(
                    f"{server.url}/api/{user_id}/chat",
                    json={"message": "Hello"},
                    headers={"Authorization": f"Bearer {token}"},
                )

            request = threading.Thread(target=chat)
            request.start()
            assert wait_until(lambda: fake_llm.received), "the chat request never reached the model"

            terminated = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            # New connections are refused while the chat still waits on the model.
            assert wait_until(lambda: not serves(server))
            model_answers.set()
            exit_code = server.process.wait(30)  # the contract's limit
            stopped_in = time.monotonic() - terminated
            request.join(WAIT_GUARD_SECONDS)
        finally:
            model_answers.set()
            server.stop()

    assert in_flight["response"].status_code == 200
    assert in_flight["response"].json()["response"] == "Answered after a slow model call."
    assert exit_code == 0
    assert stopped_in < 30
    assert "Finished server process" in server.stdout


def test_a_missing_required_variable_stops_the_image_with_one_clear_line(
    runtime_python: Path, app_dir: Path, tmp_path: Path
) -> None:
    server = run_as_app_user(runtime_python, app_dir, tmp_path, wait=False, BETTER_AUTH_SECRET=None)

    exit_code = server.process.wait(WAIT_GUARD_SECONDS)

    assert exit_code != 0
    assert server.stderr.strip() == "Configuration error: BETTER_AUTH_SECRET is required but not set."
