"""SIGTERM in the middle of traffic: every request that reached the server
before the signal gets its whole answer, every acknowledged write is kept,
and the process exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

import pytest

from accounts.models import User
from conftest import auth_headers
from tasks.models import Task
from todo_project.tests import traffic
from todo_project.tests.traffic import Request, Traffic

pytestmark = pytest.mark.django_db(transaction=True)


def mixed_requests(user: User) -> Callable[[int], Request]:
    return traffic.writes_and_reads(user.pk, auth_headers(user))


def run_with_sigterm(server, traffic: Traffic, *, after: int) -> float:
    """Run the traffic, send SIGTERM once `after` requests have their outcome; the signal's time."""

    async def scenario() -> float:
        running = asyncio.ensure_future(traffic.run())
        await traffic.until_outcomes(after)
        signalled_at = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        # Until the server is gone: its listener closes, then its last answers go out.
        while server.process.poll() is None:
            assert time.monotonic() - signalled_at < 30, "running 30 s after SIGTERM, the contract's limit"
            await asyncio.sleep(0.05)
        traffic.stop()
        await running
        return signalled_at

    return asyncio.run(scenario())


@pytest.mark.parametrize("keep_alive", [True, False], ids=["keep-alive", "new-connections"])
def test_requests_sent_before_sigterm_all_get_their_answer(
    live_server_process, alice: User, keep_alive: bool
) -> None:
    server = live_server_process(image_process=True)
    port = int(server.url.rsplit(":", 1)[1])
    traffic = Traffic([("127.0.0.1", port)], mixed_requests(alice), workers=50, keep_alive=keep_alive)

    signalled_at = run_with_sigterm(server, traffic, after=100)

    assert server.process.returncode == 0
    before = [o for o in traffic.outcomes if o.sent_at < signalled_at]
    assert len(before) >= 100
    failed = [(o.request.method, o.status, o.error) for o in before if o.status is None or o.status >= 500]
    assert failed == []
    created = {o.json()["id"] for o in traffic.outcomes if o.status == 201}
    assert created <= set(Task.objects.filter(owner=alice).values_list("id", flat=True))
    assert "Traceback" not in server.stderr


def test_a_burst_just_before_sigterm_is_answered_in_full(live_server_process, alice: User) -> None:
    """The case of a client that opens 20 connections and sends its requests
    just before the pod is told to stop."""
    server = live_server_process(image_process=True)
    port = int(server.url.rsplit(":", 1)[1])
    traffic = Traffic([("127.0.0.1", port)], mixed_requests(alice), workers=20, keep_alive=False)

    async def scenario() -> None:
        bursts = [asyncio.ensure_future(traffic.send_one(n)) for n in range(20)]
        while traffic.sent < 20:  # every request written, then the signal
            failed = [burst.exception() for burst in bursts if burst.done() and burst.exception()]
            assert not failed, failed
            await asyncio.sleep(0.001)
        os.kill(server.process.pid, signal.SIGTERM)
        await asyncio.gather(*bursts)

    asyncio.run(scenario())
    server.process.wait(30)  # the contract's limit

    assert server.process.returncode == 0
    assert [(o.status, o.error) for o in traffic.outcomes if o.status is None or o.status >= 500] == []
    assert len(traffic.outcomes) == 20
