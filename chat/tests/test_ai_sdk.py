"""The streamed chat read by the Vercel AI SDK itself: the `ai` npm package's
DefaultChatTransport sends the message as useChat does and its own parser
(the transport's chunk schema, then readUIMessageStream) reads the answer,
in Node (chat/tests/ai_sdk, installed with `npm ci` from its lock file)."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from accounts.auth import issue_token
from accounts.models import User
from chat.models import Conversation
from chat.stream import ERROR_TEXT
from chat.tests.conftest import provider_settings
from chat.tests.fake_llm import FakeChatCompletions
from conftest import REQUEST_GUARD_SECONDS, ServerProcess, machine_lock
from tasks.models import Task

FIXTURE = Path(__file__).parent / "ai_sdk"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session")
def ai_sdk() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("these tests need Node.js and npm")
    with machine_lock("todo-backend-ai-sdk-npm"):
        if not (FIXTURE / "node_modules" / "ai").exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FIXTURE, check=True, timeout=600)
    return FIXTURE


def use_chat(
    ai_sdk: Path,
    server: ServerProcess,
    user: User,
    chat_id: str,
    *texts: str,
    trigger: str = "submit-message",
) -> dict[str, Any]:
    """What useChat would show after sending the last of `texts` (the earlier
    ones alternate user and assistant, as its state holds them)."""
    messages = [
        {
            "id": f"m{number}",
            "role": "user" if number % 2 == 0 else "assistant",
            "parts": [{"type": "text", "text": text}],
        }
        for number, text in enumerate(texts)
    ]
    request = {
        "api": f"{server.url}/api/{user.pk}/chat",
        "token": issue_token(user).token,
        "chatId": chat_id,
        "messages": messages,
        "trigger": trigger,
    }
    return run_node(ai_sdk, "read_stream.mjs", request)


def run_node(ai_sdk: Path, script: str, request: dict[str, Any]) -> dict[str, Any]:
    """A script of chat/tests/ai_sdk with `request` on its stdin: the JSON line it prints."""
    finished = subprocess.run(
        ["node", script],
        cwd=ai_sdk,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=REQUEST_GUARD_SECONDS,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def parts_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [part for part in message["parts"] if part["type"] == kind]


def test_the_ai_sdk_reads_the_local_agents_tool_call_and_reply(
    ai_sdk: Path, shared_server, alice: User
) -> None:
    server = shared_server(LLM_PROVIDER="LOCAL")

    read = use_chat(ai_sdk, server, alice, "sdk-local", "Add a task to buy groceries tomorrow morning")

    message = read["message"]
    task = Task.objects.get(owner=alice)
    conversation = Conversation.objects.get(owner=alice, client_id="sdk-local")
    assert read["errors"] == []
    assert message["role"] == "assistant"
    assert message["metadata"] == {"conversation_id": conversation.pk}
    [tool] = parts_of(message, "tool-add_task")
    assert tool["state"] == "output-available"
    assert tool["input"] == {"title": "Buy groceries", "due_date": task.due_date.isoformat()}
    assert tool["output"] == {"task_id": task.pk, "status": "created", "title": "Buy groceries"}
    [text] = parts_of(message, "text")
    assert text["state"] == "done"
    assert text["text"] == conversation.messages.get(role="assistant").content
    assert "Buy groceries" in text["text"]
    assert [part["type"] for part in message["parts"]] == ["step-start", "tool-add_task", "text"]
    # The text came in pieces: the SDK showed it growing.
    texts = [snapshot["text"] for snapshot in read["snapshots"] if snapshot["text"]]
    assert len(set(texts)) > 2
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))


@pytest.mark.parametrize("provider", ["GROQ", "OPENROUTER"])
def test_the_ai_sdk_shows_a_providers_reply_growing_as_it_streams(
    ai_sdk: Path,
    shared_server,
    alice: User,
    fake: FakeChatCompletions,
    provider: str,
) -> None:
    server = shared_server(LLM_TIMEOUT_SECONDS="2", **provider_settings(provider, fake))
    fake.tool_calls(("add_task", {"title": "Book flights", "priority": "high"}), delay=0.01)
    fake.text("Added Book flights, high priority.", delay=0.15, piece=6)

    read = use_chat(ai_sdk, server, alice, "sdk-provider", "note down: book flights, high priority")

    message = read["message"]
    task = Task.objects.get(owner=alice)
    assert read["errors"] == []
    assert [part["type"] for part in message["parts"]] == [
        "step-start",
        "tool-add_task",
        "step-start",
        "text",
    ]
    [tool] = parts_of(message, "tool-add_task")
    assert (tool["state"], tool["input"]) == (
        "output-available",
        {"title": "Book flights", "priority": "high"},
    )
    assert tool["output"]["task_id"] == task.pk
    assert parts_of(message, "text")[0]["text"] == "Added Book flights, high priority."
    # Six pieces 0.15 s apart: the SDK saw the text grow over about 0.75 s.
    growing = [snapshot for snapshot in read["snapshots"] if snapshot["text"]]
    assert len({snapshot["text"] for snapshot in growing}) == 6
    assert growing[-1]["ms"] - growing[0]["ms"] > 600


def test_the_ai_sdk_reports_a_provider_that_fails_after_its_first_words(
    ai_sdk: Path,
    shared_server,
    alice: User,
    fake: FakeChatCompletions,
) -> None:
    server = shared_server(LLM_TIMEOUT_SECONDS="2", **provider_settings("GROQ", fake))
    fake.text("Let me think about that for a while", drop_after=3)

    read = use_chat(ai_sdk, server, alice, "sdk-error", "hello")

    assert read["errors"] == [ERROR_TEXT]
    assert parts_of(read["message"], "text")[0]["text"] == "Let me t"
    assert Conversation.objects.get(owner=alice).messages.get(role="assistant").content == "Let me t"


def test_the_ai_sdk_continues_a_conversation_by_its_chat_id(ai_sdk: Path, shared_server, alice: User) -> None:
    server = shared_server(LLM_PROVIDER="LOCAL")
    first = use_chat(ai_sdk, server, alice, "sdk-again", "Add a task to pay the rent")

    second = use_chat(
        ai_sdk,
        server,
        alice,
        "sdk-again",
        "Add a task to pay the rent",
        "(the reply)",
        "Show me all my tasks",
    )

    conversation = Conversation.objects.get(owner=alice, client_id="sdk-again")
    assert (
        first["message"]["metadata"] == second["message"]["metadata"] == {"conversation_id": conversation.pk}
    )
    assert "Pay the rent" in parts_of(second["message"], "text")[0]["text"]
    assert conversation.messages.count() == 4


def test_a_chat_as_use_chat_runs_it_shows_the_local_assistants_replies(
    ai_sdk: Path, shared_server, alice: User
) -> None:
    """AbstractChat, the class useChat wraps, sending two messages with
    sendMessage() against the quick start's assistant."""
    server = shared_server(LLM_PROVIDER="LOCAL")
    request = {
        "api": f"{server.url}/api/{alice.pk}/chat",
        "token": issue_token(alice).token,
        "chatId": "use-chat-1",
        "texts": ["Add a task to buy groceries", "Show me all my tasks"],
    }

    shown = run_node(ai_sdk, "chat_session.mjs", request)

    assert (shown["status"], shown["error"]) == ("ready", None)
    conversation = Conversation.objects.get(owner=alice, client_id="use-chat-1")
    task = Task.objects.get(owner=alice)
    user_first, added, user_second, listed = shown["messages"]
    assert [user_first["role"], added["role"], user_second["role"], listed["role"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert added["metadata"] == listed["metadata"] == {"conversation_id": conversation.pk}
    [tool] = parts_of(added, "tool-add_task")
    assert tool["state"] == "output-available"
    assert tool["output"] == {"task_id": task.pk, "status": "created", "title": "Buy groceries"}
    assert "Buy groceries" in parts_of(added, "text")[0]["text"]
    [listing] = parts_of(listed, "tool-list_tasks")
    assert listing["output"][0]["id"] == task.pk
    assert "Buy groceries" in parts_of(listed, "text")[0]["text"]
    assert list(conversation.messages.values_list("role", flat=True)) == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]
