"""Reminders: a procrastinate job per reminder, run by `manage.py run_worker`.

Setting a task's `remind_at` defers a job scheduled at that time, in the same
transaction as the write (procrastinate's Django connector uses Django's
connection), so a rolled-back write schedules nothing. PostgreSQL hands each
job to one worker (FOR UPDATE SKIP LOCKED), and the notification is written
under the task's row lock with a unique (task, remind_at) key, so two workers
or a retried job still make one notification.

One pending job per task: its queueing lock names the task, and a new time
deletes the job of the old one first (procrastinate's unique index on the
locks of waiting jobs finds it). A job left by a task completed or deleted
since needs no cancelling: when it runs it checks the task as it is then,
and fires only if the task still exists, is not completed and still has
this reminder time.

Fair between users: a job's priority is minus the number of its owner's
other pending reminders, and workers take the highest first, so a user who
set thousands of reminders for one minute delays another user's reminder of
that minute by one job, not by thousands.

A notification is also sent to each of the user's push subscriptions: one
job per subscription, deferred with the notification (push/delivery.py)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from events.models import ChangeSource
from push.delivery import defer_deliveries, reminder_message
from tasks.models import Notification, NotificationKind, Task

logger = logging.getLogger(__name__)

QUEUE = "reminders"


@app.task(
    name="tasks.send_reminder",
    queue=QUEUE,
    # A database that is away for a moment: try again, a second apart.
    retry=RetryStrategy(max_attempts=30, wait=1),
)
def send_reminder(task_id: int, remind_at: str) -> None:
    close_old_connections()  # the worker's thread keeps no broken connection
    try:
        fire_reminder(task_id, datetime.fromisoformat(remind_at))
    finally:
        close_old_connections()


def schedule_reminder(task: Task) -> None:
    """Defer the reminder of a saved task in place of a job it has waiting,
    inside the caller's transaction (which holds the task's row lock, or
    made the task)."""
    lock = _queueing_lock(task.pk)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs WHERE queueing_lock = %s AND status = 'todo'", [lock])
    if task.remind_at is None or task.completed:
        return
    others = (
        Task.objects.filter(owner_id=task.owner_id, completed=False, remind_at__gt=timezone.now())
        .exclude(pk=task.pk)
        .count()
    )
    send_reminder.configure(schedule_at=task.remind_at, queueing_lock=lock, priority=-others).defer(
        task_id=task.pk, remind_at=task.remind_at.isoformat()
    )


def _queueing_lock(task_id: int) -> str:
    return f"reminder:{task_id}"


def fire_reminder(task_id: int, remind_at: datetime) -> Notification | None:
    """The notification for the reminder of `task_id` at `remind_at`, unless
    the task is gone, completed or re-scheduled, or it already fired."""
    from tasks import services  # which imports this module

    owner_id = Task.objects.filter(pk=task_id).values_list("owner_id", flat=True).first()
    if owner_id is None:
        return None
    with transaction.atomic(), services.changes_by(ChangeSource.WORKER):
        services.begin_change(owner_id)
        task = Task.objects.select_for_update().filter(pk=task_id, owner_id=owner_id).first()
        if task is None or task.completed or task.remind_at != remind_at:
            return None
        # The row lock makes every firing of this task's reminders take turns.
        if Notification.objects.filter(task=task, remind_at=remind_at).exists():
            return None  # it fired already
        notification = Notification.objects.create(
            owner_id=task.owner_id,
            task=task,
            kind=NotificationKind.REMINDER,
            message=f"Reminder: {task.title}",
            remind_at=remind_at,
        )
        # Sent by the push queue's jobs, outside this transaction (push/delivery.py).
        message = reminder_message(
            notification_id=notification.pk, task_id=task.pk, title=task.title, body=notification.message
        )
        defer_deliveries(owner_id=task.owner_id, message=message)
    logger.info("Reminder %s fired for task %s", notification.pk, task_id)
    return notification
