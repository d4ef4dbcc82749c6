"""Statements compiled once per shape (todo_project.sql.Template) select
exactly what the querysets they come from select."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from accounts.auth import TokenClaims, token_holder, token_holder_statement
from accounts.models import User
from tasks.asgi import _list_shape, _task_body_template
from tasks.models import Task
from tasks.serializers import TaskListQuerySerializer
from tasks.services import ListQuery, create_task, task_body_query, task_page
from todo_project.sql import Statement, Template, compiled

pytestmark = pytest.mark.django_db


def rows(statement: Statement) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        return cursor.fetchall()


def test_a_sample_missing_from_the_parameters_is_refused() -> None:
    with pytest.raises(ValueError, match="owner_id"):
        Template(Task.objects.filter(title="x").values("pk"), owner_id=uuid.uuid4())


def test_the_token_guard_selects_what_token_holder_selects(alice: User, bob: User) -> None:
    now = datetime.now(UTC)
    User.objects.filter(pk=bob.pk).update(tokens_revoked_at=now)
    claims = [
        TokenClaims(user_id=alice.pk, issued_at=now, version=alice.token_version),
        TokenClaims(user_id=alice.pk, issued_at=now, version=alice.token_version + 1),
        TokenClaims(user_id=alice.pk, issued_at=now, version=2**40),
        TokenClaims(user_id=alice.pk, issued_at=now, version=None),
        TokenClaims(user_id=bob.pk, issued_at=now - timedelta(seconds=5), version=None),
        TokenClaims(user_id=bob.pk, issued_at=now + timedelta(seconds=5), version=None),
        TokenClaims(user_id=str(uuid.uuid4()), issued_at=now, version=0),
    ]

    found = [rows(token_holder_statement(claim)) for claim in claims]

    assert found == [[(alice.pk,)], [], [], [(alice.pk,)], [], [(bob.pk,)], []]
    for claim, holders in zip(claims[:2] + claims[3:], found[:2] + found[3:], strict=True):
        assert holders == [(pk,) for pk in token_holder(claim).values_list("pk", flat=True)]


@pytest.mark.parametrize(
    "query", ["", "limit=2", "status=pending&sort=title", "search=plan&tag=home", "priority=high&offset=1"]
)
def test_a_list_shape_selects_what_task_page_selects(alice: User, bob: User, query: str) -> None:
    for n in range(4):
        create_task(owner=alice, title=f"Plan {n}", priority=("high", "low")[n % 2], tags=["home"])
    create_task(owner=bob, title="Bob's plan", priority="high", tags=["home"])
    filters = TaskListQuerySerializer(data=dict(pair.split("=") for pair in query.split("&") if pair))
    filters.is_valid(raise_exception=True)

    for owner in (alice, bob):
        shape = _list_shape(query)
        matches, page = task_page(owner=owner, query=ListQuery(**filters.validated_data))

        assert rows(shape.page.statement(owner_id=owner.pk)) == rows(compiled(page))
        assert rows(shape.matches.statement(owner_id=owner.pk)) == rows(compiled(matches.values("pk")))
    assert _list_shape(query) is _list_shape(query)


def test_an_invalid_query_has_no_shape() -> None:
    assert _list_shape("limit=0") is None
    assert _list_shape("sort=owner") is None


def test_the_task_body_template_is_scoped_to_its_owner(alice: User, bob: User) -> None:
    task = create_task(owner=alice, title="Alice's")

    mine = rows(_task_body_template().statement(owner_id=alice.pk, task_id=task.pk))
    theirs = rows(_task_body_template().statement(owner_id=bob.pk, task_id=task.pk))

    assert mine == rows(compiled(task_body_query(owner=alice, task_id=task.pk)))
    assert len(mine) == 1
    assert theirs == []
