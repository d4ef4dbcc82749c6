"""Conversations live in the database alone: a new server process resumes them."""

import httpx

from accounts.models import User
from chat.models import Message
from chat.tests.conftest import GROQ_KEY
from chat.tests.fake_llm import FakeChatCompletions
from conftest import auth_headers


def test_a_restarted_server_continues_a_conversation_from_the_database(
    live_server_process, fake_llm: FakeChatCompletions
) -> None:
    alice = User.objects.create_user("alice@example.com", "Alice", "correct-horse-battery")
    headers = auth_headers(alice)
    environment = {"LLM_PROVIDER": "GROQ", "GROQ_API_KEY": GROQ_KEY, "GROQ_BASE_URL": fake_llm.url}
    fake_llm.text("Noted: blue.").text("Your code word is blue.")

    first_server = live_server_process(**environment)
    first = httpx.post(
        f"{first_server.url}/api/{alice.pk}/chat",
        json={"message": "My code word is blue."},
        headers=headers,
    )
    first_server.stop()
    second_server = live_server_process(**environment)
    second = httpx.post(
        f"{second_server.url}/api/{alice.pk}/chat",
        json={"message": "What is my code word?", "conversation_id": first.json()["conversation_id"]},
        headers=headers,
    )

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["response"] == "Your code word is blue."
    assert fake_llm.received[-1].body["messages"][1:] == [
        {"role": "user", "content": "My code word is blue."},
        {"role": "assistant", "content": "Noted: blue."},
        {"role": "user", "content": "What is my code word?"},
    ]
    assert Message.objects.filter(conversation_id=first.json()["conversation_id"]).count() == 4
