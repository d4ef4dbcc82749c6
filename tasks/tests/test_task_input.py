"""checked_task_input (the create's check on the event loop, its fields built
once per thread) judges every body as a TaskInputSerializer of its own does."""

from __future__ import annotations

import threading

from tasks.serializers import TaskInputSerializer, checked_task_input

BODIES = [
    {"title": "Buy milk", "description": "2 litres", "priority": "high", "tags": ["home"]},
    {"title": ""},
    {"title": "x" * 201, "priority": "urgent", "tags": ["ok", 7, ""]},
    {"title": "Plain"},
    {"title": "Weekly", "due_date": "2031-01-06T09:00Z", "recurrence": "weekly", "time_zone": "Asia/Tokyo"},
    {"title": "Bad zone", "time_zone": "Mars/Olympus", "recurrence": "FREQ=HOURLY"},
    {"title": 3, "completed": "yes", "due_date": "tomorrow"},
    {"description": None},
    None,
    [],
    {"title": "Last", "completed": True, "repeat_from": "completion", "remind_at": None},
]


def judged(serializer: TaskInputSerializer) -> tuple:
    return (dict(serializer.validated_data), {}) if not serializer.errors else ({}, serializer.errors)


def test_each_body_is_judged_as_by_a_serializer_of_its_own() -> None:
    for body in BODIES * 2:  # the fields are reused after bodies valid and invalid alike
        alone = TaskInputSerializer(data=body)
        alone.is_valid()

        assert judged(checked_task_input(body)) == judged(alone), body


def test_each_thread_has_fields_of_its_own() -> None:
    fields = []

    def check() -> None:
        serializer = checked_task_input(BODIES[0])
        fields.append(serializer.fields)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked_task_input(BODIES[1])

    assert fields[0] is not fields[1]
    assert checked_task_input(BODIES[1]).fields is checked_task_input(BODIES[2]).fields
