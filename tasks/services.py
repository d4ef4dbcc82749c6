"""Every read and write of tasks. The REST views, the chat tools and the MCP
server call these functions and nothing else, so ownership and validation
rules live here: every function takes the owner from the caller's
authentication, never from input.

Every write transaction starts with begin_change (or a statement that does
the same): it names the change feed's `source` for the transaction (the
triggers of events/migrations/ record each change; a transaction that names
none is recorded as `api`) and takes the owner's row lock first, so a user's
writes lock the owner, then tasks, then the feed, in that order, and never
wait for each other in a cycle. The one exception is
completion_statement, one statement on one row: it locks the task, then the
feed, and waits for nothing after."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, OrderBy, Q, QuerySet, TextField, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework import exceptions, status

from accounts.models import User
from events.models import ChangeSource
from tasks.models import Notification, Priority, RepeatFrom, Task, latest_reminder
from tasks.recurrence import InvalidRule, check_recurs, next_occurrence
from tasks.reminders import schedule_reminder
from todo_project.conditional import etag
from todo_project.paging import total_matches
from todo_project.sql import Statement, compiled, joined

# The columns behind a task's body (tasks.serializers.task_body).
TASK_FIELDS = (
    "id", "owner_id", "title", "description", "completed", "priority", "tags", "due_date",
    "recurrence", "remind_at", "time_zone", "repeat_from", "next_task_id", "version", "created_at",
    "updated_at",
)  # fmt: skip
UPDATABLE_FIELDS = frozenset({
    "title", "description", "completed", "priority", "tags", "due_date",
    "recurrence", "remind_at", "time_zone", "repeat_from",
})  # fmt: skip

STATUSES = ("all", "pending", "completed")
SORT_KEYS = ("created", "updated", "title", "due_date", "priority")
DEFAULT_SORT = "-created"
MAX_LIMIT = 1000
# Past PostgreSQL's bigint no row can exist; larger ids are simply not found.
MAX_ID = 2**63 - 1


class TaskNotFound(exceptions.NotFound):
    """Raised for a missing task and for another user's task alike: existence is never revealed."""

    default_detail = "Task not found"


