"""The task list over HTTP: alice manages her tasks; bob can reach none of them."""

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from accounts.models import User
from tasks.models import Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db


def tasks_url(user: User) -> str:
    return f"/api/{user.pk}/tasks"


def task_url(user: User, task_id: int) -> str:
    return f"/api/{user.pk}/tasks/{task_id}"


@pytest.fixture
def alices_task(alice: User) -> Task:
    return create_task(owner=alice, title="Buy groceries", description="milk, eggs", tags=["home"])


# --- create ---------------------------------------------------------------------


def test_alice_creates_a_task_with_defaults(alice_api, alice: User) -> None:
    response = alice_api.post(tasks_url(alice), {"title": "  Buy groceries  "}, format="json")

    assert response.status_code == 201
    body = response.json()
    task = Task.objects.get(pk=body["id"])
    assert response["Location"] == f"/api/{alice.pk}/tasks/{task.pk}"
    assert body == {
        "id": task.pk,
        "user_id": str(alice.pk),
        "title": "Buy groceries",
        "description": None,
        "completed": False,
        "priority": "medium",
        "tags": [],
        "due_date": None,
        "recurrence": None,
        "remind_at": None,
        "time_zone": None,
        "repeat_from": "due",
        "next_task_id": None,
        "version": 1,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert response["ETag"] == '"1"'
    assert body["created_at"].endswith("Z")
    assert datetime.fromisoformat(body["created_at"]) == task.created_at
    assert task.owner == alice


def test_alice_creates_a_task_with_every_field(alice_api, alice: User) -> None:
    body = {
        "title": "File taxes",
        "description": "Before the deadline",
        "priority": "high",
        "tags": ["admin", "money", "admin"],
        "due_date": "2026-12-01T09:30:00+02:00",
        "completed": True,
    }

    response = alice_api.post(tasks_url(alice), body, format="json")

    assert response.status_code == 201
    created = response.json()
    assert created["priority"] == "high"
    assert created["tags"] == ["admin", "money"]
    assert created["due_date"] == "2026-12-01T07:30:00.000000Z"
    assert created["completed"] is True
    assert created["description"] == "Before the deadline"


def test_read_only_fields_in_the_body_are_ignored(alice_api, alice: User, bob: User) -> None:
    body = {"title": "Mine", "id": 999999, "user_id": str(bob.pk), "created_at": "2000-01-01T00:00:00Z"}

    response = alice_api.post(tasks_url(alice), body, format="json")

    assert response.status_code == 201
    task = Task.objects.get(pk=response.json()["id"])
    assert task.owner == alice
    assert task.pk != 999999
    assert task.created_at.year >= 2026


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "nul\x00byte"}, "title"),
        ({"title": 42}, "title"),
        ({"title": None}, "title"),
        ({"title": "ok", "description": "d" * 1001}, "description"),
        ({"title": "ok", "description": "nul\x00"}, "description"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "tags": "home"}, "tags"),
        ({"title": "ok", "tags": [""]}, "tags"),
        ({"title": "ok", "tags": ["t" * 51]}, "tags"),
        ({"title": "ok", "tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"title": "ok", "tags": [1]}, "tags"),
        ({"title": "ok", "due_date": "next tuesday"}, "due_date"),
        ({"title": "ok", "completed": "yes"}, "completed"),
    ],
)
def test_bad_task_input_is_400_naming_the_field(alice_api, alice: User, body: dict, field: str) -> None:
    response = alice_api.post(tasks_url(alice), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["errors"]
    assert not Task.objects.exists()


def test_a_body_that_is_not_an_object_is_400(alice_api, alice: User) -> None:
    response = alice_api.post(tasks_url(alice), ["Buy milk"], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_malformed_json_is_400_parse_error(alice_api, alice: User) -> None:
    response = alice_api.post(tasks_url(alice), '{"title": "x"', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


# --- read -------------------------------------------------------------------------


def test_alice_reads_her_task(alice_api, alice: User, alices_task: Task) -> None:
    response = alice_api.get(task_url(alice, alices_task.pk))

    assert response.status_code == 200
    assert response.json()["title"] == "Buy groceries"
    assert response.json()["tags"] == ["home"]


@pytest.mark.parametrize("task_id", ["999999999", "99999999999999999999999"])
def test_a_missing_task_is_404(alice_api, alice: User, task_id: str) -> None:
    response = alice_api.get(f"{tasks_url(alice)}/{task_id}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found", "code": "not_found"}


def test_a_non_integer_task_id_is_404(alice_api, alice: User) -> None:
    response = alice_api.get(f"{tasks_url(alice)}/abc")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- update -----------------------------------------------------------------------


def test_a_partial_put_keeps_the_fields_left_out(alice_api, alice: User, alices_task: Task) -> None:
    before = alices_task.updated_at

    response = alice_api.put(
        task_url(alice, alices_task.pk), {"title": "Buy bread", "completed": True}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Buy bread"
    assert body["completed"] is True
    assert body["description"] == "milk, eggs"
    assert body["tags"] == ["home"]
    alices_task.refresh_from_db()
    assert alices_task.updated_at > before


def test_patch_updates_only_the_given_fields(alice_api, alice: User, alices_task: Task) -> None:
    due = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)

    response = alice_api.patch(
        task_url(alice, alices_task.pk),
        {"priority": "high", "due_date": due.isoformat(), "description": None, "tags": []},
        format="json",
    )

    assert response.status_code == 200
    alices_task.refresh_from_db()
    assert alices_task.title == "Buy groceries"
    assert alices_task.priority == "high"
    assert alices_task.due_date == due
    assert alices_task.description is None
    assert alices_task.tags == []


@pytest.mark.parametrize(
    "body", [{"title": ""}, {"title": "x" * 201}, {"priority": "soon"}, {"completed": 1}]
)
def test_a_bad_update_is_400_and_changes_nothing(
    alice_api, alice: User, alices_task: Task, body: dict
) -> None:
    response = alice_api.put(task_url(alice, alices_task.pk), body, format="json")

    assert response.status_code == 400
    alices_task.refresh_from_db()
    assert alices_task.title == "Buy groceries"
    assert alices_task.priority == "medium"
    assert alices_task.completed is False


# --- complete ----------------------------------------------------------------------


def test_complete_without_a_body_toggles(alice_api, alice: User, alices_task: Task) -> None:
    url = f"{task_url(alice, alices_task.pk)}/complete"

    first = alice_api.patch(url)
    second = alice_api.patch(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["completed"] is True
    assert second.json()["completed"] is False


def test_complete_with_a_body_sets(alice_api, alice: User, alices_task: Task) -> None:
    url = f"{task_url(alice, alices_task.pk)}/complete"

    first = alice_api.patch(url, {"completed": True}, format="json")
    again = alice_api.patch(url, {"completed": True}, format="json")
    undone = alice_api.patch(url, {"completed": False}, format="json")

    assert [r.json()["completed"] for r in (first, again, undone)] == [True, True, False]


@pytest.mark.parametrize("body", [{"completed": "yes"}, {"completed": None}, [True]])
def test_complete_with_a_bad_body_is_400(alice_api, alice: User, alices_task: Task, body) -> None:
    response = alice_api.patch(f"{task_url(alice, alices_task.pk)}/complete", body, format="json")

    assert response.status_code == 400
    alices_task.refresh_from_db()
    assert alices_task.completed is False


def test_complete_with_a_json_null_body_is_400(alice_api, alice: User, alices_task: Task) -> None:
    url = f"{task_url(alice, alices_task.pk)}/complete"

    response = alice_api.patch(url, data="null", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    alices_task.refresh_from_db()
    assert alices_task.completed is False


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
        "1900-01-01T00:59:59+01:00",  # 1899 in UTC
        "3000-01-01T00:00:00Z",
        "2999-12-31T23:00:00-01:00",  # 3000 in UTC
        "9999-12-31T23:59:59Z",
    ],
)
@pytest.mark.parametrize("field", ["due_date", "remind_at"])
def test_dates_before_1900_or_after_2999_are_400(alice_api, alice: User, field: str, moment: str) -> None:
    created = alice_api.post(tasks_url(alice), {"title": "Old", field: moment}, format="json")
    task = Task.objects.create(owner=alice, title="Kept")
    changed = alice_api.patch(task_url(alice, task.pk), {field: moment}, format="json")

    assert (created.status_code, changed.status_code) == (400, 400)
    assert created.json()["errors"][field] == ["Use a date from 1900-01-01 to 2999-12-31 (UTC)."]
    assert list(Task.objects.filter(owner=alice).values_list("title", field)) == [("Kept", None)]


@pytest.mark.parametrize(
    "moment", ["1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z", "2999-12-31T23:59:59+00:00"]
)
def test_dates_at_the_bounds_are_kept(alice_api, alice: User, moment: str) -> None:
    created = alice_api.post(tasks_url(alice), {"title": "Edge", "due_date": moment}, format="json")

    assert created.status_code == 201
    assert created.json()["due_date"] == moment[:19] + ".000000Z"


def test_a_reminder_at_most_ten_years_ahead(alice_api, alice: User) -> None:
    now = datetime.now(UTC)
    in_ten_years = (now + relativedelta(years=10) - timedelta(minutes=1)).isoformat()
    past_ten_years = (now + relativedelta(years=10, minutes=1)).isoformat()

    accepted = alice_api.post(tasks_url(alice), {"title": "Far", "remind_at": in_ten_years}, format="json")
    refused = alice_api.post(tasks_url(alice), {"title": "Far", "remind_at": past_ten_years}, format="json")

    assert (accepted.status_code, refused.status_code) == (201, 400)
    assert refused.json()["errors"]["remind_at"] == ["A reminder can be at most 10 years ahead."]


@pytest.mark.parametrize("year", [1900, 2026, 2999])
def test_every_year_comes_back_as_iso_8601_from_every_route(alice_api, alice: User, year: int) -> None:
    due = f"{year:04d}-10-27T21:52:06Z"
    expected = f"{year:04d}-10-27T21:52:06.000000Z"

    created = alice_api.post(tasks_url(alice), {"title": "Old", "due_date": due}, format="json").json()
    url = task_url(alice, created["id"])

    assert created["due_date"] == expected
    assert alice_api.get(url).json()["due_date"] == expected
    assert alice_api.patch(url, {"title": "Older"}, format="json").json()["due_date"] == expected
    assert alice_api.patch(f"{url}/complete").json()["due_date"] == expected
    assert alice_api.get(tasks_url(alice)).json()[0]["due_date"] == expected
    datetime.fromisoformat(expected)


# --- delete ------------------------------------------------------------------------


def test_alice_deletes_her_task(alice_api, alice: User, alices_task: Task) -> None:
    response = alice_api.delete(task_url(alice, alices_task.pk))

    assert response.status_code == 204
    assert response.content == b""
    assert not Task.objects.filter(pk=alices_task.pk).exists()
    assert alice_api.delete(task_url(alice, alices_task.pk)).status_code == 404


def test_a_wrong_method_is_405(alice_api, alice: User, alices_task: Task) -> None:
    assert alice_api.put(tasks_url(alice), {"title": "x"}, format="json").status_code == 405
    assert alice_api.post(task_url(alice, alices_task.pk), {"title": "x"}, format="json").status_code == 405


def test_every_route_answers_under_api_v1(alice_api, alice: User, alices_task: Task) -> None:
    created = alice_api.post(f"/api/v1/{alice.pk}/tasks", {"title": "Versioned"}, format="json")

    assert created.status_code == 201
    assert created["Location"].startswith(f"/api/v1/{alice.pk}/tasks/")
    assert alice_api.get(f"/api/v1/{alice.pk}/tasks").status_code == 200
    assert alice_api.get(f"/api/v1/{alice.pk}/tasks/{alices_task.pk}").status_code == 200
    assert alice_api.patch(f"/api/v1/{alice.pk}/tasks/{alices_task.pk}/complete").status_code == 200
    assert alice_api.delete(f"/api/v1/{alice.pk}/tasks/{alices_task.pk}").status_code == 204


def test_deleting_a_user_deletes_their_tasks(alice: User, alices_task: Task) -> None:
    alice.delete()

    assert not Task.objects.exists()


def test_text_that_is_not_unicode_is_400_not_a_server_error(alice_api, alice: User) -> None:
    response = alice_api.post(
        tasks_url(alice), '{"title": "bad \\ud800 text"}', content_type="application/json"
    )

    assert response.status_code == 400
    assert "title" in response.json()["errors"]
    assert not Task.objects.exists()
