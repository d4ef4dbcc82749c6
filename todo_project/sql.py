"""SQL compiled by the ORM, to run on psycopg's async pool (tasks/asgi.py)
as well as on Django's cursors.

Building and compiling a queryset costs more of a request's time on the
event loop than the database does, so the hot statements are compiled once
per shape (Template) and reused with each request's own values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class Statement:
    """SQL with its parameters, for Django's cursor or psycopg's async pool alike."""

    sql: str
    params: list[Any]


def joined(*statements: Statement) -> Statement:
    """Statements in one query: PostgreSQL runs them as one transaction, in
    one round trip (the async pool binds parameters on the client side)."""
    return Statement(
        "; ".join(statement.sql for statement in statements),
        [param for statement in statements for param in statement.params],
    )


def compiled(queryset: QuerySet[Any]) -> Statement:
    """The SQL the ORM would run for a queryset, without running it."""
    sql, params = queryset.query.sql_with_params()
    return Statement(sql, list(params))


class Template:
    """A queryset's SQL compiled once, with some of its parameters left to
    fill in: the queryset is built from sample values, and statement() puts
    each call's own values where the samples were.

    Only for values the ORM passes through as parameters unchanged (ids,
    numbers, datetimes), never for values that change the SQL itself (a
    filter present or not, a sort key, LIMIT and OFFSET): those belong to
    the shape, and each shape has its own Template. Each sample must be a
    value no other parameter can equal (a fresh UUID, say)."""

    def __init__(self, queryset: QuerySet[Any], **samples: Any) -> None:
        statement = compiled(queryset)
        self.sql = statement.sql
        self.params = statement.params
        self.slots: dict[str, list[int]] = {}
        for name, sample in samples.items():
            # isinstance: Django's psycopg backend wraps ints (Int4 for an
            # IntegerField); each call's value goes in as a plain value.
            positions = [
                index
                for index, param in enumerate(self.params)
                if isinstance(param, type(sample)) and param == sample
            ]
            if not positions:
                raise ValueError(f"{name}'s sample is not among the parameters: {self.sql}")
            self.slots[name] = positions

    def statement(self, **values: Any) -> Statement:
        params = list(self.params)
        for name, positions in self.slots.items():
            for index in positions:
                params[index] = values[name]
        return Statement(self.sql, params)
