"""/mcp on the API's port: the MCP SDK's streamable HTTP app (chat/mcp_server.py)
answers it, Django everything else.

Two answers are ours rather than the SDK's. GET is 405: the server is
stateless and offers no standing stream, which the SDK would otherwise hold
open for as long as the client likes. And a body that is not one JSON-RPC
message (not JSON, a batch, a wrong field) gets a sentence instead of the
parser's and pydantic's own text, which names their internals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from chat.mcp_server import http_app
from todo_project.middleware import ASGIApp, JSONAnswer, Message, Receive, Scope, Send

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
