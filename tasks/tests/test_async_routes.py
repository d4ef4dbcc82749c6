"""The task routes served on the event loop (tasks/asgi.py) answer exactly
as the Django views do: the same bodies, totals, errors and headers, for the
plain case and for every case they hand over to Django."""

from __future__ import annotations

import httpx
import pytest

from accounts.models import User
from conftest import ServerProcess, auth_headers, client_for
from tasks.models import Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db(transaction=True)

PRIORITIES = ("low", "medium", "high")


@pytest.fixture
def server(shared_server) -> ServerProcess:
    return shared_server()


@pytest.fixture
def tasks(alice: User, bob: User) -> list[Task]:
    made = [
        create_task(owner=alice, title=f"Task {n}", priority=PRIORITIES[n % 3], tags=[f"t{n % 2}"])
        for n in range(12)
    ]
    made[3].description = "Find the needle here"
    made[3].save()
    Task.objects.filter(pk__in=[made[0].pk, made[5].pk]).update(completed=True)
    create_task(owner=bob, title="Bob's needle")
    return made


def over_both(server: ServerProcess, user: User, method: str, path: str) -> tuple:
    """The same request to the live server (the event loop's path) and to Django's views."""
    live = httpx.request(method, f"{server.url}{path}", headers=auth_headers(user))
    return live, client_for(user).generic(method, path)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?limit=5",
        "?limit=5&offset=5",
        "?limit=5&offset=10",
        "?limit=5&offset=50",
        "?status=completed",
        "?status=pending&sort=title",
        "?priority=high&sort=-priority",
        "?tag=t1&sort=due_date",
        "?search=NEEDLE",
        "?sort=-updated&limit=3",
        "?limit=0",
        "?sort=owner",
        "?offset=-1",
    ],
)
def test_the_list_answers_as_the_django_view(server: ServerProcess, alice: User, tasks, query: str) -> None:
    live, django = over_both(server, alice, "GET", f"/api/{alice.pk}/tasks{query}")

    assert live.status_code == django.status_code
    assert live.json() == django.json()
    assert live.headers.get("x-total-count") == django.get("X-Total-Count")
    assert live.headers["content-type"] == django["Content-Type"]


