"""Paging with limit and offset, shared by the task list and the conversations."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet


def total_from_page(page_length: int, *, limit: int, offset: int) -> int | None:
    """The matches before limit and offset (X-Total-Count) when the page tells
    them (a short page that is not past the end), else None: count them."""
    if page_length < limit and (page_length or offset == 0):
        return offset + page_length
    return None


def total_matches(matches: QuerySet[Any], page_length: int, *, limit: int, offset: int) -> int:
    """The matches before limit and offset, counted with a second query only
    when the page cannot tell."""
    total = total_from_page(page_length, limit=limit, offset=offset)
    return matches.count() if total is None else total
