"""The assistant's loop: the model proposes tool calls, the tools run for the
authenticated user, the results go back to the model, at most
CHAT_MAX_TOOL_STEPS rounds. Provider faults are retried inside the request's
time budget; then the LOCAL agent answers and the reply says fallback."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import User
from chat import llm, local_agent
from chat.tools import TOOL_SCHEMAS, run_tool

logger = logging.getLogger(__name__)

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
