"""OpenAPI helpers: the error body, and drf-spectacular hooks that document the
probes (served in front of Django, so the generator cannot see them) and keep
the /api/v1/... twins of every route out of the schema."""

import threading
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

ERROR_DESCRIPTIONS = {
    400: "Invalid input (validation_error) or a malformed body (parse_error).",
    401: "No token (not_authenticated) or a bad, expired or revoked one (invalid_token).",
    403: "The path names another user (permission_denied).",
    404: "No such resource for this user (not_found).",
    409: "Conflict with existing data.",
    413: "The body is larger than 1 MiB (payload_too_large).",
    415: "The body is not JSON (unsupported_media_type).",
    429: "Too many requests (throttled); see Retry-After.",
}


# The {user_id} of every /api/{user_id}/... route.
USER_ID_PARAMETER = OpenApiParameter(
    "user_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The token's user id."
)


def total_count_header(what: str) -> OpenApiParameter:
    """The X-Total-Count header of a paged list's answer."""
    return OpenApiParameter(
        "X-Total-Count", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[200], description=what
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx response."""

    detail = serializers.CharField(help_text="A sentence for a person.")
    code = serializers.CharField(help_text="A stable snake_case code, e.g. not_found.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="On validation errors: the messages for each field.",
    )


def error_responses(*statuses: int, **descriptions: str) -> dict[int, OpenApiResponse]:
    """Error responses for extend_schema; descriptions given as s409="..." win."""
    return {
        status: OpenApiResponse(
            ErrorSerializer, description=descriptions.get(f"s{status}", ERROR_DESCRIPTIONS[status])
        )
        for status in statuses
    }


def exclude_versioned_twins(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """Every /api/... route also answers under /api/v1/...; document it once."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith("/api/v1/")]


def _probe(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": ["probes"],
            "security": [],
            "responses": responses,
        }
    }


def _json(description: str, example: dict[str, str]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}, "example": example}},
    }


def add_probes(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    paths = result.setdefault("paths", {})
    paths["/health"] = _probe(
        "health", "Liveness probe", {"200": _json("The process is up.", {"status": "healthy"})}
    )
    paths["/ready"] = _probe(
        "ready",
        "Readiness probe",
        {
            "200": _json("The database answers.", {"status": "ready", "database": "connected"}),
            "503": _json(
                "The database does not answer within 2 s.",
                {"status": "not_ready", "database": "disconnected"},
            ),
        },
    )
    return result


class _ReadOnlyDocument:
    """GET and HEAD only; other methods get the API's JSON 405 (OPTIONS
    included: a CORS preflight is answered before any view)."""

    http_method_names = ["get", "head"]
    request: Request

    def get_renderers(self) -> list[BaseRenderer]:
        if self.request.method in ("GET", "HEAD"):
            return super().get_renderers()  # type: ignore[misc]
        return [JSONRenderer()]


class SchemaView(_ReadOnlyDocument, SpectacularJSONAPIView):
    """/openapi.json, generated once per process and then served from memory.
    drf-spectacular's generator keeps state in module globals and fails when
    two threads run it at once; the schema cannot change while the process
    runs, so one generation under a lock is enough."""

    _lock = threading.Lock()
    _schema: dict[str, Any] | None = None

    def _get_schema_response(self, request: Request) -> Response:
        with SchemaView._lock:
            if SchemaView._schema is None:
                SchemaView._schema = super()._get_schema_response(request).data
        headers = {"Content-Disposition": 'inline; filename="openapi.json"'}
        return Response(SchemaView._schema, headers=headers)


class DocsView(_ReadOnlyDocument, SpectacularSwaggerView):
    """/docs. The API authenticates with bearer tokens, not cookies, so the
    page carries no CSRF token (Swagger UI's template would put a new one in
    every answer)."""

    url_name = "openapi"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response.data["csrf_token"] = ""
        return response


MCP_DESCRIPTION = """The Model Context Protocol server (SPEC.md section 6): the assistant's five task
tools (add_task, list_tasks, complete_task, delete_task, update_task) for any MCP client, over
streamable HTTP, stateless, with JSON answers. Send JSON-RPC 2.0 messages (initialize, tools/list,
tools/call) with `Authorization: Bearer <token>` (the API's token; the tools act for its user only)
and `Accept: application/json, text/event-stream`. Missing or bad token: 401 with
`WWW-Authenticate: Bearer`. `python manage.py mcp_stdio --email <user>` serves the same tools over
stdio."""


def add_mcp(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("paths", {})["/mcp"] = {
        "post": {
            "operationId": "mcp",
            "summary": "MCP server (streamable HTTP)",
            "description": MCP_DESCRIPTION,
            "tags": ["mcp"],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": _json(
                    "The JSON-RPC answer.", {"jsonrpc": "2.0", "id": "1", "result": {"tools": "..."}}
                ),
                "401": {"description": "Missing or bad bearer token."},
            },
        }
    }
    return result


