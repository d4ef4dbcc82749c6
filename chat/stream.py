"""The chat's streamed answer, in the Vercel AI SDK's UI message stream
protocol (v1; SPEC.md section 5): Server-Sent Events whose data are the `ai`
package's UI message chunks, then `[DONE]`.

stream_turn() runs on the event loop as the body of a StreamingHttpResponse:
each piece goes out as the model writes it (nothing between the provider and
the socket buffers: Django sends every part of an async iterator as it comes,
and no middleware of ours reads a body). The reply is stored before `finish`;
a client that goes away stops the model call (Django cancels the stream) and
the partial reply is stored all the same, with the tool calls made so far."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError

from chat import agent, services

logger = logging.getLogger(__name__)

HEADERS = {
    "Content-Type": "text/event-stream",
    "x-vercel-ai-ui-message-stream": "v1",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
DONE = b"data: [DONE]\n\n"
ERROR_TEXT = "The assistant stopped answering. What it said so far is saved; please try again."
NOT_STORED_TEXT = "The reply could not be saved. Please try again in a moment."

KeepAnswer = Callable[[services.ChatTurn], None]


def part(**fields: Any) -> bytes:
    return b"data: " + json.dumps(fields, separators=(",", ":")).encode() + b"\n\n"


def accepts_stream(accept: str) -> bool:
    """Whether an Accept header asks for text/event-stream."""
    return any(item.split(";")[0].strip().lower() == "text/event-stream" for item in accept.split(","))


class _Parts:
    """Agent events as UI message chunks: a text block opens (text-start) at
    its first piece and closes (text-end) before anything else."""

    def __init__(self) -> None:
        self.text_id: str | None = None
        self.blocks = 0

    def of(self, event: agent.Event) -> list[bytes]:
        if isinstance(event, agent.Text):
            opened = []
            if self.text_id is None:
                self.blocks += 1
                self.text_id = f"text-{self.blocks}"
                opened.append(part(type="text-start", id=self.text_id))
            return [*opened, part(type="text-delta", id=self.text_id, delta=event.text)]
        parts = self.close_text()
        if isinstance(event, agent.StepStarted):
            parts.append(part(type="start-step"))
        elif isinstance(event, agent.ToolCalled):
            parts.append(
                part(
                    type="tool-input-available",
                    toolCallId=event.call_id,
                    toolName=event.name,
                    input=event.arguments,
                )
            )
        elif isinstance(event, agent.ToolAnswered):
            parts.append(part(type="tool-output-available", toolCallId=event.call_id, output=event.result))
        elif isinstance(event, agent.StepFinished):
            parts.append(part(type="finish-step"))
        return parts

    def close_text(self) -> list[bytes]:
        if self.text_id is None:
            return []
        closed, self.text_id = part(type="text-end", id=self.text_id), None
        return [closed]


async def stream_turn(
    turn: services.OpenTurn,
    *,
    time_zone: str,
    keep: KeepAnswer | None = None,
    release: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """The reply to an open turn, streamed. `keep` runs in the reply's
    transaction (an Idempotency-Key's answer); `release` frees the key when
    the turn fails before its reply is stored."""
    reply = agent.StreamedReply()
    parts = _Parts()
    storing: asyncio.Future[services.ChatTurn] | None = None

    async def store() -> bool:
        """Store the reply once (a cancellation meanwhile does not stop it);
        False when the database is out of reach."""
        nonlocal storing
        if storing is None:
            storing = asyncio.ensure_future(sync_to_async(_close)(turn, reply, keep))
        try:
            await asyncio.shield(storing)
        except DatabaseError:
            logger.warning("A streamed reply could not be stored: the database is out of reach")
            return False
        return True

    try:
        yield part(type="start", messageMetadata={"conversation_id": turn.conversation.pk})
        async for event in agent.stream_agent(
            user=turn.owner, history=turn.history, message=turn.message, reply=reply, time_zone=time_zone
        ):
            yield b"".join(parts.of(event))  # an event's parts in one write
        stored = await store()
        if not stored:
            reply.failed = True
            if release is not None:
                await _released(release)
        error = (
            [part(type="error", errorText=ERROR_TEXT if stored else NOT_STORED_TEXT)] if reply.failed else []
        )
        yield b"".join(
            [
                *error,
                part(type="finish", finishReason=_finish_reason(reply), **_metadata(reply.fallback)),
                DONE,
            ]
        )
    except (asyncio.CancelledError, GeneratorExit):
        # The client went away: the model call has stopped; keep what was said and done.
        if storing is None:
            logger.info("Chat stream closed by the client; the partial reply is stored")
        await store()
        raise
    except Exception:
        if release is not None:  # frees only a key whose answer was not kept
            await _released(release)
        raise


async def _released(release: Callable[[], None]) -> None:
    """Free the message's key (when the database answers: a key it never
    stored an answer for expires with its lease anyway)."""
    with contextlib.suppress(DatabaseError):
        await sync_to_async(release)()


def _close(turn: services.OpenTurn, reply: agent.StreamedReply, keep: KeepAnswer | None) -> services.ChatTurn:
    try:
        return services.close_turn(
            turn, content=reply.content, tool_calls=reply.tool_calls, fallback=reply.fallback, with_reply=keep
        )
    finally:
        agent.release_database_connection()


def _finish_reason(reply: agent.StreamedReply) -> str:
    return "error" if reply.failed else "stop"


def _metadata(fallback: bool) -> dict[str, Any]:
    """finish's messageMetadata: whether the built-in agent answered."""
    return {"messageMetadata": {"fallback": True}} if fallback else {}


def stored_stream(turn: services.ChatTurn) -> bytes:
    """A stored reply as one stream: its tool calls, its text in one part.
    What a retried message (its Idempotency-Key) gets again."""
    reply = turn.reply
    chunks = [
        part(type="start", messageMetadata={"conversation_id": turn.conversation.pk}),
        part(type="start-step"),
    ]
    for number, record in enumerate(reply.tool_calls, start=1):
        call_id = f"call_{reply.pk}_{number}"
        chunks.append(
            part(
                type="tool-input-available",
                toolCallId=call_id,
                toolName=record["tool"],
                input=record["arguments"],
            )
        )
        chunks.append(part(type="tool-output-available", toolCallId=call_id, output=record["result"]))
    if reply.content:
        text_id = "text-1"
        chunks += [
            part(type="text-start", id=text_id),
            part(type="text-delta", id=text_id, delta=reply.content),
            part(type="text-end", id=text_id),
        ]
    chunks += [
        part(type="finish-step"),
        part(type="finish", finishReason="stop", **_metadata(turn.fallback)),
        DONE,
    ]
    return b"".join(chunks)
