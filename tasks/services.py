"""Every read and write of tasks. The REST views, the chat tools and the MCP
server call these functions and nothing else, so ownership and validation
rules live here: every function takes the owner from the caller's
authentication, never from input."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, F, IntegerField, OrderBy, Q, Value, When
from django.db.models.functions import Lower
from rest_framework import exceptions

from accounts.models import User
from tasks.models import Priority, Task

# The columns of a task's body, read with .values() on the list's hot path.
TASK_FIELDS = (
    "id", "owner_id", "title", "description", "completed", "priority", "tags", "due_date",
    "created_at", "updated_at",
)  # fmt: skip
UPDATABLE_FIELDS = frozenset({"title", "description", "completed", "priority", "tags", "due_date"})

STATUSES = ("all", "pending", "completed")
SORT_KEYS = ("created", "updated", "title", "due_date", "priority")
DEFAULT_SORT = "-created"
MAX_LIMIT = 1000
# Past PostgreSQL's bigint no row can exist; larger ids are simply not found.
MAX_ID = 2**63 - 1


class TaskNotFound(exceptions.NotFound):
    """Raised for a missing task and for another user's task alike: existence is never revealed."""

    default_detail = "Task not found"


@dataclass(frozen=True)
class TaskPage:
    rows: list[dict[str, Any]]
    total: int


def create_task(
    *,
    owner: User,
    title: str,
    description: str | None = None,
    priority: str = Priority.MEDIUM,
    tags: Iterable[str] = (),
    due_date: datetime | None = None,
    completed: bool = False,
) -> Task:
    task = Task(
        owner=owner,
        title=title.strip(),
        description=description,
        priority=priority,
        tags=_unique(tags),
        due_date=due_date,
        completed=completed,
    )
    _validate(task)
    task.save()
    return task


def get_task(*, owner: User, task_id: int) -> Task:
    if not 0 < task_id <= MAX_ID:
        raise TaskNotFound()
    task = Task.objects.for_user(owner).filter(pk=task_id).first()
    if task is None:
        raise TaskNotFound()
    return task


def update_task(*, owner: User, task_id: int, changes: Mapping[str, Any]) -> Task:
    """Apply the given fields only; fields left out keep their values."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    task = get_task(owner=owner, task_id=task_id)
    for field, value in changes.items():
        if field == "title":
            value = value.strip()
        elif field == "tags":
            value = _unique(value)
        setattr(task, field, value)
    _validate(task)
    task.save()
    return task


def set_task_completion(*, owner: User, task_id: int, completed: bool | None = None) -> Task:
    """Set completion, or toggle it when `completed` is None."""
    task = get_task(owner=owner, task_id=task_id)
    task.completed = (not task.completed) if completed is None else completed
    task.save(update_fields=["completed", "updated_at"])
    return task


def delete_task(*, owner: User, task_id: int) -> Task:
    """Delete and return the task (its id and title stay readable)."""
    task = get_task(owner=owner, task_id=task_id)
    deleted_id = task.pk
    task.delete()
    task.pk = task.id = deleted_id
    return task


def list_tasks(
    *,
    owner: User,
    status: str = "all",
    priority: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str = DEFAULT_SORT,
    limit: int = MAX_LIMIT,
    offset: int = 0,
) -> TaskPage:
    """One page of the owner's tasks as rows of TASK_FIELDS, and the number of
    matches before paging. One query for the page; a second for the count only
    when the page does not tell it."""
    tasks = Task.objects.for_user(owner)
    if status == "pending":
        tasks = tasks.filter(completed=False)
    elif status == "completed":
        tasks = tasks.filter(completed=True)
    if priority:
        tasks = tasks.filter(priority=priority)
    if tag:
        tasks = tasks.filter(tags__contains=[tag])
    if search:
        tasks = tasks.filter(Q(title__icontains=search) | Q(description__icontains=search))

    rows = list(tasks.order_by(*_ordering(sort)).values(*TASK_FIELDS)[offset : offset + limit])
    if len(rows) < limit and (rows or offset == 0):
        total = offset + len(rows)
    else:
        total = tasks.count()
    return TaskPage(rows=rows, total=total)


def _ordering(sort: str) -> list[OrderBy | Any]:
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    expression = {
        "created": F("created_at"),
        "updated": F("updated_at"),
        "title": Lower("title"),
        "due_date": F("due_date"),
        "priority": Case(
            When(priority=Priority.LOW, then=Value(0)),
            When(priority=Priority.MEDIUM, then=Value(1)),
            When(priority=Priority.HIGH, then=Value(2)),
            output_field=IntegerField(),
        ),
    }[key]
    primary = expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
    # The id breaks ties, so pages never overlap or skip.
    return [primary, F("id").desc() if descending else F("id").asc()]


def _validate(task: Task) -> None:
    # Lengths, choices, NUL bytes, tag rules; the database checks its constraints itself.
    task.full_clean(exclude=["owner"], validate_unique=False, validate_constraints=False)


def _unique(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags))
