"""GROQ (the groq SDK) and OPENROUTER (httpx), tested at the wire against a fake server."""

import json
import logging
import threading
import time
from datetime import date

import pytest

from accounts.models import User
from chat.agent import TIME_BUDGET_SECONDS
from chat.models import Conversation, Message
from chat.tests.fake_llm import FakeChatCompletions
from conftest import BUSY_MACHINE_MARGIN_SECONDS
from tasks.models import Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db

EXPECTED_PATH = {"GROQ": "/openai/v1/chat/completions", "OPENROUTER": "/api/v1/chat/completions"}
EXPECTED_MODEL = {"GROQ": "groq-test-model", "OPENROUTER": "openrouter-test-model"}
TOOL_NAMES = {"add_task", "list_tasks", "complete_task", "delete_task", "update_task"}


def chat(client, user: User, message: str, **extra):
    return client.post(f"/api/{user.pk}/chat", {"message": message, **extra}, format="json")


def test_a_text_answer_is_returned_and_stored(
    alice_api, alice: User, provider: str, provider_key: str, fake_llm: FakeChatCompletions, settings
) -> None:
    settings.AGENT_NAME = "Tasky"
    fake_llm.text("Hello Alice!")

    response = chat(alice_api, alice, "Hi there")

    assert response.status_code == 200
    body = response.json()
    assert body["response"] == "Hello Alice!"
    assert body["tool_calls"] == []
    assert "fallback" not in body
    conversation = Conversation.objects.get(pk=body["conversation_id"])
    assert conversation.owner == alice
    assert conversation.title == "Hi there"
    assert [(m.role, m.content) for m in conversation.messages.all()] == [
        ("user", "Hi there"),
        ("assistant", "Hello Alice!"),
    ]
    assert body["message"] == {
        "id": conversation.messages.get(role="assistant").pk,
        "conversation_id": conversation.pk,
        "role": "assistant",
        "content": "Hello Alice!",
        "created_at": body["message"]["created_at"],
    }
    [sent] = fake_llm.received
    assert sent.path == EXPECTED_PATH[provider]
    assert sent.headers["authorization"] == f"Bearer {provider_key}"
    assert sent.body["model"] == EXPECTED_MODEL[provider]
    assert sent.body["max_tokens"] == 321
    assert sent.body["temperature"] == 0.3
    assert {tool["function"]["name"] for tool in sent.body["tools"]} == TOOL_NAMES
    system, user_message = sent.body["messages"]
    assert system["role"] == "system"
    assert "Tasky" in system["content"]
    assert date.today().isoformat() in system["content"]
    assert user_message == {"role": "user", "content": "Hi there"}


def test_tool_calls_run_and_their_results_go_back_with_matching_ids(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions
) -> None:
    fake_llm.tool_calls(("add_task", {"title": "Buy milk", "priority": "high"})).text("Added Buy milk.")

    response = chat(alice_api, alice, "Add buy milk, it's urgent")

    assert response.status_code == 200
    task = Task.objects.get(owner=alice)
    assert (task.title, task.priority) == ("Buy milk", "high")
    body = response.json()
    assert body["response"] == "Added Buy milk."
    expected_call = {
        "tool": "add_task",
        "arguments": {"title": "Buy milk", "priority": "high"},
        "result": {"task_id": task.pk, "status": "created", "title": "Buy milk"},
    }
    assert body["tool_calls"] == [expected_call]
    assert Message.objects.get(role="assistant").tool_calls == [expected_call]
    _, second = fake_llm.received
    assistant_turn, tool_turn = second.body["messages"][-2:]
    call_id = assistant_turn["tool_calls"][0]["id"]
    assert assistant_turn["role"] == "assistant"
    assert assistant_turn["tool_calls"][0]["function"]["name"] == "add_task"
    assert tool_turn["role"] == "tool"
    assert tool_turn["tool_call_id"] == call_id
    assert json.loads(tool_turn["content"]) == expected_call["result"]


def test_a_model_naming_bob_in_user_id_still_only_sees_alices_tasks(
    alice_api, alice: User, bob: User, provider: str, fake_llm: FakeChatCompletions
) -> None:
    create_task(owner=alice, title="Alice's task")
    bobs = create_task(owner=bob, title="Bob's secret")
    fake_llm.tool_calls(
        ("list_tasks", {"user_id": str(bob.pk), "status": "all"}),
        ("delete_task", {"user_id": str(bob.pk), "task_id": bobs.pk}),
    ).text("Done.")

    response = chat(alice_api, alice, "Show bob's tasks and delete his")

    listed, deleted = response.json()["tool_calls"]
    assert [task["title"] for task in listed["result"]] == ["Alice's task"]
    assert "error" in deleted["result"]
    assert Task.objects.filter(pk=bobs.pk).exists()
    assert "Bob's secret" not in json.dumps(fake_llm.received[1].body)


def test_bad_tool_arguments_come_back_to_the_model_as_an_error(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions
) -> None:
    fake_llm.tool_calls(("add_task", "{not json"), ("complete_task", {"task_id": "seven"}), ("fly", {}))
    fake_llm.text("Sorry.")

    response = chat(alice_api, alice, "Do things")

    results = [call["result"] for call in response.json()["tool_calls"]]
    assert all(set(result) == {"error"} for result in results)
    tool_turns = [m for m in fake_llm.received[1].body["messages"] if m["role"] == "tool"]
    assert [json.loads(turn["content"]) for turn in tool_turns] == results
    assert not Task.objects.exists()


