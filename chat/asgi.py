"""The chat's two layers in front of Django.

StreamedChatMiddleware: a streamed chat message (SPEC.md section 5) runs on the
event loop from its first byte, without Django's request thread and DRF: the
token checked on the loop, the user, the rate limit and the user's message
stored in one call to the services (on the process's one thread for work
off the loop, which keeps no connection), the reply streamed by chat/stream.py. Anything but the
plain case (a bad token or body, another user's path, a message with an
Idempotency-Key, a user over the rate limit, a conversation that is not
theirs) goes to Django's ChatView, which answers it (the same stream, or the
JSON error).

McpMiddleware: /mcp on the API's port: the MCP SDK's streamable HTTP app (chat/mcp_server.py)
answers it, Django everything else.

Two answers are ours rather than the SDK's. GET is 405: the server is
stateless and offers no standing stream, which the SDK would otherwise hold
open for as long as the client likes. And a body that is not one JSON-RPC
message (not JSON, a batch, a wrong field) gets a sentence instead of the
parser's and pydantic's own text, which names their internals."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from accounts.auth import TokenClaims, bearer_claims, token_user
from chat import services, stream
from chat.agent import release_database_connection
from chat.mcp_server import http_app
from chat.serializers import ChatRequestSerializer, UIChatRequestSerializer, turn_arguments
from idempotency import keys
from todo_project.middleware import (
    ASGIApp,
    JSONAnswer,
    Message,
    Receive,
    Scope,
    Send,
    ToDjango,
    middleware_chain,
    read_body,
    replay,
    send_streaming_response,
)
from todo_project.patterns import pattern
from todo_project.throttling import ChatRateThrottle

CHAT_ROUTE = pattern(r"^/api(?:/v1)?/(?P<user_id>[^/]+)/chat$")


class StreamedChatMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.chain = middleware_chain(self.view)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not CHAT_ROUTE.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        body, ended = await read_body(receive)
        response: HttpResponseBase = ToDjango()
        if ended:
            try:
                response = await self.chain(ASGIRequest(scope, io.BytesIO(body)))
            except Exception:  # noqa: BLE001 - Django answers it (and logs what it must)
                response = ToDjango()
        if isinstance(response, StreamingHttpResponse):
            await send_streaming_response(response, receive, send)
        else:
            await self.app(scope, replay(body, receive, ended=ended), send)

    async def view(self, request: HttpRequest) -> HttpResponseBase:
        match = CHAT_ROUTE.match(request.path_info)
        claims = bearer_claims(request.headers.get("Authorization", "").encode("latin-1"), fetch_keys=False)
        if (
            match is None
            or claims is None
            or claims.user_id != match["user_id"]
            or keys.HEADER in request.headers
        ):
            return ToDjango()
        data = _json_object(request.body) if request.content_type == "application/json" else None
        if data is None:
            return ToDjango()
        if "messages" in data:
            serializer: Any = UIChatRequestSerializer(data=data)
        elif stream.accepts_stream(request.headers.get("Accept", "")):
            serializer = ChatRequestSerializer(data=data)
        else:
            return ToDjango()
        if not serializer.is_valid():
            return ToDjango()
        try:
            turn = await sync_to_async(_open_turn)(claims, serializer.validated_data)
        except DatabaseError:
            turn = None  # Django answers: with the stream, or 503 while the database is away
        if turn is None:
            return ToDjango()
        body = stream.stream_turn(turn, time_zone=serializer.validated_data["time_zone"])
        return StreamingHttpResponse(body, headers=stream.HEADERS)


def _open_turn(claims: TokenClaims, data: dict[str, Any]) -> services.OpenTurn | None:
    """The user's message stored (services.open_turn), or None for Django to
    answer: a token its user no longer holds, a conversation that is not the
    user's (checked before the message counts against the rate), the rate
    used up (Django counts that attempt again: it is over the limit either way)."""
    try:
        user = token_user(claims)
        if user is None:
            return None
        if data.get("conversation_id") is not None:
            services.get_conversation(owner=user, conversation_id=data["conversation_id"])
        if not ChatRateThrottle().allow_user(str(user.pk)):
            return None
        return services.open_turn(owner=user, **turn_arguments(data))
    except services.ConversationNotFound:
        return None
    finally:
        release_database_connection()


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


PATH = "/mcp"

GET_NOT_ALLOWED = JSONAnswer(
    405,
    {"detail": "Method not allowed: send JSON-RPC messages with POST.", "code": "method_not_allowed"},
    headers=[(b"allow", b"POST")],
)
# The SDK's errors for bodies it could not read, by the start of its message.
PLAIN_ERRORS = {
    "Parse error": "Parse error: the body is not valid JSON.",
    "Validation error": "Invalid request: the body must be one JSON-RPC 2.0 message, not a batch.",
}


class McpMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.mcp = http_app()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (scope["path"] == PATH or scope["path"].startswith(PATH + "/")):
            await self.app(scope, receive, send)
        elif scope["method"] in ("GET", "HEAD"):
            await GET_NOT_ALLOWED.send(send, head=scope["method"] == "HEAD")
        else:
            await self.mcp(scope, receive, _in_plain_words(send))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The SDK app's lifespan (its session manager's task group), which
        every call needs: entered at the server's start-up, left at shutdown."""
        async with self.mcp.router.lifespan_context(self.mcp):
            yield


def _in_plain_words(send: Send) -> Send:
    """send(), with the SDK's 400 answers held back until their body shows
    whether its error message is one to put in plain words."""
    held: Message | None = None

    async def sending(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and message["status"] == 400:
            held = message
            return
        if held is None:
            await send(message)
            return
        start, held = held, None
        if message.get("more_body"):  # not the SDK's one-piece error: as it is
            await send(start)
            await send(message)
            return
        body = _plain_error(message.get("body", b""))
        headers = [(name, value) for name, value in start["headers"] if name.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({**message, "body": body})

    return sending


def _plain_error(body: bytes) -> bytes:
    try:
        answer = json.loads(body)
        message = answer["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body
    for start, words in PLAIN_ERRORS.items():
        if isinstance(message, str) and message.startswith(start):
            answer["error"]["message"] = words
            return json.dumps(answer).encode()
    return body
