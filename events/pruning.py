"""What the worker removes: changes older than EVENTS_RETENTION_DAYS and
tickets that expired unused."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone

# Each user's changes older than the cutoff: the oldest ones, up to the newest
# old one, so what is kept has no gap (events/feed.py tells a cursor before
# the gap by the missing change after it).
PRUNE_CHANGES_SQL = (
    "DELETE FROM changes USING"
    " (SELECT owner_id, max(seq) AS seq FROM changes WHERE at < %s GROUP BY owner_id) AS old"
    " WHERE changes.owner_id = old.owner_id AND changes.seq <= old.seq"
)
PRUNE_TICKETS_SQL = "DELETE FROM event_tickets WHERE expires_at < %s"
# Listeners of processes that stopped without taking theirs back (events/hub.py
# refreshes a running process's every minute).
PRUNE_LISTENERS_SQL = "DELETE FROM stream_listeners WHERE seen_at < now() - interval '10 minutes'"


def _cutoff(now: datetime | None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.EVENTS_RETENTION_DAYS)


def prune_changes(*, now: datetime | None = None) -> int:
    """On Django's connection: the number of changes deleted."""
    with connection.cursor() as cursor:
        cursor.execute(PRUNE_CHANGES_SQL, [_cutoff(now)])
        return cursor.rowcount


async def prune(database: psycopg.AsyncConnection) -> tuple[int, int]:
    """On a connection of the worker's own: (changes, tickets) deleted."""
    changes = await database.execute(PRUNE_CHANGES_SQL, [_cutoff(None)])
    tickets = await database.execute(PRUNE_TICKETS_SQL, [timezone.now()])
    await database.execute(PRUNE_LISTENERS_SQL)
    return changes.rowcount, tickets.rowcount
