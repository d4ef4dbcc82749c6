"""Reading a user's changes: the feed (GET .../changes), the event stream's
reads (events/asgi.py) and a task's history. One statement per read, for
Django's cursor and psycopg's async pool alike.

A cursor names the last change a client has: `c<number>` (clients store it
and never parse it). A user's changes are numbered without gaps in the order
they commit (events/models.py), so "every change after n" never skips one.
Pruning deletes a user's oldest changes: a cursor whose next change is gone
(or one from the future: a database restored from a backup) has missed
changes, and the client must list everything again (410 cursor_expired)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions, status

from todo_project.patterns import pattern
from todo_project.sql import Statement

CURSOR = pattern(r"c(0|[1-9][0-9]{0,17})")
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000

_UTC_ISO = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""
# A change as the API writes it: {"cursor","type","at","source","task"|"notification"}.
CHANGE_JSON_SQL = f"""json_build_object(
        'cursor', 'c' || changes.seq,
        'type', changes.type,
        'at', to_char(changes.at AT TIME ZONE 'UTC', {_UTC_ISO}),
        'source', changes.source,
        CASE WHEN changes.notification_id IS NULL THEN 'task' ELSE 'notification' END, changes.body::json
    )::text"""
# A change as one Server-Sent Event: id, event and data lines, a blank line.
SSE_FRAME_SQL = f"""'id: c' || changes.seq || E'\\nevent: ' || changes.type
        || E'\\ndata: ' || {CHANGE_JSON_SQL} || E'\\n\\n'"""
# A task's history entry: {"cursor","type","at","source","changed"}, where
# `changed` compares the body with the one before it (every field from null
# for task.created; nothing when the change before was pruned).
HISTORY_JSON_SQL = f"""json_build_object(
        'cursor', 'c' || history.seq,
        'type', history.type,
        'at', to_char(history.at AT TIME ZONE 'UTC', {_UTC_ISO}),
        'source', history.source,
        'changed', CASE
            WHEN history.type = 'task.created' THEN change_diff(NULL, history.body)
            WHEN history.before IS NULL THEN '{{}}'::jsonb
            ELSE change_diff(history.before, history.body)
        END
    )::text"""


class CursorExpired(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "cursor_expired"
    default_detail = (
        "This cursor is older than the changes kept; list everything again and follow the new cursor."
    )


def parse_cursor(text: str, *, name: str = "since") -> int:
    """The change number a cursor names, or 400 parse_error."""
    match = CURSOR.fullmatch(text)
    if match is None:
        raise exceptions.ParseError(f"{name}: not a cursor that this API gave.")
    return int(match[1])


def format_cursor(number: int) -> str:
    return f"c{number}"


@dataclass(frozen=True)
class Page:
    """Changes after a cursor, oldest first (as read_statement's `row_sql`
    writes them), and the number of the last one: the cursor to go on from."""

    changes: list[str]
    after: int
    has_more: bool

    @property
    def cursor(self) -> str:
        return format_cursor(self.after)

    def json(self) -> str:
        more = "true" if self.has_more else "false"
        return f'{{"changes":[{",".join(self.changes)}],"cursor":"{self.cursor}","has_more":{more}}}'


def read_statement(
    owner_id: str, after: int | None, limit: int, *, row_sql: str = CHANGE_JSON_SQL
) -> Statement:
    """The user's latest change number, whether the change after `after` is
    still kept, and up to limit + 1 changes after it (each as `row_sql`
    writes it: JSON, or an SSE frame): one statement, so one snapshot
    (read_page reads its row)."""
    after = -1 if after is None else after  # no cursor: only the latest number matters
    rows = (
        f"SELECT {row_sql} FROM changes"  # noqa: S608 - constant SQL
        " WHERE changes.owner_id = %s AND changes.seq > %s ORDER BY changes.seq LIMIT %s"
    )
    return Statement(
        "SELECT COALESCE((SELECT seq FROM change_feeds WHERE owner_id = %s), 0),"  # noqa: S608 - constant SQL
        " EXISTS (SELECT 1 FROM changes WHERE owner_id = %s AND seq = %s + 1),"
        f" ARRAY({rows})",
        [owner_id, owner_id, after, owner_id, after, limit + 1],
    )


def read_page(row: tuple[int, bool, list[str]], after: int | None, limit: int) -> Page:
    """read_statement's row as a page; CursorExpired when changes after
    `after` were pruned (or `after` is past the latest change)."""
    latest, next_is_kept, changes = row
    if after is None:
        return Page([], latest, has_more=False)
    if after > latest or (after < latest and not next_is_kept):
        raise CursorExpired()
    has_more = len(changes) > limit
    changes = changes[:limit]
    return Page(changes, after + len(changes), has_more=has_more)  # numbers have no gaps


def history_statement(owner_id: str, task_id: int, limit: int, offset: int) -> Statement:
    """One page of a task's history, newest first, and the number of entries."""
    changes = (
        "SELECT seq, type, at, source, body, lag(body) OVER (ORDER BY seq) AS before"
        " FROM changes WHERE owner_id = %s AND task_id = %s"
    )
    return Statement(
        f"SELECT ARRAY(SELECT {HISTORY_JSON_SQL} FROM ({changes}) AS history"  # noqa: S608 - constant SQL
        " ORDER BY history.seq DESC LIMIT %s OFFSET %s),"
        " (SELECT count(*) FROM changes WHERE owner_id = %s AND task_id = %s)",
        [owner_id, task_id, limit, offset, owner_id, task_id],
    )


def run(statement: Statement) -> Any:
    """The statement's one row, on Django's connection."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        return cursor.fetchone()
