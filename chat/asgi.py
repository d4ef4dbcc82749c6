"""/mcp on the API's port: the MCP SDK's streamable HTTP app (chat/mcp_server.py)
answers it, Django everything else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from chat.mcp_server import http_app
from todo_project.middleware import ASGIApp, Receive, Scope, Send

PATH = "/mcp"


class McpMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.mcp = http_app()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] == PATH or scope["path"].startswith(PATH + "/")):
            await self.mcp(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The SDK app's lifespan (its session manager's task group), which
        every call needs: entered at the server's start-up, left at shutdown."""
        async with self.mcp.router.lifespan_context(self.mcp):
            yield
