"""Conversations and the stateless chat turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from rest_framework import exceptions

from accounts.models import User
from chat.agent import run_agent
from chat.models import TITLE_MAX_LENGTH, Conversation, Message, Role
from todo_project.paging import total_matches


class ConversationNotFound(exceptions.NotFound):
    """A missing conversation and another user's alike."""

    default_detail = "Conversation not found"


@dataclass(frozen=True)
class ChatTurn:
    conversation: Conversation
    reply: Message
    fallback: bool


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int


# Conversations and their messages come a page at a time.
PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 100
MAX_OFFSET = 10_000
# A tool's list result is stored (and answered) with this many items at most,
# plus the full count: the tasks themselves hold the full data.
STORED_LIST_ITEMS = 20


def get_conversation(*, owner: User, conversation_id: int) -> Conversation:
    if not 0 < conversation_id <= 2**63 - 1:
        raise ConversationNotFound()
    conversation = Conversation.objects.for_user(owner).filter(pk=conversation_id).first()
    if conversation is None:
        raise ConversationNotFound()
    return conversation


def list_conversations(*, owner: User, limit: int = PAGE_LIMIT, offset: int = 0) -> Page:
    """A page of the owner's conversations, newest first, with their message counts."""
    conversations = Conversation.objects.for_user(owner)
    page = list(
        conversations.order_by("-updated_at", "-id")[offset : offset + limit].annotate(
            message_count=Count("messages")
        )
    )
    return Page(page, total_matches(conversations, len(page), limit=limit, offset=offset))


def list_messages(*, conversation: Conversation, limit: int = PAGE_LIMIT, offset: int = 0) -> Page:
    """The conversation's newest `limit` messages after skipping the newest
    `offset`, in time order."""
    messages = conversation.messages.all()
    newest_first = list(messages.order_by("-created_at", "-id")[offset : offset + limit])
    return Page(newest_first[::-1], total_matches(messages, len(newest_first), limit=limit, offset=offset))


def delete_conversation(*, owner: User, conversation_id: int) -> None:
    get_conversation(owner=owner, conversation_id=conversation_id).delete()


def chat(
    *,
    owner: User,
    message: str,
    conversation_id: int | None = None,
    time_zone: str = "UTC",
    with_reply: Callable[[ChatTurn], None] | None = None,
) -> ChatTurn:
    """One turn, in this order, keeping nothing in memory: load the recent
    history, store the user's message, run the agent (no transaction or
    connection is held while a model thinks), store the reply, answer.
    `with_reply` runs in the reply's transaction (the answer kept for an
    Idempotency-Key: both are stored, or neither)."""
    if conversation_id is None:
        conversation = Conversation.objects.create(owner=owner, title=_title(message))
        history: list[dict[str, str]] = []
    else:
        conversation = get_conversation(owner=owner, conversation_id=conversation_id)
        history = _history(conversation)
    _add_message(conversation, Role.USER, message)

    reply = run_agent(user=owner, history=history, message=message, time_zone=time_zone)

    stored_calls = [_bounded(record) for record in reply.tool_calls]
    with transaction.atomic():
        assistant = _add_message(conversation, Role.ASSISTANT, reply.content, stored_calls)
        turn = ChatTurn(conversation=conversation, reply=assistant, fallback=reply.fallback)
        if with_reply is not None:
            with_reply(turn)
    return turn


def _bounded(record: dict[str, Any]) -> dict[str, Any]:
    """A tool call as stored: a long list result keeps its first items and its count."""
    result = record["result"]
    if isinstance(result, list) and len(result) > STORED_LIST_ITEMS:
        return {**record, "result": result[:STORED_LIST_ITEMS], "result_count": len(result)}
    return record


def _history(conversation: Conversation) -> list[dict[str, str]]:
    limit = settings.CHAT_HISTORY_LIMIT
    if limit == 0:
        return []
    recent = list(conversation.messages.order_by("-created_at", "-id").values("role", "content")[:limit])
    return [{"role": row["role"], "content": row["content"]} for row in reversed(recent)]


def _add_message(
    conversation: Conversation, role: str, content: str, tool_calls: list[dict[str, Any]] | None = None
) -> Message:
    message = Message.objects.create(
        owner_id=conversation.owner_id,
        conversation=conversation,
        role=role,
        content=content,
        tool_calls=tool_calls or [],
    )
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    return message


def _title(message: str) -> str:
    title = " ".join(message.split())
    if len(title) > TITLE_MAX_LENGTH:
        title = title[: TITLE_MAX_LENGTH - 1].rstrip() + "…"
    return title
