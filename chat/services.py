"""Conversations and the stateless chat turn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
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
class OpenTurn:
    """A turn whose user message is stored and whose reply is to come."""

    owner: User
    conversation: Conversation
    history: list[dict[str, str]]
    message: str


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
    turn = open_turn(owner=owner, message=message, conversation_id=conversation_id)
    reply = run_agent(user=owner, history=turn.history, message=message, time_zone=time_zone)
    return close_turn(
        turn,
        content=reply.content,
        tool_calls=reply.tool_calls,
        fallback=reply.fallback,
        with_reply=with_reply,
    )


def open_turn(
    *,
    owner: User,
    message: str,
    conversation_id: int | None = None,
    client_id: str | None = None,
    regenerate: bool = False,
) -> OpenTurn:
    """The first half of a turn: the conversation (by its id, by the client's
    own id, or a new one), its recent history, the user's message stored.
    `regenerate` answers the conversation's last user message again: its last
    reply is deleted and the message is not stored twice."""
    if conversation_id is not None:
        conversation, new = get_conversation(owner=owner, conversation_id=conversation_id), False
    elif client_id is not None:
        conversation, new = _conversation_of_client(owner, client_id, message)
    else:
        conversation, new = Conversation.objects.create(owner=owner, title=_title(message)), True
    if regenerate and not new:
        asked = _drop_last_reply(conversation)
        if asked is not None:
            return OpenTurn(owner, conversation, _history(conversation, before=asked), asked.content)
    history = [] if new else _history(conversation)
    _add_message(conversation, Role.USER, message, touch=not new)
    return OpenTurn(owner, conversation, history, message)


def close_turn(
    turn: OpenTurn,
    *,
    content: str,
    tool_calls: list[dict[str, Any]],
    fallback: bool = False,
    with_reply: Callable[[ChatTurn], None] | None = None,
) -> ChatTurn:
    """The second half: the reply stored with its tool calls, and `with_reply`
    run in the same transaction."""
    stored_calls = [_bounded(record) for record in tool_calls]
    with transaction.atomic():
        assistant = _add_message(turn.conversation, Role.ASSISTANT, content, stored_calls)
        closed = ChatTurn(conversation=turn.conversation, reply=assistant, fallback=fallback)
        if with_reply is not None:
            with_reply(closed)
    return closed


def _conversation_of_client(owner: User, client_id: str, message: str) -> tuple[Conversation, bool]:
    """The owner's conversation with this client id, and whether it is new:
    made on its first message (two first messages at once: one makes it, the
    other finds it)."""
    conversations = Conversation.objects.for_user(owner)
    conversation = conversations.filter(client_id=client_id).first()
    if conversation is not None:
        return conversation, False
    try:
        with transaction.atomic():
            return Conversation.objects.create(owner=owner, client_id=client_id, title=_title(message)), True
    except IntegrityError:
        return conversations.get(client_id=client_id), False


def _drop_last_reply(conversation: Conversation) -> Message | None:
    """Delete the conversation's last assistant reply (if the last message is
    one) and return the user's message it answered; None when there is none."""
    newest = list(conversation.messages.order_by("-created_at", "-id")[:2])
    if newest and newest[0].role == Role.ASSISTANT:
        newest[0].delete()
        newest = newest[1:]
    if newest and newest[0].role == Role.USER:
        return newest[0]
    return None


def _bounded(record: dict[str, Any]) -> dict[str, Any]:
    """A tool call as stored: a long list result keeps its first items and its count."""
    result = record["result"]
    if isinstance(result, list) and len(result) > STORED_LIST_ITEMS:
        return {**record, "result": result[:STORED_LIST_ITEMS], "result_count": len(result)}
    return record


def _history(conversation: Conversation, *, before: Message | None = None) -> list[dict[str, str]]:
    limit = settings.CHAT_HISTORY_LIMIT
    if limit == 0:
        return []
    messages = conversation.messages.order_by("-created_at", "-id")
    if before is not None:
        messages = messages.exclude(pk=before.pk)
    recent = list(messages.values("role", "content")[:limit])
    return [{"role": row["role"], "content": row["content"]} for row in reversed(recent)]


def _add_message(
    conversation: Conversation,
    role: str,
    content: str,
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    touch: bool = True,
) -> Message:
    """A message stored; the conversation's updated_at moved with it unless
    `touch` is off (a conversation made for this very message)."""
    message = Message.objects.create(
        owner_id=conversation.owner_id,
        conversation=conversation,
        role=role,
        content=content,
        tool_calls=tool_calls or [],
    )
    if touch:
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    return message


def _title(message: str) -> str:
    title = " ".join(message.split())
    if len(title) > TITLE_MAX_LENGTH:
        title = title[: TITLE_MAX_LENGTH - 1].rstrip() + "…"
    return title
