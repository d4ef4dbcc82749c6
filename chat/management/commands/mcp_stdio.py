"""python manage.py mcp_stdio --email alice@example.com: the task tools over
MCP on stdin and stdout, for a local MCP client acting as that user."""

from __future__ import annotations

from typing import Any

import anyio
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from mcp.server.stdio import stdio_server

from accounts.models import User, email_key
from chat.mcp_server import build_server


class Command(BaseCommand):
    help = "Serve the task tools over MCP on stdin/stdout, acting for the user with this email."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="The email of the user the tools act for.")

    def handle(self, *args: Any, email: str, **options: Any) -> None:
        user = User.objects.filter(email_key=email_key(email), is_active=True).first()
        if user is None:
            raise CommandError(f"No active user has the email {email!r}.", returncode=2)
        connections.close_all()
        anyio.run(self._serve, user.pk)

    async def _serve(self, user_id: Any) -> None:
        async def this_user() -> Any:
            return user_id

        server = build_server(this_user)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
