from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import IsPathUser
from chat import services, stream
from chat.agent import release_database_connection
from chat.serializers import (
    AssistantMessageSerializer,
    ChatRequestSerializer,
    ChatResponseSerializer,
    ConversationDetailSerializer,
    ConversationSummarySerializer,
    PageQuerySerializer,
    UIChatRequestSerializer,
    turn_arguments,
)
from idempotency import keys
from idempotency.views import IdempotentWrites
from todo_project.schema import USER_ID_PARAMETER as USER_ID
from todo_project.schema import error_responses, total_count_header
from todo_project.throttling import ChatRateThrottle

CONVERSATION_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The conversation id."
)
NOT_FOUND = "Conversation not found (not_found), also for another user's."


class ChatView(IdempotentWrites, APIView):
    permission_classes = [IsPathUser]
    throttle_classes = [ChatRateThrottle]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        """JSON for every answer of DRF's, whatever Accept says: a stream
        asked for with Accept: text/event-stream is not one of them, and the
        errors before it are JSON (SPEC.md section 5)."""
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    def lease(self) -> timedelta:
        """How long a message's key is held while its turn runs: every model
        call of the tool loop at its timeout, and some time to spare."""
        calls = settings.CHAT_MAX_TOOL_STEPS + 1
        return timedelta(seconds=settings.LLM_TIMEOUT_SECONDS * calls + 30)

    @extend_schema(
        operation_id="chat",
        tags=["chat"],
        parameters=[USER_ID],
        request={
            "application/json": PolymorphicProxySerializer(
                component_name="ChatRequestBody",
                serializers=[ChatRequestSerializer, UIChatRequestSerializer],
                resource_type_field_name=None,
            )
        },
        responses={
            (200, "application/json"): ChatResponseSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description=(
                    "With `Accept: text/event-stream` or the AI SDK's body: the reply as it is written, "
                    "in the Vercel AI SDK's UI message stream protocol (v1), ending with `data: [DONE]`."
                ),
            ),
            **error_responses(400, 401, 403, 404, 413, 415, 429, s404=NOT_FOUND),
        },
        description=(
            "Send a message to the assistant, which manages the user's tasks with its tools. The answer is "
            "JSON, or a stream (the Vercel AI SDK's UI message stream) when the request asks for "
            "`text/event-stream` or has the body the AI SDK's `useChat` sends."
        ),
    )
    def post(self, request: Request, user_id: str) -> HttpResponseBase:
        if isinstance(request.data, dict) and "messages" in request.data:
            return self._stream(request, UIChatRequestSerializer(data=request.data))
        serializer = ChatRequestSerializer(data=request.data)
        if stream.accepts_stream(request.headers.get("Accept", "")):
            return self._stream(request, serializer)
        serializer.is_valid(raise_exception=True)
        turn = services.chat(
            owner=request.user,
            message=serializer.validated_data["message"],
            conversation_id=serializer.validated_data.get("conversation_id"),
            time_zone=serializer.validated_data["time_zone"],
            with_reply=self._keep_answer if self.idempotent_call is not None else None,
        )
        return Response(_body(turn))

    def _keep_answer(self, turn: services.ChatTurn) -> None:
        """The answer to this message's Idempotency-Key, kept with the reply."""
        self.keep(_answer(_body(turn)))

    def _stream(
        self, request: Request, serializer: ChatRequestSerializer | UIChatRequestSerializer
    ) -> HttpResponseBase:
        """The reply as a stream: the user's message is stored here (errors
        found so far are JSON answers); the rest runs on the event loop, with
        no connection held (stream.stream_turn)."""
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        turn = services.open_turn(owner=request.user, **turn_arguments(data))
        release_database_connection()
        call = self.hand_over()
        body = stream.stream_turn(
            turn,
            time_zone=data["time_zone"],
            keep=None if call is None else lambda turn: keys.keep(call, _stream_answer(turn)),
            release=None if call is None else lambda: keys.release(call),
        )
        return StreamingHttpResponse(body, headers=stream.HEADERS)


def _stream_answer(turn: services.ChatTurn) -> keys.Answer:
    """A streamed reply's answer to keep for its key: the stored reply as one stream."""
    return keys.Answer(200, dict(stream.HEADERS), stream.stored_stream(turn))


def _body(turn: services.ChatTurn) -> dict[str, Any]:
    reply = turn.reply
    body = {
        "conversation_id": turn.conversation.pk,
        "response": reply.content,
        "tool_calls": reply.tool_calls,
        "message": AssistantMessageSerializer(reply).data,
    }
    if turn.fallback:
        body["fallback"] = True
    return body


def _answer(body: dict[str, Any]) -> keys.Answer:
    """The answer as the view sends it (DRF's JSONRenderer), to keep for its key."""
    rendered = JSONRenderer().render(body)
    return keys.Answer(200, {"Content-Type": "application/json"}, rendered)


@extend_schema_view(
    list=extend_schema(
        operation_id="conversations_list",
        tags=["chat"],
        parameters=[USER_ID, PageQuerySerializer, total_count_header("All the user's conversations.")],
        description="Newest first, a page at a time.",
        responses={200: ConversationSummarySerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        operation_id="conversations_retrieve",
        tags=["chat"],
        parameters=[
            USER_ID,
            CONVERSATION_ID,
            PageQuerySerializer,
            total_count_header("All the conversation's messages."),
        ],
        description=(
            "The conversation with its newest `limit` messages (after skipping the newest `offset`), "
            "in time order."
        ),
        responses={
            200: ConversationDetailSerializer,
            **error_responses(400, 401, 403, 404, s404=NOT_FOUND),
        },
    ),
    destroy=extend_schema(
        operation_id="conversations_destroy",
        tags=["chat"],
        parameters=[USER_ID, CONVERSATION_ID],
        responses={204: None, **error_responses(401, 403, 404, s404=NOT_FOUND)},
    ),
)
class ConversationViewSet(IdempotentWrites, viewsets.ViewSet):
    permission_classes = [IsPathUser]
    lookup_field = "id"
    lookup_value_regex = "[0-9]+"

    def list(self, request: Request, user_id: str) -> Response:
        page = services.list_conversations(owner=request.user, **_page_query(request))
        body = ConversationSummarySerializer(page.items, many=True).data
        return Response(body, headers={"X-Total-Count": str(page.total)})

    def retrieve(self, request: Request, user_id: str, id: str) -> Response:
        paging = _page_query(request)
        conversation = services.get_conversation(owner=request.user, conversation_id=int(id))
        page = services.list_messages(conversation=conversation, **paging)
        conversation.messages_page = page.items
        body = ConversationDetailSerializer(conversation).data
        return Response(body, headers={"X-Total-Count": str(page.total)})

    def destroy(self, request: Request, user_id: str, id: str) -> Response:
        services.delete_conversation(owner=request.user, conversation_id=int(id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _page_query(request: Request) -> dict[str, int]:
    query = PageQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)