EVENTS_DESCRIPTION = """The user's changes as Server-Sent Events (SPEC.md section 4b). First `retry: 3000`,
then each change as `id: <cursor>`, `event: <type>`, `data: <the change as JSON, as GET .../changes
writes it>`, and a `: ping` comment at least every EVENTS_HEARTBEAT_SECONDS. `Last-Event-ID` (it wins)
or `since` replays what was missed, then the stream goes on live; with neither it starts from now. An
expired cursor gives one `event: cursor_expired` and the stream ends. The stream ends when its token
expires or is revoked, and at the server's shutdown (reconnect with the last cursor). Auth: a bearer
token, or `ticket` from POST .../events/ticket (for EventSource, which cannot send headers)."""


def add_event_stream(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """GET /api/{user_id}/events, served in front of Django (events/asgi.py)."""

    def query(name: str, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": description,
        }

    errors = {
        str(status): {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in (400, 401, 403, 429)
    }
    result.setdefault("paths", {})["/api/{user_id}/events"] = {
        "get": {
            "operationId": "events_stream",
            "summary": "Live changes (Server-Sent Events)",
            "description": EVENTS_DESCRIPTION,
            "tags": ["events"],
            "parameters": [
                {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}},
                query("since", "A cursor: replay the changes after it."),
                query("ticket", "A single-use ticket, in place of the Authorization header."),
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "The last cursor received (EventSource sends it when it reconnects).",
                },
            ],
            "responses": {
                "200": {
                    "description": "The stream.",
                    "content": {
                        "text/event-stream": {
                            "schema": {"type": "string"},
                            "example": (
                                'retry: 3000\n\nid: c1\nevent: task.created\ndata: {"cursor": "c1", ...}\n\n'
                            ),
                        }
                    },
                },
                **errors,
            },
        }
    }
    return result


# --- safe retries and versions (SPEC.md section 1) ---------------------------------

_WRITES = ("post", "put", "patch", "delete")
_CONDITIONAL_WRITES = ("tasks_update", "tasks_partial_update", "tasks_destroy", "tasks_complete")
_ONE_TASK_ANSWERS = (
    "tasks_create",
    "tasks_retrieve",
    "tasks_update",
    "tasks_partial_update",
    "tasks_complete",
)


def _header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string", **schema},
        "description": description,
    }


def _error(description: str, schema: str = "Error") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def add_retries_and_versions(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Idempotency-Key on every write under /api/{user_id}/ (idempotency/),
    and a task's version as ETag, If-Match and If-None-Match (tasks/views.py)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["PreconditionFailed"] = {
        "allOf": [
            {"$ref": "#/components/schemas/Error"},
            {
                "type": "object",
                "properties": {"current": {"$ref": "#/components/schemas/Task"}},
                "required": ["current"],
            },
        ]
    }
    etag = {"ETag": {"schema": {"type": "string"}, "description": 'The task\'s version, "<version>".'}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/{user_id}/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if method in _WRITES:
                operation.setdefault("parameters", []).append(
                    _header(
                        "Idempotency-Key",
                        "1..255 printable ASCII characters. A retry with the same key, method, route and"
                        " body gets the first answer again (Idempotent-Replayed: true) and changes nothing;"
                        " kept IDEMPOTENCY_TTL_HOURS (24) per user.",
                        maxLength=255,
                    )
                )
                conflict = responses.get("409", {}).get("description", "")
                responses["409"] = _error(
                    " ".join(filter(None, [conflict, "The request with this Idempotency-Key is still running"
                                           " (request_in_progress); see Retry-After."]))
                )  # fmt: skip
                responses["422"] = _error(
                    "The Idempotency-Key was sent with another request (idempotency_key_reused)."
                )
            operation_id = operation.get("operationId")
            if operation_id in _CONDITIONAL_WRITES:
                operation["parameters"].append(
                    _header("If-Match", 'The version the change is for, "<version>" (or *).')
                )
                responses["412"] = _error(
                    "The task is at another version (precondition_failed); the current task is in current.",
                    "PreconditionFailed",
                )
            if operation_id == "tasks_retrieve":
                operation.setdefault("parameters", []).append(
                    _header(
                        "If-None-Match", 'A version the client holds, "<version>": 304 when it is current.'
                    )
                )
                responses["304"] = {
                    "description": "The task is still at that version (no body).",
                    "headers": etag,
                }
            if operation_id in _ONE_TASK_ANSWERS:
                for status in ("200", "201"):
                    if status in responses:
                        responses[status].setdefault("headers", {}).update(etag)
    return result
