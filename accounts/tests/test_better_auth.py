"""Real Better Auth (accounts/tests/better_auth: Node.js, its JWT plugin, its
own PostgreSQL database) signs a user up; its tokens then work against this
API, which creates the user on first sight with Better Auth's id. The Node
packages are installed here with `npm ci` from the pinned lock file."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from accounts.models import User
from conftest import database_url_for_tests, free_port, machine_lock, server_environment
from tasks.models import Task

FIXTURE = Path(__file__).parent / "better_auth"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def better_auth() -> Iterator[dict[str, Any]]:
    """Better Auth serving on loopback, with a signed-up user and its tokens."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("these tests need Node.js and npm")
    with machine_lock("todo-backend-better-auth-npm"):
        if not (FIXTURE / "node_modules").exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FIXTURE, check=True, timeout=600)
    url = database_url_for_tests()
    name = f"better_auth_{uuid.uuid4().hex[:12]}"
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    port = free_port()
    process = subprocess.Popen(
        ["node", "server.mjs"],
        cwd=FIXTURE,
        env=server_environment(
            PORT=str(port),
            DATABASE_URL=url.rsplit("/", 1)[0] + f"/{name}",
            USER_EMAIL="bea@example.com",
            BETTER_AUTH_TELEMETRY="0",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"Better Auth did not start: {process.stderr.read()}")
        yield {**json.loads(line), "base_url": f"http://127.0.0.1:{port}"}
    finally:
        process.terminate()
        process.wait(10)
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def use_the_api(server_url: str, token: str, user_id: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}

    me = httpx.get(f"{server_url}/api/auth/me", headers=headers)
    created = httpx.post(
        f"{server_url}/api/{user_id}/tasks", headers=headers, json={"title": "Water the plants"}
    )
    listed = httpx.get(f"{server_url}/api/{user_id}/tasks", headers=headers)
    chat = httpx.post(
        f"{server_url}/api/{user_id}/chat",
        headers=headers,
        json={"message": "Add a task to buy milk"},
    )

    assert me.status_code == 200
    assert (me.json()["id"], me.json()["email"], me.json()["name"]) == (
        user_id,
        "bea@example.com",
        "Bea Better",
    )
    assert created.status_code == 201
    assert [task["title"] for task in listed.json()] == ["Water the plants"]
    assert chat.status_code == 200
    assert chat.json()["tool_calls"][0]["tool"] == "add_task"
    assert User.objects.filter(pk=user_id).count() == 1
    assert set(Task.objects.filter(owner_id=user_id).values_list("title", flat=True)) == {
        "Water the plants",
        "Buy milk",
    }


def test_a_better_auth_jwt_verified_against_its_jwks_works_from_the_first_call(
    live_server_process, better_auth: dict[str, Any]
) -> None:
    base_url = better_auth["base_url"]
    server = live_server_process(
        BETTER_AUTH_JWKS_URL=f"{base_url}/api/auth/jwks",
        BETTER_AUTH_ISSUER=base_url,
        BETTER_AUTH_AUDIENCE=base_url,
    )

    use_the_api(server.url, better_auth["token"], better_auth["user"]["id"])


def test_a_token_signed_with_the_shared_secret_works_from_the_first_call(
    live_server_process, better_auth: dict[str, Any]
) -> None:
    server = live_server_process()

    use_the_api(server.url, better_auth["shared"], better_auth["user"]["id"])


def test_better_auths_token_is_refused_for_another_issuer_or_without_the_jwks(
    live_server_process, better_auth: dict[str, Any]
) -> None:
    base_url = better_auth["base_url"]
    headers = {"Authorization": f"Bearer {better_auth['token']}"}
    other_issuer = live_server_process(
        BETTER_AUTH_JWKS_URL=f"{base_url}/api/auth/jwks", BETTER_AUTH_ISSUER="https://auth.example.com"
    )
    no_jwks = live_server_process()

    for server in (other_issuer, no_jwks):
        assert httpx.get(f"{server.url}/api/auth/me", headers=headers).status_code == 401
    assert not User.objects.exists()
