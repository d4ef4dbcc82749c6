"""The process's event streams and the one connection that wakes them.

PostgreSQL's NOTIFY (sent by the change triggers at commit, naming whose feed
moved) reaches every replica through one LISTEN connection per process, not
one per stream. A notification is only a wake-up: each stream then reads its
user's changes after its own cursor from the table, so a notification that
is lost (the listening connection down, a database restart) loses nothing:
when the connection is back, every stream reads again.

The hub also ends streams: at each heartbeat one query checks the tokens of
every open stream (sign-out everywhere, a new password, a deleted user), and
at SIGTERM every stream ends at once, so its client reconnects elsewhere
with its cursor instead of holding the drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from django.conf import settings
from psycopg.rows import dict_row

from accounts.auth import HOLDER_FIELDS, TokenClaims, still_held
from todo_project.database import async_pool, connection_parameters

logger = logging.getLogger(__name__)

CHANNEL = "todo_changes"
# This process, as the stream_listeners table names it.
PROCESS = f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"
# How often this process says its users' streams are still open (_REFRESH_LISTENERS:
# an entry not refreshed for 3 minutes, a user whose streams closed, is taken back).
LISTENER_REFRESH_SECONDS = 60.0
# Registering a stream: its user's feed row exists (a change in progress holds
# that row: both the insert's check and the share lock wait for it to commit,
# so the stream's first read sees it); this process listens for the user, so
# every later change finds it and sends a NOTIFY (the change triggers).
_LISTEN_FOR = (
    "INSERT INTO change_feeds (owner_id, seq) VALUES (%s, 0) ON CONFLICT DO NOTHING;"
    " INSERT INTO stream_listeners (owner_id, process, seen_at) VALUES (%s, %s, now())"
    " ON CONFLICT (owner_id, process) DO UPDATE SET seen_at = now();"
    " SELECT 1 FROM change_feeds WHERE owner_id = %s FOR SHARE"
)
_REFRESH_LISTENERS = (
    "UPDATE stream_listeners SET seen_at = now() WHERE process = %s AND owner_id = ANY(%s);"
    " DELETE FROM stream_listeners WHERE process = %s AND seen_at < now() - interval '3 minutes'"
)
RECONNECT_SECONDS = 1.0
# How long the listening connection may be silent before it is checked.
LISTEN_CHECK_SECONDS = 5.0


class Stream:
    """One open event stream: whose it is, and whether it has changes to read."""

    __slots__ = ("claims", "end_reason", "unread", "wake")

    def __init__(self, claims: TokenClaims) -> None:
        self.claims = claims
        self.wake = asyncio.Event()
        self.unread = True  # read once at the start
        self.end_reason: str | None = None

    def changed(self) -> None:
        self.unread = True
        self.wake.set()

    def end(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
        self.wake.set()


class Hub:
    def __init__(self) -> None:
        self.streams: dict[str, set[Stream]] = {}
        self.closing = False
        self._tasks: list[asyncio.Task[None]] = []

    def open_streams(self, user_id: str) -> int:
        return len(self.streams.get(user_id, ()))

    def add(self, stream: Stream) -> None:
        self._start()
        self.streams.setdefault(stream.claims.user_id, set()).add(stream)
        if self.closing:
            stream.end("shutdown")

    def remove(self, stream: Stream) -> None:
        streams = self.streams.get(stream.claims.user_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self.streams[stream.claims.user_id]

    def wake(self, user_id: str) -> None:
        for stream in self.streams.get(user_id, ()):
            stream.changed()

    def wake_all(self) -> None:
        for streams in self.streams.values():
            for stream in streams:
                stream.changed()

    def close_all(self) -> None:
        """SIGTERM: every stream ends now (its client reconnects elsewhere)."""
        self.closing = True
        for streams in self.streams.values():
            for stream in streams:
                stream.end("shutdown")

    def _start(self) -> None:
        """The listening connection, the token checks and the listeners' refresh, from the first stream on."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen()),
                asyncio.create_task(self._check_tokens()),
                asyncio.create_task(self._refresh_listeners()),
            ]

    @staticmethod
    async def listen_for(user_id: str) -> None:
        """Before a stream of the user reads: changes of the user wake this process from now on."""
        async with async_pool().connection(timeout=5) as connection:
            await connection.execute(_LISTEN_FOR, [user_id, user_id, PROCESS, user_id])

    async def _refresh_listeners(self) -> None:
        while True:
            await asyncio.sleep(LISTENER_REFRESH_SECONDS)
            try:
                async with async_pool().connection(timeout=5) as connection:
                    await connection.execute(_REFRESH_LISTENERS, [PROCESS, list(self.streams), PROCESS])
            except (psycopg.Error, OSError, TimeoutError) as exc:
                logger.warning("Could not refresh the event streams' listeners (%s)", type(exc).__name__)

    async def stop(self) -> None:
        self.close_all()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self) -> None:
        connected_before = True
        while True:
            try:
                parameters = {**connection_parameters(), "cursor_factory": psycopg.AsyncCursor}
                async with await psycopg.AsyncConnection.connect(**parameters) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    if not connected_before:
                        logger.warning("Listening for changes again")
                    connected_before = True
                    self.wake_all()  # whatever changed while nobody listened
                    await self._relay(connection)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if connected_before:
                    logger.warning("Lost the connection that listens for changes (%s)", type(exc).__name__)
                connected_before = False
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _relay(self, connection: psycopg.AsyncConnection[Any]) -> None:
        while True:
            async for notification in connection.notifies(timeout=LISTEN_CHECK_SECONDS):
                self.wake(notification.payload)
            # Quiet for a while: a connection that no longer answers is replaced.
            async with asyncio.timeout(LISTEN_CHECK_SECONDS):
                await connection.execute("SELECT 1")

    async def _check_tokens(self) -> None:
        """Each heartbeat, in one query: the streams whose token ended (revoked,
        the user deactivated or deleted) end too. Expiry each stream checks itself."""
        while True:
            await asyncio.sleep(settings.EVENTS_HEARTBEAT_SECONDS)
            if not self.streams:
                continue
            try:
                users = await self._holders(list(self.streams))
            except (psycopg.Error, OSError, TimeoutError) as exc:
                logger.warning("Could not check the event streams' tokens (%s)", type(exc).__name__)
                continue
            for user_id, streams in list(self.streams.items()):
                for stream in list(streams):
                    if not still_held(stream.claims, users.get(user_id)):
                        stream.end("revoked")

    @staticmethod
    async def _holders(user_ids: list[str]) -> dict[str, dict[str, Any]]:
        columns = ", ".join("id AS pk" if field == "pk" else field for field in HOLDER_FIELDS)
        async with async_pool().connection(timeout=5) as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(
                f"SELECT {columns} FROM users WHERE id = ANY(%s)",  # noqa: S608 - constant column names
                [user_ids],
            )
            return {row["pk"]: row for row in await cursor.fetchall()}


hub = Hub()


def _end_streams_on_signals() -> None:
    """Chain a handler in front of the server's SIGTERM and SIGINT handlers
    (uvicorn's, which start its graceful shutdown): streams end first, so
    the drain never waits for them."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(hub.close_all)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:  # no server's handler: the signal does what it would
                signal.signal(signum, previous)
                signal.raise_signal(signum)

        signal.signal(sig, handler)


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[None]:
    """From the server's start-up to its shutdown (a lifespan context)."""
    with contextlib.suppress(ValueError):  # signals only in the main thread
        _end_streams_on_signals()
    try:
        yield
    finally:
        await hub.stop()
