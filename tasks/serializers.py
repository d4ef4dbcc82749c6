"""The shapes of task input and output. Output on the hot path is a plain
function over .values() rows; TaskSerializer describes it for the docs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from rest_framework import serializers

from tasks.models import DESCRIPTION_MAX_LENGTH, MAX_TAGS, TAG_MAX_LENGTH, TITLE_MAX_LENGTH, Priority, Task
from tasks.services import MAX_LIMIT, SORT_KEYS, STATUSES, TASK_FIELDS
from todo_project.fields import StrictBooleanField, StrictCharField


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds, as the list's SQL writes it. (Not
    strftime: its %Y does not pad years before 1000 to four digits.)"""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def task_body(row: Mapping[str, Any]) -> dict[str, Any]:
    """A task's JSON body from a row of TASK_FIELDS."""
    return {
        "id": row["id"],
        "user_id": str(row["owner_id"]),
        "title": row["title"],
        "description": row["description"],
        "completed": row["completed"],
        "priority": row["priority"],
        "tags": row["tags"],
        "due_date": _iso(row["due_date"]),
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
    }


def task_instance_body(task: Task) -> dict[str, Any]:
    return task_body({field: getattr(task, field) for field in TASK_FIELDS})


class TaskSerializer(serializers.Serializer):
    """A task as the API returns it (documentation of task_body)."""

    id = serializers.IntegerField()
    user_id = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    completed = serializers.BooleanField()
    priority = serializers.ChoiceField(choices=Priority.choices)
    tags = serializers.ListField(child=serializers.CharField())
    due_date = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TaskInputSerializer(serializers.Serializer):
    """A task's writable fields. Other keys (id, user_id, timestamps) are ignored."""

    title = StrictCharField(max_length=TITLE_MAX_LENGTH)
    description = StrictCharField(
        max_length=DESCRIPTION_MAX_LENGTH, allow_null=True, allow_blank=True, required=False
    )
    completed = StrictBooleanField(required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    tags = serializers.ListField(
        child=StrictCharField(min_length=1, max_length=TAG_MAX_LENGTH), max_length=MAX_TAGS, required=False
    )
    due_date = serializers.DateTimeField(allow_null=True, required=False)


class CompletionSerializer(serializers.Serializer):
    completed = StrictBooleanField(
        required=False, help_text="Set completion; leave out (or send no body) to toggle."
    )


class TaskListQuerySerializer(serializers.Serializer):
    """The list's query parameters (and their documentation)."""

    status = serializers.ChoiceField(choices=STATUSES, default="all", help_text="Default all.")
    # An empty filter (?search=) means no filter.
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, allow_blank=True)
    tag = StrictCharField(
        max_length=TAG_MAX_LENGTH, required=False, allow_blank=True, help_text="Tasks carrying this tag."
    )
    search = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Case-insensitive, in title and description.",
    )
    sort = serializers.ChoiceField(
        choices=[*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS)],
        default="-created",
        help_text="A leading - sorts descending; tasks without a due date come last. Default -created.",
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=MAX_LIMIT)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # No user has more tasks than this, so no request scans past it (read
        # when used, as the setting is, not when the module is imported).
        fields["offset"] = serializers.IntegerField(
            min_value=0, max_value=settings.MAX_TASKS_PER_USER, default=0
        )
        return fields