def test_one_task_answers_as_the_django_view(server: ServerProcess, alice: User, bob: User, tasks) -> None:
    bobs = Task.objects.get(owner=bob)
    for path in (
        f"/api/{alice.pk}/tasks/{tasks[3].pk}",
        f"/api/v1/{alice.pk}/tasks/{tasks[3].pk}",
        f"/api/{alice.pk}/tasks/{bobs.pk}",
        f"/api/{alice.pk}/tasks/0",
        f"/api/{alice.pk}/tasks/999999999999999999",
        f"/api/{bob.pk}/tasks/{bobs.pk}",
    ):
        live, django = over_both(server, alice, "GET", path)

        assert (live.status_code, live.json()) == (django.status_code, django.json()), path


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (None, None),
        (b'{"completed": true}', "application/json"),
        (b'{"completed": false}', "application/json"),
        (b"{}", "application/json"),
        (b"null", "application/json"),
        (b'{"completed": "yes"}', "application/json"),
        (b"{not json", "application/json"),
        (b"completed=true", "application/x-www-form-urlencoded"),
    ],
)
def test_the_toggle_answers_as_the_django_view(
    server: ServerProcess, alice: User, tasks, content: bytes | None, content_type: str | None
) -> None:
    path = f"/api/{alice.pk}/tasks/{tasks[1].pk}/complete"
    kwargs = {} if content is None else {"content": content, "headers": {"Content-Type": content_type}}
    headers = {**auth_headers(alice), **kwargs.pop("headers", {})}
    live = httpx.patch(f"{server.url}{path}", headers=headers, **kwargs)
    after_live = Task.objects.get(pk=tasks[1].pk).completed
    if content is None:
        django = client_for(alice).patch(path)
    else:
        django = client_for(alice).patch(path, data=content, content_type=content_type)

    assert live.status_code == django.status_code
    if live.status_code == 200:
        assert live.json()["completed"] == after_live
        assert set(live.json()) == set(django.json())
    else:
        assert live.json() == django.json()


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"title": "  Plan the trip  "}', "application/json"),
        (
            b'{"title": "Taxes", "description": "forms", "priority": "high", "tags": ["home", " home ", "x"],'
            b' "due_date": "2026-12-01T09:30:00+02:00", "completed": true, "id": 7, "user_id": "someone"}',
            "application/json; charset=utf-8",
        ),
        (b'{"title": "No tags", "tags": [], "description": null, "due_date": null}', "application/json"),
        (
            b'{"title": "Stand-up", "due_date": "2026-12-01T09:30:00+01:00", "recurrence": "weekly",'
            b' "time_zone": "Europe/Berlin"}',
            "application/json",
        ),
        (b'{"title": "Call", "remind_at": "2030-01-01T08:00:00Z"}', "application/json"),
        (b'{"title": "x", "recurrence": "weekly"}', "application/json"),
        (b'{"title": "x", "due_date": "2026-12-01T09:30:00Z", "recurrence": "hourly"}', "application/json"),
        (b'{"title": "x", "time_zone": "Mars/Olympus"}', "application/json"),
        (b'{"title": ""}', "application/json"),
        (b'{"title": "x", "priority": "urgent"}', "application/json"),
        (b'{"title": "x", "tags": [""]}', "application/json"),
        (rb'{"title": "nul \u0000"}', "application/json"),
        (b'{"title": NaN}', "application/json"),
        (b'["title"]', "application/json"),
        (b"null", "application/json"),
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"title=x", "application/x-www-form-urlencoded"),
        (b'{"title": "latin"}', "application/json; charset=latin-1"),
    ],
)
def test_a_create_answers_as_the_django_view(
    server: ServerProcess, alice: User, content: bytes, content_type: str
) -> None:
    path = f"/api/{alice.pk}/tasks"
    headers = {**auth_headers(alice), "Content-Type": content_type}
    live = httpx.post(f"{server.url}{path}", headers=headers, content=content)
    django = client_for(alice).post(path, data=content, content_type=content_type)

    assert live.status_code == django.status_code
    if live.status_code != 201:
        assert live.json() == django.json()
        assert Task.objects.filter(owner=alice).count() == 0
        return
    made, django_made = live.json(), django.json()
    assert live.headers["location"] == f"{path}/{made['id']}"
    assert live.headers["content-type"] == django["Content-Type"]
    unstable = {"id", "created_at", "updated_at"}
    assert {k: v for k, v in made.items() if k not in unstable} == {
        k: v for k, v in django_made.items() if k not in unstable
    }
    assert made["created_at"] == made["updated_at"]
    assert client_for(alice).get(f"{path}/{made['id']}").json() == made


