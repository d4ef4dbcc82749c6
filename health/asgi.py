"""The probes, answered in an ASGI layer in front of Django.

/health touches nothing and never waits behind Django's middleware or its
thread pool; /ready runs one SELECT 1 in a worker thread."""

from __future__ import annotations

import asyncio

from health.checks import database_is_ready
from todo_project.middleware import ASGIApp, Receive, Scope, Send, send_json

READY_TIMEOUT_SECONDS = 2.0

HEALTHY = {"status": "healthy"}
READY = {"status": "ready", "database": "connected"}
NOT_READY = {"status": "not_ready", "database": "disconnected"}
METHOD_NOT_ALLOWED = {"detail": "Method not allowed.", "code": "method_not_allowed"}


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
            await send_json(send, 405, METHOD_NOT_ALLOWED, headers=[(b"allow", b"GET, HEAD")])
        elif scope["path"] == "/health":
            await send_json(send, 200, HEALTHY, head=head)
        elif await self._database_ready():
            await send_json(send, 200, READY, head=head)
        else:
            await send_json(send, 503, NOT_READY, head=head)

    @staticmethod
    async def _database_ready() -> bool:
        check = asyncio.to_thread(database_is_ready, timeout=READY_TIMEOUT_SECONDS)
        try:
            # Also bounds a SELECT 1 that hangs on a connection gone silent.
            return await asyncio.wait_for(check, timeout=READY_TIMEOUT_SECONDS)
        except TimeoutError:
            return False
