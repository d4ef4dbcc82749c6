"""tasks.services, as the chat tools and the MCP server call it."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User
from tasks import services
from tasks.models import Task

pytestmark = pytest.mark.django_db


def test_list_tasks_returns_rows_and_the_total(alice: User, bob: User) -> None:
    for n in range(3):
        services.create_task(owner=alice, title=f"Alice {n}", completed=n == 0)
    services.create_task(owner=bob, title="Bob")

    page = services.list_tasks(owner=alice, query=services.ListQuery(status="pending", limit=1))

    assert [row["title"] for row in page.rows] == ["Alice 2"]
    assert page.total == 2
    assert set(page.rows[0]) == set(services.TASK_FIELDS)


def test_services_validate_what_no_serializer_checked(alice: User) -> None:
    with pytest.raises(ValidationError) as error:
        services.create_task(owner=alice, title="x" * 201, priority="urgent", tags=["ok", "nul\x00"])

    assert {"title", "priority", "tags"} <= set(error.value.message_dict)
    assert not Task.objects.exists()


def test_another_users_task_is_not_found_for_every_operation(alice: User, bob: User) -> None:
    task = services.create_task(owner=alice, title="Alice's")

    for call in (
        lambda: services.get_task(owner=bob, task_id=task.pk),
        lambda: services.update_task(owner=bob, task_id=task.pk, changes={"title": "Bob's"}),
        lambda: services.set_task_completion(owner=bob, task_id=task.pk),
        lambda: services.delete_task(owner=bob, task_id=task.pk),
    ):
        with pytest.raises(services.TaskNotFound):
            call()
    task.refresh_from_db()
    assert (task.title, task.completed) == ("Alice's", False)


def test_delete_returns_the_deleted_task(alice: User) -> None:
    task = services.create_task(owner=alice, title="Gone soon")

    deleted = services.delete_task(owner=alice, task_id=task.pk)

    assert (deleted.pk, deleted.title) == (task.pk, "Gone soon")
    assert not Task.objects.exists()


@pytest.mark.parametrize("task_id", [0, -1, 2**63])
def test_impossible_ids_are_not_found(alice: User, task_id: int) -> None:
    with pytest.raises(services.TaskNotFound):
        services.get_task(owner=alice, task_id=task_id)
