"""Safe retries (SPEC.md section 1): the first answer to a write sent with an
Idempotency-Key is kept per user and key, and a retry of the same request
gets it again instead of running a second time.

A key is claimed by inserting its row. A short write (a task's) claims it in
its own transaction and keeps its answer there too: the change and its answer
commit together or not at all, and a retry that arrives meanwhile waits on the
row's unique index until the first one ends, then replays its answer (or, if
it rolled back, runs). A long one (a chat message, whose model call must not
hold a transaction) claims with a lease that commits at once: a retry within
the lease is 409 request_in_progress, and after it (a process that died
mid-call) the key can be claimed again.

Django's views claim and keep on Django's connection (views.py). The event
loop's task writes insert the key with their answer, after the write, in the
same query (kept_write): a key taken meanwhile makes that insert fail and
undoes the write."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, HttpResponseBase
from psycopg import AsyncConnection
from rest_framework import exceptions, status

from todo_project.patterns import pattern
from todo_project.sql import Statement, joined

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_KEY = pattern(r"^[\x20-\x7e]{1,255}$")
# What a replay repeats besides the status and the body.
KEPT_HEADERS = ("Content-Type", "Location", "ETag")

# A claim that finds an unexpired row takes nothing; one that finds an expired
# row (an answer past its time, a lease whose request died) takes it over.
CLAIM_SQL = (
    "INSERT INTO idempotency_keys AS kept"
    " (owner_id, key, fingerprint, status, headers, body, created_at, expires_at)"
    " VALUES (%s, %s, %s, NULL, '{}', '', now(), now() + %s)"
    " ON CONFLICT (owner_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = NULL,"
    " headers = '{}', body = '', created_at = now(), expires_at = EXCLUDED.expires_at"
    " WHERE kept.expires_at <= now()"
    " RETURNING true"
)
READ_SQL = (
    "SELECT fingerprint, status, headers::text, body FROM idempotency_keys WHERE owner_id = %s AND key = %s"
)
KEEP_SQL = (
    "UPDATE idempotency_keys SET status = %s, headers = %s::jsonb, body = %s, expires_at = now() + %s"
    " WHERE owner_id = %s AND key = %s"
)
RELEASE_SQL = "DELETE FROM idempotency_keys WHERE owner_id = %s AND key = %s AND status IS NULL"
PRUNE_SQL = "DELETE FROM idempotency_keys WHERE expires_at < now()"


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key was sent with another request (method, path or body); use a new key."
    )


class RequestInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "request_in_progress"
    default_detail = "The request with this Idempotency-Key is still running; retry in a moment."
    wait = 1  # Retry-After


class MalformedKey(exceptions.ValidationError):
    def __init__(self) -> None:
        super().__init__({HEADER: ["Use 1 to 255 printable ASCII characters."]})


def kept(status_code: int) -> bool:
    """Whether an answer is kept: 5xx are not (the retry runs again), nor 409
    and 429, which say to try again later."""
    return status_code < 500 and status_code not in (409, 429)


def ttl() -> timedelta:
    return timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)


@dataclass(frozen=True)
class Call:
    """A write with a key: whose, which key, and what it asks (its fingerprint)."""

    owner_id: str
    key: str
    fingerprint: str

    @classmethod
    def of(cls, *, owner_id: str, key: str, method: str, path: str, body: bytes) -> Call:
        """Raises MalformedKey for a key that is not 1..255 printable ASCII."""
        if not _KEY.match(key):
            raise MalformedKey()
        return cls(owner_id, key, fingerprint(method, path, body))


def fingerprint(method: str, path: str, body: bytes) -> str:
    """/api/... and /api/v1/... are the same route."""
    route = "/api/" + path.removeprefix("/api/").removeprefix("v1/")
    digest = hashlib.sha256(f"{method} {route}\n".encode())
    digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of(cls, response: HttpResponseBase) -> Answer:
        headers = {name: response[name] for name in KEPT_HEADERS if name in response}
        return cls(response.status_code, headers, bytes(response.content))  # type: ignore[attr-defined]

    def replay(self) -> HttpResponse:
        response = HttpResponse(self.body, status=self.status)
        if "Content-Type" not in self.headers:
            del response["Content-Type"]
        for name, value in self.headers.items():
            response[name] = value
        response[REPLAYED] = "true"
        return response


def _outcome(call: Call, row: tuple[Any, ...]) -> Answer:
    """The answer to replay for a key held by an earlier request (its row), or
    why there is none."""
    found, status_code, headers, body = row
    if found != call.fingerprint:
        raise KeyReused()
    if status_code is None:
        raise RequestInProgress()
    return Answer(status_code, json.loads(headers), bytes(body))


# --- on Django's connection ------------------------------------------------------


def claim(call: Call, *, lease: timedelta | None = None) -> Answer | None:
    """None when this request holds the key now (in the caller's transaction,
    or for `lease` when given); else the answer to replay, or KeyReused or
    RequestInProgress."""
    hold = lease or ttl()
    with connection.cursor() as cursor:
        for _ in range(3):  # a row deleted between the two statements: claim again
            cursor.execute(CLAIM_SQL, [call.owner_id, call.key, call.fingerprint, hold])
            if cursor.fetchone() is not None:
                return None
            cursor.execute(READ_SQL, [call.owner_id, call.key])
            row = cursor.fetchone()
            if row is not None:
                return _outcome(call, row)
    raise RequestInProgress()


def keep(call: Call, answer: Answer) -> None:
    with connection.cursor() as cursor:
        cursor.execute(KEEP_SQL, _keep_params(call, answer))


def release(call: Call) -> None:
    """Frees a leased key whose request ended without an answer to keep."""
    with connection.cursor() as cursor:
        cursor.execute(RELEASE_SQL, [call.owner_id, call.key])


def _keep_params(call: Call, answer: Answer) -> list[Any]:
    return [answer.status, json.dumps(answer.headers), answer.body, ttl(), call.owner_id, call.key]


# --- one query: the event loop's writes (tasks/asgi.py) ------------------------------


def unheld(call: Call) -> Statement:
    """An EXISTS condition for the write of kept_write: no request holds the key."""
    return Statement(
        "SELECT WHERE NOT EXISTS (SELECT FROM idempotency_keys WHERE owner_id = %s AND key = %s)",
        [call.owner_id, call.key],
    )


def kept_write(
    call: Call, steps: Sequence[Statement], write: Statement, *, status_code: int, location: str | None = None
) -> Statement:
    """`steps`, then `write` and its kept answer, in one query, which
    PostgreSQL runs as one transaction in one round trip. `write` RETURNs
    `id`, `version` and `body` (a task's JSON) and is guarded by unheld(call);
    its row is kept as the answer: `status_code`, the body, `ETag:
    "<version>"`, and `Location: <location>/<id>` when a location is given
    (the answer tasks/asgi.py sends).

    The key is inserted last, with the answer, rather than claimed first (one
    row written instead of a claim and its update): a request with the same
    key that committed meanwhile makes the insert fail, and the failure undoes
    the write with the rest of the query (psycopg's UniqueViolation, on which
    the caller hands the request to Django, which replays). No row: the key
    was held already, or the write found nothing to do; Django then answers."""
    headers = "'Content-Type', 'application/json', 'ETag', '\"' || written.version || '\"'"
    location_params: list[Any] = []
    if location is not None:
        headers += ", 'Location', %s || written.id"
        location_params.append(f"{location}/")
    expired = Statement(
        "DELETE FROM idempotency_keys WHERE owner_id = %s AND key = %s AND expires_at <= now()",
        [call.owner_id, call.key],
    )
    keep = (
        f"WITH written AS ({write.sql}),"  # noqa: S608 - SQL of this project, values as parameters
        " kept AS (INSERT INTO idempotency_keys"
        " (owner_id, key, fingerprint, status, headers, body, created_at, expires_at)"
        f" SELECT %s, %s, %s, %s, jsonb_build_object({headers}), convert_to(written.body, 'UTF8'),"
        " now(), now() + %s FROM written)"
        " SELECT id, version, body FROM written"
    )
    answer = [call.owner_id, call.key, call.fingerprint, status_code, *location_params, ttl()]
    return joined(expired, *steps, Statement(keep, [*write.params, *answer]))


async def prune(database: AsyncConnection) -> int:
    """On a connection of the worker's own: the number of expired keys deleted."""
    cursor = await database.execute(PRUNE_SQL)
    return cursor.rowcount
