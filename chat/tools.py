"""The assistant's five tools: JSON schemas for the model, and handlers that
act for the authenticated user through tasks.services only.

The user always comes from the request. A `user_id` (or any other unknown)
argument from the model is dropped, never trusted. Arguments are validated
with the REST API's own serializers; a failing tool returns {"error": ...} so
the model can recover."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers

from accounts.models import User
from events.models import ChangeSource
from tasks import services
from tasks.serializers import TaskInputSerializer
from todo_project.exceptions import flatten_errors
from todo_project.fields import StrictCharField

LIST_LIMIT = 100
logger = logging.getLogger(__name__)

_ID = {"type": "integer", "description": "The task's id, as list_tasks shows it.", "minimum": 1}
_TASK_FIELDS: dict[str, Any] = {
    "title": {"type": "string", "description": "Short title, 1 to 200 characters.", "maxLength": 200},
    "description": {"type": "string", "description": "Optional details, up to 1000 characters."},
    "priority": {"type": "string", "enum": ["low", "medium", "high"]},
    "due_date": {
        "type": "string",
        "description": "ISO 8601 date-time, e.g. 2026-12-01T09:00:00; without an offset it is read in the"
        " user's time zone. A recurring task needs one: its first occurrence.",
    },
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 20},
    "recurrence": {
        "type": "string",
        "description": "Makes the task repeat: daily, weekly, monthly, yearly, or an RFC 5545 RRULE such as"
        " FREQ=WEEKLY;BYDAY=MO (every Monday) or FREQ=WEEKLY;INTERVAL=2 (every 2 weeks); COUNT or UNTIL"
        " end the series. Completing the task creates the next occurrence. Needs a due_date.",
        "maxLength": 200,
    },
    "repeat_from": {
        "type": "string",
        "enum": ["due", "completion"],
        "description": "What a recurring task's next occurrence counts from: the due date (due, the default;"
        " the next date by the rule that is not in the past) or the moment it is completed (completion:"
        ' "every 2 days after I finish it").',
    },
    "remind_at": {
        "type": "string",
        "description": "ISO 8601 date-time of a reminder notification, e.g. 2026-12-01T08:00:00 (read in the"
        " user's time zone without an offset).",
    },
}


def _function(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


TOOL_SCHEMAS = [
    _function(
        "add_task",
        "Create a new task for the user and return its id. Only the title is required; keep it short and"
        " put details in the description.",
        _TASK_FIELDS,
        ["title"],
    ),
    _function(
        "list_tasks",
        "List the user's tasks (at most 100, newest first) with their ids, completion, priority and due"
        " date. Call it to find a task's id before completing, updating or deleting it.",
        {
            "status": {
                "type": "string",
                "enum": ["all", "pending", "completed"],
                "description": "Default all.",
            },
            "search": {"type": "string", "description": "Words to look for in titles and descriptions."},
        },
        [],
    ),
    _function(
        "complete_task",
        "Mark one of the user's tasks as completed, by its id (list_tasks shows the ids).",
        {"task_id": _ID},
        ["task_id"],
    ),
    _function(
        "delete_task",
        "Delete one of the user's tasks for good, by its id (list_tasks shows the ids). It cannot be undone.",
        {"task_id": _ID},
        ["task_id"],
    ),
    _function(
        "update_task",
        "Change a task's title, description, priority, due date, tags, recurrence or reminder, by its id"
        " (list_tasks shows the ids). Fields left out stay as they are.",
        {"task_id": _ID, **_TASK_FIELDS},
        ["task_id"],
    ),
]


def _summary_schema(status: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "task_id": {"type": "integer"},
            "status": {"type": "string", "const": status},
            "title": {"type": "string"},
        },
        "required": ["task_id", "status", "title"],
    }


# What each tool returns when it succeeds (a failure is {"error": "..."}).
RESULT_SCHEMAS: dict[str, dict[str, Any]] = {
    "add_task": _summary_schema("created"),
    "list_tasks": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "title": {"type": "string"},
                "completed": {"type": "boolean"},
                "priority": {"type": "string", "enum": ["low", "medium", "high"]},
                "due_date": {"type": ["string", "null"], "description": "ISO 8601, or null."},
            },
            "required": ["id", "title", "completed", "priority", "due_date"],
        },
    },
    "complete_task": _summary_schema("completed"),
    "delete_task": _summary_schema("deleted"),
    "update_task": _summary_schema("updated"),
}

TOOL_NAMES = frozenset(schema["function"]["name"] for schema in TOOL_SCHEMAS)


class ToolError(Exception):
    """A tool could not do what the model asked; the message goes back to the model."""


class _TaskIdSerializer(serializers.Serializer):
    task_id = serializers.IntegerField(min_value=1, max_value=services.MAX_ID)


class _ListSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=services.STATUSES, default="all")
    search = StrictCharField(max_length=200, required=False, allow_blank=True)


def _valid(serializer: serializers.Serializer) -> dict[str, Any]:
    if not serializer.is_valid():
        raise ToolError(_describe(serializer.errors))
    return dict(serializer.validated_data)


def _describe(errors: Any) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in flatten_errors(errors).items())


def _task_id(arguments: dict[str, Any]) -> int:
    if isinstance(arguments.get("task_id"), bool):
        raise ToolError("task_id: A valid integer is required.")
    return _valid(_TaskIdSerializer(data=arguments))["task_id"]


def _summary(task: Any, status: str) -> dict[str, Any]:
    return {"task_id": task.pk, "status": status, "title": task.title}


# Read in the user's time zone: a tool that sets one of them records that
# zone on the task (time_zone), whose time of day a recurring task keeps.
_SCHEDULE_FIELDS = ("due_date", "recurrence", "repeat_from", "remind_at")


def add_task(user: User, arguments: dict[str, Any]) -> dict[str, Any]:
    fields = _valid(TaskInputSerializer(data=arguments))
    fields.pop("completed", None)
    fields.setdefault("time_zone", timezone.get_current_timezone_name())
    return _summary(services.create_task(owner=user, **fields), "created")


def list_tasks(user: User, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    filters = _valid(_ListSerializer(data=arguments))
    page = services.list_tasks(owner=user, query=services.ListQuery(limit=LIST_LIMIT, **filters))
    return [
        {
            "id": row["id"],
            "title": row["title"],
            "completed": row["completed"],
            "priority": row["priority"],
            "due_date": row["due_date"].isoformat() if row["due_date"] else None,
        }
        for row in page.rows
    ]


def complete_task(user: User, arguments: dict[str, Any]) -> dict[str, Any]:
    task = services.set_task_completion(owner=user, task_id=_task_id(arguments), completed=True)
    return _summary(task, "completed")


def delete_task(user: User, arguments: dict[str, Any]) -> dict[str, Any]:
    return _summary(services.delete_task(owner=user, task_id=_task_id(arguments)), "deleted")


def update_task(user: User, arguments: dict[str, Any]) -> dict[str, Any]:
    task_id = _task_id(arguments)
    changes = _valid(TaskInputSerializer(data=arguments, partial=True))
    changes.pop("completed", None)
    if not changes:
        raise ToolError(
            "Nothing to change: give a title, description, priority, due_date, tags, recurrence, repeat_from"
            " or remind_at."
        )
    if any(field in changes for field in _SCHEDULE_FIELDS):
        changes.setdefault("time_zone", timezone.get_current_timezone_name())
    return _summary(services.update_task(owner=user, task_id=task_id, changes=changes), "updated")


HANDLERS: dict[str, Callable[[User, dict[str, Any]], Any]] = {
    "add_task": add_task,
    "list_tasks": list_tasks,
    "complete_task": complete_task,
    "delete_task": delete_task,
    "update_task": update_task,
}


def run_tool(
    user: User,
    name: str,
    arguments: dict[str, Any] | None,
    *,
    time_zone: str = "UTC",
    source: ChangeSource = ChangeSource.ASSISTANT,
) -> Any:
    """Run one tool for `user`. Never raises for bad input: the result is then
    {"error": "..."}. Date-times without an offset are read in `time_zone`
    (an IANA name), the zone whose time of day a recurring task keeps. The
    changes it makes are recorded as made by `source`."""
    with timezone.override(ZoneInfo(time_zone)), services.changes_by(source):
        return _run_tool(user, name, arguments)


def _run_tool(user: User, name: str, arguments: dict[str, Any] | None) -> Any:
    handler = HANDLERS.get(name)
    if handler is None:
        return {"error": f"Unknown tool {name!r}. Use one of: {', '.join(sorted(TOOL_NAMES))}."}
    if arguments is None:
        return {"error": "Arguments must be a JSON object."}
    arguments = {key: value for key, value in arguments.items() if key != "user_id"}
    try:
        return handler(user, arguments)
    except ToolError as exc:
        return {"error": str(exc)}
    except services.TaskNotFound:
        return {"error": f"Task {arguments.get('task_id')} not found; list_tasks shows the ids."}
    except services.TaskLimitReached as exc:
        return {"error": str(exc.detail)}
    except DjangoValidationError as exc:
        return {
            "error": _describe(exc.message_dict if hasattr(exc, "error_dict") else {"value": exc.messages})
        }
    except Exception:  # its text is for the logs: a model or an MCP client gets a sentence
        logger.exception("The %s tool failed", name)
        return {"error": "The tool failed on the server's side; try again later."}
