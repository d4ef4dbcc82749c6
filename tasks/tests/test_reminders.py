"""Reminders: a job per reminder, deferred with the write; a notification
once, never for a task deleted, completed or re-scheduled since; real
workers (`manage.py run_worker`), two at once, fire each reminder once."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.models import User
from conftest import (
    BUSY_MACHINE_MARGIN_SECONDS,
    WAIT_GUARD_SECONDS,
    auth_headers,
    database_url_for_tests,
    spawn_worker,
    wait_until,
)
from health.tests.proxy import DatabaseProxy
from tasks.models import Notification, Task
from tasks.reminders import fire_reminder
from tasks.services import TaskLimitReached, create_task
from tasks.worker import STOP_SECONDS

pytestmark = pytest.mark.django_db

AT = datetime.fromisoformat("2030-01-07T08:00:00+00:00")


def reminder_jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name="tasks.send_reminder").order_by("id"))


def due_jobs_done() -> bool:
    """Whether the workers have run every reminder that is due (a notification or not)."""
    due = Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=timezone.now())
    waiting = ProcrastinateJob.objects.filter(
        due, task_name="tasks.send_reminder", status__in=["todo", "doing"]
    )
    return not waiting.exists()


def test_a_reminder_defers_one_job_at_its_time(alice_api, alice: User) -> None:
    response = alice_api.post(
        f"/api/{alice.pk}/tasks", {"title": "Call", "remind_at": "2030-01-07T09:00:00+01:00"}, format="json"
    )

    assert response.status_code == 201
    [job] = reminder_jobs()
    assert job.scheduled_at == AT
    assert job.queue_name == "reminders"
    assert job.args == {"task_id": response.json()["id"], "remind_at": AT.isoformat()}


def test_a_task_without_reminder_defers_nothing(alice_api, alice: User) -> None:
    alice_api.post(f"/api/{alice.pk}/tasks", {"title": "Call"}, format="json")
    alice_api.post(f"/api/{alice.pk}/tasks", {"title": "Call", "remind_at": None}, format="json")
    assert reminder_jobs() == []


def test_a_create_that_fails_defers_nothing(alice: User, settings) -> None:
    settings.MAX_TASKS_PER_USER = 1
    create_task(owner=alice, title="One")
    with pytest.raises(TaskLimitReached):
        create_task(owner=alice, title="Two", remind_at=AT)
    assert reminder_jobs() == []


def test_a_new_reminder_time_replaces_the_waiting_job(alice_api, alice: User) -> None:
    task = create_task(owner=alice, title="Call", remind_at=AT)
    url = f"/api/{alice.pk}/tasks/{task.pk}"

    alice_api.patch(url, {"title": "Call mom"}, format="json")
    assert len(reminder_jobs()) == 1
    alice_api.patch(url, {"remind_at": "2030-01-07T10:00:00Z"}, format="json")
    assert [job.scheduled_at for job in reminder_jobs()] == [AT + timedelta(hours=2)]
    alice_api.patch(url, {"remind_at": None}, format="json")
    assert reminder_jobs() == []


def test_a_reminder_fires_once(alice: User) -> None:
    task = create_task(owner=alice, title="Water the plants", remind_at=AT)

    first = fire_reminder(task.pk, AT)
    again = fire_reminder(task.pk, AT)

    assert first is not None
    assert again is None
    notification = Notification.objects.get()
    assert (notification.owner, notification.task, notification.kind) == (alice, task, "reminder")
    assert notification.message == "Reminder: Water the plants"
    assert notification.read_at is None


def test_no_reminder_for_a_task_deleted_completed_or_rescheduled(alice_api, alice: User) -> None:
    deleted = create_task(owner=alice, title="Deleted", remind_at=AT)
    completed = create_task(owner=alice, title="Completed", remind_at=AT)
    moved = create_task(owner=alice, title="Moved", remind_at=AT)
    alice_api.delete(f"/api/{alice.pk}/tasks/{deleted.pk}")
    alice_api.patch(f"/api/{alice.pk}/tasks/{completed.pk}/complete")
    alice_api.patch(f"/api/{alice.pk}/tasks/{moved.pk}", {"remind_at": "2030-01-08T08:00:00Z"}, format="json")

    assert [fire_reminder(task.pk, AT) for task in (deleted, completed, moved)] == [None, None, None]
    assert not Notification.objects.exists()
    # The moved task's new time fires.
    assert fire_reminder(moved.pk, AT + timedelta(days=1)) is not None


def test_a_notification_outlives_its_task(alice: User) -> None:
    task = create_task(owner=alice, title="Gone", remind_at=AT)
    fire_reminder(task.pk, AT)
    task.delete()
    assert Notification.objects.get().task_id is None


# --- real workers ----------------------------------------------------------------


@pytest.fixture
def workers(tmp_path: Path, transactional_db: None) -> Iterator[Callable[..., list[subprocess.Popen[str]]]]:
    started: list[subprocess.Popen[str]] = []

    def start(count: int, database_url: str | None = None) -> list[subprocess.Popen[str]]:
        started.extend(
            spawn_worker(tmp_path, f"worker-{len(started) + index}", database_url) for index in range(count)
        )
        return started

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(WAIT_GUARD_SECONDS)


@pytest.mark.django_db(transaction=True)
def test_two_workers_fire_each_reminder_once_within_five_seconds(workers, alice: User) -> None:
    workers(2)
    soon = timezone.now() + timedelta(seconds=1)
    tasks = [create_task(owner=alice, title=f"Reminder {n}", remind_at=soon) for n in range(20)]

    assert wait_until(lambda: Notification.objects.count() >= 20)
    assert wait_until(due_jobs_done)  # a second notification for any of them would show by now

    notifications = list(Notification.objects.all())
    assert sorted(n.task_id for n in notifications) == sorted(task.pk for task in tasks)
    for notification in notifications:
        assert timedelta(0) <= notification.created_at - soon < timedelta(seconds=5)


@pytest.mark.django_db(transaction=True)
def test_a_reminder_fires_when_its_time_comes_and_not_before(workers, alice_api, alice: User) -> None:
    """The test moves the queue's clock: a reminder an hour away is brought due."""
    workers(2)
    later = timezone.now() + timedelta(hours=1)
    kept = create_task(owner=alice, title="Kept", remind_at=later)
    deleted = create_task(owner=alice, title="Deleted", remind_at=later)
    completed = create_task(owner=alice, title="Completed", remind_at=later)
    moved = create_task(owner=alice, title="Moved", remind_at=later)
    alice_api.delete(f"/api/{alice.pk}/tasks/{deleted.pk}")
    alice_api.patch(f"/api/{alice.pk}/tasks/{completed.pk}", {"completed": True}, format="json")
    alice_api.patch(
        f"/api/{alice.pk}/tasks/{moved.pk}",
        {"remind_at": (later + timedelta(hours=1)).isoformat()},
        format="json",
    )
    time.sleep(1)
    assert not Notification.objects.exists()

    with connection.cursor() as cursor:  # an hour passes, for the queue
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = scheduled_at - interval '1 hour'"
            " WHERE task_name = 'tasks.send_reminder'"
        )

    assert wait_until(lambda: Notification.objects.exists())
    assert wait_until(due_jobs_done)  # the deleted, completed and moved ones had their chance too
    assert [n.task_id for n in Notification.objects.all()] == [kept.pk]

    with connection.cursor() as cursor:  # and another hour
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = scheduled_at - interval '1 hour'"
            " WHERE task_name = 'tasks.send_reminder' AND status = 'todo'"
        )
    assert wait_until(lambda: Notification.objects.filter(task=moved).exists())
    assert Notification.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_next_occurrences_reminder_is_deferred_with_it(workers, alice_api, alice: User) -> None:
    """Completed a day late, a daily task is next due today at its time, a
    few seconds from now here, and its reminder (a second before) fires."""
    workers(1)
    due = timezone.now() - timedelta(days=1) + timedelta(seconds=3)
    task = Task.objects.create(
        owner=alice,
        title="Stretch",
        due_date=due,
        recurrence="FREQ=DAILY",
        remind_at=due - timedelta(seconds=1),
    )

    body = alice_api.patch(f"/api/{alice.pk}/tasks/{task.pk}/complete").json()

    following = Task.objects.get(pk=body["next_task_id"])
    assert following.due_date == due + timedelta(days=1)
    assert following.remind_at == following.due_date - timedelta(seconds=1)
    assert wait_until(lambda: Notification.objects.filter(task=following).exists())


