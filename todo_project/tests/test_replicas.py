"""Several replicas behave as one: real server processes side by side on
loopback, one PostgreSQL, one Redis (127.0.0.1:6379)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from accounts.models import User
from conftest import ServerProcess, auth_headers, database_url_for_tests, wait_until_serving
from health.tests.proxy import DatabaseProxy
from tasks.models import Task
from todo_project.tests import traffic
from todo_project.tests.traffic import Traffic
from todo_project.throttling import REDIS_RETRY_SECONDS

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@pytest.fixture
def redis_env() -> dict[str, str]:
    """A Redis for the replicas, with a key prefix of this test's own."""
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2).close()
    except OSError:
        pytest.fail(f"these tests need Redis on {REDIS_HOST}:{REDIS_PORT}")
    return {"REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0", "CACHE_KEY_PREFIX": f"t{uuid.uuid4().hex}"}


def sign_in_attempts(servers: list[ServerProcess], count: int) -> list[int]:
    """`count` sign-ins at once, spread over the servers in turn (each with
    another unknown email, so only the per-address limit counts them)."""

    async def attempt_all() -> list[int]:
        async with httpx.AsyncClient() as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"{servers[n % len(servers)].url}/api/auth/signin",
                        json={"email": f"nobody-{n}@example.com", "password": "Wrong-pass-123"},
                    )
                    for n in range(count)
                )
            )
        return [answer.status_code for answer in answers]

    return asyncio.run(attempt_all())


def test_the_sign_in_limit_holds_across_two_replicas_also_in_parallel(
    live_server_process, redis_env: dict[str, str]
) -> None:
    # A fixed window of a day, which the sign-ins (seconds of PBKDF2) cannot straddle.
    env = {**redis_env, "AUTH_RATE_LIMIT": "10/day"}
    first, second = live_server_process(**env), live_server_process(**env)

    statuses = sign_in_attempts([first, second], 30)

    assert Counter(statuses) == {401: 10, 429: 20}


def test_a_conversation_and_a_token_move_between_replicas(live_server_process, redis_env) -> None:
    first, second = live_server_process(**redis_env), live_server_process(**redis_env)
    signed_up = httpx.post(
        f"{first.url}/api/auth/signup",
        json={"email": "carol@example.com", "password": "Carol-pass-123", "name": "Carol"},
    ).json()
    headers = {"Authorization": f"Bearer {signed_up['token']}"}
    user_id = signed_up["user"]["id"]

    me = httpx.get(f"{second.url}/api/auth/me", headers=headers)
    started = httpx.post(
        f"{first.url}/api/{user_id}/chat", headers=headers, json={"message": "Add a task to buy milk"}
    ).json()
    continued = httpx.post(
        f"{second.url}/api/{user_id}/chat",
        headers=headers,
        json={"message": "Show me all my tasks", "conversation_id": started["conversation_id"]},
    ).json()
    history = httpx.get(
        f"{first.url}/api/{user_id}/conversations/{started['conversation_id']}", headers=headers
    ).json()

    assert me.status_code == 200
    assert me.json()["email"] == "carol@example.com"
    assert continued["conversation_id"] == started["conversation_id"]
    assert "milk" in continued["response"].lower()
    assert [message["role"] for message in history["messages"]] == ["user", "assistant"] * 2


@pytest.fixture
def empty_database() -> Iterator[str]:
    url = database_url_for_tests()
    name = f"todo_migrate_{uuid.uuid4().hex[:12]}"
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_replicas_migrating_an_empty_database_at_once_both_come_up(
    live_server_process, empty_database: str
) -> None:
    servers = [
        live_server_process(
            image_process=True, wait=False, DATABASE_URL=empty_database, RUN_MIGRATIONS="true"
        )
        for _ in range(2)
    ]
    for server in servers:
        wait_until_serving(server)

    with psycopg.connect(empty_database) as connection:
        applied = connection.execute("SELECT app, name FROM django_migrations").fetchall()
        tables = {row[0] for row in connection.execute("SELECT tablename FROM pg_tables").fetchall()}
    with psycopg.connect(database_url_for_tests()) as connection:
        expected = connection.execute("SELECT app, name FROM django_migrations").fetchall()
    assert sorted(applied) == sorted(expected)  # each migration once, none missing
    assert {"users", "tasks", "conversations", "messages"} <= tables
    for server in servers:
        assert "Traceback" not in server.stderr
        assert httpx.get(f"{server.url}/ready").status_code == 200


def test_a_rolling_restart_of_two_replicas_loses_no_request(
    live_server_process, alice: User, redis_env: dict[str, str]
) -> None:
    servers = [live_server_process(image_process=True, **redis_env) for _ in range(2)]
    ports = [int(server.url.rsplit(":", 1)[1]) for server in servers]
    load = Traffic(
        [("127.0.0.1", port) for port in ports],
        traffic.writes_and_reads(alice.pk, auth_headers(alice)),
        workers=50,
    )

    async def scenario() -> None:
        running = asyncio.ensure_future(load.run())
        await load.until_outcomes(200)
        for index in range(2):
            os.kill(servers[index].process.pid, signal.SIGTERM)
            assert await asyncio.to_thread(servers[index].process.wait, 30) == 0  # the contract's limit
            servers[index] = await asyncio.to_thread(
                live_server_process, image_process=True, port=ports[index], **redis_env
            )
            await load.until_outcomes(200)
        load.stop()
        await running

    asyncio.run(scenario())

    failed = [outcome for outcome in load.outcomes if outcome.status not in (200, 201)]
    assert failed == []
    created = [outcome.json()["id"] for outcome in load.outcomes if outcome.status == 201]
    assert Task.objects.filter(pk__in=created).count() == len(created)
    served = Counter(outcome.server for outcome in load.outcomes)
    assert len(served) == 2
    print(  # the README's figures
        f"\nrolling restart: {len(load.outcomes)} requests ({len(created)} creates) over"
        f" {dict(served)}, {load.refused} refused connections retried, 0 failed"
    )


def test_limits_count_per_process_while_redis_is_away_and_shared_again_after(
    live_server_process, redis_env: dict[str, str]
) -> None:
    proxy = DatabaseProxy(REDIS_HOST, REDIS_PORT)
    proxy.start()
    env = {**redis_env, "REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0", "AUTH_RATE_LIMIT": "10/day"}
    server = live_server_process(**env)
    try:
        shared = sign_in_attempts([server], 4)
        proxy.stop()
        away = sign_in_attempts([server], 12)
        ready_while_away = httpx.get(f"{server.url}/ready").status_code
        proxy.start()
        time.sleep(REDIS_RETRY_SECONDS + 0.5)  # the limiter's own clock: it tries Redis again
        back = sign_in_attempts([server], 8)
    finally:
        proxy.stop()

    assert shared == [401] * 4
    # Counted in the process from zero: 10 more, then refused; never a 5xx.
    assert Counter(away) == {401: 10, 429: 2}
    assert ready_while_away == 200  # readiness is about the database only
    # Redis's count (4) again: 6 more.
    assert Counter(back) == {401: 6, 429: 2}
    assert server.stdout.count("Redis does not answer") + server.stderr.count("Redis does not answer") == 1
