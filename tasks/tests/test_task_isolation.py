"""Bob can neither see nor change alice's tasks, by any route."""

import pytest

from accounts.models import User
from tasks.models import Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_task(alice: User) -> Task:
    return create_task(owner=alice, title="Alice's secret plan", tags=["private"])


def snapshot(task: Task) -> dict:
    return dict(Task.objects.filter(pk=task.pk).values().get())


ROUTES_BY_ID = [
    ("get", "", None),
    ("put", "", {"title": "Bob was here"}),
    ("patch", "", {"title": "Bob was here"}),
    ("patch", "/complete", None),
    ("patch", "/complete", {"completed": True}),
    ("delete", "", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES_BY_ID)
def test_bob_gets_404_for_alices_task_on_his_own_path(
    bob_api, bob: User, alices_task: Task, method: str, suffix: str, body: dict | None
) -> None:
    before = snapshot(alices_task)

    response = getattr(bob_api, method)(f"/api/{bob.pk}/tasks/{alices_task.pk}{suffix}", body, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found", "code": "not_found"}
    assert snapshot(alices_task) == before


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES_BY_ID)
def test_bob_gets_403_on_alices_path(
    bob_api, alice: User, alices_task: Task, method: str, suffix: str, body: dict | None
) -> None:
    before = snapshot(alices_task)

    response = getattr(bob_api, method)(
        f"/api/{alice.pk}/tasks/{alices_task.pk}{suffix}", body, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert snapshot(alices_task) == before


def test_bob_cannot_list_or_create_on_alices_path(bob_api, alice: User, alices_task: Task) -> None:
    listing = bob_api.get(f"/api/{alice.pk}/tasks")
    creating = bob_api.post(f"/api/{alice.pk}/tasks", {"title": "Planted"}, format="json")

    assert (listing.status_code, creating.status_code) == (403, 403)
    assert "secret" not in listing.content.decode()
    assert list(Task.objects.values_list("title", flat=True)) == ["Alice's secret plan"]


def test_bobs_own_list_shows_none_of_alices_tasks(bob_api, bob: User, alices_task: Task) -> None:
    for params in ({}, {"search": "secret"}, {"tag": "private"}, {"status": "all"}):
        response = bob_api.get(f"/api/{bob.pk}/tasks", params)
        assert response.json() == []
        assert response["X-Total-Count"] == "0"


def test_without_a_token_every_task_route_is_401(api, alice: User, alices_task: Task) -> None:
    for method, suffix, body in ROUTES_BY_ID:
        response = getattr(api, method)(
            f"/api/{alice.pk}/tasks/{alices_task.pk}{suffix}", body, format="json"
        )
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    assert api.get(f"/api/{alice.pk}/tasks").status_code == 401
