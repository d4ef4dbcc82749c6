"""The hottest task routes, served on the event loop in front of Django.

The list, one task and the completion toggle are each one statement on
psycopg's async pool (the token's user checked in the same statement), a
create one query of two statements (the owner's lock, then the insert), so
their database waits overlap with other requests instead of queueing in
Django's request threads. The request is still a Django request through the
project's middleware (Host check, CORS, security headers), the statements
come from tasks.services (one query builder for both paths), and anything
but the plain case (a bad token or input, another user's path, a missing
task, any other method, a conditional request) is handed to Django, which
answers it as before. A create or toggle with an Idempotency-Key keeps its
answer in the same query (idempotency.keys.kept_write); a key already held is
Django's to answer."""

from __future__ import annotations

import functools
import io
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from rest_framework.utils import json

from accounts.auth import TokenClaims, bearer_claims, token_holder_statement
from accounts.models import User
from idempotency import keys
from tasks import services
from tasks.serializers import CompletionSerializer, TaskListQuerySerializer, checked_task_input
from todo_project.conditional import etag
from todo_project.database import async_pool
from todo_project.exceptions import ServiceUnavailable, error_response
from todo_project.middleware import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    ToDjango,
    middleware_chain,
    read_body,
    replay,
    send_response,
)
from todo_project.paging import total_from_page
from todo_project.patterns import pattern
from todo_project.sql import Statement, Template, joined

ROUTE = pattern(
    r"^/api(?:/v1)?/(?P<user_id>[^/]+)/tasks(?:/(?P<task_id>[0-9]{1,18})(?P<complete>/complete)?)?$"
)


class TaskRoutesMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.chain = middleware_chain(self.view)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "POST", "PATCH")
            or not ROUTE.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        body, ended = await read_body(receive)
        request = ASGIRequest(scope, io.BytesIO(body))
        try:
            response = await self.chain(request)
        except Exception:  # noqa: BLE001 - Django answers it (and logs what it must)
            response = ToDjango()
        if isinstance(response, ToDjango):
            await self.app(scope, replay(body, receive, ended=ended), send)
            return
        await send_response(response, send)

    async def view(self, request: HttpRequest) -> HttpResponseBase:
        try:
            return await self._route(request)
        except psycopg.OperationalError:
            # The database is out of reach (a pool timeout included): 503, as Django would.
            return error_response(ServiceUnavailable())

    async def _route(self, request: HttpRequest) -> HttpResponseBase:
        match = ROUTE.match(request.path_info)
        # A token whose keys are not at hand yet (a JWKS to fetch) goes to Django's thread.
        claims = bearer_claims(request.headers.get("Authorization", "").encode("latin-1"), fetch_keys=False)
        if match is None or claims is None or match["user_id"] != claims.user_id:
            return ToDjango()
        owner = User(pk=claims.user_id)
        if match["complete"] and request.method == "PATCH":
            return await self._complete(request, owner, claims, int(match["task_id"]))
        if match["complete"] or request.method not in ("GET", "POST"):
            return ToDjango()
        if request.method == "POST":
            return await self._create(request, owner, claims) if not match["task_id"] else ToDjango()
        if match["task_id"]:
            return await self._retrieve(request, owner, claims, int(match["task_id"]))
        return await self._list(request, owner, claims)

    async def _list(self, request: HttpRequest, owner: User, claims: TokenClaims) -> HttpResponseBase:
        shape = _list_shape(request.META.get("QUERY_STRING", ""))
        if shape is None:
            return ToDjango()
        holder, bodies = token_holder_statement(claims), shape.page.statement(owner_id=owner.pk)
        async with async_pool().connection() as connection:
            cursor = await connection.execute(
                f"SELECT EXISTS ({holder.sql}), ARRAY({bodies.sql})", [*holder.params, *bodies.params]
            )
            held, rows = await cursor.fetchone()
            if not held:
                return ToDjango()
            total = total_from_page(len(rows), limit=shape.query.limit, offset=shape.query.offset)
            if total is None:
                counted = shape.matches.statement(owner_id=owner.pk)
                count_sql = f"SELECT count(*) FROM ({counted.sql}) AS matches"  # noqa: S608 - the ORM's SQL
                cursor = await connection.execute(count_sql, counted.params)
                total = (await cursor.fetchone())[0]
        return _json("[" + ",".join(rows) + "]", headers={"X-Total-Count": str(total)})

    async def _retrieve(
        self, request: HttpRequest, owner: User, claims: TokenClaims, task_id: int
    ) -> HttpResponseBase:
        if not 0 < task_id <= services.MAX_ID or "If-None-Match" in request.headers:
            return ToDjango()
        holder = token_holder_statement(claims)
        task = _task_body_template().statement(owner_id=owner.pk, task_id=task_id)
        async with async_pool().connection() as connection:
            cursor = await connection.execute(
                f"SELECT EXISTS ({holder.sql}), task.* FROM (SELECT) AS one"  # noqa: S608 - the ORM's SQL
                f" LEFT JOIN ({task.sql}) AS task ON true",
                [*holder.params, *task.params],
            )
            held, version, body = await cursor.fetchone()
        if not held or body is None:
            return ToDjango()
        return _json(body, headers={"ETag": etag(version)})

    async def _complete(
        self, request: HttpRequest, owner: User, claims: TokenClaims, task_id: int
    ) -> HttpResponseBase:
        if not 0 < task_id <= services.MAX_ID or "If-Match" in request.headers:
            return ToDjango()
        data = _json_body(request) if request.body else {}
        completion = CompletionSerializer(data=data)
        if not completion.is_valid():
            return ToDjango()
        call = _idempotent_call(request, owner)
        if call is _MALFORMED_KEY:
            return ToDjango()
        statement = services.completion_statement(
            owner_id=owner.pk,
            task_id=task_id,
            completed=completion.validated_data.get("completed"),
            guard=_guard(claims, call),
        )
        row = await _write(call, [], statement, status_code=200)
        if row is None:
            # Not found, the token's user is gone, a recurring task (its next
            # occurrence: set_task_completion), or a key held already: Django answers.
            return ToDjango()
        return _json(row[2], headers={"ETag": etag(row[1])})

    async def _create(self, request: HttpRequest, owner: User, claims: TokenClaims) -> HttpResponseBase:
        fields = checked_task_input(_json_body(request))
        if fields.errors or fields.validated_data.get("remind_at"):
            return ToDjango()  # bad input, or a reminder to schedule (create_task does)
        call = _idempotent_call(request, owner)
        if call is _MALFORMED_KEY:
            return ToDjango()
        try:
            task = services.new_task(owner=owner, **fields.validated_data)
        except ValidationError:
            return ToDjango()
        lock, insert = services.creation_steps(task, guard=_guard(claims, call))
        row = await _write(call, [lock], insert, status_code=201, location=request.path)
        if row is None:
            return ToDjango()  # the task limit, the token's user gone, or a key held: Django says which
        headers = {"Location": f"{request.path}/{row[0]}", "ETag": etag(row[1])}
        return _json(row[2], status=201, headers=headers)