@pytest.mark.django_db(transaction=True)
def test_a_worker_stops_within_ten_seconds_when_the_database_is_gone(workers) -> None:
    database = connection.settings_dict
    proxy = DatabaseProxy(database["HOST"] or "localhost", int(database["PORT"] or 5432))
    proxy.start()
    [worker] = workers(1, database_url_for_tests(host="127.0.0.1", port=proxy.port))
    proxy.stop()

    started = time.monotonic()
    worker.terminate()

    assert worker.wait(WAIT_GUARD_SECONDS) == 0
    assert time.monotonic() - started < STOP_SECONDS + BUSY_MACHINE_MARGIN_SECONDS


@pytest.mark.django_db(transaction=True)
def test_a_worker_stops_cleanly_on_sigterm(workers) -> None:
    [worker] = workers(1)
    worker.terminate()
    assert worker.wait(WAIT_GUARD_SECONDS) == 0
    assert "Worker stopped" in worker.log.read_text()


@pytest.mark.django_db(transaction=True)
def test_a_worker_outlives_a_database_outage(workers, alice: User) -> None:
    database = connection.settings_dict
    proxy = DatabaseProxy(database["HOST"] or "localhost", int(database["PORT"] or 5432))
    proxy.start()
    try:
        [worker] = workers(1, database_url_for_tests(host="127.0.0.1", port=proxy.port))
        proxy.stop()  # every connection of the worker cut; no new one gets through
        task = create_task(owner=alice, title="After the outage", remind_at=timezone.now())
        time.sleep(2)
        assert not Notification.objects.exists()
        proxy.start()

        assert wait_until(lambda: Notification.objects.filter(task=task).exists()), worker.log.read_text()
        assert worker.poll() is None
        worker.terminate()
        assert worker.wait(WAIT_GUARD_SECONDS) == 0
    finally:
        proxy.stop()


