"""Cursors never skip a change: a transaction held open while others try to
commit, on the real PostgreSQL."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import close_old_connections

from accounts.models import User
from conftest import WAIT_GUARD_SECONDS, client_for, database_url_for_tests
from tasks import services

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
