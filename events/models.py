"""The change feed's tables. Rows are written by PostgreSQL triggers on
`tasks` and `notifications` (events/migrations/0001_initial.py), in the
transaction of the change itself, whatever wrote it: the services, the
event-loop routes, the admin, a cascade. Django never writes them.

A user's changes are numbered 1, 2, 3, ... by `ChangeFeed.seq`, taken under
the feed row's lock, which the writing transaction holds until it commits:
so a user's changes commit in the order of their numbers, and a reader that
has seen number n has seen every change before it. (A plain sequence does
not give that: a later number can commit first, and a reader that moved past
it would never see the earlier one.)

The owner columns are foreign keys in the database only (ON DELETE CASCADE,
added by the migration): deleting a user deletes its tasks first, whose
changes are recorded on the way, and the database then removes them all."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ChangeType(models.TextChoices):
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_DELETED = "task.deleted"
    NOTIFICATION_CREATED = "notification.created"
    NOTIFICATION_UPDATED = "notification.updated"


class ChangeSource(models.TextChoices):
    API = "api"
    ASSISTANT = "assistant"
    MCP = "mcp"
    WORKER = "worker"
    ADMIN = "admin"


class ChangeFeed(models.Model):
    """The number of the user's latest change (0: none yet)."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    seq = models.BigIntegerField(default=0)

    class Meta:
        db_table = "change_feeds"

    def __str__(self) -> str:
        return f"{self.owner_id} at {self.seq}"


class Change(models.Model):
    # One index, the key: a change costs its write one index entry. (A task's
    # history reads its user's changes by this key and keeps the task's.)
    pk = models.CompositePrimaryKey("owner", "seq")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    seq = models.BigIntegerField()
    type = models.CharField(max_length=32, choices=ChangeType.choices)
    source = models.CharField(max_length=16, choices=ChangeSource.choices)
    at = models.DateTimeField()
    task_id = models.BigIntegerField(null=True)
    notification_id = models.BigIntegerField(null=True)
    # The task's or the notification's JSON body after the change, as the API
    # writes it (text: its keys stay in the API's order).
    body = models.TextField()

    class Meta:
        db_table = "changes"

    def __str__(self) -> str:
        return f"{self.type} #{self.seq} of {self.owner_id}"


class StreamListener(models.Model):
    """A server process with an open event stream of the user: only then do
    the user's changes send a NOTIFY (events/hub.py registers it, and keeps
    it fresh while the stream is open; the worker removes those of processes
    that stopped)."""

    pk = models.CompositePrimaryKey("owner", "process")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    process = models.CharField(max_length=100)
    seen_at = models.DateTimeField()

    class Meta:
        db_table = "stream_listeners"

    def __str__(self) -> str:
        return f"{self.process} listens for {self.owner_id}"


class EventTicket(models.Model):
    """A single-use ticket for the event stream (EventSource sends no
    headers). Only its SHA-256 is kept; it carries what the stream needs to
    end with the token it was made with."""

    digest = models.CharField(max_length=64, primary_key=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    token_issued_at = models.DateTimeField()
    token_expires_at = models.DateTimeField()
    token_version = models.PositiveIntegerField(null=True)
    token_external = models.BooleanField()

    class Meta:
        db_table = "event_tickets"

    def __str__(self) -> str:
        return f"ticket of {self.owner_id} until {self.expires_at}"
