"""Idempotency-Key through a live server: the event loop's writes, requests
racing with one key, and a server killed between two retries."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime

import httpx
import pytest

from accounts.models import User
from conftest import ServerProcess, auth_headers
from idempotency.models import IdempotentRequest
from tasks.models import Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "a3f0c9e2-retry"


@pytest.fixture
def server(shared_server) -> ServerProcess:
    return shared_server()


def test_a_retried_toggle_on_the_event_loop_does_not_toggle_back(server: ServerProcess, alice: User) -> None:
    task = create_task(owner=alice, title="Water the plants")
    path = f"/api/{alice.pk}/tasks/{task.pk}/complete"
    headers = {**auth_headers(alice), "Idempotency-Key": KEY}

    with httpx.Client(base_url=server.url, headers=headers) as client:
        first = client.patch(path)
        second = client.patch(path)
        plain = client.patch(path, headers={"Idempotency-Key": "another"})

    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"] == '"2"'
    assert plain.json()["completed"] is False  # a new key is a new toggle
    assert Task.objects.get(pk=task.pk).version == 3


def test_a_retried_create_on_the_event_loop_makes_one_task(server: ServerProcess, alice: User) -> None:
    headers = {**auth_headers(alice), "Idempotency-Key": KEY}

    with httpx.Client(base_url=server.url, headers=headers) as client:
        first = client.post(f"/api/{alice.pk}/tasks", json={"title": "Buy milk"})
        second = client.post(f"/api/v1/{alice.pk}/tasks", json={"title": "Buy milk"})
        reused = client.post(f"/api/{alice.pk}/tasks", json={"title": "Buy bread"})
        malformed = client.post(
            f"/api/{alice.pk}/tasks", json={"title": "x"}, headers={"Idempotency-Key": ""}
        )

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert (second.content, second.headers["location"]) == (first.content, first.headers["location"])
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert malformed.status_code == 400
    assert Task.objects.filter(owner=alice).count() == 1
    assert IdempotentRequest.objects.get().status == 201


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "", {"title": "Once"}),
        ("PATCH", "/{task}/complete", None),
        ("PUT", "/{task}", {"title": "Put"}),
    ],
)
def test_20_requests_at_once_with_one_key_make_one_change(
    server: ServerProcess, alice: User, method: str, suffix: str, body: dict | None
) -> None:
    task = create_task(owner=alice, title="Existing")
    path = f"/api/{alice.pk}/tasks" + suffix.format(task=task.pk)
    start = threading.Barrier(20)
    answers: list[httpx.Response] = []

    def send() -> None:
        headers = {**auth_headers(alice), "Idempotency-Key": KEY}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            start.wait()
            answers.append(client.request(method, path, json=body))

    senders = [threading.Thread(target=send) for _ in range(20)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()

    firsts = [answer for answer in answers if "idempotent-replayed" not in answer.headers]
    replays = [answer for answer in answers if answer.headers.get("idempotent-replayed") == "true"]
    assert len(answers) == 20
    assert len(firsts) == 1
    assert firsts[0].status_code in (200, 201)
    assert all(answer.status_code == 409 for answer in answers if answer not in firsts + replays)
    assert all(answer.content == firsts[0].content for answer in replays)
    assert Task.objects.filter(owner=alice).count() == (2 if method == "POST" else 1)
    assert Task.objects.get(pk=task.pk).version == (1 if method == "POST" else 2)


def test_a_server_killed_between_two_retries_replays_from_the_next_one(
    live_server_process, alice: User
) -> None:
    headers = {**auth_headers(alice), "Idempotency-Key": KEY}
    first_server = live_server_process()
    first = httpx.post(
        f"{first_server.url}/api/{alice.pk}/tasks", json={"title": "Survives"}, headers=headers
    )
    first_server.process.send_signal(signal.SIGKILL)
    first_server.process.wait(10)

    second_server = live_server_process()
    retried = httpx.post(
        f"{second_server.url}/api/{alice.pk}/tasks", json={"title": "Survives"}, headers=headers
    )

    assert first.status_code == 201
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.content == first.content
    assert Task.objects.filter(owner=alice).count() == 1


def test_the_browser_may_send_the_headers_and_read_the_answers(server: ServerProcess, alice: User) -> None:
    origin = "http://localhost:3000"
    preflight = httpx.options(
        f"{server.url}/api/{alice.pk}/tasks/1",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,idempotency-key,if-match,if-none-match",
        },
    )
    task = create_task(owner=alice, title="Seen from the browser")
    answer = httpx.patch(
        f"{server.url}/api/{alice.pk}/tasks/{task.pk}/complete",
        headers={**auth_headers(alice), "Origin": origin, "Idempotency-Key": KEY, "If-Match": '"1"'},
    )

    allowed = {header.strip() for header in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"idempotency-key", "if-match", "if-none-match"} <= allowed
    exposed = {
        header.strip().lower() for header in answer.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "idempotent-replayed"} <= exposed
    assert answer.status_code == 200
    assert answer.headers["etag"] == '"2"'


def test_a_write_the_event_loop_hands_to_django_keeps_one_answer(server: ServerProcess, alice: User) -> None:
    """A recurring task's toggle needs Django (its next occurrence): the event
    loop's claim goes with its empty write, and Django claims, writes and
    keeps the answer."""
    due = datetime(2030, 1, 7, 9, tzinfo=UTC)
    task = create_task(owner=alice, title="Stand-up", due_date=due, recurrence="FREQ=DAILY")
    headers = {**auth_headers(alice), "Idempotency-Key": KEY}

    with httpx.Client(base_url=server.url, headers=headers) as client:
        first = client.patch(f"/api/{alice.pk}/tasks/{task.pk}/complete")
        second = client.patch(f"/api/{alice.pk}/tasks/{task.pk}/complete")

    assert first.status_code == 200
    assert first.json()["next_task_id"] is not None
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert Task.objects.filter(owner=alice).count() == 2
    assert IdempotentRequest.objects.get().status == 200
