import pytest

from accounts.models import User
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
