"""A chat page on another origin reads the streamed reply in headless
Chromium with fetch and a reader, as it arrives (chat/tests/frontend).

Needs Debian's chromium and chromium-driver (.ci/run installs them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.auth import issue_token
from accounts.models import User
from chat.models import Conversation
from chat.tests.conftest import provider_settings
from chat.tests.fake_llm import FakeChatCompletions
from tasks.models import Task

PAGE_DIR = Path(__file__).parent / "frontend"

pytestmark = pytest.mark.django_db(transaction=True)


def stream_chat(
    browser: Any, page: str, api: str, user: User, body: dict[str, Any], accept: str | None
) -> Any:
    browser.get(f"{page}/index.html")
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "streamChat(...Array.from(arguments).slice(0, -1)).then(done, (e) => done({fatal: String(e)}));",
        api,
        str(user.pk),
        issue_token(user).token,
        body,
        accept,
    )


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["data"] if event["data"] == "[DONE]" else event["data"]["type"] for event in events]


def test_a_page_on_another_origin_reads_the_reply_as_it_streams(
    browser, live_server_process, serve_page, alice: User, fake: FakeChatCompletions
) -> None:
    page = serve_page(PAGE_DIR)
    api = live_server_process(FRONTEND_URL=page, LLM_TIMEOUT_SECONDS="2", **provider_settings("GROQ", fake))
    fake.tool_calls(("add_task", {"title": "Water the plants"}), delay=0.01)
    fake.text("Added Water the plants for you.", delay=0.15, piece=6)

    read = stream_chat(
        browser, page, api.url, alice, {"message": "add water the plants"}, "text/event-stream"
    )

    assert not {"fatal", "error"} & read.keys(), read
    assert (read["status"], read["contentType"], read["protocol"]) == (200, "text/event-stream", "v1")
    events = read["events"]
    task = Task.objects.get(owner=alice)
    assert kinds(events)[:6] == [
        "start",
        "start-step",
        "tool-input-available",
        "tool-output-available",
        "finish-step",
        "start-step",
    ]
    assert kinds(events)[-4:] == ["text-end", "finish-step", "finish", "[DONE]"]
    assert events[3]["data"]["output"] == {
        "task_id": task.pk,
        "status": "created",
        "title": "Water the plants",
    }
    deltas = [
        event for event in events if event["data"] != "[DONE]" and event["data"]["type"] == "text-delta"
    ]
    assert "".join(event["data"]["delta"] for event in deltas) == "Added Water the plants for you."
    # The page read each piece when the stand-in sent it, 0.15 s apart: not all at the end.
    assert len(deltas) == 6
    assert deltas[-1]["ms"] - deltas[0]["ms"] > 600


def test_a_page_sending_the_ai_sdk_body_gets_a_stream_without_asking(
    browser, live_server_process, serve_page, alice: User
) -> None:
    page = serve_page(PAGE_DIR)
    api = live_server_process(FRONTEND_URL=page, LLM_PROVIDER="LOCAL")
    body = {
        "id": "browser-chat",
        "messages": [
            {"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Add a task to call mom"}]}
        ],
        "trigger": "submit-message",
    }

    read = stream_chat(browser, page, api.url, alice, body, None)

    assert not {"fatal", "error"} & read.keys(), read
    assert (read["status"], read["protocol"]) == (200, "v1")
    conversation = Conversation.objects.get(owner=alice, client_id="browser-chat")
    assert read["events"][0]["data"] == {
        "type": "start",
        "messageMetadata": {"conversation_id": conversation.pk},
    }
    assert kinds(read["events"])[-1] == "[DONE]"
    assert Task.objects.filter(owner=alice, title="Call mom").count() == 1
