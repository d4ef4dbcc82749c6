"""Reminders: a procrastinate job per reminder, run by `manage.py run_worker`.

Setting a task's `remind_at` defers a job scheduled at that time, in the same
transaction as the write (procrastinate's Django connector uses Django's
connection), so a rolled-back write schedules nothing. PostgreSQL hands each
job to one worker (FOR UPDATE SKIP LOCKED), and the notification is written
under the task's row lock with a unique (task, remind_at) key, so two workers
or a retried job still make one notification.

A job does not need cancelling: when it runs it checks the task as it is then,
and fires only if the task still exists, is not completed and still has this
reminder time (a re-scheduled task has deferred a job of its own)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import close_old_connections, transaction
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

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
    """Defer the reminder of a saved task, inside the caller's transaction."""
    if task.remind_at is None or task.completed:
        return
    send_reminder.configure(schedule_at=task.remind_at).defer(
        task_id=task.pk, remind_at=task.remind_at.isoformat()
    )


def fire_reminder(task_id: int, remind_at: datetime) -> Notification | None:
    """The notification for the reminder of `task_id` at `remind_at`, unless
    the task is gone, completed or re-scheduled, or it already fired."""
    with transaction.atomic():
        task = Task.objects.select_for_update().filter(pk=task_id).first()
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
    logger.info("Reminder %s fired for task %s", notification.pk, task_id)
    return notification
