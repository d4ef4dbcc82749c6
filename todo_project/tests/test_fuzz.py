"""API fuzzing: schemathesis generates requests from the live server's
/openapi.json (examples, boundary cases, random data and stateful sequences
that follow the links it infers), authenticated as alice, and checks that no
answer is a server error, breaks the schema or uses an undocumented status,
that none reaches bob's data, and that none costs the server more than
100 ms of CPU (fuzz_checks.py). Deterministic, and bounded in work: a number
of examples per operation, not a number of seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.models import User
from conftest import ROOT, auth_headers
from tasks.models import Task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.runs_long]

CHECKS = [
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "never_shows_another_users_data",
    "stays_within_its_cpu_budget",
]
MAX_EXAMPLES = 150
# Limits that only stop a hang: the run takes about 2 minutes here, a request
# at most a few hundred milliseconds (a sign-up's PBKDF2).
HANG_GUARD_SECONDS = 30 * 60
REQUEST_GUARD_SECONDS = 30


def test_generated_requests_find_no_failure(
    live_server_process, alice: User, bob: User, tmp_path: Path
) -> None:
    bobs_tasks = [Task.objects.create(owner=bob, title=f"Bob's private task {n}") for n in range(3)]
    before = list(Task.objects.filter(owner=bob).values_list("id", "title", "completed", "updated_at"))
    server = live_server_process(AUTH_RATE_LIMIT="100000/minute", CHAT_RATE_LIMIT="100000/minute")
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'headers = {{ Authorization = "{auth_headers(alice)["Authorization"]}" }}\n'
        "[parameters]\n"
        f'"path.user_id" = "{alice.pk}"\n'
    )
    forbidden = [str(bob.pk), bob.email, *(task.title for task in bobs_tasks)]
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
        f"{server.url}/openapi.json",
        "--checks", ",".join(CHECKS),
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers", "1",
        "--request-timeout", str(REQUEST_GUARD_SECONDS),
        "--no-color",
    ]  # fmt: skip
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "todo_project.tests.fuzz_checks",
        "FUZZ_FORBIDDEN_TEXT": "\n".join(forbidden),
        "FUZZ_SERVER_PID": str(server.process.pid),
    }

    result = subprocess.run(
        command, capture_output=True, text=True, timeout=HANG_GUARD_SECONDS, env=environment, cwd=tmp_path
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert (
        list(Task.objects.filter(owner=bob).values_list("id", "title", "completed", "updated_at")) == before
    )
    assert "Traceback" not in server.stderr