@pytest.mark.django_db(transaction=True)
def test_the_api_server_fires_reminders_by_itself(live_server_process, alice: User) -> None:
    """The image's process alone (RUN_WORKER defaults to true): a reminder due
    in a second is a notification within 5 s, and SIGTERM still ends it with 0."""
    server = live_server_process(image_process=True, RUN_WORKER=None)
    soon = timezone.now() + timedelta(seconds=1)
    response = httpx.post(
        f"{server.url}/api/{alice.pk}/tasks",
        json={"title": "Stretch", "remind_at": soon.isoformat()},
        headers=auth_headers(alice),
    )
    assert response.status_code == 201

    def notified() -> list:
        return httpx.get(f"{server.url}/api/{alice.pk}/notifications", headers=auth_headers(alice)).json()

    assert wait_until(lambda: notified() != [])
    [notification] = notified()
    assert notification["task_id"] == response.json()["id"]
    # Measured by the notification's own time, however long the test took to see it.
    assert datetime.fromisoformat(notification["created_at"]) - soon < timedelta(seconds=5)
    assert server.stop() == 0
    assert "Traceback" not in server.stderr


@pytest.mark.django_db(transaction=True)
def test_run_worker_false_leaves_reminders_to_a_worker(live_server_process, alice: User) -> None:
    server = live_server_process(RUN_WORKER="false")
    httpx.post(
        f"{server.url}/api/{alice.pk}/tasks",
        json={"title": "Stretch", "remind_at": timezone.now().isoformat()},
        headers=auth_headers(alice),
    )
    time.sleep(2)
    assert not Notification.objects.exists()
    assert len(reminder_jobs()) == 1


# --- one pending job per task, fair between users ----------------------------------


def test_four_hundred_reschedules_leave_one_waiting_job(alice_api, alice: User) -> None:
    task = create_task(owner=alice, title="Call", remind_at=AT)
    url = f"/api/{alice.pk}/tasks/{task.pk}"

    for minutes in range(1, 401):
        response = alice_api.patch(
            url, {"remind_at": (AT + timedelta(minutes=minutes)).isoformat()}, format="json"
        )
        assert response.status_code == 200

    [job] = reminder_jobs()
    assert (job.scheduled_at, job.args["remind_at"]) == (
        AT + timedelta(minutes=400),
        job.scheduled_at.isoformat(),
    )


def test_a_flood_of_reminders_goes_behind_another_users_one(alice: User, bob: User) -> None:
    """Each new reminder of a user waits behind those of users with fewer."""
    for n in range(5):
        create_task(owner=alice, title=f"Flood {n}", remind_at=AT)
    create_task(owner=bob, title="Bob's", remind_at=AT)

    priorities = {job.args["task_id"]: job.priority for job in reminder_jobs()}
    alices = [priorities[task.pk] for task in Task.objects.filter(owner=alice).order_by("pk")]
    [bobs] = [priorities[task.pk] for task in Task.objects.filter(owner=bob)]
    assert alices == [0, -1, -2, -3, -4]
    assert bobs == 0


@pytest.mark.django_db(transaction=True)
def test_another_users_reminder_fires_among_the_first_of_a_flood(workers, alice: User, bob: User) -> None:
    """300 of alice's reminders and one of bob's, all due at once: bob's is
    fired second (after alice's first, which came earlier with the same
    priority), not three-hundredth. Counted in order, not in seconds."""
    later = timezone.now() + timedelta(hours=1)
    for n in range(300):
        create_task(owner=alice, title=f"Flood {n}", remind_at=later)
    bobs = create_task(owner=bob, title="Bob's", remind_at=later)
    with connection.cursor() as cursor:  # an hour passes, for the queue: all due at once
        cursor.execute("UPDATE procrastinate_jobs SET scheduled_at = scheduled_at - interval '1 hour'")

    workers(1)

    assert wait_until(lambda: Notification.objects.count() == 301)
    order = list(Notification.objects.order_by("created_at", "pk").values_list("task_id", flat=True))
    assert order.index(bobs.pk) <= 1
