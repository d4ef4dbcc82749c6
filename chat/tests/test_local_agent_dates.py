"""The LOCAL agent reads when: recurrences, dates, times and reminders, in the
user's time zone, and takes the words it understood out of the title."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import User
from chat import local_agent
from chat.when import read_schedule
from tasks.models import Task
from tasks.services import create_task

BERLIN = ZoneInfo("Europe/Berlin")
# Thursday 26 November 2026, 21:00 in Berlin.
NOW = datetime(2026, 11, 26, 21, 0, tzinfo=BERLIN)


def at(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("words", "title", "due", "rule"),
    [
        ("water the plants every day", "water the plants", at(27, 9), "FREQ=DAILY"),
        ("water the plants daily at 7am", "water the plants", at(27, 7), "FREQ=DAILY"),
        ("water the plants every Monday", "water the plants", at(30, 9), "FREQ=WEEKLY;BYDAY=MO"),
        ("gym every Monday and Thursday at 6pm", "gym", at(30, 18), "FREQ=WEEKLY;BYDAY=MO,TH"),
        ("gym on Tuesdays", "gym", at(1, 9, month=12), "FREQ=WEEKLY;BYDAY=TU"),
        ("stand-up every weekday at 9:30", "stand-up", at(27, 9, 30), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        ("team sync every 2 weeks", "team sync", at(27, 9), "FREQ=WEEKLY;INTERVAL=2"),
        ("review every other week", "review", at(27, 9), "FREQ=WEEKLY;INTERVAL=2"),
        ("pay rent monthly", "pay rent", at(27, 9), "FREQ=MONTHLY"),
        ("pay rent every month on December 1", "pay rent", at(1, 9, month=12), "FREQ=MONTHLY"),
        ("renew insurance yearly", "renew insurance", at(27, 9), "FREQ=YEARLY"),
        ("call mom tomorrow", "call mom", at(27, 9), None),
        ("call mom today at 10pm", "call mom", at(26, 22), None),
        ("call mom tonight", "call mom", at(26, 20), None),
        ("call mom tomorrow at 5pm", "call mom", at(27, 17), None),
        ("submit the report next Friday", "submit the report", at(4, 9, month=12), None),
        ("submit the report on Friday", "submit the report", at(27, 9), None),
        ("submit the report by Monday at noon", "submit the report", at(30, 12), None),
        ("buy a gift on December 3", "buy a gift", at(3, 9, month=12), None),
        ("buy a gift Dec 3rd at 5:30 pm", "buy a gift", at(3, 17, 30, month=12), None),
        ("buy a gift on 3 December", "buy a gift", at(3, 9, month=12), None),
        # A date that has passed this year is next year's.
        ("file taxes on March 1", "file taxes", at(1, 9, month=3, year=2027), None),
        ("take the cake out in 2 hours", "take the cake out", at(26, 23), None),
        ("stretch in 30 minutes", "stretch", at(26, 21, 30), None),
        ("call the bank at 5pm", "call the bank", at(27, 17), None),  # 17:00 has passed today
        ("Prepare the Monday meeting", "Prepare the Monday meeting", None, None),
        ("read 3 books", "read 3 books", None, None),
    ],
)
def test_phrases(words: str, title: str, due: datetime | None, rule: str | None) -> None:
    schedule = read_schedule(words, NOW)
    assert (schedule.title, schedule.due_date, schedule.recurrence, schedule.remind_at) == (
        title,
        due,
        rule,
        None,
    )


@pytest.mark.parametrize(
    ("words", "title", "due", "remind_at"),
    [
        ("take my pills, remind me at 8", "take my pills", at(27, 8), at(27, 8)),
        ("dentist tomorrow at 10am and remind me at 8", "dentist", at(27, 10), at(27, 8)),
        ("call the bank, remind me in 2 hours", "call the bank", None, at(26, 23)),
    ],
)
def test_reminder_phrases(words: str, title: str, due: datetime | None, remind_at: datetime) -> None:
    schedule = read_schedule(words, NOW)
    assert (schedule.title, schedule.due_date, schedule.remind_at) == (title, due, remind_at)


def test_remind_me_to_reminds_at_the_due_time() -> None:
    schedule = read_schedule("water the plants every Monday at 8am", NOW, remind=True)
    assert schedule.title == "water the plants"
    assert schedule.due_date == schedule.remind_at == at(30, 8)
    assert schedule.recurrence == "FREQ=WEEKLY;BYDAY=MO"
    # With no time in the words, there is nothing to remind at.
    assert read_schedule("pay bills", NOW, remind=True).remind_at is None


@pytest.mark.django_db
def test_remind_me_to_water_the_plants_every_monday_at_8am(alice: User) -> None:
    reply, records = local_agent.respond(
        alice, "Remind me to water the plants every Monday at 8am", time_zone="Europe/Berlin"
    )

    task = Task.objects.get(owner=alice)
    assert task.title == "Water the plants"
    assert task.recurrence == "FREQ=WEEKLY;BYDAY=MO"
    assert task.time_zone == "Europe/Berlin"
    due = task.due_date.astimezone(BERLIN)
    now = timezone.now().astimezone(BERLIN)
    assert (due.weekday(), due.hour, due.minute) == (0, 8, 0)
    assert timedelta(0) < due - now <= timedelta(days=7)
    assert task.remind_at == task.due_date
    assert records[0]["tool"] == "add_task"
    assert records[0]["arguments"]["recurrence"] == "FREQ=WEEKLY;BYDAY=MO"
    assert "every Monday, with a reminder then" in reply
    assert f"#{task.pk}" in reply

    # Completing it makes the following Monday's task.
    local_agent.respond(alice, f"Mark task {task.pk} as complete", time_zone="Europe/Berlin")
    task.refresh_from_db()
    following = Task.objects.get(pk=task.next_task_id)
    assert following.due_date - task.due_date == timedelta(days=7)
    assert following.due_date.astimezone(BERLIN).hour == 8


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/Los_Angeles"])
def test_relative_dates_are_read_in_the_users_zone(alice: User, zone: str) -> None:
    local_agent.respond(alice, "Add a task to call mom tomorrow at 5pm", time_zone=zone)

    task = Task.objects.get(owner=alice)
    due = task.due_date.astimezone(ZoneInfo(zone))
    tomorrow = timezone.now().astimezone(ZoneInfo(zone)).date() + timedelta(days=1)
    assert (task.title, due.date(), due.hour) == ("Call mom", tomorrow, 17)


@pytest.mark.django_db
def test_a_plain_addition_has_no_schedule(alice: User) -> None:
    local_agent.respond(alice, "Add a task to buy groceries")
    task = Task.objects.get(owner=alice)
    assert (task.title, task.due_date, task.recurrence, task.remind_at) == ("Buy groceries", None, None, None)


@pytest.mark.django_db
def test_an_existing_task_is_moved_reminded_and_made_to_repeat(alice: User, bob: User) -> None:
    task = create_task(owner=alice, title="Call the bank")
    zone = ZoneInfo("Asia/Tokyo")
    tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)

    reply, records = local_agent.respond(
        alice, f"Move task {task.pk} to tomorrow at 5pm", time_zone="Asia/Tokyo"
    )
    task.refresh_from_db()
    assert task.due_date == datetime.combine(tomorrow, time(17), tzinfo=zone)
    assert records[0]["tool"] == "update_task"
    assert f'Moved "Call the bank" (task #{task.pk}) to ' in reply
    assert "at 17:00" in reply

    local_agent.respond(alice, f"remind me about task {task.pk} in 2 hours", time_zone="Asia/Tokyo")
    task.refresh_from_db()
    assert timedelta(hours=1, minutes=59) < task.remind_at - timezone.now() <= timedelta(hours=2)
    assert task.due_date == datetime.combine(tomorrow, time(17), tzinfo=zone)  # unchanged

    local_agent.respond(alice, f"make task {task.pk} repeat every Monday", time_zone="Asia/Tokyo")
    task.refresh_from_db()
    assert task.recurrence == "FREQ=WEEKLY;BYDAY=MO"
    assert task.due_date.astimezone(zone).weekday() == 0

    reply, _ = local_agent.respond(alice, f"move task {task.pk} to someday")
    assert "couldn't tell when" in reply
    reply, _ = local_agent.respond(bob, f"move task {task.pk} to tomorrow")
    assert "couldn't find that task" in reply
    task.refresh_from_db()
    assert task.recurrence == "FREQ=WEEKLY;BYDAY=MO"


@pytest.mark.django_db
def test_a_task_moves_by_so_long_from_its_own_due_date(alice: User) -> None:
    due = datetime(2031, 3, 4, 15, 30, tzinfo=BERLIN)
    task = create_task(owner=alice, title="Dentist", due_date=due)

    reply, _ = local_agent.respond(alice, f"push task {task.pk} back by 2 days", time_zone="Europe/Berlin")
    task.refresh_from_db()
    assert task.due_date == due + timedelta(days=2)
    assert reply == f'Moved "Dentist" (task #{task.pk}) to Thursday, Mar 6 at 15:30.'

    local_agent.respond(alice, "move the dentist an hour later", time_zone="Europe/Berlin")
    task.refresh_from_db()
    assert task.due_date == due + timedelta(days=2, hours=1)

    local_agent.respond(alice, "postpone the dentist", time_zone="Europe/Berlin")
    task.refresh_from_db()
    assert task.due_date == due + timedelta(days=3, hours=1)


@pytest.mark.django_db
def test_a_reminder_so_long_before_the_due_date(alice: User) -> None:
    due = datetime(2031, 3, 4, 15, 30, tzinfo=BERLIN)
    task = create_task(owner=alice, title="Team meeting", due_date=due)
    undated = create_task(owner=alice, title="Water the plants")

    reply, _ = local_agent.respond(alice, "remind me about the meeting 10 minutes before")
    task.refresh_from_db()
    assert task.remind_at == due - timedelta(minutes=10)
    assert task.due_date == due
    assert f'"Team meeting" (task #{task.pk})' in reply

    reply, records = local_agent.respond(alice, "remind me about the plants an hour before")
    undated.refresh_from_db()
    assert undated.remind_at is None
    assert [record["tool"] for record in records] == ["list_tasks"]
    assert "has no due date" in reply
