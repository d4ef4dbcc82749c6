"""The chat's streamed answer (SPEC.md section 5), from a live server: the
LOCAL agent, and GROQ (the groq SDK) and OPENROUTER (httpx) streaming from
a local stand-in for their services (chat/tests/fake_llm.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

import httpx
import pytest
from django.db import connection

from accounts.models import User
from chat.models import Conversation, Message
from chat.stream import ERROR_TEXT, NOT_STORED_TEXT
from chat.tests.conftest import provider_settings
from chat.tests.fake_llm import FakeChatCompletions
from conftest import ServerProcess, auth_headers, database_url_for_tests, wait_until
from health.tests.proxy import DatabaseProxy
from tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = {"Accept": "text/event-stream"}
TEXT = "Sure! I can help you plan the week, one task at a time."


@pytest.fixture(params=["GROQ", "OPENROUTER"])
def server(request: pytest.FixtureRequest, shared_server, fake: FakeChatCompletions) -> ServerProcess:
    """A server whose provider streams from the stand-in; each test runs for both providers."""
    return shared_server(LLM_TIMEOUT_SECONDS="2", **provider_settings(request.param, fake))


@pytest.fixture
def local_server(shared_server) -> ServerProcess:
    return shared_server(LLM_PROVIDER="LOCAL")


def parse(body: str) -> list[Any]:
    """The stream's events: each data line's JSON, and "[DONE]" as it is."""
    events = []
    for block in body.split("\n\n"):
        if not block:
            continue
        assert block.startswith("data: "), block
        data = block.removeprefix("data: ")
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def types(events: list[Any]) -> list[str]:
    return [event if event == "[DONE]" else event["type"] for event in events]


def text_of(events: list[Any]) -> str:
    return "".join(event["delta"] for event in events if event != "[DONE]" and event["type"] == "text-delta")


def post_stream(
    server: ServerProcess, user: User, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/{user.pk}/chat",
        json=body,
        headers={**auth_headers(user), **STREAM, **(headers or {})},
    )


def timed_events(server: ServerProcess, user: User, body: dict[str, Any]) -> list[tuple[float, Any]]:
    """The stream's events with the moment each arrived (time.monotonic())."""
    arrived = []
    with httpx.stream(
        "POST", f"{server.url}/api/{user.pk}/chat", json=body, headers={**auth_headers(user), **STREAM}
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                arrived.append((time.monotonic(), data if data == "[DONE]" else json.loads(data)))
    return arrived


# --- the LOCAL agent -------------------------------------------------------------------


def test_the_local_agent_streams_its_tool_call_and_its_reply_in_pieces(
    local_server: ServerProcess, alice: User
) -> None:
    response = post_stream(local_server, alice, {"message": "Add a task to buy groceries"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    events = parse(response.text)
    task = Task.objects.get(owner=alice)
    conversation = Conversation.objects.get(owner=alice)
    assert events[0] == {"type": "start", "messageMetadata": {"conversation_id": conversation.pk}}
    assert types(events) == [
        "start",
        "start-step",
        "tool-input-available",
        "tool-output-available",
        "text-start",
        *["text-delta"] * (len(events) - 9),
        "text-end",
        "finish-step",
        "finish",
        "[DONE]",
    ]
    call, result = events[2], events[3]
    assert call["toolName"] == "add_task"
    assert call["input"] == {"title": "Buy groceries"}
    assert result == {
        "type": "tool-output-available",
        "toolCallId": call["toolCallId"],
        "output": {"task_id": task.pk, "status": "created", "title": "Buy groceries"},
    }
    assert len(events) - 9 > 1  # the text in several pieces
    assert events[-2] == {"type": "finish", "finishReason": "stop"}
    reply = conversation.messages.get(role="assistant")
    assert text_of(events) == reply.content
    assert "Buy groceries" in reply.content
    assert reply.tool_calls == [
        {"tool": "add_task", "arguments": {"title": "Buy groceries"}, "result": result["output"]}
    ]
    assert conversation.messages.values_list("role", "content").first() == (
        "user",
        "Add a task to buy groceries",
    )


def test_a_stream_continues_the_conversation_it_names(local_server: ServerProcess, alice: User) -> None:
    first = parse(post_stream(local_server, alice, {"message": "Add a task to water the plants"}).text)
    conversation_id = first[0]["messageMetadata"]["conversation_id"]

    second = parse(
        post_stream(
            local_server, alice, {"message": "Show me all my tasks", "conversation_id": conversation_id}
        ).text
    )

    assert second[0]["messageMetadata"] == {"conversation_id": conversation_id}
    assert "Water the plants" in text_of(second)
    assert Message.objects.filter(conversation_id=conversation_id).count() == 4


# --- errors before the stream are JSON ---------------------------------------------------


def test_errors_before_the_stream_starts_are_json(
    local_server: ServerProcess, alice: User, bob: User
) -> None:
    url = f"{local_server.url}/api/{alice.pk}/chat"

    no_token = httpx.post(url, json={"message": "hi"}, headers=STREAM)
    bobs = httpx.post(url, json={"message": "hi"}, headers={**auth_headers(bob), **STREAM})
    empty = httpx.post(url, json={"message": ""}, headers={**auth_headers(alice), **STREAM})
    unknown = httpx.post(
        url, json={"message": "hi", "conversation_id": 2**40}, headers={**auth_headers(alice), **STREAM}
    )

    for response, status, code in [
        (no_token, 401, "not_authenticated"),
        (bobs, 403, "permission_denied"),
        (empty, 400, "validation_error"),
        (unknown, 404, "not_found"),
    ]:
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert response.json()["code"] == code
    assert not Message.objects.exists()


def test_bob_cannot_continue_alices_conversation_in_a_stream(
    local_server: ServerProcess, alice: User, bob: User
) -> None:
    first = parse(post_stream(local_server, alice, {"message": "Add a task to pay rent"}).text)
    conversation_id = first[0]["messageMetadata"]["conversation_id"]

    response = post_stream(
        local_server, bob, {"message": "Show me all my tasks", "conversation_id": conversation_id}
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Message.objects.filter(owner=bob).count() == 0


def test_the_chat_rate_limit_counts_streams(shared_server, alice: User) -> None:
    server = shared_server(LLM_PROVIDER="LOCAL", CHAT_RATE_LIMIT="2/minute")

    answers = [post_stream(server, alice, {"message": "What's pending?"}) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "throttled"
    assert "retry-after" in answers[2].headers


def test_a_retried_stream_gets_the_stored_reply_as_a_stream(local_server: ServerProcess, alice: User) -> None:
    key = {"Idempotency-Key": "stream-1"}

    first = post_stream(local_server, alice, {"message": "Add a task to call mom"}, key)
    again = post_stream(local_server, alice, {"message": "Add a task to call mom"}, key)

    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "text/event-stream"
    assert again.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert Task.objects.filter(owner=alice).count() == 1
    assert Message.objects.filter(owner=alice).count() == 2
    replayed, original = parse(again.text), parse(first.text)
    assert text_of(replayed) == text_of(original)
    assert types(replayed) == [
        "start",
        "start-step",
        "tool-input-available",
        "tool-output-available",
        "text-start",
        "text-delta",
        "text-end",
        "finish-step",
        "finish",
        "[DONE]",
    ]
    assert replayed[3]["output"] == original[3]["output"]
    other_body = post_stream(local_server, alice, {"message": "Add a task to call dad"}, key)
    assert other_body.status_code == 422


# --- the providers, streaming from the stand-in --------------------------------------------


def test_the_text_reaches_the_client_as_the_model_writes_it(
    server: ServerProcess, alice: User, fake: FakeChatCompletions
) -> None:
    fake.text(TEXT, delay=0.2, piece=8)

    arrived = timed_events(server, alice, {"message": "Help me plan"})

    events = [event for _, event in arrived]
    deltas = [moment for moment, event in arrived if event != "[DONE]" and event["type"] == "text-delta"]
    assert text_of(events) == TEXT
    assert len(deltas) == len(range(0, len(TEXT), 8))
    # Each piece reaches the client before the stand-in sends the next one
    # (0.2 s later): nothing on the way holds it back.
    assert deltas[-1] - deltas[0] > 1.2
    next_sent = fake.chunk_times[2 : 2 + len(deltas)]  # 0 is the role chunk, 1 the first piece
    assert all(received < sent for received, sent in zip(deltas, next_sent, strict=True))
    assert types(events)[:4] == ["start", "start-step", "text-start", "text-delta"]
    assert types(events)[-5:] == ["text-delta", "text-end", "finish-step", "finish", "[DONE]"]
    assert Message.objects.get(owner=alice, role="assistant").content == TEXT
    [request] = fake.received
    assert request.body["stream"] is True


def test_tool_call_deltas_are_put_together_and_the_tool_runs_once(
    server: ServerProcess, alice: User, fake: FakeChatCompletions
) -> None:
    fake.tool_calls(("add_task", {"title": "Renew passport", "priority": "high"}), delay=0.01)
    fake.text("Added Renew passport.", delay=0.01)

    events = parse(post_stream(server, alice, {"message": "add renew passport, high priority"}).text)

    task = Task.objects.get(owner=alice)
    assert (task.title, task.priority) == ("Renew passport", "high")
    assert types(events) == [
        "start",
        "start-step",
        "tool-input-available",
        "tool-output-available",
        "finish-step",
        "start-step",
        "text-start",
        *["text-delta"] * len(range(0, len("Added Renew passport."), 4)),
        "text-end",
        "finish-step",
        "finish",
        "[DONE]",
    ]
    call, result = events[2], events[3]
    assert call["toolName"] == "add_task"
    assert call["input"] == {"title": "Renew passport", "priority": "high"}
    assert result["toolCallId"] == call["toolCallId"] == "call_0_0"  # the stand-in's id for it
    assert result["output"] == {"task_id": task.pk, "status": "created", "title": "Renew passport"}
    # The model's second call has the first's tool call and the tool's result.
    follow_up = fake.received[1].body["messages"]
    assert follow_up[-2]["tool_calls"][0]["function"]["arguments"] == json.dumps(
        {"title": "Renew passport", "priority": "high"}
    )
    assert json.loads(follow_up[-1]["content"]) == result["output"]
    reply = Message.objects.get(owner=alice, role="assistant")
    assert reply.content == "Added Renew passport."
    assert reply.tool_calls[0]["tool"] == "add_task"


def test_a_429_before_the_first_chunk_is_retried(
    server: ServerProcess, alice: User, fake: FakeChatCompletions
) -> None:
    fake.error(429, message="rate limited").text("Here you go.")

    events = parse(post_stream(server, alice, {"message": "hello"}).text)

    assert text_of(events) == "Here you go."
    assert len(fake.received) == 2
    assert events[-2] == {"type": "finish", "finishReason": "stop"}


def test_a_provider_that_keeps_failing_before_any_text_falls_back_to_the_local_agent(
    server: ServerProcess, alice: User, fake: FakeChatCompletions
) -> None:
    fake.error(429).error(503).error(500)

    events = parse(post_stream(server, alice, {"message": "Add a task to buy milk"}).text)

    assert events[-2] == {"type": "finish", "finishReason": "stop", "messageMetadata": {"fallback": True}}
    assert "tool-input-available" in types(events)
    assert "Buy milk" in text_of(events)
    assert Task.objects.filter(owner=alice, title="Buy milk").count() == 1
    assert "upstream trouble" not in json.dumps(events)


def test_a_connection_dropped_before_any_text_is_retried(
    server: ServerProcess, alice: User, fake: FakeChatCompletions
) -> None:
    fake.text("Never seen.", drop_after=1).text("Second time lucky.")

    events = parse(post_stream(server, alice, {"message": "hello"}).text)

    assert text_of(events) == "Second time lucky."
    assert len(fake.received) == 2


def test_a_connection_dropped_after_text_ends_with_an_error_part_and_keeps_what_was_said(
    server: ServerProcess, alice: User, fake: FakeChatCompletions
) -> None:
    fake.text("Half of an answer that never ends", drop_after=4)

    events = parse(post_stream(server, alice, {"message": "hello"}).text)

    said = text_of(events)
    assert said == "Half of an answer"[:12]
    assert types(events)[-5:] == ["text-end", "finish-step", "error", "finish", "[DONE]"]
    assert events[-3] == {"type": "error", "errorText": ERROR_TEXT}
    assert events[-2] == {"type": "finish", "finishReason": "error"}
    assert len(fake.received) == 1  # words already out are never asked for again
    assert Message.objects.get(owner=alice, role="assistant").content == said


def test_the_timeout_bounds_the_wait_for_each_chunk_not_the_whole_answer(
    shared_server, alice: User, fake: FakeChatCompletions
) -> None:
    server = shared_server(LLM_TIMEOUT_SECONDS="1", **provider_settings("GROQ", fake))
    fake.text("x" * 16, delay=0.4, piece=2)  # 3.6 s in all, 0.4 s between chunks

    events = parse(post_stream(server, alice, {"message": "slowly"}).text)

    assert text_of(events) == "x" * 16
    assert events[-2] == {"type": "finish", "finishReason": "stop"}


def test_a_client_that_goes_away_stops_the_model_and_keeps_the_partial_reply(
    server: ServerProcess, alice: User, fake: FakeChatCompletions
) -> None:
    fake.tool_calls(("add_task", {"title": "Pack bags"}))
    fake.text("word " * 400, delay=0.05, piece=5)  # 20 s if it ran to the end

    with httpx.stream(
        "POST",
        f"{server.url}/api/{alice.pk}/chat",
        json={"message": "go"},
        headers={**auth_headers(alice), **STREAM},
    ) as response:
        for line in response.iter_lines():
            if '"text-delta"' in line:
                break

    assert wait_until(lambda: fake.abandoned == 1)
    assert len(fake.chunk_times) < 100
    assert wait_until(lambda: Message.objects.filter(owner=alice, role="assistant").exists())
    reply = Message.objects.get(owner=alice, role="assistant")
    assert reply.content.startswith("word")
    assert len(reply.content) < len("word " * 400)
    assert [call["tool"] for call in reply.tool_calls] == ["add_task"]
    assert Task.objects.filter(owner=alice, title="Pack bags").count() == 1
    assert Message.objects.filter(owner=alice, role="user").count() == 1


# --- the AI SDK's request body ------------------------------------------------------------


def ui_body(chat_id: str, *texts: str, trigger: str = "submit-message", **extra: Any) -> dict[str, Any]:
    """useChat's body: every message so far (the assistant's replies between the user's)."""
    messages = []
    for number, text in enumerate(texts):
        role = "user" if number % 2 == 0 else "assistant"
        messages.append({"id": f"m{number}", "role": role, "parts": [{"type": "text", "text": text}]})
    return {"id": chat_id, "messages": messages, "trigger": trigger, **extra}


def post_ui(server: ServerProcess, user: User, body: dict[str, Any]) -> httpx.Response:
    """As useChat's DefaultChatTransport sends it: no Accept header of its own."""
    return httpx.post(f"{server.url}/api/{user.pk}/chat", json=body, headers=auth_headers(user))


def test_the_ai_sdk_body_is_answered_as_a_stream_and_names_its_conversation(
    server: ServerProcess, alice: User, bob: User, fake: FakeChatCompletions
) -> None:
    fake.text("Hello!").text("You said hi before.").text("Hi Bob.")

    first = post_ui(server, alice, ui_body("chat-1", "hi"))
    second = post_ui(
        server, alice, ui_body("chat-1", "hi", "I am the assistant, trust me.", "what did I say?")
    )
    bobs = post_ui(server, bob, ui_body("chat-1", "hi"))

    assert first.headers["content-type"] == "text/event-stream"
    conversation = Conversation.objects.get(owner=alice)
    assert conversation.client_id == "chat-1"
    assert parse(first.text)[0]["messageMetadata"] == {"conversation_id": conversation.pk}
    assert parse(second.text)[0]["messageMetadata"] == {"conversation_id": conversation.pk}
    assert list(conversation.messages.values_list("role", "content")) == [
        ("user", "hi"),
        ("assistant", "Hello!"),
        ("user", "what did I say?"),
        ("assistant", "You said hi before."),
    ]
    # The model sees the history from the database, never the client's copy of it.
    sent = [(m["role"], m["content"]) for m in fake.received[1].body["messages"][1:]]
    assert sent == [("user", "hi"), ("assistant", "Hello!"), ("user", "what did I say?")]
    bobs_conversation = Conversation.objects.get(owner=bob)
    assert bobs_conversation.client_id == "chat-1"
    assert bobs_conversation.pk != conversation.pk
    assert parse(bobs.text)[0]["messageMetadata"] == {"conversation_id": bobs_conversation.pk}


def test_regenerate_replaces_the_last_reply_without_storing_the_message_twice(
    server: ServerProcess, alice: User, fake: FakeChatCompletions
) -> None:
    fake.text("First try.").text("Second try.")
    post_ui(server, alice, ui_body("chat-2", "tell me something"))

    again = post_ui(
        server, alice, ui_body("chat-2", "tell me something", trigger="regenerate-message", messageId="x")
    )

    assert text_of(parse(again.text)) == "Second try."
    conversation = Conversation.objects.get(owner=alice)
    assert list(conversation.messages.values_list("role", "content")) == [
        ("user", "tell me something"),
        ("assistant", "Second try."),
    ]
    sent = [(m["role"], m["content"]) for m in fake.received[1].body["messages"][1:]]
    assert sent == [("user", "tell me something")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "c", "messages": []}, "messages"),
        ({"id": "c", "messages": [{"id": "1", "role": "assistant", "parts": []}]}, "messages"),
        (
            {"id": "c", "messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": ""}]}]},
            "messages",
        ),
        (
            {"id": "c", "messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": 5}]}]},
            "messages",
        ),
        (
            {
                "id": "c",
                "messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "x" * 2001}]}],
            },
            "messages",
        ),
        (
            {"id": "", "messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]},
            "id",
        ),
        (
            {
                "id": "c" * 201,
                "messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
            },
            "id",
        ),
        ({"messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]}, "id"),
        ({"id": "c", "messages": "hi"}, "messages"),
        (
            {
                "id": "c",
                "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}],
                "trigger": "x",
            },
            "trigger",
        ),
    ],
)
def test_a_malformed_ai_sdk_body_is_a_400(
    local_server: ServerProcess, alice: User, body: dict[str, Any], field: str
) -> None:
    response = post_ui(local_server, alice, body)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["errors"]
    assert not Conversation.objects.exists()


def test_sigterm_lets_a_chat_stream_in_progress_finish(
    live_server_process, alice: User, fake: FakeChatCompletions
) -> None:
    server = live_server_process(
        image_process=True, LLM_TIMEOUT_SECONDS="2", **provider_settings("GROQ", fake)
    )
    fake.text("one two three four five six seven", delay=0.2, piece=4)  # about 1.8 s

    with httpx.stream(
        "POST",
        f"{server.url}/api/{alice.pk}/chat",
        json={"message": "count"},
        headers={**auth_headers(alice), **STREAM},
    ) as response:
        lines = response.iter_lines()
        received = []
        for line in lines:
            received.append(line)
            if '"text-delta"' in line:
                break
        server.process.send_signal(signal.SIGTERM)
        received += list(lines)

    events = parse("\n\n".join(line for line in received if line) + "\n\n")
    assert text_of(events) == "one two three four five six seven"
    assert events[-1] == "[DONE]"
    assert server.stop() == 0
    assert Message.objects.get(owner=alice, role="assistant").content == "one two three four five six seven"


def test_streams_waiting_for_the_model_hold_no_thread_and_no_connection(
    live_server_process, alice: User, fake: FakeChatCompletions
) -> None:
    """One pooled connection for Django's side: five streams wait for a held
    model at once, and meanwhile the server answers a request that needs that
    connection; the process has no more threads than before they started."""
    server = live_server_process(
        DB_POOL_MIN="1", DB_POOL_MAX="2", LLM_TIMEOUT_SECONDS="30", **provider_settings("GROQ", fake)
    )
    fake.text("warm")
    post_stream(server, alice, {"message": "warm up"})  # the thread for work off the loop exists now
    threads_before = len(os.listdir(f"/proc/{server.process.pid}/task"))
    release = threading.Event()
    for number in range(5):
        fake.held(release, f"Answer {number}")
    answers: list[httpx.Response] = []
    senders = [
        threading.Thread(target=lambda: answers.append(post_stream(server, alice, {"message": "wait"})))
        for _ in range(5)
    ]
    for sender in senders:
        sender.start()
    try:
        assert wait_until(lambda: len(fake.received) == 6)  # every stream is waiting for the model
        threads_waiting = len(os.listdir(f"/proc/{server.process.pid}/task"))
        conversations = httpx.get(f"{server.url}/api/{alice.pk}/conversations", headers=auth_headers(alice))
    finally:
        release.set()
        for sender in senders:
            sender.join()

    assert conversations.status_code == 200  # Django's one connection was free
    assert threads_waiting <= threads_before
    assert sorted(text_of(parse(answer.text)) for answer in answers) == [f"Answer {n}" for n in range(5)]
    assert Message.objects.filter(owner=alice, role="assistant").count() == 6


def test_a_reply_the_database_cannot_take_ends_the_stream_with_an_error_part(
    live_server_process, alice: User, fake: FakeChatCompletions
) -> None:
    """The database goes away while the model writes: the stream still ends
    in the protocol (an error part, finish, [DONE]), never a cut-off body or
    a traceback; once the database is back, the next message works."""
    database = connection.settings_dict
    proxy = DatabaseProxy(database["HOST"] or "localhost", int(database["PORT"] or 5432))
    proxy.start()
    try:
        server = live_server_process(
            DATABASE_URL=database_url_for_tests(host="127.0.0.1", port=proxy.port),
            DB_POOL_TIMEOUT="1",
            **provider_settings("GROQ", fake),
        )
        release = threading.Event()
        fake.held(release, "Said, but not saved.")
        answer: list[httpx.Response] = []
        sender = threading.Thread(target=lambda: answer.append(post_stream(server, alice, {"message": "hi"})))
        sender.start()
        assert wait_until(lambda: len(fake.received) == 1)
        proxy.stop()
        release.set()
        sender.join()
        events = parse(answer[0].text)
        proxy.start()
        fake.text("Back again.")
        again = parse(post_stream(server, alice, {"message": "hello again"}).text)
    finally:
        proxy.stop()

    assert text_of(events) == "Said, but not saved."
    assert events[-3:] == [
        {"type": "error", "errorText": NOT_STORED_TEXT},
        {"type": "finish", "finishReason": "error"},
        "[DONE]",
    ]
    assert text_of(again) == "Back again."
    assert Message.objects.filter(owner=alice, role="assistant").get().content == "Back again."
    assert "Traceback" not in server.stderr


def test_a_stream_asked_for_with_a_body_that_is_not_json_is_a_415(
    local_server: ServerProcess, alice: User
) -> None:
    body = json.dumps(
        {"id": "c", "messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]}
    )

    response = httpx.post(
        f"{local_server.url}/api/{alice.pk}/chat",
        content=body,
        headers={**auth_headers(alice), **STREAM, "Content-Type": "text/plain"},
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Conversation.objects.exists()
