"""Slow model calls hold no database connection: three times DB_POOL_MAX
chats waiting on a slow provider do not stall other users' task lists."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from accounts.models import User
from chat.tests.conftest import GROQ_KEY
from chat.tests.fake_llm import FakeChatCompletions
from conftest import auth_headers

pytestmark = pytest.mark.django_db(transaction=True)

POOL_MAX = 2
SLOW_SECONDS = 3.0


def test_slow_chats_do_not_stall_other_users_task_lists(
    live_server_process, fake_llm: FakeChatCompletions, alice: User, bob: User
) -> None:
    chats = 3 * POOL_MAX
    for _ in range(chats):
        fake_llm.slow(SLOW_SECONDS, content="Done, slowly.")
    server = live_server_process(
        LLM_PROVIDER="GROQ",
        GROQ_API_KEY=GROQ_KEY,
        GROQ_BASE_URL=fake_llm.url,
        LLM_TIMEOUT_SECONDS="8",
        DB_POOL_MIN="1",
        DB_POOL_MAX=str(POOL_MAX),
        DB_POOL_TIMEOUT="10",
    )

    async def scenario() -> tuple[list[httpx.Response], list[float]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            chatting = [
                asyncio.ensure_future(
                    client.post(
                        f"/api/{alice.pk}/chat", json={"message": "hello"}, headers=auth_headers(alice)
                    )
                )
                for _ in range(chats)
            ]
            while len(fake_llm.received) < chats:  # every chat is now waiting on the model
                await asyncio.sleep(0.02)
            list_times = []
            for _ in range(10):
                started = time.monotonic()
                response = await client.get(f"/api/{bob.pk}/tasks", headers=auth_headers(bob))
                assert response.status_code == 200
                list_times.append(time.monotonic() - started)
            return await asyncio.gather(*chatting), list_times

    replies, list_times = asyncio.run(scenario())

    assert max(list_times) < 1.0
    assert [r.status_code for r in replies] == [200] * chats
    assert {r.json()["response"] for r in replies} == {"Done, slowly."}
