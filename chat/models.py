from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from accounts.models import User

TITLE_MAX_LENGTH = 80
CLIENT_ID_MAX_LENGTH = 200


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def for_user(self, user: User) -> ConversationQuerySet:
        """The one place conversations are scoped to their owner."""
        return self.filter(owner=user)


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    # The chat id of a client that names its conversations itself (the AI
    # SDK's useChat sends one with every message); unique per user. NULL, not
    # "", for the others: unique constraints let any number of NULLs through.
    client_id = models.CharField(  # noqa: DJ001
        max_length=CLIENT_ID_MAX_LENGTH, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        db_table = "conversations"
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="conversations_owner_idx")]
        constraints = [
            models.UniqueConstraint(fields=["owner", "client_id"], name="conversations_client_id_unique"),
        ]

    def __str__(self) -> str:
        return self.title


class Role(models.TextChoices):
    USER = "user"
    ASSISTANT = "assistant"


class Message(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    role = models.CharField(max_length=9, choices=Role.choices)
    content = models.TextField()
    # [{"tool", "arguments", "result"}] for an assistant turn that used tools.
    tool_calls = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "messages"
        ordering = ["created_at", "id"]
        indexes = [
            # History and the conversation view: one conversation's messages in order.
            models.Index(fields=["conversation", "created_at", "id"], name="messages_conversation_idx"),
            # Deleting a user cascades through messages by owner.
            models.Index(fields=["owner"], name="messages_owner_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="messages_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"
