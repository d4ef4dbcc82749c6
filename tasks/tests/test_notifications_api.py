"""The notifications routes: alice reads hers; bob reaches none of them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from accounts.models import User
from conftest import auth_headers
from tasks.models import Notification
from tasks.reminders import fire_reminder
from tasks.services import create_task
from tasks.tests.test_concurrency import parallel

pytestmark = pytest.mark.django_db

AT = datetime.fromisoformat("2030-01-07T08:00:00+00:00")


def notifications_url(user: User, prefix: str = "/api") -> str:
    return f"{prefix}/{user.pk}/notifications"


@pytest.fixture
def alices(alice: User) -> list[Notification]:
    """Three of alice's reminders, fired in this order."""
    fired = []
    for title in ("Water the plants", "Call mom", "Pay rent"):
        task = create_task(owner=alice, title=title, remind_at=AT)
        fired.append(fire_reminder(task.pk, AT))
    return fired


def test_the_list_is_newest_first_in_the_specs_shape(alice_api, alice: User, alices) -> None:
    response = alice_api.get(notifications_url(alice))

    assert response.status_code == 200
    assert response["X-Total-Count"] == "3"
    body = response.json()
    assert [n["message"] for n in body] == [
        "Reminder: Pay rent",
        "Reminder: Call mom",
        "Reminder: Water the plants",
    ]
    newest = alices[-1]
    assert body[0] == {
        "id": newest.pk,
        "task_id": newest.task_id,
        "kind": "reminder",
        "message": "Reminder: Pay rent",
        "created_at": newest.created_at.isoformat().replace("+00:00", "Z"),
        "read_at": None,
    }
    assert alice_api.get(notifications_url(alice, "/api/v1")).json() == body


def test_reading_one_sets_read_at_once_and_unread_leaves_it_out(alice_api, alice: User, alices) -> None:
    target = alices[1]
    url = f"{notifications_url(alice)}/{target.pk}/read"

    response = alice_api.post(url)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == target.pk
    assert body["read_at"] is not None
    assert datetime.fromisoformat(body["read_at"]) - datetime.fromisoformat(body["created_at"]) < timedelta(
        minutes=1
    )
    # Reading it again keeps the first time.
    assert alice_api.post(url).json()["read_at"] == body["read_at"]

    unread = alice_api.get(notifications_url(alice), {"unread": "true"})
    assert [n["id"] for n in unread.json()] == [alices[2].pk, alices[0].pk]
    assert unread["X-Total-Count"] == "2"
    assert len(alice_api.get(notifications_url(alice), {"unread": "false"}).json()) == 3


@pytest.mark.parametrize("query", [{"unread": "maybe"}, {"limit": "0"}, {"limit": "x"}, {"offset": "-1"}])
def test_bad_query_parameters_are_400(alice_api, alice: User, query: dict) -> None:
    response = alice_api.get(notifications_url(alice), query)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert next(iter(query)) in response.json()["errors"]


def test_limit_and_offset_page_the_list(alice_api, alice: User, alices) -> None:
    response = alice_api.get(notifications_url(alice), {"limit": 1, "offset": 1})
    assert [n["id"] for n in response.json()] == [alices[1].pk]
    assert response["X-Total-Count"] == "3"


def test_bob_reaches_none_of_alices_notifications(bob_api, alice: User, bob: User, alices) -> None:
    target = alices[0]

    assert bob_api.get(notifications_url(bob)).json() == []
    assert bob_api.get(notifications_url(alice)).status_code == 403
    assert bob_api.post(f"{notifications_url(alice)}/{target.pk}/read").status_code == 403
    response = bob_api.post(f"{notifications_url(bob)}/{target.pk}/read")
    assert response.status_code == 404
    assert response.json() == {"detail": "Notification not found", "code": "not_found"}
    target.refresh_from_db()
    assert target.read_at is None


@pytest.mark.parametrize("notification_id", ["999999", "0", "99999999999999999999"])
def test_unknown_ids_are_404(alice_api, alice: User, notification_id: str) -> None:
    response = alice_api.post(f"{notifications_url(alice)}/{notification_id}/read")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_no_token_is_401_and_other_methods_405(api, alice_api, alice: User, alices) -> None:
    assert api.get(notifications_url(alice)).status_code == 401
    assert api.post(f"{notifications_url(alice)}/{alices[0].pk}/read").status_code == 401
    assert alice_api.get(f"{notifications_url(alice)}/{alices[0].pk}/read").status_code == 405
    assert alice_api.delete(notifications_url(alice)).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_reads_keep_one_read_at(shared_server, alice: User) -> None:
    server = shared_server()
    task = create_task(owner=alice, title="Read me", remind_at=AT)
    notification = fire_reminder(task.pk, AT)
    url = f"{notifications_url(alice)}/{notification.pk}/read"

    responses = parallel(server.url, lambda c: [c.post(url, headers=auth_headers(alice)) for _ in range(20)])

    assert [r.status_code for r in responses] == [200] * 20
    notification.refresh_from_db()
    assert {r.json()["read_at"] for r in responses} == {
        notification.read_at.isoformat().replace("+00:00", "Z")
    }
