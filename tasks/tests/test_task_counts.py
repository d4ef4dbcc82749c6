"""The cap's counter (task_counts) is exact whoever writes tasks: creates and
deletes by every route, a statement's bulk insert or delete, a task given to
another user, a recurring task's next occurrence, a user deleted with their
tasks; and it holds the cap under parallel creates."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from django.db import connection

from accounts.models import User
from chat.tools import run_tool
from conftest import auth_headers
from tasks import services
from tasks.models import Task, TaskCount

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {row.owner_id: row.count for row in TaskCount.objects.all() if row.count}


def actual() -> dict[str, int]:
    return dict(Counter(Task.objects.values_list("owner_id", flat=True)))


def test_every_way_of_writing_tasks_keeps_the_count(alice_api, alice: User, bob: User) -> None:
    random.seed(7)
    for step in range(60):
        kind = random.choice(["api", "service", "tool", "orm", "delete", "bulk", "give", "recurring"])
        owner, other = random.sample([alice, bob], 2)
        mine = list(Task.objects.filter(owner=owner).values_list("pk", flat=True))
        if kind == "api":
            assert (
                alice_api.post(f"/api/{alice.pk}/tasks", {"title": f"API {step}"}, format="json").status_code
                == 201
            )
        elif kind == "service":
            services.create_task(owner=owner, title=f"Service {step}")
        elif kind == "tool":
            run_tool(owner, "add_task", {"title": f"Tool {step}"})
        elif kind == "orm":
            Task.objects.bulk_create([Task(owner=owner, title=f"Bulk {step}.{n}") for n in range(3)])
        elif kind == "delete" and mine:
            if owner == alice:
                assert alice_api.delete(f"/api/{alice.pk}/tasks/{mine[0]}").status_code == 204
            else:
                services.delete_task(owner=owner, task_id=mine[0])
        elif kind == "bulk" and mine:
            Task.objects.filter(pk__in=mine[: len(mine) // 2 + 1]).delete()
        elif kind == "give" and mine:
            Task.objects.filter(pk=mine[0]).update(owner=other)
        elif kind == "recurring":
            task = services.create_task(
                owner=owner,
                title="Every day",
                due_date=datetime(2031, 1, 1, 9, tzinfo=UTC),
                recurrence="FREQ=DAILY",
            )
            services.set_task_completion(owner=owner, task_id=task.pk, completed=True)  # makes the next one
        assert counts() == actual(), f"after step {step} ({kind})"

    with connection.cursor() as cursor:  # a statement inserting many at once
        cursor.execute(
            "INSERT INTO tasks (owner_id, title, completed, priority, tags, created_at, updated_at)"
            " SELECT %s, 'Row ' || n, false, 'medium', '{}', now(), now() FROM generate_series(1, 500) AS n",
            [bob.pk],
        )
    assert counts() == actual()
    bob.delete()
    assert counts() == actual()
    assert not TaskCount.objects.filter(owner_id=bob.pk).exists()


def test_the_cap_reads_the_count(alice_api, alice: User, settings) -> None:
    settings.MAX_TASKS_PER_USER = 3
    with connection.cursor() as cursor:  # two tasks the counter knows of
        cursor.execute(
            "INSERT INTO tasks (owner_id, title, completed, priority, tags, created_at, updated_at)"
            " SELECT %s, 'Row ' || n, false, 'medium', '{}', now(), now() FROM generate_series(1, 2) AS n",
            [alice.pk],
        )

    assert alice_api.post(f"/api/{alice.pk}/tasks", {"title": "Third"}, format="json").status_code == 201
    assert alice_api.post(f"/api/{alice.pk}/tasks", {"title": "Fourth"}, format="json").status_code == 409
    assert TaskCount.objects.get(owner=alice).count == 3


@pytest.mark.django_db(transaction=True)
def test_parallel_creates_and_deletes_keep_the_count_exact_and_the_cap(
    live_server_process, alice: User
) -> None:
    server = live_server_process(MAX_TASKS_PER_USER="40")
    doomed = [Task.objects.create(owner=alice, title=f"Doomed {n}").pk for n in range(20)]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, headers=auth_headers(alice)) as client:
            creates = [client.post(f"/api/{alice.pk}/tasks", json={"title": f"T{n}"}) for n in range(60)]
            deletes = [client.delete(f"/api/{alice.pk}/tasks/{pk}") for pk in doomed]
            return await asyncio.gather(*creates, *deletes)

    responses = asyncio.run(burst())

    created = sum(r.status_code == 201 for r in responses)
    assert sum(r.status_code == 204 for r in responses) == 20
    assert 20 <= created <= 40  # the room there was at the start, and at most all the deletes made
    assert Task.objects.filter(owner=alice).count() == created
    assert TaskCount.objects.get(owner=alice).count == created
