"""Cursors never skip a change: a transaction held open while others try to
commit, on the real PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import close_old_connections
from django.utils import timezone

from accounts.models import User
from conftest import WAIT_GUARD_SECONDS, client_for, database_url_for_tests
from tasks import services
from tasks.reminders import fire_reminder

pytestmark = pytest.mark.django_db(transaction=True)


def feed(user: User, since: str) -> dict:
    response = client_for(user).get(f"/api/{user.pk}/changes", {"since": since})
    assert response.status_code == 200
    return response.json()


def in_thread(work) -> threading.Thread:
    def run() -> None:
        try:
            work()
        finally:
            close_old_connections()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_change_committed_while_an_earlier_one_is_open_comes_after_it(alice: User, bob: User) -> None:
    first = services.create_task(owner=alice, title="First")
    second = services.create_task(owner=alice, title="Second")
    cursor = feed(alice, "c0")["cursor"]

    with psycopg.connect(database_url_for_tests()) as held:
        # A transaction that changes a task of alice's and stays open, as a
        # slow request would (the services' first statement, then the update).
        held.execute("SELECT set_config('todo.change_source', 'api', true) FROM users WHERE id = %s"
                     " FOR NO KEY UPDATE", [alice.pk])  # fmt: skip
        held.execute("UPDATE tasks SET title = 'First, edited' WHERE id = %s", [first.pk])
        later = in_thread(
            lambda: services.update_task(owner=alice, task_id=second.pk, changes={"title": "Second, edited"})
        )
        # Another user's change commits at once: feeds do not wait for each other.
        services.create_task(owner=bob, title="Bob's")
        later.join(timeout=0.5)
        while_open = feed(alice, cursor)
        held.commit()
    later.join(timeout=WAIT_GUARD_SECONDS)
    after = feed(alice, cursor)
    again = feed(alice, after["cursor"])

    assert while_open["changes"] == []
    assert while_open["cursor"] == cursor
    assert not later.is_alive()
    assert [c["task"]["title"] for c in after["changes"]] == ["First, edited", "Second, edited"]
    assert again["changes"] == []
    assert [c["task"]["title"] for c in feed(bob, "c0")["changes"]] == ["Bob's"]


def test_a_rolled_back_change_leaves_no_gap(alice: User) -> None:
    task = services.create_task(owner=alice, title="Kept")

    with psycopg.connect(database_url_for_tests()) as rolled_back:
        rolled_back.execute("UPDATE tasks SET title = 'Never' WHERE id = %s", [task.pk])
        rolled_back.rollback()
    services.update_task(owner=alice, task_id=task.pk, changes={"title": "Kept, edited"})

    assert [c["cursor"] for c in feed(alice, "c0")["changes"]] == ["c1", "c2"]


def test_many_writers_at_once_give_every_change_one_number(alice: User) -> None:
    tasks = [services.create_task(owner=alice, title=f"Task {n}") for n in range(8)]
    barrier = threading.Barrier(len(tasks))

    def toggle(task_id: int) -> None:
        barrier.wait()
        for _ in range(5):
            services.set_task_completion(owner=alice, task_id=task_id)

    threads = [in_thread(lambda task_id=task.pk: toggle(task_id)) for task in tasks]
    for thread in threads:
        thread.join(timeout=WAIT_GUARD_SECONDS)

    page = feed(alice, "c0")
    assert [c["cursor"] for c in page["changes"]] == [f"c{n}" for n in range(1, 49)]
    finals = {c["task"]["id"]: c["task"]["completed"] for c in page["changes"]}
    assert finals == dict.fromkeys((task.pk for task in tasks), True)


def test_a_users_writes_of_every_kind_at_once_never_deadlock(alice: User) -> None:
    """Deletes whose cascade updates another task, readings of notifications,
    completions of a recurring task, edits and creates, all at once: each
    transaction takes the owner's lock first, so none waits on another in a cycle."""
    due = timezone.now() + timedelta(days=1)
    recurring = [
        services.create_task(
            owner=alice, title=f"Daily {n}", due_date=due, recurrence="FREQ=DAILY", remind_at=due
        )
        for n in range(4)
    ]
    notifications = [fire_reminder(task.pk, task.remind_at) for task in recurring]
    plain = [services.create_task(owner=alice, title=f"Plain {n}") for n in range(4)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(5)

    def guarded(work) -> None:
        barrier.wait()
        try:
            for _ in range(5):
                work()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    def complete_and_delete_next() -> None:
        for task in recurring:
            done = services.set_task_completion(owner=alice, task_id=task.pk, completed=True)
            if done.next_task_id:
                with contextlib.suppress(services.TaskNotFound):
                    services.delete_task(owner=alice, task_id=done.next_task_id)  # updates `task`
            services.set_task_completion(owner=alice, task_id=task.pk, completed=False)

    def read_notifications() -> None:
        for notification in notifications:
            services.mark_notification_read(owner=alice, notification_id=notification.pk)

    def edit() -> None:
        for task in recurring + plain:
            services.update_task(owner=alice, task_id=task.pk, changes={"priority": "high"})

    def toggle() -> None:
        for task in plain:
            services.set_task_completion(owner=alice, task_id=task.pk)

    def create() -> None:
        services.create_task(owner=alice, title="More")

    threads = [in_thread(lambda work=work: guarded(work)) for work in (
        complete_and_delete_next, read_notifications, edit, toggle, create,
    )]  # fmt: skip
    for thread in threads:
        thread.join(timeout=WAIT_GUARD_SECONDS)

    assert failures == []
    cursors = [c["cursor"] for c in feed(alice, "c0")["changes"]]
    assert cursors == [f"c{n}" for n in range(1, len(cursors) + 1)]
