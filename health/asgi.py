"""The probes, answered in an ASGI layer in front of Django.

/health touches nothing and never waits behind Django's middleware or its
thread pool; /ready runs one SELECT 1 in a worker thread."""

from __future__ import annotations

import asyncio

from health.checks import database_is_ready
from todo_project.middleware import ASGIApp, JSONAnswer, Receive, Scope, Send

READY_TIMEOUT_SECONDS = 2.0

HEALTHY = JSONAnswer(200, {"status": "healthy"})
READY = JSONAnswer(200, {"status": "ready", "database": "connected"})
NOT_READY = JSONAnswer(503, {"status": "not_ready", "database": "disconnected"})
METHOD_NOT_ALLOWED = JSONAnswer(
    405, {"detail": "Method not allowed.", "code": "method_not_allowed"}, headers=[(b"allow", b"GET, HEAD")]
)


class ProbesMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ("/health", "/ready"):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            await METHOD_NOT_ALLOWED.send(send)
        elif scope["path"] == "/health":
            await HEALTHY.send(send, head=head)
        elif await self._database_ready():
            await READY.send(send, head=head)
        else:
            await NOT_READY.send(send, head=head)

    @staticmethod
    async def _database_ready() -> bool:
        check = asyncio.to_thread(database_is_ready, timeout=READY_TIMEOUT_SECONDS)
        try:
            # Also bounds a SELECT 1 that hangs on a connection gone silent.
            return await asyncio.wait_for(check, timeout=READY_TIMEOUT_SECONDS)
        except TimeoutError:
            return False
