"""Idempotency-Key (SPEC.md section 1, "Safe retries") on Django's path."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from accounts.models import User
from chat.models import Message
from chat.tests.fake_llm import FakeChatCompletions
from conftest import client_for
from events.models import Change
from idempotency.keys import PRUNE_SQL, fingerprint
from idempotency.models import IdempotentRequest
from tasks import services
from tasks.models import Notification, Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db

KEY = "9f1c-retry-0001"


def tasks_url(user: User) -> str:
    return f"/api/{user.pk}/tasks"


def task_url(user: User, task: Task | int, suffix: str = "") -> str:
    return f"{tasks_url(user)}/{task if isinstance(task, int) else task.pk}{suffix}"


def twice(client: APIClient, method: str, path: str, body: dict | None = None, key: str = KEY) -> tuple:
    send = getattr(client, method)
    extra = {"format": "json"} if body is not None else {}
    first = send(path, body, HTTP_IDEMPOTENCY_KEY=key, **extra)
    second = send(path, body, HTTP_IDEMPOTENCY_KEY=key, **extra)
    return first, second


def assert_replayed(first, second) -> None:
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert second.status_code == first.status_code
    assert second.content == first.content
    for header in ("Content-Type", "Location", "ETag"):
        assert second.get(header) == first.get(header), header


def test_a_retried_create_makes_one_task_and_replays_the_first_answer(alice_api, alice: User) -> None:
    first, second = twice(alice_api, "post", tasks_url(alice), {"title": "Buy milk"})

    assert first.status_code == 201
    assert_replayed(first, second)
    assert first["Location"]
    assert first["ETag"] == '"1"'
    assert Task.objects.filter(owner=alice).count() == 1
    assert Change.objects.filter(owner=alice).count() == 1


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_retried_update_changes_the_task_once(alice_api, alice: User, method: str) -> None:
    task = create_task(owner=alice, title="Draft")

    first, second = twice(alice_api, method, task_url(alice, task), {"title": "Final"})

    assert first.status_code == 200
    assert_replayed(first, second)
    assert Task.objects.get(pk=task.pk).version == 2


def test_a_retried_toggle_does_not_toggle_back(alice_api, alice: User) -> None:
    task = create_task(owner=alice, title="Call mum")

    first, second = twice(alice_api, "patch", task_url(alice, task, "/complete"))

    assert first.json()["completed"] is True
    assert_replayed(first, second)
    assert Task.objects.get(pk=task.pk).completed is True
    assert Task.objects.get(pk=task.pk).version == 2


def test_a_retried_delete_answers_204_again(alice_api, alice: User) -> None:
    task = create_task(owner=alice, title="Old")

    first, second = twice(alice_api, "delete", task_url(alice, task))

    assert first.status_code == 204
    assert_replayed(first, second)
    assert first.content == b""


def test_a_retried_notification_read_is_replayed(alice_api, alice: User) -> None:
    task = create_task(owner=alice, title="Dentist")
    notification = Notification.objects.create(owner=alice, task=task, message="Dentist")
    path = f"/api/{alice.pk}/notifications/{notification.pk}/read"

    first, second = twice(alice_api, "post", path)

    assert first.status_code == 200
    assert_replayed(first, second)
    assert first.json()["read_at"] is not None


def test_the_v1_path_is_the_same_route(alice_api, alice: User) -> None:
    first = alice_api.post(tasks_url(alice), {"title": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    second = alice_api.post(
        f"/api/v1/{alice.pk}/tasks", {"title": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY
    )

    assert_replayed(first, second)
    assert Task.objects.filter(owner=alice).count() == 1


def test_a_key_reused_with_another_body_method_or_path_is_422(alice_api, alice: User) -> None:
    task = create_task(owner=alice, title="Shared")
    assert alice_api.patch(task_url(alice, task), {"title": "A"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    other_body = alice_api.patch(
        task_url(alice, task), {"title": "B"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY
    )
    other_method = alice_api.put(
        task_url(alice, task), {"title": "A"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY
    )
    other_path = alice_api.patch(
        task_url(alice, task, "/complete"), {"completed": True}, format="json", HTTP_IDEMPOTENCY_KEY=KEY
    )
    same_json_other_bytes = alice_api.generic(
        "PATCH", task_url(alice, task), '{"title":  "A"}', "application/json", HTTP_IDEMPOTENCY_KEY=KEY
    )

    for answer in (other_body, other_method, other_path, same_json_other_bytes):
        assert answer.status_code == 422
        assert answer.json()["code"] == "idempotency_key_reused"
        assert answer.json()["detail"]
    assert Task.objects.get(pk=task.pk).title == "A"
    assert Task.objects.get(pk=task.pk).completed is False


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there", "new\x7fline"])
def test_a_malformed_key_is_400_and_nothing_changes(alice_api, alice: User, key: str) -> None:
    answer = alice_api.post(tasks_url(alice), {"title": "No"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert "Idempotency-Key" in answer.json()["detail"]
    assert not Task.objects.filter(owner=alice).exists()


def test_the_longest_key_and_every_printable_character_are_accepted(alice_api, alice: User) -> None:
    for key in ("k" * 255, "".join(chr(code) for code in range(0x20, 0x7F))):
        first, second = twice(alice_api, "post", tasks_url(alice), {"title": key[:20]}, key=key)
        assert first.status_code == 201
        assert_replayed(first, second)


def test_keys_are_per_user(alice_api, bob_api, alice: User, bob: User) -> None:
    mine = alice_api.post(tasks_url(alice), {"title": "Alice's"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    theirs = bob_api.post(tasks_url(bob), {"title": "Bob's"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert theirs.json()["title"] == "Bob's"


def test_another_users_path_is_403_and_claims_no_key(bob_api, alice: User) -> None:
    answer = bob_api.post(tasks_url(alice), {"title": "Intruder"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert answer.status_code == 403
    assert not IdempotentRequest.objects.exists()
    assert not Task.objects.exists()


def test_an_unauthenticated_write_claims_no_key(api, alice: User) -> None:
    answer = api.post(tasks_url(alice), {"title": "Anyone"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert answer.status_code == 401
    assert not IdempotentRequest.objects.exists()


def test_a_4xx_answer_is_kept(alice_api, alice: User) -> None:
    first, second = twice(alice_api, "patch", task_url(alice, 999_999), {"title": "Gone"})

    assert first.status_code == 404
    assert_replayed(first, second)


def test_a_5xx_answer_is_not_kept_and_the_retry_runs(alice: User, monkeypatch) -> None:
    client = client_for(alice)
    client.raise_request_exception = False
    real_create = services.create_task
    monkeypatch.setattr(services, "create_task", _failing_once(real_create))

    failed = client.post(tasks_url(alice), {"title": "Retry me"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    retried = client.post(tasks_url(alice), {"title": "Retry me"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert failed.status_code == 500
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert Task.objects.filter(owner=alice).count() == 1


def _failing_once(create):
    calls = []

    def create_task(**arguments):
        task = create(**arguments)  # the change is made, then the request fails: both undone
        calls.append(task)
        if len(calls) == 1:
            raise RuntimeError("the server failed after the write")
        return task

    return create_task


def test_a_409_is_not_kept(alice_api, alice: User, settings) -> None:
    settings.MAX_TASKS_PER_USER = 1
    existing = create_task(owner=alice, title="The only one")

    full = alice_api.post(tasks_url(alice), {"title": "Second"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    services.delete_task(owner=alice, task_id=existing.pk)
    retried = alice_api.post(tasks_url(alice), {"title": "Second"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert full.status_code == 409
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried


def _hold_key(user: User, body_of: dict, *, lease: timedelta, path: str) -> None:
    """A key as a request still running holds it."""
    now = timezone.now()
    IdempotentRequest.objects.create(
        owner=user,
        key=KEY,
        fingerprint=fingerprint("POST", path, JSONRenderer().render(body_of)),
        status=None,
        created_at=now,
        expires_at=now + lease,
    )


def test_a_key_still_running_is_409_with_retry_after(alice_api, alice: User) -> None:
    _hold_key(alice, {"title": "Slow"}, lease=timedelta(minutes=1), path=tasks_url(alice))

    answer = alice_api.post(tasks_url(alice), {"title": "Slow"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert answer.status_code == 409
    assert answer.json()["code"] == "request_in_progress"
    assert answer["Retry-After"] == "1"
    assert not Task.objects.exists()


def test_a_lease_whose_request_died_is_taken_over(alice_api, alice: User) -> None:
    _hold_key(alice, {"title": "Again"}, lease=-timedelta(seconds=1), path=tasks_url(alice))

    answer = alice_api.post(tasks_url(alice), {"title": "Again"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert answer.status_code == 201
    assert IdempotentRequest.objects.get().status == 201


def test_an_expired_answer_frees_the_key_and_the_worker_prunes_it(alice_api, alice: User, settings) -> None:
    settings.IDEMPOTENCY_TTL_HOURS = 24
    alice_api.post(tasks_url(alice), {"title": "Monday"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    kept = IdempotentRequest.objects.get()
    assert timedelta(hours=23) < kept.expires_at - kept.created_at <= timedelta(hours=24, seconds=5)
    IdempotentRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    again = alice_api.post(tasks_url(alice), {"title": "Tuesday"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    assert again.status_code == 201
    assert Task.objects.filter(owner=alice).count() == 2

    IdempotentRequest.objects.create(
        owner=alice, key="old", fingerprint="0" * 64, status=201, created_at=timezone.now(),
        expires_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(PRUNE_SQL)
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == [KEY]


def test_a_users_keys_go_with_the_user(alice_api, alice: User) -> None:
    alice_api.post(tasks_url(alice), {"title": "Mine"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    alice.delete()

    assert not IdempotentRequest.objects.exists()


def test_writes_without_a_key_keep_nothing(alice_api, alice: User) -> None:
    first = alice_api.post(tasks_url(alice), {"title": "One"}, format="json")
    second = alice_api.post(tasks_url(alice), {"title": "One"}, format="json")

    assert first.status_code == second.status_code == 201
    assert Task.objects.filter(owner=alice).count() == 2
    assert not IdempotentRequest.objects.exists()


# --- the chat ------------------------------------------------------------------------


def test_a_retried_chat_message_runs_no_tool_and_no_model_again(alice_api, alice: User) -> None:
    path = f"/api/{alice.pk}/chat"
    body = {"message": "add buy oat milk"}

    first, second = twice(alice_api, "post", path, body)

    assert first.status_code == 200
    assert_replayed(first, second)
    assert Task.objects.filter(owner=alice).count() == 1
    assert Message.objects.filter(owner=alice).count() == 2  # the message and its reply, once


@pytest.mark.django_db(transaction=True)
def test_a_chat_message_still_running_is_409_and_its_retry_then_replays(
    alice: User, settings, fake_llm: FakeChatCompletions
) -> None:
    settings.LLM_PROVIDER = "GROQ"
    settings.GROQ_API_KEY = "gsk_test_key_0123456789abcdefghij"
    settings.GROQ_BASE_URL = fake_llm.url
    settings.LLM_TIMEOUT_SECONDS = 10
    release = threading.Event()
    fake_llm.held(release, "Done thinking.")
    path = f"/api/{alice.pk}/chat"
    answers: list = []

    def send() -> None:
        client = client_for(alice)
        try:
            answers.append(client.post(path, {"message": "think"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY))
        finally:
            connections.close_all()  # this thread's own connection

    first = threading.Thread(target=send)
    first.start()
    try:
        assert _wait_for(lambda: fake_llm.received)
        meanwhile = client_for(alice).post(
            path, {"message": "think"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY
        )
    finally:
        release.set()
        first.join()
    retried = client_for(alice).post(path, {"message": "think"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert meanwhile.status_code == 409
    assert meanwhile.json()["code"] == "request_in_progress"
    assert meanwhile["Retry-After"] == "1"
    assert answers[0].status_code == 200
    assert answers[0].json()["response"] == "Done thinking."
    assert_replayed(answers[0], retried)
    assert len(fake_llm.received) == 1


def test_a_chat_message_that_fails_with_a_5xx_frees_its_key(alice: User, monkeypatch) -> None:
    from chat import services as chat_services

    real_agent = chat_services.run_agent
    calls: list[str] = []

    def agent(**arguments):
        calls.append(arguments["message"])
        if len(calls) == 1:
            raise RuntimeError("the process failed mid-turn")
        return real_agent(**arguments)

    monkeypatch.setattr(chat_services, "run_agent", agent)
    client = client_for(alice)
    client.raise_request_exception = False
    path = f"/api/{alice.pk}/chat"

    failed = client.post(path, {"message": "add water plants"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    retried = client.post(path, {"message": "add water plants"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    assert failed.status_code == 500
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried
    assert len(calls) == 2
    assert IdempotentRequest.objects.get().status == 200


def _wait_for(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
