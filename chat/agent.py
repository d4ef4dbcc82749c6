"""The assistant's loop: the model proposes tool calls, the tools run for the
authenticated user, the results go back to the model, at most
CHAT_MAX_TOOL_STEPS rounds. Provider faults are retried inside the request's
time budget; then the LOCAL agent answers and the reply says fallback.

run_agent() is the JSON answer's loop, in the request's thread. stream_agent()
is the streamed answer's, on the event loop: it yields the reply as it comes
(steps, pieces of text, tool calls and their results) and fills a
StreamedReply, which holds what to store even when the stream ends early (a
client gone). The tools run in the request's thread, and a tool that has
started always finishes and is recorded; no database connection is held
while the model writes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import User
from chat import llm, local_agent
from chat.tools import TOOL_SCHEMAS, run_tool

logger = logging.getLogger(__name__)
T = TypeVar("T")

# The contract's p99 for a chat request is 10 s; model calls get this much of it.
TIME_BUDGET_SECONDS = 9.0
MAX_ATTEMPTS = 3
MIN_CALL_SECONDS = 0.5

DEFAULT_INSTRUCTIONS = """\
You help the user manage their todo list, and you act only through your tools:
- add_task creates a task. Keep titles short; put details in the description.
- list_tasks shows tasks with their ids. Call it whenever you need an id.
- complete_task, delete_task and update_task take a task_id. When the user names a
  task by its words ("delete the meeting task"), call list_tasks first, then act on
  the id you found. If several tasks match, ask which one.