# An Idempotency-Key that Django refuses (400).
_MALFORMED_KEY: Any = object()


def _idempotent_call(request: HttpRequest, owner: User) -> keys.Call | None:
    key = request.headers.get(keys.HEADER)
    if key is None:
        return None
    try:
        return keys.Call.of(
            owner_id=owner.pk, key=key, method=request.method, path=request.path, body=request.body
        )
    except keys.MalformedKey:
        return _MALFORMED_KEY


def _guard(claims: TokenClaims, call: keys.Call | None) -> Statement:
    """The write's EXISTS condition: the token still holds, and with a key,
    no request holds the key (idempotency.keys.unheld)."""
    holder = token_holder_statement(claims)
    if call is None:
        return holder
    unheld = keys.unheld(call)
    sql = f"SELECT WHERE EXISTS ({holder.sql}) AND EXISTS ({unheld.sql})"
    return Statement(sql, [*holder.params, *unheld.params])


async def _write(
    call: keys.Call | None,
    steps: list[Statement],
    write: Statement,
    *,
    status_code: int,
    location: str | None = None,
) -> tuple[Any, ...] | None:
    """A write's statements in one query, its row (id, version, body) or
    None. With an Idempotency-Key, the kept answer is in the same query
    (idempotency.keys.kept_write); None when another request took the key
    first."""
    if call is None:
        statement = joined(*steps, write)
    else:
        statement = keys.kept_write(call, steps, write, status_code=status_code, location=location)
    async with async_pool().connection() as connection:
        try:
            cursor = await connection.execute(statement.sql, statement.params)
        except psycopg.errors.UniqueViolation as error:
            if error.diag.table_name != "idempotency_keys":
                raise
            return None  # the key's row: the whole query is undone, Django replays
        while cursor.nextset():
            pass
        return await cursor.fetchone()


def _json_body(request: HttpRequest) -> Any:
    """The request's JSON, read as DRF's parser reads it (strict: no NaN), or
    None when it is not plain UTF-8 JSON (None is never valid input here)."""
    if request.content_type != "application/json" or request.encoding not in (None, "utf-8"):
        return None
    try:
        return json.loads(request.body)
    except (ValueError, RecursionError):
        return None


@dataclass(frozen=True)
class _ListShape:
    """The list's statements for one query string, compiled once."""

    query: services.ListQuery
    page: Template  # the page's JSON bodies
    matches: Template  # the ids of all matches, to count them


# Query strings a frontend sends are few: each is validated and compiled once.
@functools.lru_cache(maxsize=256)
def _cached_list_shape(query_string: str) -> _ListShape | None:
    return _list_shape_of(query_string)


def _list_shape(query_string: str) -> _ListShape | None:
    if len(query_string) > 512:
        return _list_shape_of(query_string)
    return _cached_list_shape(query_string)


def _list_shape_of(query_string: str) -> _ListShape | None:
    """None when the query is not valid (Django then says why)."""
    query = TaskListQuerySerializer(data=QueryDict(query_string))
    if not query.is_valid():
        return None
    filters = services.ListQuery(**query.validated_data)
    sample = User(pk=str(uuid.uuid4()))
    matches, page = services.task_page(owner=sample, query=filters)
    return _ListShape(
        query=filters,
        page=Template(page, owner_id=sample.pk),
        matches=Template(matches.values("pk"), owner_id=sample.pk),
    )


@functools.cache
def _task_body_template() -> Template:
    sample_owner, sample_task = User(pk=str(uuid.uuid4())), secrets.randbits(62) + 1
    query = services.task_body_query(owner=sample_owner, task_id=sample_task)
    return Template(query, owner_id=sample_owner.pk, task_id=sample_task)


def _json(body: str, *, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(body, content_type="application/json", status=status, headers=headers)
