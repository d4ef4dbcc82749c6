from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator, ProhibitNullCharactersValidator
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower, Upper
from django.utils import timezone

from tasks import recurrence

if TYPE_CHECKING:
    from accounts.models import User

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 1000
TAG_MAX_LENGTH = 50
MAX_TAGS = 20
MAX_RULE_LENGTH = 200
# A reminder is set at most this far ahead (SPEC.md section 4): no job waits in
# the queue for longer.
REMINDER_YEARS = 10

no_nul = ProhibitNullCharactersValidator()


def latest_reminder() -> datetime:
    return timezone.now() + relativedelta(years=REMINDER_YEARS)


class Priority(models.TextChoices):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RepeatFrom(models.TextChoices):
    DUE = "due"
    COMPLETION = "completion"


class TaskQuerySet(models.QuerySet["Task"]):
    def for_user(self, user: User) -> TaskQuerySet:
        """The one place task rows are scoped to their owner."""
        return self.filter(owner=user)


class Task(models.Model):
    # No index of its own: tasks_owner_created_idx starts with owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH, validators=[no_nul])
    # null, not "": the API distinguishes "no description" and returns null.
    description = models.TextField(  # noqa: DJ001
        max_length=DESCRIPTION_MAX_LENGTH, null=True, blank=True, validators=[no_nul]
    )
    completed = models.BooleanField(default=False)
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.MEDIUM)
    tags = ArrayField(
        models.CharField(max_length=TAG_MAX_LENGTH, validators=[no_nul, MinLengthValidator(1)]),
        size=MAX_TAGS,
        default=list,
        blank=True,
    )
    due_date = models.DateTimeField(null=True, blank=True)
    # Recurrence (tasks/recurrence.py): the canonical RRULE, the zone whose
    # time of day the due dates keep, and this task's place in its series.
    recurrence = models.CharField(max_length=MAX_RULE_LENGTH, null=True, blank=True)  # noqa: DJ001
    # Null: UTC. (Before time zones were shown, an unset one was stored as "UTC".)
    time_zone = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # What the rule counts from when the task is completed: its due date, or
    # the completion (Todoist's "every!").
    repeat_from = models.CharField(
        max_length=10, choices=RepeatFrom.choices, default=RepeatFrom.DUE, db_default=RepeatFrom.DUE
    )
    occurrence = models.PositiveIntegerField(default=1, db_default=1)
    # The next occurrence, made when this one was completed (one at most: a
    # one-to-one column is unique).
    next_task = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="previous_task"
    )
    remind_at = models.DateTimeField(null=True, blank=True)
    # 1 at creation, +1 on every change by any route: the change feed's
    # trigger moves it (events/migrations/0002_task_versions.py) whoever
    # writes the row; the services only mirror it for their answer.
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        db_table = "tasks"
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list: one owner's tasks, newest first.
            models.Index(fields=["owner", "-created_at", "-id"], name="tasks_owner_created_idx"),
            # sort=title and -title: the list's ordering, read from the index.
            models.Index(F("owner"), Lower("title"), F("id"), name="tasks_owner_title_idx"),
            # The tag filter: tags @> ARRAY['work'].
            GinIndex(fields=["tags"], name="tasks_tags_gin_idx"),
            # search: Django's icontains is UPPER(column::text) LIKE UPPER('%word%'),
            # which trigram indexes on UPPER(column) serve (upper() takes text,
            # so PostgreSQL stores the same cast in the index).
            GinIndex(OpClass(Upper("title"), name="gin_trgm_ops"), name="tasks_title_trgm_idx"),
            GinIndex(OpClass(Upper("description"), name="gin_trgm_ops"), name="tasks_description_trgm_idx"),
            # The count of an owner's pending reminders, a new reminder's priority (tasks/reminders.py).
            models.Index(
                fields=["owner", "remind_at"],
                condition=models.Q(remind_at__isnull=False, completed=False),
                name="tasks_owner_reminders_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values), name="tasks_priority_valid"
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="tasks_title_not_empty"),
            models.CheckConstraint(
                condition=models.Q(repeat_from__in=RepeatFrom.values), name="tasks_repeat_from_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(recurrence__isnull=True) | models.Q(due_date__isnull=False),
                name="tasks_recurrence_needs_due_date",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.recurrence and self.due_date is None:
            errors["recurrence"] = "A recurring task needs a due_date."
        for field in ("due_date", "remind_at"):
            moment = getattr(self, field)
            if moment is not None and not recurrence.EARLIEST <= moment <= recurrence.LATEST:
                errors[field] = "Use a date from 1900-01-01 to 2999-12-31 (UTC)."
        if "remind_at" not in errors and self.remind_at is not None and self.remind_at > latest_reminder():
            errors["remind_at"] = f"A reminder can be at most {REMINDER_YEARS} years ahead."
        try:
            if self.time_zone is not None:
                recurrence.valid_time_zone(self.time_zone)
        except recurrence.InvalidRule as exc:
            errors["time_zone"] = str(exc)
        if errors:
            raise ValidationError(errors)


class TaskCount(models.Model):
    """How many tasks a user has: the cap's count (MAX_TASKS_PER_USER), read
    in O(1) instead of counting the owner's tasks on every create. Kept by
    the database itself (tasks/migrations/0007_task_counts.py): triggers on
    tasks add a statement's inserts, take away its deletes and move a task
    given to another user, whichever route wrote the rows."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "task_counts"

    def __str__(self) -> str:
        return f"{self.owner_id}: {self.count}"


class NotificationKind(models.TextChoices):
    REMINDER = "reminder"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_user(self, user: User) -> NotificationQuerySet:
        return self.filter(owner=user)


class Notification(models.Model):
    """A reminder that fired (tasks/reminders.py). It outlives its task."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    kind = models.CharField(
        max_length=20, choices=NotificationKind.choices, default=NotificationKind.REMINDER
    )
    message = models.CharField(max_length=300)
    # The reminder time it is for: one notification per task and time.
    remind_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        db_table = "notifications"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="notifications_owner_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["task", "remind_at"], name="notifications_once_per_reminder"),
        ]

    def __str__(self) -> str:
        return self.message
