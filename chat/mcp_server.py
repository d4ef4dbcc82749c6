"""The assistant's five task tools over the Model Context Protocol (SPEC.md
section 6), with the official SDK's low-level server: the tools, their
argument schemas and their results are chat/tools.py's, adapted here, not
copied.

Two transports serve the same server: streamable HTTP at /mcp (chat/asgi.py;
stateless, JSON answers, the API's bearer tokens) and stdio (`manage.py
mcp_stdio`, acting for one user). Either way the user comes from the
transport, never from a tool's arguments."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from accounts.auth import TokenClaims, bearer_claims, token_holder_statement, token_user
from accounts.models import User
from chat.tools import RESULT_SCHEMAS, TOOL_SCHEMAS, run_tool
from events.models import ChangeSource
from todo_project.database import async_pool

INSTRUCTIONS = (
    "Manage the signed-in user's todo list: add, list, complete, update and delete tasks. Tasks are"
    " named by ids; call list_tasks first to find the id of a task the user describes in words."
)

# What a tool call acts for: the user's id, from the transport.
UserOfCall = Callable[[], Awaitable[Any]]


def _structured(name: str) -> tuple[dict[str, Any], bool]:
    """The output schema MCP declares for a tool: an object at the root, so a
    tool that returns an array (list_tasks) is wrapped as {"result": [...]}."""
    schema = RESULT_SCHEMAS[name]
    if schema["type"] == "object":
        return schema, False
    return {"type": "object", "properties": {"result": schema}, "required": ["result"]}, True


TOOLS = [
    types.Tool(
        name=schema["function"]["name"],
        description=schema["function"]["description"],
        input_schema=schema["function"]["parameters"],
        output_schema=_structured(schema["function"]["name"])[0],
    )
    for schema in TOOL_SCHEMAS
]


def _run_for(user_id: Any, name: str, arguments: dict[str, Any] | None) -> Any:
    """A tool run on Django's thread; its database connection goes back to
    the pool when it ends, as at the end of a Django request (CONN_MAX_AGE=0)."""
    try:
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            return {"error": "The user of this session no longer exists or is deactivated."}
        return run_tool(user, name, arguments, source=ChangeSource.MCP)
    finally:
        close_old_connections()


def build_server(user_of_call: UserOfCall) -> Server[Any]:
    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        user_id = await user_of_call()
        result = await sync_to_async(_run_for)(user_id, params.name, params.arguments)
        text = [types.TextContent(type="text", text=json.dumps(result))]
        if (isinstance(result, dict) and "error" in result) or params.name not in RESULT_SCHEMAS:
            return types.CallToolResult(content=text, is_error=True)
        wrapped = _structured(params.name)[1]
        return types.CallToolResult(
            content=text, structured_content={"result": result} if wrapped else result
        )

    return Server(
        "todo-backend",
        version="1.0.0",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


class BearerTokenVerifier:
    """The SDK's token-verifier hook over the API's own rule: the token
    verifies (accounts.auth) and its user is still active and still holds it."""

    async def verify_token(self, token: str) -> AccessToken | None:
        header = b"Bearer " + token.encode("latin-1", errors="replace")
        claims = bearer_claims(header, fetch_keys=False)
        if claims is None:  # perhaps a JWKS to fetch: on a thread
            claims = await sync_to_async(bearer_claims, thread_sensitive=False)(header)
        if claims is None:
            return None
        holder = token_holder_statement(claims)
        async with async_pool().connection() as connection:
            cursor = await connection.execute(f"SELECT EXISTS ({holder.sql})", holder.params)
            (held,) = await cursor.fetchone()
        if not held and (not claims.external or await sync_to_async(_first_sight)(claims) is None):
            return None
        user_id = claims.user_id
        return AccessToken(token=token, client_id=user_id, scopes=[], subject=user_id)


def _first_sight(claims: TokenClaims) -> User | None:
    """A Better Auth user's first call: token_user creates them."""
    try:
        return token_user(claims)
    finally:
        close_old_connections()


async def _token_user() -> str:
    token = get_access_token()
    if token is None:  # the SDK's RequireAuthMiddleware lets no such call through
        raise PermissionError("no authenticated user")
    return token.subject


def transport_security() -> TransportSecuritySettings:
    """The SDK's DNS-rebinding check, from ALLOWED_HOSTS (any host when it holds
    "*", as for the API) and the frontends' origins (FRONTEND_URL). A Django
    subdomain pattern (".example.com") stands for its bare domain here."""
    if "*" in settings.ALLOWED_HOSTS:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = [host.lstrip(".") for host in settings.ALLOWED_HOSTS]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*hosts, *(f"{host}:*" for host in hosts)],
        allowed_origins=list(settings.CORS_ALLOWED_ORIGINS),
    )


def http_app() -> Starlette:
    """The streamable HTTP app for /mcp: stateless with JSON answers, so any
    replica answers any call and a restart loses nothing."""
    server = build_server(_token_user)
    return server.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=True,
        stateless_http=True,
        max_request_body_size=settings.MAX_REQUEST_BODY_BYTES,
        transport_security=transport_security(),
        # The SDK asks for an authorization server; the tokens come from the
        # frontend's sign-in (or our /api/auth), so its first origin is named.
        auth=AuthSettings(issuer_url=settings.CORS_ALLOWED_ORIGINS[0], resource_server_url=None),
        token_verifier=BearerTokenVerifier(),
    )
