from datetime import UTC, datetime

import pytest

from accounts.models import User
from tasks.reminders import fire_reminder
from tasks.services import create_task

pytestmark = pytest.mark.django_db


def test_the_admin_lists_filters_and_searches_tasks(client, alice: User, bob: User) -> None:
    create_task(owner=alice, title="Water the plants", priority="high")
    create_task(owner=bob, title="Fix the bike", completed=True)
    client.force_login(User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1"))

    listing = client.get("/admin/tasks/task/")
    by_title = client.get("/admin/tasks/task/", {"q": "plants"})
    by_owner = client.get("/admin/tasks/task/", {"q": "bob@example.com"})
    completed = client.get("/admin/tasks/task/", {"completed__exact": "1"})

    assert listing.status_code == 200
    assert b"Water the plants" in listing.content
    assert b"Fix the bike" in listing.content
    assert b"Fix the bike" not in by_title.content
    assert b"Water the plants" in by_title.content
    assert b"Water the plants" not in by_owner.content
    assert b"Water the plants" not in completed.content
    assert b"Fix the bike" in completed.content


def test_the_admin_shows_recurrence_reminders_and_notifications(client, alice: User) -> None:
    remind_at = datetime(2030, 1, 7, 8, tzinfo=UTC)
    task = create_task(
        owner=alice,
        title="Water the plants",
        due_date=remind_at,
        recurrence="FREQ=WEEKLY;BYDAY=MO",
        remind_at=remind_at,
    )
    fire_reminder(task.pk, remind_at)
    client.force_login(User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1"))

    listing = client.get("/admin/tasks/task/")
    change = client.get(f"/admin/tasks/task/{task.pk}/change/")
    notifications = client.get("/admin/tasks/notification/")
    jobs = client.get("/admin/procrastinate/procrastinatejob/")

    assert b"FREQ=WEEKLY;BYDAY=MO" in listing.content
    assert b"Jan. 7, 2030" in listing.content
    assert change.status_code == 200
    for field in (b'name="recurrence"', b'name="remind_at_0"', b'name="time_zone"', b'name="next_task"'):
        assert field in change.content
    assert notifications.status_code == 200
    assert b"Reminder: Water the plants" in notifications.content
    assert jobs.status_code == 200
