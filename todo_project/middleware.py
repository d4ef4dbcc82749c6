"""ASGI layers in front of Django: application lifespan (the database pool) and
the request size limits. They run before Django's middleware stack, so they cost
almost nothing per request."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing
from typing import Any

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.module_loading import import_string
from rest_framework.exceptions import APIException

from todo_project.database import close_async_pool, open_async_pool
from todo_project.exceptions import HeadersTooLarge, PayloadTooLarge, error_body

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)


class JSONAnswer:
    """A JSON answer whose bytes are made once (the probes send the same few
    answers thousands of times a second)."""

    def __init__(
        self, status: int, payload: dict[str, Any], headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        self.status = status
        self.body = json.dumps(payload, separators=(",", ":")).encode()
        self.headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"no-store"),
            *headers,
        ]

    async def send(self, send: Send, *, head: bool = False) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": b"" if head else self.body})


class ToDjango(HttpResponse):
    """What a route in front of Django answers when a request is not its plain
    case: Django answers it (the layer replays the body to it)."""


def replay(body: bytes, receive: Receive, *, ended: bool = True) -> Receive:
    """A receive() for the app below a layer that has read the request's
    body: first the body (or, when the client left before it ended, the
    disconnect), then whatever comes next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if ended:
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}
        return await receive()

    return replayed


def open_database_pool() -> None:
    """Start filling the pool in the background; never blocks on a database that is down."""
    pool = connections["default"].pool
    if pool is not None:
        pool.open()


def close_database_pool() -> None:
    connections["default"].close_pool()


async def close_async_clients() -> None:
    """At shutdown: the streaming chats' kept-alive provider connections."""
    from chat.llm import close_async_clients

    await close_async_clients()


def close_connections() -> None:
    """At shutdown: the database pool, then the model providers' kept-alive connections."""
    from chat.llm import close_clients

    close_database_pool()
    close_clients()


class LifespanMiddleware:
    """Answers ASGI lifespan events (Django itself does not): opens the
    database pools at start-up, then enters `contexts` (the MCP app's
    lifespan); on shutdown leaves them and closes the pools and the
    providers' connections."""

    def __init__(
        self, app: ASGIApp, contexts: Sequence[Callable[[], AbstractAsyncContextManager[Any]]] = ()
    ) -> None:
        self.app = app
        self.contexts = contexts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        async with AsyncExitStack() as entered:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        await asyncio.to_thread(open_database_pool)
                        await open_async_pool()
                        for context in self.contexts:
                            await entered.enter_async_context(context())
                        # What start-up loaded (Django, DRF, the MCP SDK and pydantic)
                        # lives as long as the process: out of the collector's
                        # generations, full collections no longer walk it and stall
                        # requests (the chat's p99 went from 108-125 to 53-70 ms).
                        gc.freeze()
                    except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    try:
                        await entered.aclose()
                        await close_async_pool()
                        await close_async_clients()
                        await asyncio.to_thread(close_connections)
                    except Exception:
                        logger.exception("Closing the database pool or the providers' connections failed")
                    await send({"type": "lifespan.shutdown.complete"})
                    return


class RequestLimitsMiddleware:
    """Refuses a request line and headers over MAX_REQUEST_HEAD_BYTES with 431,
    and a body over MAX_REQUEST_BODY_BYTES with 413, before the app reads them:
    Django's ASGI handler would otherwise spool a body of any size. (The
    image's protocol refuses a large head even before it is buffered.)"""

    def __init__(self, app: ASGIApp, *, body_limit: int | None = None, head_limit: int | None = None) -> None:
        self.app = app
        self.body_limit = body_limit if body_limit is not None else settings.MAX_REQUEST_BODY_BYTES
        self.head_limit = head_limit if head_limit is not None else settings.MAX_REQUEST_HEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head_size = len(scope["raw_path"] or b"") + len(scope["query_string"])
        head_size += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if head_size > self.head_limit:
            await self._refuse(send, HeadersTooLarge)
            return
        content_length = _content_length(scope)
        if content_length is not None:
            # The server holds the client to its declared length.
            if content_length > self.body_limit:
                await self._refuse(send, PayloadTooLarge)
            else:
                await self.app(scope, receive, send)
            return

        # No declared length (chunked): read up to the limit, then replay.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.body_limit:
                await self._refuse(send, PayloadTooLarge)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay(b"".join(chunks), receive), send)

    @staticmethod
    async def _refuse(send: Send, error: type[APIException]) -> None:
        body = error_body(str(error.default_detail), error.default_code)
        await JSONAnswer(error.status_code, body, headers=[(b"connection", b"close")]).send(send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def middleware_chain(view: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> Any:
    """settings.MIDDLEWARE around `view`, as Django's handler builds it: every
    entry is async-capable, and an exception becomes Django's answer for it."""
    handler: Any = convert_exception_to_response(view)
    for path in reversed(settings.MIDDLEWARE):
        handler = convert_exception_to_response(import_string(path)(handler))
    return handler


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body (the limits layer has bounded it), and whether
    the request ended cleanly."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def response_start(response: HttpResponseBase) -> Message:
    """The ASGI start of a Django response: its status and headers."""
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    return {"type": "http.response.start", "status": response.status_code, "headers": headers}


async def send_streaming_response(response: StreamingHttpResponse, receive: Receive, send: Send) -> None:
    """A streaming response's parts, each sent as it comes. A client that goes
    away (http.disconnect) cancels the iteration where it is, as Django's own
    handler does, so that the body's producer can stop its work."""
    await send(response_start(response))

    async def parts() -> None:
        async with aclosing(aiter(response)) as content:
            async for part in content:
                await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    sending, listening = asyncio.create_task(parts()), asyncio.create_task(disconnected())
    await asyncio.wait([sending, listening], return_when=asyncio.FIRST_COMPLETED)
    listening.cancel()
    sending.cancel()  # a no-op when it has ended
    with contextlib.suppress(asyncio.CancelledError):
        await sending


async def send_response(response: HttpResponseBase, send: Send) -> None:
    content = response.content if isinstance(response, HttpResponse) else b"".join(response)
    start = response_start(response)
    if not response.has_header("Content-Length"):
        start["headers"].append((b"content-length", str(len(content)).encode()))
    await send(start)
    await send({"type": "http.response.body", "body": content})