- "every Monday", "monthly", "tomorrow at 5pm", "remind me at 8": set recurrence,
  due_date and remind_at (date-times without an offset are in the user's time zone).
- Never invent task ids or results. If a tool returns an error, explain it or try again.
After acting, answer in one or two friendly sentences that name the tasks."""


@dataclass
class AgentReply:
    content: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    fallback: bool = False


def system_prompt(time_zone: str = "UTC") -> str:
    instructions = settings.AGENT_INSTRUCTIONS or DEFAULT_INSTRUCTIONS
    now = timezone.now().astimezone(ZoneInfo(time_zone))
    return (
        f"You are {settings.AGENT_NAME}, a todo-list assistant.\n{instructions}\n"
        f"Today is {now:%A, %Y-%m-%d}; the user's time is {now:%H:%M} in {time_zone}."
    )


def run_agent(
    *, user: User, history: list[dict[str, str]], message: str, time_zone: str = "UTC"
) -> AgentReply:
    provider = llm.get_provider()
    if provider is None:
        content, records = local_agent.respond(user, message, time_zone=time_zone)
        return AgentReply(content, records)

    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt(time_zone)},
        *history,
        {"role": "user", "content": message},
    ]
    records: list[dict[str, Any]] = []
    for _ in range(settings.CHAT_MAX_TOOL_STEPS):
        try:
            completion = _complete(provider, messages, deadline)
        except llm.ProviderError:
            return _fallback(user, message, records, time_zone)
        if not completion.tool_calls:
            return AgentReply(completion.content.strip() or local_agent.describe(records), records)
        messages.append(_assistant_turn(completion))
        for call in completion.tool_calls:
            arguments = llm.parse_arguments(call.arguments)
            result = run_tool(user, call.name, arguments, time_zone=time_zone)
            records.append(
                {"tool": call.name, "arguments": arguments if arguments is not None else {}, "result": result}
            )
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    # Out of rounds: say what was done rather than ask the model again.
    return AgentReply(local_agent.describe(records), records)


def _complete(provider: llm.ChatProvider, messages: list[dict[str, Any]], deadline: float) -> llm.Completion:
    release_database_connection()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        remaining = deadline - time.monotonic()
        if remaining < MIN_CALL_SECONDS:
            raise llm.ProviderError("time budget spent", retryable=False)
        try:
            return provider.complete(
                messages, TOOL_SCHEMAS, timeout=min(settings.LLM_TIMEOUT_SECONDS, remaining)
            )
        except llm.ProviderError as exc:
            logger.warning("LLM provider %s failed (attempt %d): %s", provider.name, attempt, exc.reason)
            if not exc.retryable or attempt == MAX_ATTEMPTS:
                raise
            time.sleep(min(0.25 * attempt, max(0.0, deadline - time.monotonic() - MIN_CALL_SECONDS)))
    raise AssertionError("unreachable")


def release_database_connection() -> None:
    """No pooled connection is held while a model thinks: give it back now
    (this is the request's own thread); the next query takes one again.
    Inside a transaction (a caller's atomic block) it stays: closing would
    break the transaction."""
    if not connection.in_atomic_block:
        connection.close()


def _assistant_turn(completion: llm.Completion) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": completion.content or None,
        "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in completion.tool_calls
        ],
    }


def _fallback(user: User, message: str, records: list[dict[str, Any]], time_zone: str) -> AgentReply:
    if records:
        # Tools already acted on this message; running it again would repeat them.
        return AgentReply(local_agent.describe(records), records, fallback=True)
    content, local_records = local_agent.respond(user, message, time_zone=time_zone)
    return AgentReply(content, local_records, fallback=True)


# --- the streamed answer ------------------------------------------------------------

# The LOCAL agent's reply goes out this many words at a time.
LOCAL_WORDS_PER_PIECE = 3


@dataclass(frozen=True)
class StepStarted:
    """A model call begins (or the LOCAL agent's answer)."""


@dataclass(frozen=True)
class Text:
    """A piece of the reply's text, as the model wrote it."""

    text: str


@dataclass(frozen=True)
class ToolCalled:
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolAnswered:
    call_id: str
    result: Any


@dataclass(frozen=True)
class StepFinished:
    """The model call (or the LOCAL agent's answer) has ended."""


Event = StepStarted | Text | ToolCalled | ToolAnswered | StepFinished


@dataclass
class StreamedReply:
    """What a streamed reply has said and done so far: what is stored, also
    when the stream ends early. `failed`: the provider failed after text had
    gone out (the stream ends with an error)."""

    texts: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    fallback: bool = False
    failed: bool = False

    @property
    def content(self) -> str:
        return "\n\n".join(text.strip() for text in self.texts if text.strip())

    def add_text(self, text: str, *, new_block: bool) -> None:
        if new_block or not self.texts:
            self.texts.append("")
        self.texts[-1] += text

    def described(self) -> Text:
        """The tool calls made so far, said in a text block of their own (a
        model that stopped, or ran out of rounds, without saying it)."""
        text = local_agent.describe(self.tool_calls)
        self.add_text(text, new_block=True)
        return Text(text)


async def stream_agent(
    *, user: User, history: list[dict[str, str]], message: str, reply: StreamedReply, time_zone: str = "UTC"
) -> AsyncIterator[Event]:
    provider = llm.get_provider()
    if provider is None:
        yield StepStarted()
        async for event in _stream_local(user, message, reply, time_zone):
            yield event
        yield StepFinished()
        return

    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt(time_zone)},
        *history,
        {"role": "user", "content": message},
    ]
    for _ in range(settings.CHAT_MAX_TOOL_STEPS):
        yield StepStarted()
        said = False
        completion: llm.Completion | None = None
        try:
            async for piece in _stream_call(provider, messages, deadline):
                if isinstance(piece, str):
                    reply.add_text(piece, new_block=not said)
                    said = True
                    yield Text(piece)
                else:
                    completion = piece
        except llm.ProviderError:
            if reply.texts:
                reply.failed = True  # words already out cannot be taken back
            else:
                reply.fallback = True
                async for event in _stream_fallback(user, message, reply, time_zone):
                    yield event
            yield StepFinished()
            return
        if completion is None or not completion.tool_calls:
            if not reply.content:
                yield reply.described()
            yield StepFinished()
            return
        messages.append(_assistant_turn(completion))
        for call in completion.tool_calls:
            arguments = llm.parse_arguments(call.arguments)
            record = {"tool": call.name, "arguments": arguments if arguments is not None else {}}
            yield ToolCalled(call.id, call.name, record["arguments"])
            result = await _finished(
                sync_to_async(_run_tool_released)(user, call.name, arguments, time_zone),
                lambda result, record=record: reply.tool_calls.append({**record, "result": result}),
            )
            yield ToolAnswered(call.id, result)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        yield StepFinished()
    # Out of rounds: say what was done rather than ask the model again.
    yield StepStarted()
    yield reply.described()
    yield StepFinished()


async def _stream_call(
    provider: llm.ChatProvider, messages: list[dict[str, Any]], deadline: float
) -> AsyncIterator[str | llm.Completion]:
    """One model call as it streams, retried (inside the time budget) while
    nothing of it has gone out."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if deadline - time.monotonic() < MIN_CALL_SECONDS:
            raise llm.ProviderError("time budget spent", retryable=False)
        started = False
        try:
            async for piece in provider.stream(messages, TOOL_SCHEMAS, timeout=settings.LLM_TIMEOUT_SECONDS):
                started = started or isinstance(piece, str)
                yield piece
            return
        except llm.ProviderError as exc:
            logger.warning("LLM provider %s failed (attempt %d): %s", provider.name, attempt, exc.reason)
            if started or not exc.retryable or attempt == MAX_ATTEMPTS:
                raise
            await asyncio.sleep(min(0.25 * attempt, max(0.0, deadline - time.monotonic() - MIN_CALL_SECONDS)))


async def _stream_fallback(
    user: User, message: str, reply: StreamedReply, time_zone: str
) -> AsyncIterator[Event]:
    if reply.tool_calls:
        # Tools already acted on this message; running it again would repeat them.
        yield reply.described()
        return
    async for event in _stream_local(user, message, reply, time_zone):
        yield event


async def _stream_local(
    user: User, message: str, reply: StreamedReply, time_zone: str
) -> AsyncIterator[Event]:
    """The LOCAL agent's answer: its tool calls (made at once), then its text
    a few words at a time."""
    content, records = await _finished(
        sync_to_async(_respond_released)(user, message, time_zone),
        lambda answer: reply.tool_calls.extend(answer[1]),
    )
    for number, record in enumerate(records, start=1):
        call_id = f"call_local_{number}"
        yield ToolCalled(call_id, record["tool"], record["arguments"])
        yield ToolAnswered(call_id, record["result"])
    words = content.split(" ")
    for start in range(0, len(words), LOCAL_WORDS_PER_PIECE):
        piece = " ".join(words[start : start + LOCAL_WORDS_PER_PIECE])
        if start + LOCAL_WORDS_PER_PIECE < len(words):
            piece += " "
        reply.add_text(piece, new_block=start == 0)
        yield Text(piece)


async def _finished(work: Any, record: Callable[[T], object]) -> T:
    """The result of work that writes (a tool), recorded by `record`. A
    stream cancelled meanwhile (its client gone) lets the work finish and
    records it before it ends: a tool is either done and stored or not done."""
    running = asyncio.ensure_future(work)
    try:
        result = await asyncio.shield(running)
    except asyncio.CancelledError:
        record(await running)
        raise
    record(result)
    return result


def _run_tool_released(user: User, name: str, arguments: dict[str, Any] | None, time_zone: str) -> Any:
    try:
        return run_tool(user, name, arguments, time_zone=time_zone)
    finally:
        release_database_connection()


def _respond_released(user: User, message: str, time_zone: str) -> tuple[str, list[dict[str, Any]]]:
    try:
        return local_agent.respond(user, message, time_zone=time_zone)
    finally:
        release_database_connection()
