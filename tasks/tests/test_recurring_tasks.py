"""Recurring tasks over the API: completing one, by any route, makes the next
occurrence once; the series ends at COUNT or UNTIL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import User
from chat.tools import run_tool
from conftest import auth_headers
from tasks.models import Task
from tasks.tests.test_concurrency import parallel

pytestmark = pytest.mark.django_db

MONDAY_8 = "2031-11-24T08:00:00+01:00"  # Berlin


def tasks_url(user: User) -> str:
    return f"/api/{user.pk}/tasks"


def create(api, user: User, **fields) -> dict:
    response = api.post(tasks_url(user), fields, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def weekly(api, user: User, **fields) -> dict:
    return create(
        api,
        user,
        title="Water the plants",
        description="The ones on the balcony",
        priority="high",
        tags=["home", "plants"],
        due_date=MONDAY_8,
        recurrence="FREQ=WEEKLY;BYDAY=MO",
        remind_at="2031-11-24T07:45:00+01:00",
        time_zone="Europe/Berlin",
        **fields,
    )


def test_a_recurring_task_carries_its_rule_and_reminder(alice_api, alice: User) -> None:
    body = weekly(alice_api, alice)

    assert body["recurrence"] == "FREQ=WEEKLY;BYDAY=MO"
    assert body["due_date"] == "2031-11-24T07:00:00.000000Z"
    assert body["remind_at"] == "2031-11-24T06:45:00.000000Z"
    assert body["next_task_id"] is None
    assert body["time_zone"] == "Europe/Berlin"
    assert body["repeat_from"] == "due"
    assert alice_api.get(f"{tasks_url(alice)}/{body['id']}").json() == body
    assert alice_api.get(tasks_url(alice)).json() == [body]


@pytest.mark.parametrize(
    ("shorthand", "rule"), [("daily", "FREQ=DAILY"), ("weekly", "FREQ=WEEKLY"), ("Monthly", "FREQ=MONTHLY")]
)
def test_shorthands_are_stored_as_rrules(alice_api, alice: User, shorthand: str, rule: str) -> None:
    body = create(alice_api, alice, title="T", due_date=MONDAY_8, recurrence=shorthand)
    assert body["recurrence"] == rule


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"recurrence": "weekly"}, "recurrence"),  # no due_date
        ({"recurrence": "weekly", "due_date": None}, "recurrence"),
        ({"recurrence": "FREQ=HOURLY", "due_date": MONDAY_8}, "recurrence"),
        ({"recurrence": "every monday", "due_date": MONDAY_8}, "recurrence"),
        ({"recurrence": 7, "due_date": MONDAY_8}, "recurrence"),
        ({"recurrence": "x" * 201, "due_date": MONDAY_8}, "recurrence"),
        ({"remind_at": "at eight"}, "remind_at"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": 1}, "time_zone"),
    ],
)
def test_bad_schedules_are_400_and_store_nothing(alice_api, alice: User, fields: dict, field: str) -> None:
    response = alice_api.post(tasks_url(alice), {"title": "T", **fields}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["errors"]
    assert body["detail"].startswith(f"{field}: ")
    assert not Task.objects.exists()


def test_an_empty_recurrence_means_none(alice_api, alice: User) -> None:
    assert create(alice_api, alice, title="T", recurrence="")["recurrence"] is None


def test_a_recurring_task_keeps_needing_its_due_date(alice_api, alice: User) -> None:
    body = weekly(alice_api, alice)
    url = f"{tasks_url(alice)}/{body['id']}"

    response = alice_api.patch(url, {"due_date": None}, format="json")

    assert response.status_code == 400
    assert "recurrence" in response.json()["errors"]
    # Without the rule, the due date may go.
    assert alice_api.patch(url, {"due_date": None, "recurrence": None}, format="json").status_code == 200


def complete_by(route: str, api, user: User, task_id: int) -> None:
    url = f"{tasks_url(user)}/{task_id}"
    if route == "toggle":
        response = api.patch(f"{url}/complete")
    elif route == "complete_body":
        response = api.patch(f"{url}/complete", {"completed": True}, format="json")
    elif route == "put":
        response = api.put(url, {"completed": True}, format="json")
    elif route == "patch":
        response = api.patch(url, {"completed": True}, format="json")
    else:
        result = run_tool(user, "complete_task", {"task_id": task_id})
        assert result["status"] == "completed", result
        return
    assert response.status_code == 200, response.json()
    assert response.json()["completed"] is True


@pytest.mark.parametrize("route", ["toggle", "complete_body", "put", "patch", "chat_tool"])
def test_completing_makes_the_next_occurrence(alice_api, alice: User, route: str) -> None:
    first = weekly(alice_api, alice)

    complete_by(route, alice_api, alice, first["id"])

    completed = alice_api.get(f"{tasks_url(alice)}/{first['id']}").json()
    assert completed["completed"] is True
    following = alice_api.get(f"{tasks_url(alice)}/{completed['next_task_id']}").json()
    assert following == {
        **following,
        "title": "Water the plants",
        "description": "The ones on the balcony",
        "priority": "high",
        "tags": ["home", "plants"],
        "completed": False,
        "recurrence": "FREQ=WEEKLY;BYDAY=MO",
        "due_date": "2031-12-01T07:00:00.000000Z",  # next Monday, 08:00 in Berlin
        "remind_at": "2031-12-01T06:45:00.000000Z",  # 15 minutes before, as before
        "time_zone": "Europe/Berlin",
        "repeat_from": "due",
        "next_task_id": None,
    }
    assert Task.objects.count() == 2


def test_complete_reopen_complete_makes_one_next_occurrence(alice_api, alice: User) -> None:
    first = weekly(alice_api, alice)
    url = f"{tasks_url(alice)}/{first['id']}/complete"

    next_ids = set()
    for completed in (True, False, True, False, True):
        body = alice_api.patch(url, {"completed": completed}, format="json").json()
        next_ids.add(body["next_task_id"])
    body = alice_api.put(f"{tasks_url(alice)}/{first['id']}", {"completed": True}, format="json").json()
    next_ids.add(body["next_task_id"])

    assert len(next_ids) == 1
    assert None not in next_ids
    assert Task.objects.count() == 2


def test_the_series_follows_the_rule_across_daylight_saving(alice_api, alice: User) -> None:
    # 08:00 in Berlin every Monday, from before the change of 30 March 2031 to after it.
    task = create(
        alice_api,
        alice,
        title="Stand-up",
        due_date="2031-03-24T08:00:00+01:00",
        recurrence="FREQ=WEEKLY;BYDAY=MO",
        time_zone="Europe/Berlin",
    )
    body = alice_api.patch(f"{tasks_url(alice)}/{task['id']}/complete").json()
    following = alice_api.get(f"{tasks_url(alice)}/{body['next_task_id']}").json()
    assert following["due_date"] == "2031-03-31T06:00:00.000000Z"  # 08:00 summer time


def test_the_series_ends_at_count(alice_api, alice: User) -> None:
    task = create(
        alice_api, alice, title="Pills", due_date="2031-11-25T09:00:00Z", recurrence="FREQ=DAILY;COUNT=3"
    )
    dues = [task["due_date"]]
    for _ in range(3):
        body = alice_api.patch(f"{tasks_url(alice)}/{task['id']}/complete").json()
        if body["next_task_id"] is None:
            break
        task = alice_api.get(f"{tasks_url(alice)}/{body['next_task_id']}").json()
        dues.append(task["due_date"])

    assert dues == [
        "2031-11-25T09:00:00.000000Z",
        "2031-11-26T09:00:00.000000Z",
        "2031-11-27T09:00:00.000000Z",
    ]
    assert Task.objects.count() == 3
    assert Task.objects.filter(completed=False).count() == 0


def test_the_series_ends_at_until(alice_api, alice: User) -> None:
    task = create(
        alice_api,
        alice,
        title="Sprint",
        due_date="2031-11-25T09:00:00Z",
        recurrence="FREQ=WEEKLY;UNTIL=20311204",
    )
    body = alice_api.patch(f"{tasks_url(alice)}/{task['id']}/complete").json()
    second = alice_api.get(f"{tasks_url(alice)}/{body['next_task_id']}").json()
    assert second["due_date"] == "2031-12-02T09:00:00.000000Z"

    body = alice_api.patch(f"{tasks_url(alice)}/{second['id']}/complete").json()
    assert body["next_task_id"] is None
    assert Task.objects.count() == 2


def test_a_new_rule_starts_a_new_series(alice_api, alice: User) -> None:
    task = create(
        alice_api, alice, title="T", due_date="2031-11-25T09:00:00Z", recurrence="FREQ=DAILY;COUNT=1"
    )
    url = f"{tasks_url(alice)}/{task['id']}"
    alice_api.patch(url, {"recurrence": "FREQ=DAILY;COUNT=2"}, format="json")

    body = alice_api.patch(f"{url}/complete").json()

    assert body["next_task_id"] is not None


def test_bob_cannot_complete_or_read_alices_series(alice_api, bob_api, alice: User, bob: User) -> None:
    first = weekly(alice_api, alice)
    url = f"{tasks_url(alice)}/{first['id']}"

    assert bob_api.patch(f"{url}/complete").status_code == 403
    assert bob_api.patch(f"/api/{bob.pk}/tasks/{first['id']}/complete").status_code == 404
    assert (
        bob_api.put(f"/api/{bob.pk}/tasks/{first['id']}", {"completed": True}, format="json").status_code
        == 404
    )
    assert run_tool(bob, "complete_task", {"task_id": first["id"]}) == {
        "error": f"Task {first['id']} not found; list_tasks shows the ids."
    }
    assert Task.objects.count() == 1
    assert Task.objects.get().completed is False


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["set", "put"])
def test_twenty_parallel_completions_make_one_next_occurrence(shared_server, alice: User, how: str) -> None:
    server = shared_server()
    first = Task.objects.create(
        owner=alice,
        title="Water the plants",
        due_date=datetime.fromisoformat(MONDAY_8),
        recurrence="FREQ=WEEKLY;BYDAY=MO",
        time_zone="Europe/Berlin",
    )
    url = f"/api/{alice.pk}/tasks/{first.pk}"

    def requests(client):
        if how == "set":
            return [
                client.patch(f"{url}/complete", json={"completed": True}, headers=auth_headers(alice))
                for _ in range(20)
            ]
        return [client.put(url, json={"completed": True}, headers=auth_headers(alice)) for _ in range(20)]

    responses = parallel(server.url, requests)

    assert [r.status_code for r in responses] == [200] * 20
    first.refresh_from_db()
    assert Task.objects.count() == 2
    assert {r.json()["next_task_id"] for r in responses} == {first.next_task_id}
    assert Task.objects.get(pk=first.next_task_id).due_date == datetime.fromisoformat(
        "2031-12-01T08:00:00+01:00"
    )


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_toggles_make_one_next_occurrence(shared_server, alice: User) -> None:
    # The toggle's own fast path leaves recurring tasks to Django; 20 toggles end open, with one next task.
    server = shared_server()
    first = Task.objects.create(
        owner=alice, title="T", due_date=datetime.fromisoformat(MONDAY_8), recurrence="FREQ=DAILY"
    )
    url = f"/api/{alice.pk}/tasks/{first.pk}/complete"

    responses = parallel(server.url, lambda c: [c.patch(url, headers=auth_headers(alice)) for _ in range(20)])

    assert [r.status_code for r in responses] == [200] * 20
    first.refresh_from_db()
    assert first.completed is False
    assert Task.objects.count() == 2


# --- bounded work (the security review's findings) ----------------------------------

NEVER_ON_A_MONDAY = "FREQ=DAILY;INTERVAL=7;BYDAY=TU"  # from a Monday, every 7 days: never a Tuesday


def test_a_rule_without_a_date_within_ten_years_is_400_on_every_route(alice_api, alice: User) -> None:
    created = alice_api.post(
        tasks_url(alice), {"title": "T", "due_date": MONDAY_8, "recurrence": NEVER_ON_A_MONDAY}, format="json"
    )
    kept = weekly(alice_api, alice)
    url = f"{tasks_url(alice)}/{kept['id']}"
    new_rule = alice_api.patch(url, {"recurrence": NEVER_ON_A_MONDAY}, format="json")
    mondays = create(
        alice_api, alice, title="M", due_date=MONDAY_8, recurrence="FREQ=DAILY;INTERVAL=7;BYDAY=MO"
    )
    to_a_tuesday = alice_api.patch(
        f"{tasks_url(alice)}/{mondays['id']}", {"due_date": "2031-11-25T08:00:00+01:00"}, format="json"
    )
    by_tool = run_tool(
        alice, "add_task", {"title": "T", "due_date": MONDAY_8, "recurrence": NEVER_ON_A_MONDAY}
    )

    for response in (created, new_rule, to_a_tuesday):
        assert response.status_code == 400
        assert response.json()["errors"]["recurrence"] == [
            "This rule has no date in the 10 years after the due date; check INTERVAL, BYDAY and BYMONTHDAY."
        ]
    assert "no date in the 10 years" in by_tool["error"]
    assert Task.objects.count() == 2
    assert Task.objects.get(pk=kept["id"]).recurrence == "FREQ=WEEKLY;BYDAY=MO"
    assert Task.objects.get(pk=mondays["id"]).due_date.isoformat() == "2031-11-24T07:00:00+00:00"


@pytest.mark.parametrize("time_zone", ["America", "Etc", "x" * 300, "../../etc/passwd", "Europe/", "utc"])
def test_a_zone_outside_the_iana_database_is_400_never_500(alice_api, alice: User, time_zone: str) -> None:
    kept = create(alice_api, alice, title="Kept")

    created = alice_api.post(tasks_url(alice), {"title": "T", "time_zone": time_zone}, format="json")
    changed = alice_api.patch(f"{tasks_url(alice)}/{kept['id']}", {"time_zone": time_zone}, format="json")
    chat = alice_api.post(
        f"/api/{alice.pk}/chat", {"message": "add buy milk tomorrow", "time_zone": time_zone}, format="json"
    )
    by_tool = run_tool(alice, "add_task", {"title": "T", "time_zone": time_zone})

    for response in (created, changed, chat):
        assert response.status_code == 400
        assert "time_zone" in response.json()["errors"]
    assert "time_zone" in by_tool["error"]
    assert list(Task.objects.values_list("title", "time_zone")) == [("Kept", None)]


@pytest.mark.parametrize("moment", ["1899-12-31T23:59:59Z", "3000-01-01T00:00:00Z", "9999-12-31T00:00:00Z"])
def test_dates_past_the_bounds_are_refused_to_the_assistant_too(alice: User, moment: str) -> None:
    kept = run_tool(alice, "add_task", {"title": "Kept"})

    added = run_tool(alice, "add_task", {"title": "T", "due_date": moment})
    reminded = run_tool(alice, "update_task", {"task_id": kept["task_id"], "remind_at": moment})

    assert "due_date: Use a date from 1900-01-01 to 2999-12-31 (UTC)." in added["error"]
    assert "remind_at: Use a date from 1900-01-01 to 2999-12-31 (UTC)." in reminded["error"]
    assert list(Task.objects.values_list("title", "due_date", "remind_at")) == [("Kept", None, None)]


def test_a_series_ends_at_the_last_date(alice_api, alice: User) -> None:
    """2999 is the last year a date may have: a yearly rule from 2999 has no
    date to go to, so it is refused when written, and a series reaching 2999
    ends there."""
    fields = {"title": "T", "due_date": "2999-06-01T08:00:00Z", "recurrence": "yearly"}
    refused = alice_api.post(tasks_url(alice), fields, format="json")
    first = create(alice_api, alice, title="T", due_date="2998-06-01T08:00:00Z", recurrence="yearly")

    second = alice_api.patch(f"{tasks_url(alice)}/{first['id']}/complete").json()["next_task_id"]
    last = alice_api.patch(f"{tasks_url(alice)}/{second}/complete").json()

    assert refused.status_code == 400
    assert Task.objects.get(pk=second).due_date.year == 2999
    assert (last["completed"], last["next_task_id"]) == (True, None)


def complete_at_the_cap(route: str, api, user: User, task_id: int) -> str:
    """The error a completion at the cap gets, by `route`."""
    url = f"{tasks_url(user)}/{task_id}"
    if route == "chat_tool":
        return run_tool(user, "complete_task", {"task_id": task_id})["error"]
    response = {
        "toggle": lambda: api.patch(f"{url}/complete"),
        "complete_body": lambda: api.patch(f"{url}/complete", {"completed": True}, format="json"),
        "put": lambda: api.put(url, {"completed": True}, format="json"),
        "patch": lambda: api.patch(url, {"completed": True}, format="json"),
    }[route]()
    assert response.status_code == 409
    return response.json()["code"]


@pytest.mark.parametrize("route", ["toggle", "complete_body", "put", "patch", "chat_tool"])
def test_completing_a_recurring_task_at_the_cap_is_409_and_changes_nothing(
    alice_api, alice: User, settings, route: str
) -> None:
    settings.MAX_TASKS_PER_USER = 3
    first = weekly(alice_api, alice)
    create(alice_api, alice, title="Two")
    create(alice_api, alice, title="Three")

    error = complete_at_the_cap(route, alice_api, alice, first["id"])

    assert error == "task_limit_reached" or "limit of 3 tasks" in error
    task = Task.objects.get(pk=first["id"])
    assert (task.completed, task.next_task_id) == (False, None)
    assert Task.objects.count() == 3


def test_thirty_completions_never_pass_the_cap(alice_api, alice: User, settings) -> None:
    """The review's attack: a cap of 3, one recurring task completed 30 times
    (each time its newest occurrence) made 33 tasks."""
    settings.MAX_TASKS_PER_USER = 3
    newest = weekly(alice_api, alice)["id"]
    statuses = []
    for _ in range(30):
        response = alice_api.patch(f"{tasks_url(alice)}/{newest}/complete")
        statuses.append(response.status_code)
        if response.status_code == 200:
            newest = response.json()["next_task_id"]

    assert statuses == [200, 200] + [409] * 28
    assert Task.objects.count() == 3


@pytest.mark.parametrize(
    ("due", "zone"),
    [(datetime(9999, 12, 31, 12, tzinfo=UTC), "UTC"), (datetime(1, 1, 1, tzinfo=UTC), "America/New_York")],
)
def test_a_task_stored_before_the_date_bounds_still_completes(alice_api, alice: User, due, zone: str) -> None:
    """Rows written before dates were bounded: completing one ends its series
    (it used to overflow: a 500, and a task that could never be completed)."""
    task = Task.objects.create(
        owner=alice, title="Old", due_date=due, recurrence="FREQ=DAILY", time_zone=zone
    )

    response = alice_api.patch(f"{tasks_url(alice)}/{task.pk}/complete")

    assert response.status_code == 200
    assert (response.json()["completed"], response.json()["next_task_id"]) == (True, None)
