"""Slow model calls hold no database connection: three times DB_POOL_MAX
chats waiting on a slow provider do not stall other users' task lists."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from accounts.models import User
from chat.tests.conftest import GROQ_KEY
from chat.tests.fake_llm import FakeChatCompletions
from conftest import auth_headers

pytestmark = pytest.mark.django_db(transaction=True)

POOL_MAX = 2


def test_slow_chats_do_not_stall_other_users_task_lists(
    live_server_process, fake_llm: FakeChatCompletions, alice: User, bob: User
) -> None:
    chats = 3 * POOL_MAX
    models_answer = threading.Event()
    for _ in range(chats):
        fake_llm.held(models_answer, "Done, slowly.")
    server = live_server_process(
        LLM_PROVIDER="GROQ",
        GROQ_API_KEY=GROQ_KEY,
        GROQ_BASE_URL=fake_llm.url,
        DB_POOL_MIN="1",
        DB_POOL_MAX=str(POOL_MAX),
        DB_POOL_TIMEOUT="10",
    )

    async def scenario() -> tuple[list[httpx.Response], list[int], bool]:
        async with httpx.AsyncClient(base_url=server.url) as client:
            chatting = [
                asyncio.ensure_future(
                    client.post(
                        f"/api/{alice.pk}/chat", json={"message": "hello"}, headers=auth_headers(alice)
                    )
                )
                for _ in range(chats)
            ]
            while len(fake_llm.received) < chats:  # until every chat waits on the model
                assert not any(chat.done() for chat in chatting), [chat.result() for chat in chatting]
                await asyncio.sleep(0.02)
            lists = [
                (await client.get(f"/api/{bob.pk}/tasks", headers=auth_headers(bob))).status_code
                for _ in range(10)
            ]
            chats_still_waiting = not any(chat.done() for chat in chatting)
            models_answer.set()
            return await asyncio.gather(*chatting), lists, chats_still_waiting

    replies, lists, chats_still_waiting = asyncio.run(scenario())

    # The lists were answered while every chat still waited on the model.
    assert lists == [200] * 10
    assert chats_still_waiting
    assert [r.status_code for r in replies] == [200] * chats
    assert {r.json()["response"] for r in replies} == {"Done, slowly."}
