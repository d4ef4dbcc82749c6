"""What one user can make the server do is bounded: at most
MAX_TASKS_PER_USER tasks, an offset no deeper than that, and search and the
title sort served by indexes rather than by reading every task."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from conftest import auth_headers
from tasks.models import Task

pytestmark = pytest.mark.django_db


def create(client, user: User, title: str = "Another"):
    return client.post(f"/api/{user.pk}/tasks", {"title": title}, format="json")


def test_a_user_at_the_task_limit_gets_409(alice_api, bob_api, alice: User, bob: User, settings) -> None:
    settings.MAX_TASKS_PER_USER = 3
    made = [create(alice_api, alice).status_code for _ in range(3)]

    refused = create(alice_api, alice)

    assert made == [201, 201, 201]
    assert refused.status_code == 409
    assert refused.json()["code"] == "task_limit_reached"
    assert "3 tasks" in refused.json()["detail"]
    assert Task.objects.filter(owner=alice).count() == 3
    assert create(bob_api, bob).status_code == 201


def test_deleting_a_task_makes_room_again(alice_api, alice: User, settings) -> None:
    settings.MAX_TASKS_PER_USER = 1
    first = create(alice_api, alice).json()

    alice_api.delete(f"/api/{alice.pk}/tasks/{first['id']}")

    assert create(alice_api, alice).status_code == 201


def test_the_assistant_is_told_about_the_limit(alice_api, alice: User, settings) -> None:
    settings.MAX_TASKS_PER_USER = 1
    settings.LLM_PROVIDER = "LOCAL"
    create(alice_api, alice)

    answer = alice_api.post(f"/api/{alice.pk}/chat", {"message": "Add a task to buy milk"}, format="json")

    assert answer.status_code == 200
    assert "limit of 1 tasks" in answer.json()["tool_calls"][0]["result"]["error"]
    assert Task.objects.filter(owner=alice).count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_creates_never_pass_the_limit(live_server_process, alice: User) -> None:
    server = live_server_process(MAX_TASKS_PER_USER="10")

    async def create_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, headers=auth_headers(alice)) as client:
            return await asyncio.gather(
                *(client.post(f"/api/{alice.pk}/tasks", json={"title": f"T{n}"}) for n in range(30))
            )

    responses = asyncio.run(create_all())

    assert Counter(r.status_code for r in responses) == {201: 10, 409: 20}
    assert Task.objects.filter(owner=alice).count() == 10


def test_an_offset_past_the_task_limit_is_400(alice_api, alice: User, settings) -> None:
    response = alice_api.get(f"/api/{alice.pk}/tasks?offset={settings.MAX_TASKS_PER_USER + 1}")

    assert response.status_code == 400
    assert "offset" in response.json()["errors"]


@pytest.fixture
def many_tasks(alice: User, bob: User) -> None:
    """100,000 tasks of alice's and 2,000 of bob's, with the planner's statistics."""
    with connection.cursor() as cursor:
        for owner, count in ((alice, 100_000), (bob, 2_000)):
            cursor.execute(
                "INSERT INTO tasks (owner_id, title, description, completed, priority, tags, created_at,"
                " updated_at) SELECT %s, 'Task number ' || n, 'about ' || md5(n::text), n %% 3 = 0, 'medium',"
                " '{}', now() - n * interval '1 minute', now() FROM generate_series(1, %s) AS n",
                [owner.pk, count],
            )
        cursor.execute("ANALYZE tasks")


def plan_of_the_list(client, user: User, query: str) -> str:
    """PostgreSQL's plan for the page query the list route runs."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/{user.pk}/tasks?{query}")
    assert response.status_code == 200
    page_query = next(q["sql"] for q in queries if 'FROM "tasks"' in q["sql"] and "LIMIT" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {page_query}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_search_and_the_title_sort_are_served_by_indexes(alice_api, alice: User, many_tasks: None) -> None:
    search = plan_of_the_list(alice_api, alice, "search=zzz&limit=50")
    by_title = plan_of_the_list(alice_api, alice, "sort=title&limit=50")
    by_title_descending = plan_of_the_list(alice_api, alice, "sort=-title&limit=50")

    assert "Bitmap Index Scan on tasks_title_trgm_idx" in search
    assert "Bitmap Index Scan on tasks_description_trgm_idx" in search
    for plan in (by_title, by_title_descending):
        assert "Index Scan" in plan
        assert "tasks_owner_title_idx" in plan
        assert "Sort" not in plan
    assert "Backward" in by_title_descending
    assert "Seq Scan" not in search + by_title + by_title_descending
