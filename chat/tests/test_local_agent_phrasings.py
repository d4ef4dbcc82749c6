"""The LOCAL assistant does what a person means, written the way people
write to a to-do assistant: each phrasing with the tool call it should end
in and that call's arguments.

A task named in an expectation by its title stands for that task's id; a
date is a function of the moment the message is read (UTC). Other arguments
must be exactly those given: nothing understood as a date, a time, a
priority or a repetition is left in a title."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from accounts.models import User
from chat import local_agent
from tasks.models import Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db

OPEN = [
    "Pay the rent", "Water the plants", "Dentist appointment", "Pay the electricity bill",
    "Stretch for 10 minutes", "Buy groceries", "Call mom", "Team meeting", "Renew car insurance",
    "Book flights to Lisbon", "Mow the garden lawn",
]  # fmt: skip
DONE = ["Write the quarterly report", "Clean the garage"]

When = Callable[[datetime], datetime]


def on(day: Callable[[date], date], hour: int = 9, minute: int = 0) -> When:
    return lambda now: datetime.combine(day(now.date()), time(hour, minute), tzinfo=UTC)


def today(hour: int = 9, minute: int = 0) -> When:
    return on(lambda d: d, hour, minute)


def tomorrow(hour: int = 9, minute: int = 0) -> When:
    return on(lambda d: d + timedelta(days=1), hour, minute)


def coming(weekday: int, hour: int = 9, minute: int = 0) -> When:
    """The coming such day ("on Friday": a week away on a Friday)."""
    return on(lambda d: d + timedelta(days=(weekday - d.weekday() - 1) % 7 + 1), hour, minute)


def next_week_day(weekday: int, hour: int = 9) -> When:
    """ "next Friday": the Friday of next week."""
    return on(lambda d: d + timedelta(days=7 - d.weekday() + weekday), hour)


def clock_today_or_tomorrow(hour: int) -> When:
    """A time alone: today's, or tomorrow's once it has passed."""

    def moment(now: datetime) -> datetime:
        at = datetime.combine(now.date(), time(hour), tzinfo=UTC)
        return at if at > now else at + timedelta(days=1)

    return moment


def first_of_next_month(now: datetime) -> datetime:
    return datetime.combine((now.date() + relativedelta(months=1)).replace(day=1), time(9), tzinfo=UTC)


def this_or_next_year(month: int, day: int) -> When:
    def moment(now: datetime) -> datetime:
        found = date(now.year, month, day)
        found = found if found >= now.date() else date(now.year + 1, month, day)
        return datetime.combine(found, time(9), tzinfo=UTC)

    return moment


def day_of_month(day: int, hour: int = 9) -> When:
    """ "on the 20th": this month's, or next month's once it has passed."""

    def moment(now: datetime) -> datetime:
        month = now.date().replace(day=1)
        found = month.replace(day=day)
        if found < now.date():
            found = (month + relativedelta(months=1)).replace(day=day)
        return datetime.combine(found, time(hour), tzinfo=UTC)

    return moment


def first_by_rule(weekday: int) -> When:
    """A weekly rule's first day at 09:00: today's if it is that day and 09:00 is ahead."""

    def moment(now: datetime) -> datetime:
        today_at_nine = datetime.combine(now.date(), time(9), tzinfo=UTC)
        if now.weekday() == weekday and today_at_nine >= now:
            return today_at_nine
        return coming(weekday)(now)

    return moment


MO, TU, WE, TH, FR, SA, SU = range(7)
# "this weekend": the coming Saturday, today on a Saturday.
SATURDAY = on(lambda d: d + timedelta(days=(SA - d.weekday()) % 7))
NINE = clock_today_or_tomorrow(9)

# (what a person types, the tool call it should end in, that call's arguments)
PHRASINGS: list[tuple[str, str, dict[str, Any]]] = [
    # Adding, with dates, times, priorities and repetitions taken out of the title.
    ("add call mom with high priority", "add_task", {"title": "Call mom", "priority": "high"}),
    ("put dentist appointment on my list for tomorrow at 3pm", "add_task",
     {"title": "Dentist appointment", "due_date": tomorrow(15)}),
    ("can you add renew passport for next month", "add_task",
     {"title": "Renew passport", "due_date": first_of_next_month}),
    ("note down: book flights to Lisbon", "add_task", {"title": "Book flights to Lisbon"}),
    ("Add a task to buy milk", "add_task", {"title": "Buy milk"}),
    ("please add pick up the dry cleaning", "add_task", {"title": "Pick up the dry cleaning"}),
    ("remind me to take out the trash tonight", "add_task",
     {"title": "Take out the trash", "due_date": today(20), "remind_at": today(20)}),
    ("I need to send the invoice to Acme", "add_task", {"title": "Send the invoice to Acme"}),
    ("add an urgent task: fix the leaking tap", "add_task",
     {"title": "Fix the leaking tap", "priority": "high"}),
    ("new task: read chapter 3", "add_task", {"title": "Read chapter 3"}),
    ("jot down buy a birthday gift for Sam", "add_task", {"title": "Buy a birthday gift for Sam"}),
    ("add buy eggs to my shopping list", "add_task", {"title": "Buy eggs"}),
    ("add 'Prepare slides' for Monday", "add_task", {"title": "Prepare slides", "due_date": coming(MO)}),
    ("don't let me forget to call the plumber", "add_task", {"title": "Call the plumber"}),
    ("add low priority task: organize the bookshelf", "add_task",
     {"title": "Organize the bookshelf", "priority": "low"}),
    ("Could you put 'renew gym membership' on my to-do list?", "add_task", {"title": "Renew gym membership"}),
    ("create a task called Submit timesheet due friday", "add_task",
     {"title": "Submit timesheet", "due_date": coming(FR)}),
    ("add water the lawn every Monday", "add_task",
     {"title": "Water the lawn", "recurrence": "FREQ=WEEKLY;BYDAY=MO", "due_date": coming(MO)}),
    ("I have to finish the tax return by Friday", "add_task",
     {"title": "Finish the tax return", "due_date": coming(FR)}),
    ("add pay the phone bill, it's urgent", "add_task", {"title": "Pay the phone bill", "priority": "high"}),
    ("remember to buy cat food", "add_task", {"title": "Buy cat food"}),
    ("add go for a run tomorrow morning", "add_task", {"title": "Go for a run", "due_date": tomorrow(9)}),
    ("schedule a task to review the budget on Thursday at 2pm", "add_task",
     {"title": "Review the budget", "due_date": coming(TH, 14)}),
    ("add email the landlord asap", "add_task", {"title": "Email the landlord", "priority": "high"}),
    ("add 'buy flowers' with low priority", "add_task", {"title": "Buy flowers", "priority": "low"}),
    ("add clean the windows this weekend", "add_task", {"title": "Clean the windows", "due_date": SATURDAY}),
    ("add book a table for dinner", "add_task", {"title": "Book a table for dinner"}),
    ("add submit the report next Friday at 5pm", "add_task",
     {"title": "Submit the report", "due_date": next_week_day(FR, 17)}),
    ("todo: wash the car", "add_task", {"title": "Wash the car"}),
    ("i should call grandma on sunday", "add_task", {"title": "Call grandma", "due_date": coming(SU)}),
    ("hey, could you add walk the dog at 6pm please", "add_task",
     {"title": "Walk the dog", "due_date": clock_today_or_tomorrow(18)}),
    ("add a high priority task to file taxes by April 15", "add_task",
     {"title": "File taxes", "priority": "high", "due_date": this_or_next_year(4, 15)}),
    ("add take vitamins every day at 8am", "add_task",
     {"title": "Take vitamins", "recurrence": "FREQ=DAILY", "due_date": clock_today_or_tomorrow(8)}),
    ("put 'call the bank' on the list", "add_task", {"title": "Call the bank"}),
    ("add: fix the bike, high priority", "add_task", {"title": "Fix the bike", "priority": "high"}),
    ("I want to learn to play the piano", "add_task", {"title": "Learn to play the piano"}),
    ('stick "buy stamps" on my list', "add_task", {"title": "Buy stamps"}),
    ("put pay credit card bill on the list, high priority", "add_task",
     {"title": "Pay credit card bill", "priority": "high"}),
    ("Remember I have to renew my license on the 20th", "add_task",
     {"title": "Renew my license", "due_date": day_of_month(20)}),
    ("add dinner with Anna on the 12th at 7pm", "add_task",
     {"title": "Dinner with Anna", "due_date": day_of_month(12, 19)}),
    ("i gotta return the library books by thursday", "add_task",
     {"title": "Return the library books", "due_date": coming(TH)}),
    ("new todo buy coffee beans, low priority", "add_task", {"title": "Buy coffee beans", "priority": "low"}),
    ('add "call the insurance company" tomorrow, it\'s important', "add_task",
     {"title": "Call the insurance company", "priority": "high", "due_date": tomorrow()}),
    ("could you set up a task to back up my laptop every friday", "add_task",
     {"title": "Back up my laptop", "recurrence": "FREQ=WEEKLY;BYDAY=FR", "due_date": first_by_rule(FR)}),
    ("call the plumber tomorrow", "add_task", {"title": "Call the plumber", "due_date": tomorrow()}),
    ("i have a vet appointment on friday at 11", "add_task",
     {"title": "Vet appointment", "due_date": coming(FR, 11)}),
    ("remind me tomorrow at 8am to take my medicine", "add_task",
     {"title": "Take my medicine", "due_date": tomorrow(8), "remind_at": tomorrow(8)}),
    ("add clean the bathroom every saturday morning", "add_task",
     {"title": "Clean the bathroom", "recurrence": "FREQ=WEEKLY;BYDAY=SA", "due_date": first_by_rule(SA)}),
    ('Add "pay parking ticket" with a due date of Friday', "add_task",
     {"title": "Pay parking ticket", "due_date": coming(FR)}),
    ('Put "bake cake" down for saturday afternoon', "add_task",
     {"title": "Bake cake", "due_date": coming(SA, 15)}),
    # Lists and questions.
    ("what did I complete?", "list_tasks", {"status": "completed"}),
    ("show me my tasks", "list_tasks", {"status": "all"}),
    ("what's left?", "list_tasks", {"status": "pending"}),
    ("which tasks are still open?", "list_tasks", {"status": "pending"}),
    ("how many tasks do I have left?", "list_tasks", {"status": "pending"}),
    ("show me my tasks about bills", "list_tasks", {"status": "all", "search": "bill"}),
    ("list my completed tasks", "list_tasks", {"status": "completed"}),
    ("what do I have to do today?", "list_tasks", {"status": "pending"}),
    ("what's on my list", "list_tasks", {"status": "all"}),
    ("do I have anything about the dentist?", "list_tasks", {"status": "all", "search": "dentist"}),
    ("what have I finished so far", "list_tasks", {"status": "completed"}),
    ("show me what I've done", "list_tasks", {"status": "completed"}),
    ("give me my to-do list", "list_tasks", {"status": "all"}),
    ("which tasks mention groceries", "list_tasks", {"status": "all", "search": "grocer"}),
    ("what's due this week?", "list_tasks", {"status": "pending"}),
    ("my tasks", "list_tasks", {"status": "all"}),
    ("can you show me my tasks please", "list_tasks", {"status": "all"}),
    ("tell me what I still need to do", "list_tasks", {"status": "pending"}),
    ("what's pending", "list_tasks", {"status": "pending"}),
    ("How many tasks have I completed?", "list_tasks", {"status": "completed"}),
    ("show me the tasks I haven't done yet", "list_tasks", {"status": "pending"}),
    ("show me tasks related to the car", "list_tasks", {"status": "all", "search": "car"}),
    ("How many open tasks are there?", "list_tasks", {"status": "pending"}),
    ("Completed tasks please", "list_tasks", {"status": "completed"}),
    ("show my tasks with rent in them", "list_tasks", {"status": "all", "search": "rent"}),
    # Completing, by number and by words of the title (stems, near spellings).
    ("I finished paying the rent", "complete_task", {"task_id": "Pay the rent"}),
    ("done with the dentist appointment", "complete_task", {"task_id": "Dentist appointment"}),
    ("mark the groceries task as done", "complete_task", {"task_id": "Buy groceries"}),
    ("tick off call mom", "complete_task", {"task_id": "Call mom"}),
    ("check off the team meeting", "complete_task", {"task_id": "Team meeting"}),
    ("I paid the electricity bill", "complete_task", {"task_id": "Pay the electricity bill"}),
    ("I called mom", "complete_task", {"task_id": "Call mom"}),
    ("finished the stretching", "complete_task", {"task_id": "Stretch for 10 minutes"}),
    ("complete task {Water the plants}", "complete_task", {"task_id": "Water the plants"}),
    ("mark #{Team meeting} done", "complete_task", {"task_id": "Team meeting"}),
    ("task {Call mom} is done", "complete_task", {"task_id": "Call mom"}),
    ("bought the groceries", "complete_task", {"task_id": "Buy groceries"}),
    ("the rent is paid", "complete_task", {"task_id": "Pay the rent"}),
    ("cross off buy groceries", "complete_task", {"task_id": "Buy groceries"}),
    ("please mark call mom as complete", "complete_task", {"task_id": "Call mom"}),
    ("I've completed the insurance renewal", "complete_task", {"task_id": "Renew car insurance"}),
    ("finish the lisbon flights task", "complete_task", {"task_id": "Book flights to Lisbon"}),
    ("check the plants one off", "complete_task", {"task_id": "Water the plants"}),
    ("done with the dentsit appointment", "complete_task", {"task_id": "Dentist appointment"}),
    ("mark the electricty bill as paid", "complete_task", {"task_id": "Pay the electricity bill"}),
    ("I just mowed the lawn", "complete_task", {"task_id": "Mow the garden lawn"}),
    ("we're done with the team meeting", "complete_task", {"task_id": "Team meeting"}),
    ("I'm finished with the plants", "complete_task", {"task_id": "Water the plants"}),
    ("just paid the rent", "complete_task", {"task_id": "Pay the rent"}),
    ("got the groceries", "complete_task", {"task_id": "Buy groceries"}),
    ("done: call mom", "complete_task", {"task_id": "Call mom"}),
    ("ticked off the groceries", "complete_task", {"task_id": "Buy groceries"}),
    ("Task {Call mom} done", "complete_task", {"task_id": "Call mom"}),
    ("call mom - done", "complete_task", {"task_id": "Call mom"}),
    ("plants watered", "complete_task", {"task_id": "Water the plants"}),
    ("the plants have been watered", "complete_task", {"task_id": "Water the plants"}),
    # Deleting.
    ("delete the meeting task", "delete_task", {"task_id": "Team meeting"}),
    ("remove task {Call mom}", "delete_task", {"task_id": "Call mom"}),
    ("get rid of the groceries task", "delete_task", {"task_id": "Buy groceries"}),
    ("drop the stretch one", "delete_task", {"task_id": "Stretch for 10 minutes"}),
    ("I don't need to call mom anymore", "delete_task", {"task_id": "Call mom"}),
    ("cancel the dentist appointment", "delete_task", {"task_id": "Dentist appointment"}),
    ("erase #{Renew car insurance}", "delete_task", {"task_id": "Renew car insurance"}),
    ("please delete 'Renew car insurance'", "delete_task", {"task_id": "Renew car insurance"}),
    ("take the lawn task off my list", "delete_task", {"task_id": "Mow the garden lawn"}),
    ("scrap the flights to lisbon", "delete_task", {"task_id": "Book flights to Lisbon"}),
    ("forget about the garage", "delete_task", {"task_id": "Clean the garage"}),
    ("remove buy groceries from my list", "delete_task", {"task_id": "Buy groceries"}),
    ("throw away the meeting task", "delete_task", {"task_id": "Team meeting"}),
    ("no need to do the stretching anymore", "delete_task", {"task_id": "Stretch for 10 minutes"}),
    ("scratch the insurance task", "delete_task", {"task_id": "Renew car insurance"}),
    ("i don't need the lisbon flights task anymore", "delete_task", {"task_id": "Book flights to Lisbon"}),
    # Renaming.
    ("change the plants task to water the garden", "update_task",
     {"task_id": "Water the plants", "title": "Water the garden"}),
    ("rename task {Dentist appointment} to Dentist checkup", "update_task",
     {"task_id": "Dentist appointment", "title": "Dentist checkup"}),
    ("rename the team meeting to weekly sync", "update_task",
     {"task_id": "Team meeting", "title": "Weekly sync"}),
    ("change 'Buy groceries' to 'Buy groceries and milk'", "update_task",
     {"task_id": "Buy groceries", "title": "Buy groceries and milk"}),
    ("update the title of the rent task to Pay rent for December", "update_task",
     {"task_id": "Pay the rent", "title": "Pay rent for December"}),
    ("edit task {Buy groceries} to say buy vegetables", "update_task",
     {"task_id": "Buy groceries", "title": "Buy vegetables"}),
    ("change team meeting's title to Retro", "update_task", {"task_id": "Team meeting", "title": "Retro"}),
    # Moving to another day.
    ("push the electricity bill to next week", "update_task",
     {"task_id": "Pay the electricity bill", "due_date": next_week_day(MO)}),
    ("move task {Water the plants} to tomorrow at 5pm", "update_task",
     {"task_id": "Water the plants", "due_date": tomorrow(17)}),
    ("postpone the dentist appointment to Friday", "update_task",
     {"task_id": "Dentist appointment", "due_date": coming(FR)}),
    ("reschedule the team meeting for Thursday at 10am", "update_task",
     {"task_id": "Team meeting", "due_date": coming(TH, 10)}),
    ("move call mom to tonight", "update_task", {"task_id": "Call mom", "due_date": today(20)}),
    ("change the due date of the rent task to December 15", "update_task",
     {"task_id": "Pay the rent", "due_date": this_or_next_year(12, 15)}),
    ("make the insurance task due next month", "update_task",
     {"task_id": "Renew car insurance", "due_date": first_of_next_month}),
    ("set the deadline for buy groceries to Monday", "update_task",
     {"task_id": "Buy groceries", "due_date": coming(MO)}),
    ("the plants task is due tomorrow", "update_task",
     {"task_id": "Water the plants", "due_date": tomorrow()}),
    ("push back the stretch task to the weekend", "update_task",
     {"task_id": "Stretch for 10 minutes", "due_date": SATURDAY}),
    ("delay the lisbon flights until next week", "update_task",
     {"task_id": "Book flights to Lisbon", "due_date": next_week_day(MO)}),
    ("push the meeting back to next tuesday", "update_task",
     {"task_id": "Team meeting", "due_date": next_week_day(TU)}),
    ("can the dentist be moved to friday", "update_task",
     {"task_id": "Dentist appointment", "due_date": coming(FR)}),
    ("move my dentist appointment to next thursday at 11am", "update_task",
     {"task_id": "Dentist appointment", "due_date": next_week_day(TH, 11)}),
    ("postpone paying the rent until the 3rd", "update_task",
     {"task_id": "Pay the rent", "due_date": day_of_month(3)}),
    ("call mom should be on friday", "update_task", {"task_id": "Call mom", "due_date": coming(FR)}),
    ("make the dentist appointment friday at 4pm", "update_task",
     {"task_id": "Dentist appointment", "due_date": coming(FR, 16)}),
    ("the team meeting is now on thursday", "update_task",
     {"task_id": "Team meeting", "due_date": coming(TH)}),
    ("i have the dentist appointment on friday at 11", "update_task",
     {"task_id": "Dentist appointment", "due_date": coming(FR, 11)}),
    ("postpone the lawn by a week", "update_task",
     {"task_id": "Mow the garden lawn", "due_date": on(lambda d: d + timedelta(days=7))}),
    # Priorities.
    ("make the stretch task high priority", "update_task",
     {"task_id": "Stretch for 10 minutes", "priority": "high"}),
    ("set task {Buy groceries} priority to low", "update_task",
     {"task_id": "Buy groceries", "priority": "low"}),
    ("mark the rent as urgent", "update_task", {"task_id": "Pay the rent", "priority": "high"}),
    ("prioritize paying the electricity bill", "update_task",
     {"task_id": "Pay the electricity bill", "priority": "high"}),
    ("the dentist appointment is important", "update_task",
     {"task_id": "Dentist appointment", "priority": "high"}),
    ("lower the priority of the team meeting", "update_task", {"task_id": "Team meeting", "priority": "low"}),
    ("change the priority of task {Call mom} to medium", "update_task",
     {"task_id": "Call mom", "priority": "medium"}),
    ("make call mom low priority", "update_task", {"task_id": "Call mom", "priority": "low"}),
    ("flag the groceries as high priority", "update_task", {"task_id": "Buy groceries", "priority": "high"}),
    ("bump the plants task to high priority", "update_task",
     {"task_id": "Water the plants", "priority": "high"}),
    ("lower the groceries priority", "update_task", {"task_id": "Buy groceries", "priority": "low"}),
    ("give the insurance task high priority", "update_task",
     {"task_id": "Renew car insurance", "priority": "high"}),
    ("set the car insurance to high priority", "update_task",
     {"task_id": "Renew car insurance", "priority": "high"}),
    # Reminders.
    ("remind me about the garden task at 7pm", "update_task",
     {"task_id": "Mow the garden lawn", "remind_at": clock_today_or_tomorrow(19)}),
    ("remind me about task {Call mom} tomorrow at 9am", "update_task",
     {"task_id": "Call mom", "remind_at": tomorrow(9)}),
    ("set a reminder for the dentist appointment tomorrow at 2pm", "update_task",
     {"task_id": "Dentist appointment", "remind_at": tomorrow(14)}),
    ("remind me to call the vet tomorrow", "add_task",
     {"title": "Call the vet", "due_date": tomorrow(), "remind_at": tomorrow()}),
    ("remind me about the car insurance on Friday at noon", "update_task",
     {"task_id": "Renew car insurance", "remind_at": coming(FR, 12)}),
    ("remind me about paying the rent on the 1st at 9am", "update_task",
     {"task_id": "Pay the rent", "remind_at": day_of_month(1)}),
    # Repetitions.
    ("make the plants task repeat every Monday", "update_task",
     {"task_id": "Water the plants", "recurrence": "FREQ=WEEKLY;BYDAY=MO", "due_date": coming(MO)}),
    ("water the plants should repeat every 3 days", "update_task",
     {"task_id": "Water the plants", "recurrence": "FREQ=DAILY;INTERVAL=3", "due_date": NINE}),
    ("make task {Stretch for 10 minutes} recur weekly", "update_task",
     {"task_id": "Stretch for 10 minutes", "recurrence": "FREQ=WEEKLY", "due_date": NINE}),
    ("repeat the stretch task every day", "update_task",
     {"task_id": "Stretch for 10 minutes", "recurrence": "FREQ=DAILY", "due_date": NINE}),
    ("make watering the plants a daily task", "update_task",
     {"task_id": "Water the plants", "recurrence": "FREQ=DAILY", "due_date": NINE}),
    ("water the plants every 3 days", "update_task",
     {"task_id": "Water the plants", "recurrence": "FREQ=DAILY;INTERVAL=3", "due_date": NINE}),
    ("Water the plants should happen every Sunday", "update_task",
     {"task_id": "Water the plants", "recurrence": "FREQ=WEEKLY;BYDAY=SU", "due_date": first_by_rule(SU)}),
    ("make the meeting weekly", "update_task",
     {"task_id": "Team meeting", "recurrence": "FREQ=WEEKLY", "due_date": NINE}),
    # Notes.
    ("add a note to task {Dentist appointment}: bring the insurance card", "update_task",
     {"task_id": "Dentist appointment", "description": "bring the insurance card"}),
]  # fmt: skip


@pytest.fixture
def tasks(alice: User) -> dict[str, Task]:
    made = {title: create_task(owner=alice, title=title) for title in OPEN}
    made |= {title: create_task(owner=alice, title=title, completed=True) for title in DONE}
    return made


def expected(arguments: dict[str, Any], tasks: dict[str, Task], now: datetime) -> dict[str, Any]:
    def value(name: str, given: Any) -> Any:
        if name == "task_id":
            return tasks[given].pk
        if callable(given):
            return given(now)
        return given

    return {name: value(name, given) for name, given in arguments.items()}


def read(arguments: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments, its date-times parsed (9:00 plus a day when the
    message's 9:00 has passed is what "tomorrow" means, so compared exactly)."""
    dated = ("due_date", "remind_at")
    return {
        name: datetime.fromisoformat(value).astimezone(UTC) if name in dated else value
        for name, value in arguments.items()
    }


@pytest.mark.parametrize(("message", "tool", "arguments"), PHRASINGS, ids=[row[0] for row in PHRASINGS])
def test_the_call_a_person_means(alice: User, tasks, message: str, tool: str, arguments: dict) -> None:
    message = message.format(**{title: task.pk for title, task in tasks.items()})
    now = timezone.now().astimezone(UTC)

    reply, records = local_agent.respond(alice, message)

    assert records, reply
    last = records[-1]
    assert (last["tool"], read(last["arguments"])) == (tool, expected(arguments, tasks, now)), reply
    assert not (isinstance(last["result"], dict) and "error" in last["result"]), last["result"]
    if tool != "list_tasks":
        assert f"#{last['result']['task_id']}" in reply
        assert f'"{last["result"]["title"]}"' in reply


def test_there_are_at_least_a_hundred_phrasings() -> None:
    assert len(PHRASINGS) >= 100
