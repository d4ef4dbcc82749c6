"""Task versions (SPEC.md section 1): 1 at creation, +1 on every change by any
route; ETag on every answer with one task; If-Match and If-None-Match."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.utils import timezone

from accounts.models import User
from chat.tools import run_tool
from conftest import ServerProcess, auth_headers
from events.models import ChangeSource
from tasks import services
from tasks.models import Task
from tasks.reminders import fire_reminder
from tasks.services import create_task

pytestmark = pytest.mark.django_db


def url(user: User, task: Task | int, suffix: str = "") -> str:
    task_id = task if isinstance(task, int) else task.pk
    return f"/api/{user.pk}/tasks/{task_id}{suffix}"


def version_of(task: Task) -> int:
    return Task.objects.get(pk=task.pk).version


def test_a_new_task_is_at_version_1_and_its_etag_says_so(alice_api, alice: User) -> None:
    created = alice_api.post(f"/api/{alice.pk}/tasks", {"title": "Write"}, format="json")
    fetched = alice_api.get(url(alice, created.json()["id"]))

    assert created.json()["version"] == 1
    assert created["ETag"] == '"1"'
    assert fetched.json()["version"] == 1
    assert fetched["ETag"] == '"1"'


def test_every_rest_write_moves_the_version_by_one_and_answers_its_etag(alice_api, alice: User) -> None:
    task = create_task(owner=alice, title="Draft")
    answers = [
        alice_api.put(url(alice, task), {"title": "Draft 2"}, format="json"),
        alice_api.patch(url(alice, task), {"priority": "high"}, format="json"),
        alice_api.patch(url(alice, task, "/complete")),
        alice_api.patch(url(alice, task, "/complete"), {"completed": False}, format="json"),
    ]

    assert [answer.json()["version"] for answer in answers] == [2, 3, 4, 5]
    assert [answer["ETag"] for answer in answers] == ['"2"', '"3"', '"4"', '"5"']
    assert version_of(task) == 5


@pytest.mark.parametrize("source", [ChangeSource.ASSISTANT, ChangeSource.MCP])
def test_the_assistants_and_mcps_tools_move_the_version(alice: User, source: ChangeSource) -> None:
    task = create_task(owner=alice, title="Call the bank")

    updated = run_tool(
        alice, "update_task", {"task_id": task.pk, "title": "Call the bank at 9"}, source=source
    )
    completed = run_tool(alice, "complete_task", {"task_id": task.pk}, source=source)

    assert "error" not in updated
    assert "error" not in completed
    assert version_of(task) == 3


def test_the_admin_moves_the_version(client, alice: User) -> None:
    task = create_task(owner=alice, title="Water the plants")
    client.force_login(User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1"))
    form = client.get(f"/admin/tasks/task/{task.pk}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(owner=alice.pk, title="Water the plants twice", tags="", priority="medium", time_zone="UTC")

    answer = client.post(f"/admin/tasks/task/{task.pk}/change/", data)

    assert answer.status_code == 302, answer.content
    assert Task.objects.get(pk=task.pk).title == "Water the plants twice"
    assert version_of(task) == 2


def test_a_write_that_changes_nothing_keeps_the_version(alice: User) -> None:
    task = create_task(owner=alice, title="Same")

    Task.objects.filter(pk=task.pk).update(title="Same")

    assert version_of(task) == 1


def test_a_writer_cannot_set_the_version(alice: User) -> None:
    task = create_task(owner=alice, title="Mine")

    Task.objects.filter(pk=task.pk).update(version=1000, title="Changed")
    Task.objects.filter(pk=task.pk).update(version=1)

    assert version_of(task) == 2


def test_completing_a_recurring_task_is_one_change_and_a_fired_reminder_none(alice_api, alice: User) -> None:
    due = datetime(2030, 1, 7, 9, tzinfo=UTC)
    task = create_task(owner=alice, title="Stand-up", due_date=due, recurrence="FREQ=DAILY")
    reminded = create_task(owner=alice, title="Call", remind_at=timezone.now() + timedelta(minutes=1))

    answer = alice_api.patch(url(alice, task, "/complete"))
    assert fire_reminder(reminded.pk, reminded.remind_at) is not None

    assert answer.json()["version"] == 2
    assert answer.json()["next_task_id"] is not None
    assert Task.objects.get(pk=answer.json()["next_task_id"]).version == 1
    assert version_of(reminded) == 1


def test_deleting_the_next_occurrence_moves_the_version_of_the_task_naming_it(alice_api, alice: User) -> None:
    due = datetime(2030, 1, 7, 9, tzinfo=UTC)
    task = create_task(owner=alice, title="Stand-up", due_date=due, recurrence="FREQ=DAILY")
    following = alice_api.patch(url(alice, task, "/complete")).json()["next_task_id"]

    assert alice_api.delete(url(alice, following)).status_code == 204

    body = alice_api.get(url(alice, task)).json()
    assert body["next_task_id"] is None
    assert body["version"] == 3


def test_if_none_match_of_the_current_version_is_304_with_no_body(alice_api, alice: User) -> None:
    task = create_task(owner=alice, title="Cached")

    for header in ('"1"', 'W/"1"', '"7", "1"', "*"):
        answer = alice_api.get(url(alice, task), HTTP_IF_NONE_MATCH=header)
        assert answer.status_code == 304, header
        assert answer.content == b""
        assert answer["ETag"] == '"1"'
    alice_api.patch(url(alice, task), {"title": "Changed"}, format="json")
    fresh = alice_api.get(url(alice, task), HTTP_IF_NONE_MATCH='"1"')
    assert fresh.status_code == 200
    assert fresh.json()["title"] == "Changed"
    assert fresh["ETag"] == '"2"'


def test_if_none_match_never_reveals_another_users_task(bob_api, bob: User, alice: User) -> None:
    task = create_task(owner=alice, title="Alice's")

    answer = bob_api.get(url(bob, task), HTTP_IF_NONE_MATCH="*")

    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("put", "", {"title": "Mine now"}),
        ("patch", "", {"title": "Mine now"}),
        ("patch", "/complete", None),
        ("delete", "", None),
    ],
)
def test_a_stale_if_match_is_412_with_the_current_task_and_changes_nothing(
    alice_api, alice: User, method: str, suffix: str, body: dict | None
) -> None:
    task = create_task(owner=alice, title="Shared")
    alice_api.patch(url(alice, task), {"description": "Edited on the phone"}, format="json")

    answer = alice_api.generic(method.upper(), url(alice, task, suffix), **_json(body), HTTP_IF_MATCH='"1"')

    assert answer.status_code == 412
    error = answer.json()
    assert error["code"] == "precondition_failed"
    assert error["detail"]
    assert error["current"] == alice_api.get(url(alice, task)).json()
    assert error["current"]["version"] == 2
    assert answer["ETag"] == '"2"'
    assert Task.objects.get(pk=task.pk).title == "Shared"
    assert version_of(task) == 2


@pytest.mark.parametrize("header", ['"2"', '"1", "2"', "*"])
def test_a_matching_if_match_writes(alice_api, alice: User, header: str) -> None:
    task = create_task(owner=alice, title="Shared")
    alice_api.patch(url(alice, task), {"description": "v2"}, format="json")

    answer = alice_api.patch(url(alice, task), {"title": "v3"}, format="json", HTTP_IF_MATCH=header)

    assert answer.status_code == 200
    assert answer.json()["version"] == 3


@pytest.mark.parametrize("header", ['W/"1"', "1", '"one"', '""', "garbage, more"])
def test_an_if_match_that_names_no_version_strongly_is_412(alice_api, alice: User, header: str) -> None:
    task = create_task(owner=alice, title="Shared")

    answer = alice_api.delete(url(alice, task), HTTP_IF_MATCH=header)

    assert answer.status_code == 412
    assert Task.objects.filter(pk=task.pk).exists()


def test_if_match_on_another_users_task_is_404_not_412(bob_api, bob: User, alice: User) -> None:
    task = create_task(owner=alice, title="Alice's")

    for header in ('"1"', '"2"', "*"):
        answer = bob_api.delete(url(bob, task), HTTP_IF_MATCH=header)
        assert answer.status_code == 404
        assert "current" not in answer.json()
    assert (
        bob_api.patch(url(alice, task), {"title": "x"}, format="json", HTTP_IF_MATCH='"1"').status_code == 403
    )
    assert Task.objects.get(pk=task.pk).title == "Alice's"


def test_if_match_on_a_missing_task_is_404(alice_api, alice: User) -> None:
    assert alice_api.delete(url(alice, 999_999), HTTP_IF_MATCH='"1"').status_code == 404


def _json(body: dict | None) -> dict:
    if body is None:
        return {}
    return {"data": json.dumps(body), "content_type": "application/json"}


# --- the event loop's path -----------------------------------------------------


@pytest.fixture
def server(shared_server) -> ServerProcess:
    return shared_server()


@pytest.mark.django_db(transaction=True)
def test_the_event_loops_answers_carry_the_etag(server: ServerProcess, alice: User) -> None:
    headers = auth_headers(alice)
    with httpx.Client(base_url=server.url, headers=headers) as client:
        created = client.post(f"/api/{alice.pk}/tasks", json={"title": "Fast"})
        task_id = created.json()["id"]
        fetched = client.get(f"/api/{alice.pk}/tasks/{task_id}")
        toggled = client.patch(f"/api/{alice.pk}/tasks/{task_id}/complete")
        not_modified = client.get(f"/api/{alice.pk}/tasks/{task_id}", headers={"If-None-Match": '"2"'})
        stale = client.patch(f"/api/{alice.pk}/tasks/{task_id}/complete", headers={"If-Match": '"1"'})

    assert (created.status_code, created.headers["etag"], created.json()["version"]) == (201, '"1"', 1)
    assert (fetched.headers["etag"], fetched.json()["version"]) == ('"1"', 1)
    assert (toggled.headers["etag"], toggled.json()["version"]) == ('"2"', 2)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert stale.status_code == 412
    assert stale.json()["current"]["completed"] is True
    assert Task.objects.get(pk=task_id).completed is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("suffix", ["", "/complete"])
def test_of_20_writers_racing_from_the_same_version_exactly_one_wins(
    server: ServerProcess, alice: User, suffix: str
) -> None:
    task = create_task(owner=alice, title="Contended")
    start = threading.Barrier(20)
    statuses: list[int] = []

    def write(n: int) -> None:
        with httpx.Client(base_url=server.url, headers=auth_headers(alice), timeout=30) as client:
            start.wait()
            answer = client.patch(
                url(alice, task, suffix), json={"title": f"Writer {n}"} if not suffix else None,
                headers={"If-Match": '"1"'},
            )  # fmt: skip
            statuses.append(answer.status_code)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(20)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    assert sorted(statuses) == [200] + [412] * 19
    assert version_of(task) == 2


def test_services_check_the_version_under_the_row_lock(alice: User) -> None:
    task = create_task(owner=alice, title="Direct")

    with pytest.raises(services.PreconditionFailed) as refused:
        services.update_task(owner=alice, task_id=task.pk, changes={"title": "x"}, versions={2})

    assert refused.value.extra_body["current"]["title"] == "Direct"
    assert services.delete_task(owner=alice, task_id=task.pk, versions={1}).pk == task.pk
