"""Many requests at once on the same rows, through the real server: every
write is kept, none is lost to another."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from accounts.models import User
from conftest import auth_headers
from tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


async def _all(requests: list) -> list[httpx.Response]:
    return await asyncio.gather(*requests)


def parallel(base_url: str, make_requests) -> list[httpx.Response]:
    """Send the requests make_requests(client) builds, all at once."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=base_url, limits=limits) as client:
            return await _all(make_requests(client))

    return asyncio.run(run())


def test_fifty_parallel_toggles_end_where_they_started(shared_server, alice: User) -> None:
    server = shared_server()
    task = Task.objects.create(owner=alice, title="Flip me")
    url = f"/api/{alice.pk}/tasks/{task.pk}/complete"

    responses = parallel(server.url, lambda c: [c.patch(url, headers=auth_headers(alice)) for _ in range(50)])

    assert [r.status_code for r in responses] == [200] * 50
    task.refresh_from_db()
    assert task.completed is False
    # Each toggle saw the one before it: 25 answers say completed, 25 say not.
    assert Counter(r.json()["completed"] for r in responses) == {True: 25, False: 25}


def test_an_odd_number_of_parallel_toggles_ends_completed(shared_server, alice: User) -> None:
    server = shared_server()
    task = Task.objects.create(owner=alice, title="Flip me")
    url = f"/api/{alice.pk}/tasks/{task.pk}/complete"

    parallel(server.url, lambda c: [c.patch(url, headers=auth_headers(alice)) for _ in range(21)])

    task.refresh_from_db()
    assert task.completed is True


def test_parallel_partial_updates_of_different_fields_keep_every_field(shared_server, alice: User) -> None:
    server = shared_server()
    tasks = [Task.objects.create(owner=alice, title=f"Task {n}") for n in range(15)]
    changes = [
        {"title": "Renamed"},
        {"priority": "high"},
        {"tags": ["home"]},
        {"description": "Details"},
        {"due_date": "2030-01-02T03:04:05Z"},
    ]

    def requests(client: httpx.AsyncClient) -> list:
        return [
            client.request(
                method, f"/api/{alice.pk}/tasks/{task.pk}", json=change, headers=auth_headers(alice)
            )
            for task in tasks
            for change in changes
            for method in ("PATCH", "PUT")
        ]

    responses = parallel(server.url, requests)

    assert {r.status_code for r in responses} == {200}
    for task in Task.objects.filter(pk__in=[t.pk for t in tasks]):
        assert (task.title, task.priority, task.tags, task.description) == (
            "Renamed",
            "high",
            ["home"],
            "Details",
        )
        assert task.due_date.isoformat() == "2030-01-02T03:04:05+00:00"


def test_a_toggle_and_an_update_at_once_keep_both(shared_server, alice: User) -> None:
    server = shared_server()
    tasks = [Task.objects.create(owner=alice, title=f"Task {n}") for n in range(25)]

    def requests(client: httpx.AsyncClient) -> list:
        calls = []
        for task in tasks:
            base = f"/api/{alice.pk}/tasks/{task.pk}"
            calls.append(client.patch(f"{base}/complete", headers=auth_headers(alice)))
            calls.append(client.patch(base, json={"title": "Changed"}, headers=auth_headers(alice)))
        return calls

    responses = parallel(server.url, requests)

    assert {r.status_code for r in responses} == {200}
    saved = Task.objects.filter(pk__in=[t.pk for t in tasks]).values_list("title", "completed")
    assert set(saved) == {("Changed", True)}


def test_fifty_parallel_sign_ups_of_one_email_make_one_account(live_server_process, db: None) -> None:
    server = live_server_process(AUTH_RATE_LIMIT="1000/minute")
    body = {"email": "Erin@Example.com", "password": "violet-ladder-42", "name": "Erin"}

    responses = parallel(server.url, lambda c: [c.post("/api/auth/signup", json=body) for _ in range(50)])

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 49}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"email_taken"}
    assert User.objects.filter(email="erin@example.com").count() == 1