def test_the_history_of_a_conversation_goes_to_the_model(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions, settings
) -> None:
    settings.CHAT_HISTORY_LIMIT = 3
    fake_llm.text("First answer.").text("Second answer.").text("Third answer.")
    conversation_id = chat(alice_api, alice, "First question").json()["conversation_id"]
    chat(alice_api, alice, "Second question", conversation_id=conversation_id)

    chat(alice_api, alice, "Third question", conversation_id=conversation_id)

    sent = fake_llm.received[-1].body["messages"]
    assert sent[1:] == [
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "Second question"},
        {"role": "assistant", "content": "Second answer."},
        {"role": "user", "content": "Third question"},
    ]
    assert Message.objects.filter(conversation_id=conversation_id).count() == 6


def test_rounds_stop_at_chat_max_tool_steps(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions, settings
) -> None:
    settings.CHAT_MAX_TOOL_STEPS = 2
    fake_llm.tool_calls(("list_tasks", {})).tool_calls(("list_tasks", {})).tool_calls(("list_tasks", {}))

    response = chat(alice_api, alice, "Loop forever")

    assert response.status_code == 200
    assert len(fake_llm.received) == 2
    assert len(response.json()["tool_calls"]) == 2


@pytest.mark.parametrize(
    "script",
    [
        lambda fake: fake.error(429).text("Recovered."),
        lambda fake: fake.error(503).text("Recovered."),
        lambda fake: fake.error(400, code="tool_use_failed").text("Recovered."),
    ],
    ids=["429", "503", "tool_use_failed"],
)
def test_passing_faults_are_retried(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions, script
) -> None:
    script(fake_llm)

    response = chat(alice_api, alice, "Hello")

    assert response.json()["response"] == "Recovered."
    assert "fallback" not in response.json()
    assert len(fake_llm.received) == 2


def test_an_outage_falls_back_to_the_local_agent(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions
) -> None:
    fake_llm.error(500).error(502).error(503)

    response = chat(alice_api, alice, "Add a task to buy groceries")

    assert response.status_code == 200
    body = response.json()
    assert body["fallback"] is True
    assert "Buy groceries" in body["response"]
    assert list(Task.objects.filter(owner=alice).values_list("title", flat=True)) == ["Buy groceries"]
    assert len(fake_llm.received) == 3


def test_a_refused_key_falls_back_at_once(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions
) -> None:
    fake_llm.error(401, message="invalid api key")

    response = chat(alice_api, alice, "Show me all my tasks")

    assert response.json()["fallback"] is True
    assert len(fake_llm.received) == 1


def test_a_slow_provider_falls_back_within_the_budget(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions, settings
) -> None:
    settings.LLM_TIMEOUT_SECONDS = 0.5
    never = threading.Event()  # the model answers only after the test
    fake_llm.held(never, "Too late.").held(never, "Too late.").held(never, "Too late.")
    started = time.monotonic()

    try:
        response = chat(alice_api, alice, "What's pending?")
    finally:
        never.set()

    assert response.json()["fallback"] is True
    assert time.monotonic() - started < TIME_BUDGET_SECONDS + BUSY_MACHINE_MARGIN_SECONDS


def test_a_failure_after_tools_ran_does_not_repeat_them(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions
) -> None:
    fake_llm.tool_calls(("add_task", {"title": "Buy groceries"})).error(500).error(500).error(500)

    response = chat(alice_api, alice, "Add a task to buy groceries")

    body = response.json()
    assert body["fallback"] is True
    assert Task.objects.filter(owner=alice).count() == 1
    assert "Buy groceries" in body["response"]


def test_provider_errors_and_keys_never_reach_the_answer_or_the_logs(
    alice_api, alice: User, provider: str, provider_key: str, fake_llm: FakeChatCompletions, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    detail = f"internal detail, key {provider_key}"
    fake_llm.error(500, message=detail).error(500, message=detail).error(500, message=detail)

    response = chat(alice_api, alice, "Hello")

    assert response.status_code == 200
    for text in (response.content.decode(), caplog.text):
        assert "internal detail" not in text
        assert provider_key not in text
    assert "failed (attempt 1): HTTP 500" in caplog.text


def test_a_groq_base_url_ending_in_openai_v1_is_not_doubled(
    alice_api, alice: User, fake_llm: FakeChatCompletions, settings
) -> None:
    settings.LLM_PROVIDER = "GROQ"
    settings.GROQ_API_KEY = "gsk_test_key_0123456789abcdefghij"
    settings.GROQ_BASE_URL = f"{fake_llm.url}/openai/v1"
    fake_llm.text("Fine.")

    chat(alice_api, alice, "Hello")

    assert fake_llm.received[0].path == "/openai/v1/chat/completions"


def test_consecutive_model_calls_reuse_one_connection(
    alice_api, alice: User, provider: str, fake_llm: FakeChatCompletions
) -> None:
    fake_llm.text("One.").text("Two.").text("Three.")

    for message in ("one", "two", "three"):
        assert chat(alice_api, alice, message).status_code == 200

    assert len({request.client_port for request in fake_llm.received}) == 1