def test_a_create_past_the_limit_or_for_a_user_gone_is_djangos_answer(
    live_server_process, alice: User, bob: User
) -> None:
    server = live_server_process(MAX_TASKS_PER_USER="1")
    path = f"{server.url}/api/{alice.pk}/tasks"

    first = httpx.post(path, headers=auth_headers(alice), json={"title": "One"})
    second = httpx.post(path, headers=auth_headers(alice), json={"title": "Two"})
    bobs_try = httpx.post(path, headers=auth_headers(bob), json={"title": "Bob's"})
    headers = auth_headers(alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    deactivated = httpx.post(path, headers=headers, json={"title": "Three"})

    assert first.status_code == 201
    assert (second.status_code, second.json()["code"]) == (409, "task_limit_reached")
    assert (bobs_try.status_code, bobs_try.json()["code"]) == (403, "permission_denied")
    assert (deactivated.status_code, deactivated.json()["code"]) == (401, "invalid_token")
    assert list(Task.objects.values_list("title", flat=True)) == ["One"]


def test_bad_or_missing_tokens_get_djangos_401(server: ServerProcess, alice: User, tasks) -> None:
    path = f"{server.url}/api/{alice.pk}/tasks"
    revoked = auth_headers(alice)
    client_for(alice).post("/api/auth/signout-all")

    for headers in ({}, {"Authorization": "Bearer not.a.jwt"}, {"Authorization": "Basic abc"}, revoked):
        toggle = f"{path}/{tasks[0].pk}/complete"
        for response in (
            httpx.get(path, headers=headers),
            httpx.patch(toggle, headers=headers),
            httpx.post(path, headers=headers, json={"title": "Not made"}),
        ):
            assert response.status_code == 401
            assert response.json()["code"] in ("not_authenticated", "invalid_token")
    assert Task.objects.get(pk=tasks[0].pk).completed is True
    assert not Task.objects.filter(title="Not made").exists()


def test_a_deactivated_users_token_gets_401_and_changes_nothing(
    server: ServerProcess, alice: User, tasks
) -> None:
    headers = auth_headers(alice)
    user_id, task_id = alice.pk, tasks[1].pk
    User.objects.filter(pk=user_id).update(is_active=False)

    toggled = httpx.patch(f"{server.url}/api/{user_id}/tasks/{task_id}/complete", headers=headers)
    listed = httpx.get(f"{server.url}/api/{user_id}/tasks", headers=headers)

    assert (toggled.status_code, listed.status_code) == (401, 401)
    assert Task.objects.get(pk=task_id).completed is False


def test_bob_gets_403_on_alices_paths_and_404_for_her_task(
    server: ServerProcess, alice: User, bob: User, tasks
) -> None:
    on_alices_path = httpx.get(f"{server.url}/api/{alice.pk}/tasks", headers=auth_headers(bob))
    toggle_alices = httpx.patch(
        f"{server.url}/api/{bob.pk}/tasks/{tasks[1].pk}/complete", headers=auth_headers(bob)
    )

    assert (on_alices_path.status_code, on_alices_path.json()["code"]) == (403, "permission_denied")
    assert (toggle_alices.status_code, toggle_alices.json()["code"]) == (404, "not_found")
    assert Task.objects.get(pk=tasks[1].pk).completed is False


def test_the_answers_carry_cors_and_security_headers(server: ServerProcess, alice: User, tasks) -> None:
    headers = {**auth_headers(alice), "Origin": "http://localhost:3000"}

    for response in (
        httpx.get(f"{server.url}/api/{alice.pk}/tasks", headers=headers),
        httpx.get(f"{server.url}/api/{alice.pk}/tasks/{tasks[0].pk}", headers=headers),
        httpx.patch(f"{server.url}/api/{alice.pk}/tasks/{tasks[0].pk}/complete", headers=headers),
        httpx.post(f"{server.url}/api/{alice.pk}/tasks", headers=headers, json={"title": "New"}),
    ):
        assert response.status_code in (200, 201)
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "X-Total-Count" in response.headers["access-control-expose-headers"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert int(response.headers["content-length"]) == len(response.content)


def test_a_host_not_allowed_and_a_query_not_utf8_are_400(shared_server, alice: User) -> None:
    server = shared_server(ALLOWED_HOSTS="api.example.com")
    path = f"{server.url}/api/{alice.pk}/tasks"

    bad_host = httpx.get(path, headers={**auth_headers(alice), "Host": "evil.example.com"})
    bad_query = httpx.get(f"{path}?search=%FF", headers={**auth_headers(alice), "Host": "api.example.com"})

    assert (bad_host.status_code, bad_host.json()["code"]) == (400, "invalid_host")
    assert "Traceback" not in server.stderr
    assert (bad_query.status_code, bad_query.json()["code"]) == (400, "parse_error")


def test_other_methods_on_the_routes_reach_django(server: ServerProcess, alice: User, tasks) -> None:
    client = httpx.Client(base_url=server.url, headers=auth_headers(alice))

    created = client.post(f"/api/{alice.pk}/tasks/{tasks[0].pk}", json={"title": "Not a route"})
    renamed = client.patch(f"/api/{alice.pk}/tasks/{tasks[0].pk}", json={"title": "Renamed"})
    head = client.head(f"/api/{alice.pk}/tasks")
    wrong = client.delete(f"/api/{alice.pk}/tasks")

    assert (created.status_code, renamed.status_code, head.status_code) == (405, 200, 200)
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
