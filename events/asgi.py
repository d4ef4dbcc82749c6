"""GET /api/{user_id}/events: the user's changes as Server-Sent Events,
served on the event loop in front of Django.

An open stream costs a coroutine and a few objects, no thread and no
database connection: it waits for the hub (events/hub.py) to say that its
user's feed moved, then borrows a pooled connection for one read after its
cursor. Errors before the stream starts (401, 403, 400, 429) are the API's
JSON answers; the request passes through the project's Django middleware,
so CORS and the security headers are the same as on every route."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from datetime import UTC, datetime

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from psycopg_pool import PoolTimeout
from rest_framework import exceptions

from accounts.auth import TokenClaims, bearer_claims, invalid_token, token_holder_statement, token_user
from events import feed
from events.hub import Stream, hub
from events.tickets import redeem_ticket
from todo_project.database import async_pool
from todo_project.exceptions import ServiceUnavailable, error_response
from todo_project.middleware import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    middleware_chain,
    response_start,
    send_response,
)
from todo_project.patterns import pattern

logger = logging.getLogger(__name__)

ROUTE = pattern(r"^/api(?:/v1)?/(?P<user_id>[^/]+)/events$")
RETRY_MILLISECONDS = 3000
READ_LIMIT = 500
# A pooled connection for a read: a stream waits this long at most, then tries again later.
READ_TIMEOUT_SECONDS = 5.0
# A client that takes no bytes for this long is gone.
SEND_TIMEOUT_SECONDS = 30.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _StreamResponse(HttpResponse):
    """The answer's status and headers (the middleware adds theirs); the body
    is the stream, sent by EventsMiddleware."""

    def __init__(self, stream: Stream, after: int) -> None:
        super().__init__(content_type="text/event-stream", headers=HEADERS)
        self.stream = stream
        self.after = after


class TooManyStreams(exceptions.Throttled):
    def __init__(self) -> None:
        super().__init__(
            wait=RETRY_MILLISECONDS / 1000,
            detail=(
                f"At most {settings.EVENTS_MAX_STREAMS_PER_USER} event streams per user are open here;"
                " close one first."
            ),
        )


class EventsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.chain = middleware_chain(self.view)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not ROUTE.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        response = await self.chain(ASGIRequest(scope, io.BytesIO()))
        if not isinstance(response, _StreamResponse):
            await send_response(response, send)
            return
        # What the stream needs, and no more: the request and response objects
        # go now (10,000 open streams keep 10,000 of whatever stays referenced).
        stream, after, start = response.stream, response.after, response_start(response)
        del response
        try:
            await _serve(stream, after, start, receive, send)
        finally:
            hub.remove(stream)

    async def view(self, request: HttpRequest) -> HttpResponseBase:
        try:
            return await self._open(request)
        except exceptions.APIException as exc:
            return error_response(exc)
        except (psycopg.OperationalError, PoolTimeout):
            return error_response(ServiceUnavailable())

    async def _open(self, request: HttpRequest) -> HttpResponseBase:
        claims = await _claims(request)
        match = ROUTE.match(request.path_info)
        if match is None or match["user_id"] != claims.user_id:
            raise exceptions.PermissionDenied("You may only access your own data.")
        # Last-Event-ID (an EventSource reconnecting) wins over ?since=.
        last_event_id = request.headers.get("Last-Event-ID")
        since = last_event_id if last_event_id is not None else request.GET.get("since")
        after = (
            None
            if since is None
            else feed.parse_cursor(since, name="Last-Event-ID" if last_event_id else "since")
        )
        if hub.open_streams(claims.user_id) >= settings.EVENTS_MAX_STREAMS_PER_USER:
            raise TooManyStreams()
        stream = Stream(claims)
        hub.add(stream)  # its place is taken before the awaits below: the cap holds for opens at once
        try:
            await hub.listen_for(claims.user_id)
            if after is None:  # live from now
                after = (await _read(claims.user_id, None)).after
        except BaseException:
            hub.remove(stream)
            raise
        return _StreamResponse(stream, after)


async def _claims(request: HttpRequest) -> TokenClaims:
    """The claims of a bearer token whose user still holds it, or of a ticket's."""
    ticket = request.GET.get("ticket")
    if ticket is not None:
        claims = await redeem_ticket(ticket)
        if claims is None:
            raise exceptions.AuthenticationFailed(
                "The ticket is unknown, used or expired.", code="invalid_token"
            )
    else:
        header = request.headers.get("Authorization", "").encode("latin-1")
        if not header:
            raise _bearer(exceptions.NotAuthenticated())
        claims = bearer_claims(header, fetch_keys=False)
        if claims is None:
            claims = await sync_to_async(bearer_claims)(header)  # a JWKS to fetch, or a bad token
        if claims is None:
            raise _bearer(invalid_token())
    # The token (a ticket's too) must still speak for its user: not revoked since, the user active.
    holder = token_holder_statement(claims)
    async with async_pool().connection(timeout=READ_TIMEOUT_SECONDS) as connection:
        cursor = await connection.execute(f"SELECT EXISTS ({holder.sql})", holder.params)
        (held,) = await cursor.fetchone()
    if not held and not (claims.external and await sync_to_async(token_user)(claims) is not None):
        raise _bearer(invalid_token())  # gone, deactivated, revoked (or a new user that cannot be made)
    return claims


