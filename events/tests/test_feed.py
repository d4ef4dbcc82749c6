"""The change feed (GET .../changes), task history and tickets, through the
REST stack on PostgreSQL: every change kind from every source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from chat.tools import run_tool
from conftest import client_for
from events.models import Change, ChangeSource, EventTicket
from events.pruning import prune_changes
from tasks import services
from tasks.models import Task
from tasks.reminders import fire_reminder

pytestmark = pytest.mark.django_db


def run_mcp_tool(user: User, name: str, arguments: dict[str, Any]) -> Any:
    """A tool as the MCP server runs it (chat/mcp_server.py says the source)."""
    return run_tool(User.objects.get(pk=user), name, arguments, source=ChangeSource.MCP)


def changes(api: APIClient, user: User, since: str | None = "c0", **query: Any) -> dict[str, Any]:
    params = {"since": since, **query} if since is not None else query
    response = api.get(f"/api/{user.pk}/changes", params)
    assert response.status_code == 200, response.content
    return response.json()


def kinds(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(change["type"], change["source"]) for change in page["changes"]]


# Each request its own transaction, as in production: the source a
# transaction names ends with it.
@pytest.mark.django_db(transaction=True)
def test_every_kind_of_change_from_every_source_is_on_the_feed(
    alice: User, alice_api: APIClient, client
) -> None:
    created = alice_api.post(f"/api/{alice.pk}/tasks", {"title": "Buy milk"}, format="json").json()
    alice_api.patch(f"/api/{alice.pk}/tasks/{created['id']}", {"priority": "high"}, format="json")
    alice_api.post(f"/api/{alice.pk}/chat", {"message": "Add a task to buy bread"}, format="json")
    run_mcp_tool(alice.pk, "complete_task", {"task_id": created["id"]})
    due = timezone.now() + timedelta(days=1)
    reminded = services.create_task(owner=alice, title="Call mom", due_date=due, remind_at=due)
    notification = fire_reminder(reminded.pk, reminded.remind_at)
    alice_api.post(f"/api/{alice.pk}/notifications/{notification.pk}/read")
    client.force_login(User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1"))
    admin_edit = client.post(
        f"/admin/tasks/task/{reminded.pk}/change/",
        {
            "owner": alice.pk, "title": "Call mom tonight", "priority": "medium", "tags": "",
            "time_zone": "UTC", "repeat_from": "due", "due_date_0": "2030-01-01", "due_date_1": "09:00:00",
        },
    )  # fmt: skip
    alice_api.delete(f"/api/{alice.pk}/tasks/{created['id']}")

    page = changes(alice_api, alice)

    assert admin_edit.status_code == 302
    assert kinds(page) == [
        ("task.created", "api"),
        ("task.updated", "api"),
        ("task.created", "assistant"),
        ("task.updated", "mcp"),
        ("task.created", "api"),
        ("notification.created", "worker"),
        ("notification.updated", "api"),
        ("task.updated", "admin"),
        ("task.deleted", "api"),
    ]
    assert [change["cursor"] for change in page["changes"]] == [f"c{n}" for n in range(1, 10)]
    first, *_, deleted = page["changes"]
    assert first["task"] == created
    assert deleted["task"] == {"id": created["id"]}
    assert page["changes"][5]["notification"]["message"] == "Reminder: Call mom"
    assert page["changes"][6]["notification"]["read_at"] is not None
    assert page["changes"][7]["task"]["title"] == "Call mom tonight"
    assert (page["cursor"], page["has_more"]) == ("c9", False)


def test_a_change_carries_the_body_the_api_answers(alice: User, alice_api: APIClient) -> None:
    task = alice_api.post(
        f"/api/{alice.pk}/tasks",
        {"title": "Plants", "tags": ["home"], "due_date": "2031-03-04T05:06:07Z", "recurrence": "weekly"},
        format="json",
    ).json()
    updated = alice_api.put(
        f"/api/{alice.pk}/tasks/{task['id']}", {"description": "the big ones"}, format="json"
    ).json()

    first, second = changes(alice_api, alice)["changes"]

    assert first["task"] == task
    assert second["task"] == updated
    assert first["at"].endswith("Z")


def test_completing_a_recurring_task_is_one_update_and_its_next_occurrence(
    alice: User, alice_api: APIClient
) -> None:
    task = alice_api.post(
        f"/api/{alice.pk}/tasks",
        {"title": "Stretch", "due_date": "2031-03-04T07:00:00Z", "recurrence": "daily"},
        format="json",
    ).json()
    cursor = changes(alice_api, alice)["cursor"]

    completed = alice_api.patch(f"/api/{alice.pk}/tasks/{task['id']}/complete").json()
    page = changes(alice_api, alice, since=cursor)

    assert kinds(page) == [("task.created", "api"), ("task.updated", "api")]
    following, update = page["changes"]
    assert following["task"]["id"] == completed["next_task_id"]
    assert update["task"] == completed


def test_a_cascade_is_recorded_with_the_change_that_caused_it(alice: User, alice_api: APIClient) -> None:
    task = alice_api.post(
        f"/api/{alice.pk}/tasks",
        {"title": "Stretch", "due_date": "2031-03-04T07:00:00Z", "recurrence": "daily"},
        format="json",
    ).json()
    following_id = alice_api.patch(f"/api/{alice.pk}/tasks/{task['id']}/complete").json()["next_task_id"]
    cursor = changes(alice_api, alice)["cursor"]

    run_mcp_tool(alice.pk, "delete_task", {"task_id": following_id})
    page = changes(alice_api, alice, since=cursor)

    # The completed task no longer names a next occurrence: a change of its own.
    assert kinds(page) == [("task.updated", "mcp"), ("task.deleted", "mcp")]
    assert page["changes"][0]["task"]["next_task_id"] is None


@pytest.mark.django_db(transaction=True)
def test_a_task_given_to_another_user_leaves_one_feed_and_joins_the_other(
    alice: User, bob: User, alice_api: APIClient, bob_api: APIClient, client
) -> None:
    task = services.create_task(owner=alice, title="Shared chores")
    client.force_login(User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1"))

    moved = client.post(
        f"/admin/tasks/task/{task.pk}/change/",
        {
            "owner": bob.pk,
            "title": "Shared chores",
            "priority": "medium",
            "tags": "",
            "time_zone": "UTC",
            "repeat_from": "due",
        },
    )

    assert moved.status_code == 302
    assert kinds(changes(alice_api, alice)) == [("task.created", "api"), ("task.deleted", "admin")]
    bob_changes = changes(bob_api, bob)["changes"]
    assert [(c["type"], c["source"], c["task"]["user_id"]) for c in bob_changes] == [
        ("task.created", "admin", bob.pk)
    ]


@pytest.mark.django_db(transaction=True)
def test_the_admins_bulk_delete_is_recorded_for_each_owner(alice: User, bob: User, client) -> None:
    for owner in (alice, bob, alice):
        services.create_task(owner=owner, title="Old")
    client.force_login(User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1"))

    deleted = client.post(
        "/admin/tasks/task/",
        {
            "action": "delete_selected",
            "post": "yes",
            "_selected_action": list(Task.objects.values_list("pk", flat=True)),
        },
    )

    assert deleted.status_code == 302
    assert not Task.objects.exists()
    recorded = Change.objects.filter(type="task.deleted").values_list("owner_id", "source")
    assert sorted(recorded) == sorted([(alice.pk, "admin"), (alice.pk, "admin"), (bob.pk, "admin")])


def test_the_feed_pages_and_starts_from_now_without_a_cursor(alice: User, alice_api: APIClient) -> None:
    for n in range(5):
        services.create_task(owner=alice, title=f"Task {n}")

    start = changes(alice_api, alice, since=None)
    first = changes(alice_api, alice, limit=2)
    second = changes(alice_api, alice, since=first["cursor"], limit=2)
    third = changes(alice_api, alice, since=second["cursor"], limit=2)
    services.create_task(owner=alice, title="After the start")
    after_start = changes(alice_api, alice, since=start["cursor"])

    assert (start["changes"], start["has_more"]) == ([], False)
    assert [c["task"]["title"] for c in first["changes"] + second["changes"] + third["changes"]] == [
        f"Task {n}" for n in range(5)
    ]
    assert (first["has_more"], second["has_more"], third["has_more"]) == (True, True, False)
    assert third["cursor"] == start["cursor"]
    assert [c["task"]["title"] for c in after_start["changes"]] == ["After the start"]


@pytest.mark.parametrize("since", ["", "0", "c", "c-1", "c01", "abc", "c" + "9" * 19, "c1\x00"])
def test_a_malformed_cursor_is_a_parse_error(alice: User, alice_api: APIClient, since: str) -> None:
    response = alice_api.get(f"/api/{alice.pk}/changes", {"since": since})

    assert response.status_code == 400
    assert response.json()["code"] in ("parse_error", "validation_error")


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 1001}, {"limit": "x"}])
def test_a_bad_limit_is_a_validation_error(alice: User, alice_api: APIClient, query: dict) -> None:
    response = alice_api.get(f"/api/{alice.pk}/changes", query)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_a_cursor_before_the_kept_changes_has_expired(alice: User, alice_api: APIClient, settings) -> None:
    for n in range(3):
        services.create_task(owner=alice, title=f"Task {n}")
    cursor = changes(alice_api, alice, limit=1)["cursor"]  # c1
    Change.objects.filter(seq=3).update(at=timezone.now() - timedelta(days=1))
    Change.objects.filter(seq__lte=2).update(at=timezone.now() - timedelta(days=40))

    pruned = prune_changes()
    expired = alice_api.get(f"/api/{alice.pk}/changes", {"since": cursor})
    kept = changes(alice_api, alice, since="c2")
    from_the_future = alice_api.get(f"/api/{alice.pk}/changes", {"since": "c99"})

    assert pruned == 2
    assert expired.status_code == 410
    assert expired.json()["code"] == "cursor_expired"
    assert [c["cursor"] for c in kept["changes"]] == ["c3"]
    assert from_the_future.status_code == 410


def test_pruning_keeps_every_change_after_an_old_one_that_remains(alice: User) -> None:
    for n in range(4):
        services.create_task(owner=alice, title=f"Task {n}")
    # A clock that went back: change 3 looks older than change 2.
    Change.objects.filter(seq=3).update(at=timezone.now() - timedelta(days=40))

    prune_changes()

    assert list(Change.objects.order_by("seq").values_list("seq", flat=True)) == [4]


def test_another_users_feed_history_and_ticket_are_refused(
    alice: User, bob: User, bob_api: APIClient
) -> None:
    task = services.create_task(owner=alice, title="Private")

    answers = [
        bob_api.get(f"/api/{alice.pk}/changes", {"since": "c0"}),
        bob_api.get(f"/api/{alice.pk}/tasks/{task.pk}/history"),
        bob_api.post(f"/api/{alice.pk}/events/ticket"),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert {answer.json()["code"] for answer in answers} == {"permission_denied"}
    assert not EventTicket.objects.exists()


def test_the_feed_needs_a_token(alice: User) -> None:
    anonymous = APIClient().get(f"/api/{alice.pk}/changes")

    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"


def test_history_lists_a_tasks_changes_newest_first(alice: User, bob: User, alice_api: APIClient) -> None:
    task = alice_api.post(f"/api/{alice.pk}/tasks", {"title": "Draft"}, format="json").json()
    services.create_task(owner=alice, title="Other")
    alice_api.patch(f"/api/{alice.pk}/tasks/{task['id']}", {"title": "Final"}, format="json")
    run_mcp_tool(alice.pk, "complete_task", {"task_id": task["id"]})

    history = alice_api.get(f"/api/{alice.pk}/tasks/{task['id']}/history")
    page = alice_api.get(f"/api/{alice.pk}/tasks/{task['id']}/history", {"limit": 1, "offset": 1})
    bobs = client_for(bob).get(f"/api/{bob.pk}/tasks/{task['id']}/history")
    alice_api.delete(f"/api/{alice.pk}/tasks/{task['id']}")
    after_delete = alice_api.get(f"/api/{alice.pk}/tasks/{task['id']}/history")

    assert history.status_code == 200
    assert history["X-Total-Count"] == "3"
    entries = history.json()
    assert [(e["type"], e["source"]) for e in entries] == [
        ("task.updated", "mcp"),
        ("task.updated", "api"),
        ("task.created", "api"),
    ]
    assert entries[0]["changed"]["completed"] == {"from": False, "to": True}
    assert entries[1]["changed"]["title"] == {"from": "Draft", "to": "Final"}
    assert entries[2]["changed"]["title"] == {"from": None, "to": "Draft"}
    assert set(entries[2]["changed"]) >= {"title", "description", "completed", "priority", "tags"}
    assert [e["cursor"] for e in page.json()] == [entries[1]["cursor"]]
    assert (bobs.status_code, bobs.json()["code"]) == (404, "not_found")
    assert (after_delete.status_code, after_delete.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize("task_id", ["0", "99999999999999999999"])
def test_history_of_no_such_task_is_not_found(alice: User, alice_api: APIClient, task_id: str) -> None:
    response = alice_api.get(f"/api/{alice.pk}/tasks/{task_id}/history")

    assert response.status_code == 404


def test_a_ticket_is_issued_for_a_minute_and_kept_as_a_digest(alice: User, alice_api: APIClient) -> None:
    response = alice_api.post(f"/api/v1/{alice.pk}/events/ticket")

    assert response.status_code == 201
    body = response.json()
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(seconds=55) < expires_at - datetime.now(UTC) <= timedelta(seconds=60)
    stored = EventTicket.objects.get()
    assert body["ticket"] not in stored.digest
    assert stored.owner_id == alice.pk


def test_the_trigger_writes_the_body_the_list_writes(alice: User) -> None:
    task = services.create_task(
        owner=alice, title="Same", tags=["a"], due_date=datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT change_task_body(tasks), {services.TASK_JSON_SQL} FROM tasks WHERE id = %s",  # noqa: S608
            [task.pk],
        )
        from_trigger, from_list = cursor.fetchone()

    assert from_trigger == from_list


def test_a_deleted_user_takes_its_changes_along(alice: User, bob: User) -> None:
    services.create_task(owner=alice, title="Gone soon")
    services.create_task(owner=bob, title="Stays")

    alice.delete()

    assert list(Change.objects.values_list("owner_id", flat=True)) == [bob.pk]


def test_openapi_documents_the_feed_the_stream_the_ticket_and_history(api) -> None:
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]

    stream = paths["/api/{user_id}/events"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert {p["name"] for p in stream["parameters"]} >= {"since", "ticket", "Last-Event-ID"}
    assert set(paths["/api/{user_id}/changes"]["get"]["responses"]) >= {"200", "400", "401", "403", "410"}
    assert "201" in paths["/api/{user_id}/events/ticket"]["post"]["responses"]
    assert "X-Total-Count" in paths["/api/{user_id}/tasks/{id}/history"]["get"]["responses"]["200"]["headers"]
