"""The next occurrence of a completed recurring task is never in the past:
late completions catch up to the first date by the rule that is still ahead
(the time of day kept, a reminder already past dropped), and
repeat_from "completion" counts the rule from the completion. time_zone and
repeat_from are stored and shown in the task's body."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.models import User
from chat import local_agent
from chat.tools import run_tool
from tasks.models import Task

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def url(user: User, suffix: str = "") -> str:
    return f"/api/{user.pk}/tasks{suffix}"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def complete(api, user: User, task_id: int) -> dict:
    body = api.patch(url(user, f"/{task_id}/complete")).json()
    assert body["completed"] is True
    return api.get(url(user, f"/{body['next_task_id']}")).json()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_daily_task_completed_three_days_late_is_next_due_ahead_at_its_time(alice_api, alice: User) -> None:
    now = timezone.now()
    due = (now - timedelta(days=3)).replace(microsecond=0)
    task = alice_api.post(
        url(alice),
        {
            "title": "Stretch",
            "due_date": iso(due),
            "recurrence": "daily",
            "remind_at": iso(due - timedelta(minutes=10)),
        },
        format="json",
    ).json()

    following = complete(alice_api, alice, task["id"])

    next_due = parse(following["due_date"])
    assert now < next_due <= now + timedelta(days=1)  # today or tomorrow, never in the past
    assert (next_due - due) % timedelta(days=1) == timedelta(0)  # at its time of day
    assert parse(following["remind_at"]) == next_due - timedelta(minutes=10)
    assert following["recurrence"] == "FREQ=DAILY"


def test_completed_on_time_the_next_is_the_rules_next(alice_api, alice: User) -> None:
    due = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    task = alice_api.post(
        url(alice), {"title": "Team sync", "due_date": iso(due), "recurrence": "FREQ=WEEKLY"}, format="json"
    ).json()

    following = complete(alice_api, alice, task["id"])

    assert parse(following["due_date"]) == due + timedelta(weeks=1)


def test_a_reminder_already_past_is_dropped_not_fired(alice_api, alice: User) -> None:
    """Due later today (by the rule's catch-up), its reminder, 12 hours
    before, would already be past: the occurrence has none."""
    now = timezone.now()
    due = (now - timedelta(days=2) + timedelta(hours=1)).replace(microsecond=0)
    task = alice_api.post(
        url(alice),
        {
            "title": "Bins",
            "due_date": iso(due),
            "recurrence": "daily",
            "remind_at": iso(due - timedelta(hours=12)),
        },
        format="json",
    ).json()
    ProcrastinateJob.objects.all().delete()

    following = complete(alice_api, alice, task["id"])

    assert parse(following["due_date"]) == due + timedelta(days=2)
    assert following["remind_at"] is None
    assert not ProcrastinateJob.objects.filter(task_name="tasks.send_reminder").exists()


def test_the_dates_passed_over_count_towards_count(alice_api, alice: User) -> None:
    due = (timezone.now() - timedelta(days=3, hours=1)).replace(microsecond=0)
    task = alice_api.post(
        url(alice),
        {"title": "Pills", "due_date": iso(due), "recurrence": "FREQ=DAILY;COUNT=3"},
        format="json",
    ).json()

    body = alice_api.patch(url(alice, f"/{task['id']}/complete")).json()

    # Occurrences 2 and 3 of the series were due (and passed) while it waited: it has ended.
    assert body["next_task_id"] is None
    assert Task.objects.count() == 1


def test_repeat_from_completion_counts_from_the_completion(alice_api, alice: User) -> None:
    now = timezone.now().astimezone(BERLIN)
    due = datetime(now.year, now.month, now.day, 8, tzinfo=BERLIN) - timedelta(days=10)
    created = alice_api.post(
        url(alice),
        {
            "title": "Water the plants",
            "due_date": iso(due),
            "recurrence": "FREQ=DAILY;INTERVAL=2",
            "repeat_from": "completion",
            "time_zone": "Europe/Berlin",
        },
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["repeat_from"] == "completion"
    assert created.json()["time_zone"] == "Europe/Berlin"

    following = complete(alice_api, alice, created.json()["id"])

    next_due = parse(following["due_date"]).astimezone(BERLIN)
    # Two days after the day it was done, at 08:00 there.
    assert next_due.date() == (timezone.now().astimezone(BERLIN) + timedelta(days=2)).date()
    assert (next_due.hour, next_due.minute) == (8, 0)
    assert following["repeat_from"] == "completion"
    assert following["time_zone"] == "Europe/Berlin"


def test_repeat_from_due_on_a_weekly_rule_keeps_its_weekday(alice_api, alice: User) -> None:
    due = (timezone.now() - timedelta(days=15)).replace(microsecond=0)
    task = alice_api.post(
        url(alice), {"title": "Review", "due_date": iso(due), "recurrence": "weekly"}, format="json"
    ).json()

    following = complete(alice_api, alice, task["id"])

    next_due = parse(following["due_date"])
    assert next_due.weekday() == due.weekday()
    assert timezone.now() < next_due <= timezone.now() + timedelta(days=7)


def test_time_zone_and_repeat_from_are_stored_returned_and_changed(alice_api, alice: User) -> None:
    task = alice_api.post(url(alice), {"title": "T"}, format="json").json()
    assert (task["time_zone"], task["repeat_from"]) == (None, "due")  # null: UTC

    changed = alice_api.patch(
        url(alice, f"/{task['id']}"), {"time_zone": "Asia/Tokyo", "repeat_from": "completion"}, format="json"
    )
    assert (changed.json()["time_zone"], changed.json()["repeat_from"]) == ("Asia/Tokyo", "completion")
    assert changed.json()["version"] == 2
    listed = alice_api.get(url(alice)).json()
    assert (listed[0]["time_zone"], listed[0]["repeat_from"]) == ("Asia/Tokyo", "completion")

    cleared = alice_api.patch(url(alice, f"/{task['id']}"), {"time_zone": None}, format="json")
    assert cleared.json()["time_zone"] is None


@pytest.mark.parametrize("value", ["sometimes", "", None, 1, "COMPLETION "])
def test_an_unknown_repeat_from_is_400(alice_api, alice: User, value: object) -> None:
    response = alice_api.post(url(alice), {"title": "T", "repeat_from": value}, format="json")

    assert response.status_code == 400
    assert "repeat_from" in response.json()["errors"]
    assert not Task.objects.exists()


def test_the_chat_tools_take_repeat_from(alice: User, bob: User) -> None:
    due = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    added = run_tool(
        alice,
        "add_task",
        {"title": "Defrost", "due_date": iso(due), "recurrence": "monthly", "repeat_from": "completion"},
    )
    task = Task.objects.get(pk=added["task_id"])
    assert task.repeat_from == "completion"

    assert run_tool(alice, "update_task", {"task_id": task.pk, "repeat_from": "due"})["status"] == "updated"
    assert (
        "repeat_from" in run_tool(alice, "update_task", {"task_id": task.pk, "repeat_from": "never"})["error"]
    )
    assert "error" in run_tool(bob, "update_task", {"task_id": task.pk, "repeat_from": "completion"})
    task.refresh_from_db()
    assert task.repeat_from == "due"


def test_the_local_assistant_understands_every_2_days_after_i_finish_it(alice: User) -> None:
    reply, records = local_agent.respond(
        alice, "Add a task to water the plants every 2 days after I finish it", time_zone="Europe/Berlin"
    )

    task = Task.objects.get(owner=alice)
    assert task.title == "Water the plants"
    assert (task.recurrence, task.repeat_from) == ("FREQ=DAILY;INTERVAL=2", "completion")
    assert records[0]["arguments"]["repeat_from"] == "completion"
    assert "every 2 days" in reply
    assert "from when you complete it" in reply

    local_agent.respond(alice, f"Mark task {task.pk} as complete", time_zone="Europe/Berlin")
    following = Task.objects.get(pk=Task.objects.get(pk=task.pk).next_task_id)
    done_day = timezone.now().astimezone(BERLIN).date()
    assert following.due_date.astimezone(BERLIN).date() == done_day + timedelta(days=2)


@pytest.mark.parametrize(
    "words",
    [
        "make task {id} repeat every week after I complete it",
        "make task {id} repeat every! week",
        "set task {id} to recur weekly from completion",
    ],
)
def test_an_existing_task_is_made_to_repeat_from_its_completion(alice: User, words: str) -> None:
    due = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    task = Task.objects.create(owner=alice, title="Clean the fridge", due_date=due)

    local_agent.respond(alice, words.format(id=task.pk))

    task.refresh_from_db()
    assert (task.recurrence, task.repeat_from) == ("FREQ=WEEKLY", "completion")
