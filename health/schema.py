"""drf-spectacular post-processing: documents the probes (served in front of
Django, so the generator cannot see them) and the error body every route uses."""

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "The body of every 4xx and 5xx response.",
    "properties": {
        "detail": {"type": "string", "description": "A sentence for a person."},
        "code": {"type": "string", "description": "A stable snake_case code, e.g. not_found."},
        "errors": {
            "type": "object",
            "description": "Present on validation errors: messages per field.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["detail", "code"],
}


def _probe(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": summary.split()[0].lower(),
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


def add_probes_and_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components.setdefault("securitySchemes", {}).setdefault(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    paths = result.setdefault("paths", {})
    paths["/health"] = _probe("Liveness probe", {"200": _json("The process is up.", {"status": "healthy"})})
    paths["/ready"] = _probe(
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
