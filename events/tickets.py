"""Tickets for the event stream: `EventSource` cannot send an Authorization
header, and a long-lived token must never go into a URL (URLs end up in
access logs, proxies and browser history). A ticket is random, lives 60 s,
opens one stream of one user once, on any replica (kept in PostgreSQL, as
its SHA-256 only), and the stream it opens ends with the token that made it."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.auth import TokenClaims
from events.models import EventTicket
from todo_project.database import async_pool

TICKET_SECONDS = 60


@dataclass(frozen=True)
class Ticket:
    ticket: str
    expires_at: datetime


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


def issue_ticket(claims: TokenClaims) -> Ticket:
    """A ticket for the stream of the token's user, valid TICKET_SECONDS."""
    ticket = secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(seconds=TICKET_SECONDS)
    EventTicket.objects.create(
        digest=_digest(ticket),
        owner_id=claims.user_id,
        expires_at=expires_at,
        token_issued_at=claims.issued_at,
        token_expires_at=claims.expires_at,
        token_version=claims.version,
        token_external=claims.external,
    )
    return Ticket(ticket, expires_at)


async def redeem_ticket(ticket: str) -> TokenClaims | None:
    """The claims of the token that made the ticket, once; None for a ticket
    that is unknown, used or expired."""
    if not 0 < len(ticket) <= 128:
        return None
    async with async_pool().connection() as connection:
        cursor = await connection.execute(
            "DELETE FROM event_tickets WHERE digest = %s RETURNING owner_id, expires_at > now(),"
            " token_issued_at, token_expires_at, token_version, token_external",
            [_digest(ticket)],
        )
        row = await cursor.fetchone()
    if row is None or not row[1]:
        return None
    owner_id, _, issued_at, expires_at, version, external = row
    return TokenClaims(
        user_id=owner_id, issued_at=issued_at, version=version, external=external, expires_at=expires_at
    )
