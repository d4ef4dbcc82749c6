"""What the worker removes: changes older than EVENTS_RETENTION_DAYS and
tickets that expired unused."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from events.tickets import prune_tickets


def prune_changes(*, now: datetime | None = None) -> int:
    """Delete each user's changes older than the retention: the oldest ones,
    up to the newest old one, so what is kept has no gap (events/feed.py
    tells a cursor before the gap by the missing change after it)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENTS_RETENTION_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM changes USING"
            " (SELECT owner_id, max(seq) AS seq FROM changes WHERE at < %s GROUP BY owner_id) AS old"
            " WHERE changes.owner_id = old.owner_id AND changes.seq <= old.seq",
            [cutoff],
        )
        return cursor.rowcount


def prune() -> tuple[int, int]:
    """(changes, tickets) deleted."""
    return prune_changes(), prune_tickets()