def _bearer(exc: exceptions.AuthenticationFailed | exceptions.NotAuthenticated) -> exceptions.APIException:
    """A 401 with WWW-Authenticate: Bearer, as DRF's views answer it."""
    exc.auth_header = "Bearer"  # type: ignore[union-attr]
    return exc


async def _read(owner_id: str, after: int | None) -> feed.Page:
    """The user's changes after `after` as SSE frames (none: only the latest number)."""
    statement = feed.read_statement(owner_id, after, READ_LIMIT, row_sql=feed.SSE_FRAME_SQL)
    async with async_pool().connection(timeout=READ_TIMEOUT_SECONDS) as connection:
        cursor = await connection.execute(statement.sql, statement.params)
        row = await cursor.fetchone()
    return feed.read_page(row, after, READ_LIMIT)


async def _serve(stream: Stream, after: int, start: dict, receive: Receive, send: Send) -> None:

    async def write(data: str, *, more: bool = True) -> None:
        async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
            await send({"type": "http.response.body", "body": data.encode(), "more_body": more})

    async def watch_for_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        stream.end("disconnected")

    watcher = asyncio.create_task(watch_for_disconnect())
    loop = asyncio.get_running_loop()
    heartbeat = settings.EVENTS_HEARTBEAT_SECONDS
    expires_at = stream.claims.expires_at or datetime.max.replace(tzinfo=UTC)
    expiry = loop.time() + (expires_at - datetime.now(UTC)).total_seconds()
    retry_read_at: float | None = None
    try:
        await send(start)
        await write(f"retry: {RETRY_MILLISECONDS}\n\n")
        next_ping = loop.time() + heartbeat
        while stream.end_reason is None:
            stream.wake.clear()
            if stream.unread and (retry_read_at is None or loop.time() >= retry_read_at):
                stream.unread = False
                try:
                    read = await _read(stream.claims.user_id, after)
                except feed.CursorExpired as exc:
                    data = json.dumps({"detail": str(exc.detail), "code": exc.default_code})
                    await write(f"event: cursor_expired\ndata: {data}\n\n")
                    break
                except (psycopg.OperationalError, PoolTimeout):
                    stream.unread, retry_read_at = True, loop.time() + RETRY_MILLISECONDS / 1000
                else:
                    retry_read_at = None
                    if read.changes:
                        await write("".join(read.changes))
                        after = read.after
                    if read.has_more:
                        stream.changed()
            deadline = min(next_ping, expiry, retry_read_at or next_ping)
            if not stream.wake.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await stream.wake.wait()
            now = loop.time()
            if now >= expiry:
                stream.end("expired")
            elif now >= next_ping and stream.end_reason is None:
                await write(": ping\n\n")
                next_ping = now + heartbeat
        with contextlib.suppress(TimeoutError):
            await write("", more=False)
    except TimeoutError:
        stream.end("stalled")  # the client stopped reading: uvicorn closes the connection
    finally:
        watcher.cancel()