class TaskLimitReached(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "task_limit_reached"

    def __init__(self) -> None:
        super().__init__(
            f"You have reached the limit of {settings.MAX_TASKS_PER_USER} tasks; delete some to add more."
        )


class PreconditionFailed(exceptions.APIException):
    """An If-Match that names another version than the task's: the answer
    carries the current task, so a client can merge and try again."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = "The task has changed since that version; the current task is under current."

    def __init__(self, current: Task) -> None:
        from tasks.serializers import task_instance_body  # the serializers import this module

        super().__init__()
        self.extra_body = {"current": task_instance_body(current)}
        self.extra_headers = {"ETag": etag(current.version)}


def _check_version(task: Task, versions: Collection[int] | None) -> None:
    """`versions`: those an If-Match accepts (None: any)."""
    if versions is not None and task.version not in versions:
        raise PreconditionFailed(task)


# Who makes the changes of the current context: the change feed's `source`.
# The REST routes leave the default; the assistant, MCP and the worker say so.
CHANGE_SOURCE: ContextVar[str] = ContextVar("change_source", default=ChangeSource.API)

# Names the transaction's source and locks the owner's row (see the module's docstring).
_BEGIN_CHANGE_SQL = (
    "SELECT set_config('todo.change_source', %s, true) FROM users WHERE users.id = %s FOR NO KEY UPDATE"
)


@contextmanager
def changes_by(source: ChangeSource) -> Iterator[None]:
    """Changes made inside the block are recorded as made by `source`."""
    token = CHANGE_SOURCE.set(source)
    try:
        yield
    finally:
        CHANGE_SOURCE.reset(token)


def begin_change(owner_id: Any) -> None:
    statement = begin_change_statement(owner_id)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)


def begin_change_statement(owner_id: Any) -> Statement:
    """begin_change's statement, for a query that goes on with others."""
    return Statement(_BEGIN_CHANGE_SQL, [CHANGE_SOURCE.get(), owner_id])


@dataclass(frozen=True)
class TaskPage:
    rows: list[dict[str, Any]]
    total: int


@transaction.atomic
def create_task(*, owner: User, **fields: Any) -> Task:
    """A new task with new_task's fields, unless the owner already has
    MAX_TASKS_PER_USER; its reminder is scheduled in the same transaction."""
    task = new_task(owner=owner, **fields)
    _insert_under_the_cap(task)
    schedule_reminder(task)
    return task


def _insert_under_the_cap(task: Task) -> None:
    """Save a new task with creation_statement, or TaskLimitReached."""
    statement = creation_statement(task)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        cursor.nextset()
        row = cursor.fetchone()
    if row is None:
        raise TaskLimitReached()
    task.pk = row[0]


def new_task(
    *,
    owner: User,
    title: str,
    description: str | None = None,
    priority: str = Priority.MEDIUM,
    tags: Iterable[str] = (),
    due_date: datetime | None = None,
    completed: bool = False,
    recurrence: str | None = None,
    remind_at: datetime | None = None,
    time_zone: str | None = None,
    repeat_from: str = RepeatFrom.DUE,
) -> Task:
    """A valid task, not yet saved (creation_statement saves it), as a user
    wrote it. A `recurrence` is a canonical RRULE (tasks.recurrence.normalize)
    that must have a date within 10 years of the due date."""
    now = timezone.now()
    task = Task(
        owner=owner,
        title=title.strip(),
        description=description,
        priority=priority,
        tags=_unique(tags),
        due_date=due_date,
        completed=completed,
        recurrence=recurrence,
        remind_at=remind_at,
        time_zone=time_zone,
        repeat_from=repeat_from,
        created_at=now,
        updated_at=now,
    )
    _validate(task)
    _check_recurs(task)
    return task


def creation_statement(task: Task, *, guard: Statement | None = None) -> Statement:
    """Insert a task made by new_task unless its owner already has
    MAX_TASKS_PER_USER (or `guard`, an EXISTS condition, fails), RETURNING the
    new id, version and JSON body in its second result (cursor.nextset()).

    Two statements in one query, which PostgreSQL runs as one transaction in
    one round trip: the owner's row lock, then the insert with its count. The
    count is the owner's row of task_counts (kept by triggers on tasks: one
    read, however many tasks the owner has). The lock makes the owner's
    creates take turns, and the insert's count, a statement of its own, sees
    every create that held the lock before, so two at once cannot both take
    the last place. The first statement is begin_change's."""
    return joined(*creation_steps(task, guard=guard))


def creation_steps(task: Task, *, guard: Statement | None = None) -> tuple[Statement, Statement]:
    """creation_statement's two statements, for a caller that adds its own."""
    lock = begin_change_statement(task.owner_id)
    sql = (
        "INSERT INTO tasks (owner_id, title, description, completed, priority, tags, due_date,"
        " recurrence, time_zone, repeat_from, occurrence, remind_at, created_at, updated_at)"
        " SELECT %s, %s, %s, %s, %s, %s::varchar[], %s, %s, %s, %s, %s, %s, %s, %s"
        " WHERE COALESCE((SELECT count FROM task_counts WHERE task_counts.owner_id = %s), 0) < %s"
    )
    params: list[Any] = [
        task.owner_id, task.title, task.description, task.completed, task.priority, task.tags,
        task.due_date, task.recurrence, task.time_zone, task.repeat_from, task.occurrence, task.remind_at,
        task.created_at, task.updated_at, task.owner_id, settings.MAX_TASKS_PER_USER,
    ]  # fmt: skip
    if guard is not None:
        sql += f" AND EXISTS ({guard.sql})"
        params += guard.params
    return lock, Statement(f"{sql} RETURNING {_RETURNING}", params)


def _begin_change_of(owner: User, task_id: int) -> Task:
    """begin_change, then the owner's task with its row locked until the
    transaction ends (so a read-then-write cannot lose another write), in
    one round trip: the owner's lock is held from the first statement on, so
    each round trip less is time less that the owner's other writes wait."""
    if not 0 < task_id <= MAX_ID:
        raise TaskNotFound()
    fields = [field.attname for field in Task._meta.concrete_fields]
    task = Task.objects.for_user(owner).filter(pk=task_id).select_for_update()
    statement = joined(begin_change_statement(owner.pk), compiled(task.values_list(*fields)))
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        cursor.nextset()
        row = cursor.fetchone()
    if row is None:
        raise TaskNotFound()
    return Task.from_db(connection.alias, fields, row)


def get_task(*, owner: User, task_id: int) -> Task:
    """The owner's task (to write one, _begin_change_of locks it)."""
    if not 0 < task_id <= MAX_ID:
        raise TaskNotFound()
    task = Task.objects.for_user(owner).filter(pk=task_id).first()
    if task is None:
        raise TaskNotFound()
    return task


@transaction.atomic
def update_task(
    *, owner: User, task_id: int, changes: Mapping[str, Any], versions: Collection[int] | None = None
) -> Task:
    """Apply the given fields only; fields left out keep their values, also
    when another update of the same task runs at the same moment. With
    `versions` (an If-Match), only a task at one of them is changed, else
    PreconditionFailed: checked under the task's row lock, so of writers
    racing from the same version exactly one succeeds."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    task = _begin_change_of(owner, task_id)
    _check_version(task, versions)
    was_completed, reminded_at = task.completed, task.remind_at
    for field, value in changes.items():
        if field == "title":
            value = value.strip()
        elif field == "tags":
            value = _unique(value)
        elif field == "recurrence" and value != task.recurrence:
            task.occurrence = 1  # a new rule starts a new series
        setattr(task, field, value)
    _validate(task)
    if changes.keys() & {"recurrence", "due_date", "time_zone"}:
        _check_recurs(task)
    if task.completed and not was_completed:
        _make_next_occurrence(task)
    task.save()
    task.version += 1  # as the trigger did (updated_at moves: always a change)
    if task.remind_at != reminded_at:
        schedule_reminder(task)  # the job for the old time will find it changed
    return task


@transaction.atomic
def set_task_completion(
    *, owner: User, task_id: int, completed: bool | None = None, versions: Collection[int] | None = None
) -> Task:
    """Set completion, or toggle it when `completed` is None. The row's lock
    makes parallel toggles take turns, so n toggles flip it n times; a
    recurring task's next occurrence is made in the same transaction.
    `versions` as for update_task."""
    task = _begin_change_of(owner, task_id)
    _check_version(task, versions)
    was_completed = task.completed
    task.completed = not task.completed if completed is None else completed
    if task.completed and not was_completed:
        _make_next_occurrence(task)
    # One update, the next occurrence's id included: one change of the task.
    task.save(update_fields=["completed", "next_task", "updated_at"])
    task.version += 1  # as the trigger did
    # Re-opened, a task keeps its reminder: its job checks the task when it runs.
    return task


def _make_next_occurrence(task: Task) -> None:
    """The next occurrence of a completed recurring task (saved, and named
    by task.next_task, which the caller saves), once: a task that
    already names its next occurrence (completed, re-opened, completed again)
    makes none, and the caller holds the task's row lock, so parallel
    completions take turns and the later ones see next_task_id. Like any
    create it counts against MAX_TASKS_PER_USER (TaskLimitReached, and the
    caller's transaction undoes the completion).

    Its due date is the rule's first after the completed one's that is not
    in the past (a daily task done three days late is next due today or
    tomorrow, at its time), or, with repeat_from "completion", the rule's
    first counted from the day of the completion; a series ends where the
    rule has no date within 10 years (tasks.recurrence). The reminder moves
    with the due date; one that would already be past, or further ahead
    than a user may set one, is left out."""
    if task.recurrence is None or task.next_task_id is not None or task.due_date is None:
        return
    now = timezone.now()
    found = next_occurrence(
        task.recurrence,
        task.due_date,
        time_zone=task.time_zone or "UTC",
        occurrence=task.occurrence,
        not_before=now,
        from_completion=task.repeat_from == RepeatFrom.COMPLETION,
    )
    if found is None:
        return  # the series has ended (COUNT, UNTIL, or no date within 10 years)
    due, occurrence = found
    remind_at = None if task.remind_at is None else task.remind_at + (due - task.due_date)
    if remind_at is not None and not now < remind_at <= latest_reminder():
        remind_at = None
    following = Task(
        owner=task.owner,
        title=task.title,
        description=task.description,
        priority=task.priority,
        tags=task.tags,
        due_date=due,
        recurrence=task.recurrence,
        remind_at=remind_at,
        time_zone=task.time_zone,
        repeat_from=task.repeat_from,
        occurrence=occurrence,
        created_at=now,
        updated_at=now,
    )
    _validate(following)
    _insert_under_the_cap(following)
    task.next_task = following
    schedule_reminder(following)


@transaction.atomic
def delete_task(*, owner: User, task_id: int, versions: Collection[int] | None = None) -> Task:
    """Delete and return the task (its id and title stay readable).
    `versions` as for update_task."""
    task = _begin_change_of(owner, task_id)
    _check_version(task, versions)
    deleted_id = task.pk
    task.delete()
    task.pk = task.id = deleted_id
    return task


@dataclass(frozen=True)
class ListQuery:
    """The list's filters, order and page (TaskListQuerySerializer checks them)."""

    status: str = "all"
    priority: str | None = None
    tag: str | None = None
    search: str | None = None
    sort: str = DEFAULT_SORT
    limit: int = MAX_LIMIT
    offset: int = 0

    def page(self, tasks: QuerySet[Task]) -> QuerySet[Task]:
        """`tasks` in the query's order, sliced to its page."""
        return tasks.order_by(*_ordering(self.sort))[self.offset : self.offset + self.limit]

    def total(self, matches: QuerySet[Task], on_page: int) -> int:
        return total_matches(matches, on_page, limit=self.limit, offset=self.offset)


def matching_tasks(*, owner: User, query: ListQuery) -> QuerySet[Task]:
    """The owner's tasks that match the query's filters, before order and paging."""
    tasks = Task.objects.for_user(owner)
    if query.status == "pending":
        tasks = tasks.filter(completed=False)
    elif query.status == "completed":
        tasks = tasks.filter(completed=True)
    if query.priority:
        tasks = tasks.filter(priority=query.priority)
    if query.tag:
        tasks = tasks.filter(tags__contains=[query.tag])
    if query.search:
        tasks = tasks.filter(Q(title__icontains=query.search) | Q(description__icontains=query.search))
    return tasks


def list_tasks(*, owner: User, query: ListQuery) -> TaskPage:
    """One page of the owner's tasks as rows of TASK_FIELDS, and the number of
    matches before paging."""
    matches = matching_tasks(owner=owner, query=query)
    rows = list(query.page(matches).values(*TASK_FIELDS))
    return TaskPage(rows=rows, total=query.total(matches, len(rows)))


@dataclass(frozen=True)
class TaskPageJSON:
    body: str
    total: int


# A task's JSON body written by PostgreSQL, the same body as
# tasks.serializers.task_body: json_build_object keeps the keys in order.
_UTC_ISO = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""
TASK_JSON_SQL = f"""json_build_object(
        'id', tasks.id,
        'user_id', tasks.owner_id,
        'title', tasks.title,
        'description', tasks.description,
        'completed', tasks.completed,
        'priority', tasks.priority,
        'tags', tasks.tags,
        'due_date', to_char(tasks.due_date AT TIME ZONE 'UTC', {_UTC_ISO}),
        'recurrence', tasks.recurrence,
        'remind_at', to_char(tasks.remind_at AT TIME ZONE 'UTC', {_UTC_ISO}),
        'time_zone', tasks.time_zone,
        'repeat_from', tasks.repeat_from,
        'next_task_id', tasks.next_task_id,
        'version', tasks.version,
        'created_at', to_char(tasks.created_at AT TIME ZONE 'UTC', {_UTC_ISO}),
        'updated_at', to_char(tasks.updated_at AT TIME ZONE 'UTC', {_UTC_ISO})
    )::text"""
# What the event loop's writes return (tasks/asgi.py, idempotency.keys.kept_write).
_RETURNING = f"tasks.id AS id, tasks.version AS version, {TASK_JSON_SQL} AS body"
_TASK_JSON = RawSQL(TASK_JSON_SQL, (), output_field=TextField())  # noqa: S611 - constant SQL, no input


def task_page(*, owner: User, query: ListQuery) -> tuple[QuerySet[Task], QuerySet[str]]:
    """The owner's tasks that match the query, and one page of their JSON
    bodies in its order: the one query builder behind both paths of the list
    (the REST view here, the async one in tasks/asgi.py)."""
    matches = matching_tasks(owner=owner, query=query)
    return matches, query.page(matches.annotate(body=_TASK_JSON)).values_list("body", flat=True)


def task_body_query(*, owner: User, task_id: int) -> QuerySet[Task]:
    """The owner's task's version and JSON body (no row for another user's task)."""
    task = Task.objects.for_user(owner).filter(pk=task_id)
    return task.annotate(body=_TASK_JSON).values_list("version", "body")


def completion_statement(
    *, owner_id: Any, task_id: int, completed: bool | None, guard: Statement | None = None
) -> Statement:
    """set_task_completion in one statement, for tasks that do not recur (a
    recurring one needs its next occurrence made): the row's lock makes
    parallel toggles take turns. RETURNING the task's id, version and JSON body; no row
    when the task is not the owner's or recurs (or `guard`, an EXISTS
    condition, fails)."""
    sql = (
        "UPDATE tasks SET completed = COALESCE(%s, NOT completed), updated_at = %s"
        " WHERE tasks.id = %s AND tasks.owner_id = %s"
        " AND tasks.recurrence IS NULL"
    )
    params: list[Any] = [completed, timezone.now(), task_id, owner_id]
    if guard is not None:
        sql += f" AND EXISTS ({guard.sql})"
        params += guard.params
    return Statement(f"{sql} RETURNING {_RETURNING}", params)


def list_tasks_json(*, owner: User, query: ListQuery) -> TaskPageJSON:
    """list_tasks for the REST list, its hot path: PostgreSQL writes each
    task's JSON body, so Python joins one string per task instead of parsing
    and formatting ten fields per row."""
    matches, page = task_page(owner=owner, query=query)
    bodies = list(page)
    return TaskPageJSON(body="[" + ",".join(bodies) + "]", total=query.total(matches, len(bodies)))


class NotificationNotFound(exceptions.NotFound):
    default_detail = "Notification not found"


@dataclass(frozen=True)
class NotificationPage:
    items: list[Notification]
    total: int


def list_notifications(
    *, owner: User, unread: bool = False, limit: int = MAX_LIMIT, offset: int = 0
) -> NotificationPage:
    """The owner's notifications, newest first."""
    matches = Notification.objects.for_user(owner)
    if unread:
        matches = matches.filter(read_at__isnull=True)
    items = list(matches.order_by("-created_at", "-id")[offset : offset + limit])
    return NotificationPage(items, total_matches(matches, len(items), limit=limit, offset=offset))


@transaction.atomic
def mark_notification_read(*, owner: User, notification_id: int) -> Notification:
    """The owner's notification, read from now on (the first reading's time stays)."""
    if not 0 < notification_id <= MAX_ID:
        raise NotificationNotFound()
    begin_change(owner.pk)
    notification = Notification.objects.for_user(owner).filter(pk=notification_id).first()
    if notification is None:
        raise NotificationNotFound()
    if notification.read_at is None:
        # Of parallel readings, the first one's time stays.
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
        notification.refresh_from_db(fields=["read_at"])
    return notification


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
    # Tasks without a due date come last either way. Only due_date is nullable;
    # the others keep PostgreSQL's default so the list index serves the order.
    nulls_last = True if key == "due_date" else None
    primary = expression.desc(nulls_last=nulls_last) if descending else expression.asc(nulls_last=nulls_last)
    # The id breaks ties, so pages never overlap or skip.
    return [primary, F("id").desc() if descending else F("id").asc()]


def _validate(task: Task) -> None:
    # Lengths, choices, NUL bytes, tag rules, date ranges and the time zone
    # (Task.clean); the database checks its constraints itself.
    task.full_clean(exclude=["owner"], validate_unique=False, validate_constraints=False)


def _check_recurs(task: Task) -> None:
    """A rule a user writes must have a date within 10 years of the due date,
    found in bounded time (tasks.recurrence.check_recurs)."""
    if task.recurrence is None or task.due_date is None:
        return
    try:
        check_recurs(task.recurrence, task.due_date, time_zone=task.time_zone or "UTC")
    except InvalidRule as exc:
        raise ValidationError({"recurrence": str(exc)}) from None


def _unique(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags))
