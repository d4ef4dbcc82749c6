from typing import Any

from rest_framework import serializers

from chat.models import CLIENT_ID_MAX_LENGTH
from chat.services import MAX_OFFSET, MAX_PAGE_LIMIT, PAGE_LIMIT
from tasks.serializers import TimeZoneField
from todo_project.fields import StrictCharField

MESSAGE_MAX_LENGTH = 2000


class ChatRequestSerializer(serializers.Serializer):
    message = StrictCharField(min_length=1, max_length=MESSAGE_MAX_LENGTH)
    conversation_id = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Leave out to start a new conversation."
    )
    time_zone = TimeZoneField(
        default="UTC",
        help_text="The user's IANA time zone (Europe/Berlin), in which the assistant reads relative dates"
        ' such as "tomorrow at 5pm". Default UTC.',
    )


class UIMessageSerializer(serializers.Serializer):
    """A message of the AI SDK's request. Only the last user message's text
    is read; the rest is the client's copy of the conversation, which the
    server never trusts (its history comes from the database)."""

    id = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    role = serializers.CharField()
    parts = serializers.ListField(child=serializers.DictField(), allow_empty=True)


class UIChatRequestSerializer(serializers.Serializer):
    """The body the AI SDK's useChat sends (DefaultChatTransport); the answer
    is always a stream."""

    id = StrictCharField(
        min_length=1,
        max_length=CLIENT_ID_MAX_LENGTH,
        help_text="The client's chat id: the conversation it names (per user), made on its first message.",
    )
    messages = UIMessageSerializer(many=True, allow_empty=False)
    trigger = serializers.ChoiceField(
        choices=["submit-message", "regenerate-message"],
        default="submit-message",
        help_text="regenerate-message replaces the conversation's last reply.",
    )
    messageId = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    time_zone = TimeZoneField(default="UTC", help_text="As in the JSON request.")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        asked = [message for message in data["messages"] if message["role"] == "user"]
        if not asked:
            raise serializers.ValidationError({"messages": ["There is no user message."]})
        texts = [part.get("text") for part in asked[-1]["parts"] if part.get("type") == "text"]
        if not all(isinstance(text, str) for text in texts):
            raise serializers.ValidationError({"messages": ["A text part's text must be a string."]})
        message = StrictCharField(min_length=1, max_length=MESSAGE_MAX_LENGTH)
        try:
            data["message"] = message.run_validation("".join(texts))
        except serializers.ValidationError as error:
            raise serializers.ValidationError(
                {"messages": [f"The last user message: {error.detail[0]}"]}
            ) from None
        return data


def turn_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """services.open_turn's arguments for a validated chat request of either shape."""
    return {
        "message": data["message"],
        "conversation_id": data.get("conversation_id"),
        "client_id": data.get("id"),
        "regenerate": data.get("trigger") == "regenerate-message",
    }


class ToolCallSerializer(serializers.Serializer):
    tool = serializers.CharField()
    arguments = serializers.DictField()
    result = serializers.JSONField()
    result_count = serializers.IntegerField(
        required=False,
        help_text="Present when a list result was cut to its first items: the full count.",
    )


class _MessageFieldsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    content = serializers.CharField()
    created_at = serializers.DateTimeField()


class MessageSerializer(_MessageFieldsSerializer):
    tool_calls = ToolCallSerializer(many=True)


class AssistantMessageSerializer(_MessageFieldsSerializer):
    """The reply in a chat answer; its tool calls stand beside it in the answer."""

    conversation_id = serializers.IntegerField()


class ChatResponseSerializer(serializers.Serializer):
    conversation_id = serializers.IntegerField()
    response = serializers.CharField()
    tool_calls = ToolCallSerializer(many=True)
    message = AssistantMessageSerializer()
    fallback = serializers.BooleanField(
        required=False,
        help_text="Present and true when the built-in agent answered because the provider failed.",
    )


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ConversationSummarySerializer(ConversationSerializer):
    message_count = serializers.IntegerField()


class ConversationDetailSerializer(ConversationSerializer):
    # A page of the messages (chat.services.list_messages), set by the view.
    messages = MessageSerializer(many=True, source="messages_page")


class PageQuerySerializer(serializers.Serializer):
    """limit and offset of the conversation routes."""

    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_LIMIT, default=PAGE_LIMIT)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)
