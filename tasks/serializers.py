"""The shapes of task input and output. Output on the hot path is a plain
function over .values() rows; TaskSerializer describes it for the docs."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from rest_framework import serializers

from tasks import recurrence
from tasks.models import (
    DESCRIPTION_MAX_LENGTH,
    MAX_RULE_LENGTH,
    MAX_TAGS,
    TAG_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Notification,
    NotificationKind,
    Priority,
    RepeatFrom,
    Task,
)
from tasks.services import MAX_LIMIT, SORT_KEYS, STATUSES, TASK_FIELDS
from todo_project.fields import StrictBooleanField, StrictCharField


def iso(value: datetime | None) -> str | None:
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
        "due_date": iso(row["due_date"]),
        "recurrence": row["recurrence"],
        "remind_at": iso(row["remind_at"]),
        "time_zone": row["time_zone"],
        "repeat_from": row["repeat_from"],
        "next_task_id": row["next_task_id"],
        "version": row["version"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def task_instance_body(task: Task) -> dict[str, Any]:
    return task_body({field: getattr(task, field) for field in TASK_FIELDS})


class RecurrenceField(StrictCharField):
    """An RRULE or a shorthand, stored as the canonical RRULE."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MAX_RULE_LENGTH, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # "" (a cleared form field) means no recurrence, as null does.
        return None if data == "" else super().run_validation(data)

    def to_internal_value(self, data: Any) -> str:
        try:
            return recurrence.normalize(super().to_internal_value(data))
        except recurrence.InvalidRule as exc:
            raise serializers.ValidationError(str(exc)) from None


class TimeZoneField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        name = super().to_internal_value(data)
        try:
            recurrence.valid_time_zone(name)
        except recurrence.InvalidRule as exc:
            raise serializers.ValidationError(str(exc)) from None
        return name


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
    recurrence = serializers.CharField(
        allow_null=True,
        help_text="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO; null when it does not recur.",
    )
    remind_at = serializers.DateTimeField(allow_null=True, help_text="When a reminder notification fires.")
    time_zone = serializers.CharField(
        allow_null=True, help_text="The IANA time zone whose time of day the due dates keep; null is UTC."
    )
    repeat_from = serializers.ChoiceField(
        choices=RepeatFrom.choices,
        help_text='What the rule counts from when the task is completed: its due date ("due"), or the'
        ' completion ("completion").',
    )
    next_task_id = serializers.IntegerField(
        allow_null=True, help_text="The next occurrence, made when this recurring task was completed."
    )
    version = serializers.IntegerField(
        help_text='1 at creation, +1 on every change; the ETag of an answer with this task is "<version>".'
    )
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
    recurrence = RecurrenceField(
        allow_null=True,
        required=False,
        help_text="An RFC 5545 RRULE (FREQ=DAILY|WEEKLY|MONTHLY|YEARLY with INTERVAL, BYDAY, BYMONTHDAY,"
        " COUNT or UNTIL), or daily, weekly, monthly, yearly. Needs a due_date. Completing the task"
        " creates the next occurrence.",
    )
    remind_at = serializers.DateTimeField(
        allow_null=True, required=False, help_text="When to remind: a notification is created then."
    )
    time_zone = TimeZoneField(
        required=False,
        allow_null=True,
        help_text="The IANA time zone whose time of day a recurring task's due dates keep across"
        " daylight saving time (null: UTC).",
    )
    repeat_from = serializers.ChoiceField(
        choices=RepeatFrom.choices,
        required=False,
        help_text="Completing the task makes the next occurrence: the rule's first date after the due date"
        ' that is not in the past ("due", the default), or counted from the completion ("completion",'
        ' as in "every 2 days after I finish it").',
    )


# Each thread's one set of TaskInputSerializer fields (see checked_task_input).
_task_input_fields = threading.local()


def checked_task_input(data: Any) -> TaskInputSerializer:
    """TaskInputSerializer(data=data) with is_valid() run, for the create on
    the event loop. Its fields are built once per thread: DRF deep-copies
    every declared field for each instance, two thirds of the check's CPU
    (120 of 180 us). Sharing them is safe where nothing else runs between an
    instance's construction and is_valid()'s end, as on one thread that
    does not await in between; the fields keep no state of a validation."""
    fields = getattr(_task_input_fields, "fields", None)
    if fields is None:
        fields = _task_input_fields.fields = TaskInputSerializer().fields
    serializer = TaskInputSerializer(data=data)
    serializer.__dict__["fields"] = fields  # what the cached_property would hold
    serializer.is_valid()
    return serializer


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


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task_id = serializers.IntegerField(allow_null=True, help_text="Null once the task is deleted.")
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    message = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Notification) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "task_id": instance.task_id,
            "kind": instance.kind,
            "message": instance.message,
            "created_at": iso(instance.created_at),
            "read_at": iso(instance.read_at),
        }


class NotificationQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(default=False, help_text="true: only those not read yet.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=MAX_LIMIT)
    offset = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)
