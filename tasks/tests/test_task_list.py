"""The list: filters, sorting, paging, X-Total-Count and a constant number of queries."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import User
from tasks.models import Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def tasks(alice: User, bob: User) -> dict[str, Task]:
    """Alice's tasks, created oldest first, and one of bob's."""
    made = {
        "groceries": create_task(
            owner=alice, title="Buy groceries", tags=["home", "shopping"], priority="low"
        ),
        "taxes": create_task(
            owner=alice,
            title="file taxes",
            description="Forms at the BANK",
            priority="high",
            due_date=NOW + timedelta(days=3),
        ),
        "dentist": create_task(
            owner=alice, title="Dentist", tags=["health"], due_date=NOW + timedelta(days=1)
        ),
        "meeting": create_task(
            owner=alice, title="Team meeting", tags=["work"], completed=True, priority="high"
        ),
        "bobs": create_task(owner=bob, title="Bob's groceries", tags=["home"]),
    }
    return made


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [task["title"] for task in response.json()]


def get_list(client, user: User, **params):
    return client.get(f"/api/{user.pk}/tasks", params)


def test_the_list_is_a_bare_array_newest_first(alice_api, alice: User, tasks) -> None:
    response = get_list(alice_api, alice)

    assert titles(response) == ["Team meeting", "Dentist", "file taxes", "Buy groceries"]
    assert response["X-Total-Count"] == "4"
    assert set(response.json()[0]) == {
        "id", "user_id", "title", "description", "completed", "priority", "tags", "due_date", "recurrence",
        "remind_at", "time_zone", "repeat_from", "next_task_id", "version", "created_at", "updated_at",
    }  # fmt: skip


def test_timestamps_carry_a_utc_offset(alice_api, alice: User, tasks) -> None:
    task = next(t for t in get_list(alice_api, alice).json() if t["title"] == "Dentist")

    for field in ("created_at", "updated_at", "due_date"):
        assert task[field].endswith("Z")
        assert datetime.fromisoformat(task[field]).utcoffset() == timedelta(0)
    assert task["due_date"] == "2026-11-26T12:00:00.000000Z"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "all"}, ["Team meeting", "Dentist", "file taxes", "Buy groceries"]),
        ({"status": "pending"}, ["Dentist", "file taxes", "Buy groceries"]),
        ({"status": "completed"}, ["Team meeting"]),
        ({"priority": "high"}, ["Team meeting", "file taxes"]),
        ({"priority": ""}, ["Team meeting", "Dentist", "file taxes", "Buy groceries"]),
        ({"tag": "home"}, ["Buy groceries"]),
        ({"tag": "nothing"}, []),
        ({"search": "GROC"}, ["Buy groceries"]),
        ({"search": "bank"}, ["file taxes"]),
        ({"search": "100%_"}, []),
        ({"status": "pending", "priority": "high", "search": "tax"}, ["file taxes"]),
    ],
)
def test_filters(alice_api, alice: User, tasks, params: dict, expected: list[str]) -> None:
    response = get_list(alice_api, alice, **params)

    assert titles(response) == expected
    assert response["X-Total-Count"] == str(len(expected))


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("created", ["Buy groceries", "file taxes", "Dentist", "Team meeting"]),
        ("-created", ["Team meeting", "Dentist", "file taxes", "Buy groceries"]),
        ("title", ["Buy groceries", "Dentist", "file taxes", "Team meeting"]),
        ("-title", ["Team meeting", "file taxes", "Dentist", "Buy groceries"]),
        ("due_date", ["Dentist", "file taxes", "Buy groceries", "Team meeting"]),
        ("-due_date", ["file taxes", "Dentist", "Team meeting", "Buy groceries"]),
        ("priority", ["Buy groceries", "Dentist", "file taxes", "Team meeting"]),
        ("-priority", ["Team meeting", "file taxes", "Dentist", "Buy groceries"]),
    ],
)
def test_sorting_with_null_due_dates_last(
    alice_api, alice: User, tasks, sort: str, expected: list[str]
) -> None:
    assert titles(get_list(alice_api, alice, sort=sort)) == expected


def test_sort_by_updated(alice_api, alice: User, tasks) -> None:
    alice_api.patch(f"/api/{alice.pk}/tasks/{tasks['groceries'].pk}", {"priority": "medium"}, format="json")

    assert titles(get_list(alice_api, alice, sort="-updated"))[0] == "Buy groceries"


def test_paging_with_limit_and_offset(alice_api, alice: User, tasks) -> None:
    first = get_list(alice_api, alice, limit=2)
    second = get_list(alice_api, alice, limit=2, offset=2)
    beyond = get_list(alice_api, alice, limit=2, offset=10)

    assert titles(first) == ["Team meeting", "Dentist"]
    assert titles(second) == ["file taxes", "Buy groceries"]
    assert titles(beyond) == []
    assert first["X-Total-Count"] == second["X-Total-Count"] == beyond["X-Total-Count"] == "4"


def test_pages_never_overlap_when_timestamps_tie(alice_api, alice: User) -> None:
    for n in range(6):
        create_task(owner=alice, title=f"Task {n}")
    Task.objects.update(created_at=NOW)

    pages = [titles(get_list(alice_api, alice, limit=2, offset=offset)) for offset in (0, 2, 4)]

    seen = [title for page in pages for title in page]
    assert sorted(seen) == sorted(f"Task {n}" for n in range(6))


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"status": "done"}, "status"),
        ({"priority": "urgent"}, "priority"),
        ({"sort": "owner"}, "sort"),
        ({"sort": "--created"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": str(10**20)}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": str(10**20)}, "offset"),
        ({"search": "nul\x00"}, "search"),
        ({"search": "s" * 201}, "search"),
        ({"tag": "t" * 51}, "tag"),
    ],
)
def test_a_bad_query_value_is_400_naming_the_parameter(
    alice_api, alice: User, params: dict, parameter: str
) -> None:
    response = get_list(alice_api, alice, **params)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["errors"]) == [parameter]
    assert response.json()["detail"] == f"{parameter}: {response.json()['errors'][parameter][0]}"


def test_unknown_query_parameters_are_ignored(alice_api, alice: User, tasks) -> None:
    assert len(titles(get_list(alice_api, alice, colour="blue"))) == 4


@pytest.mark.parametrize("count", [1, 30])
def test_the_list_costs_the_same_queries_whatever_the_page_size(
    alice_api, alice: User, django_assert_num_queries, count: int
) -> None:
    Task.objects.bulk_create(Task(owner=alice, title=f"Task {n}", tags=["t"]) for n in range(count))

    # The token's user, then the page, which tells the count when it is not full.
    with django_assert_num_queries(2):
        assert len(get_list(alice_api, alice).json()) == count
    # A full page, or one past the end, needs a count query too.
    with django_assert_num_queries(3):
        response = get_list(alice_api, alice, limit=1, tag="t", search="Task")
    assert response["X-Total-Count"] == str(count)
    with django_assert_num_queries(3):
        beyond = get_list(alice_api, alice, offset=count + 5)
    assert (beyond.json(), beyond["X-Total-Count"]) == ([], str(count))


def test_a_listed_task_is_the_same_body_as_the_task_alone(alice_api, alice: User, tasks) -> None:
    for listed in get_list(alice_api, alice).json():
        alone = alice_api.get(f"/api/{alice.pk}/tasks/{listed['id']}").json()
        assert listed == alone


def test_special_characters_survive_the_list(alice_api, alice: User) -> None:
    title = 'Quote " backslash \\ tab \t émoji 🎉 <b>'
    create_task(owner=alice, title=title, description="line\nbreak", tags=["ünï"])

    listed = get_list(alice_api, alice).json()[0]

    assert (listed["title"], listed["description"], listed["tags"]) == (title, "line\nbreak", ["ünï"])
