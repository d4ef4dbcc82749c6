"""psycopg's async connection pool, for the routes served on the event loop
(tasks/asgi.py). Django's own pool serves everything else from its request
threads; the two share DB_POOL_MIN and DB_POOL_MAX (settings.ASYNC_POOL_*).

Connections are made from Django's own connection parameters (DATABASE_URL,
its options, connect_timeout) with client-side binding, as Django's cursors
do, so SQL compiled by the ORM runs here unchanged."""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from psycopg_pool import AsyncConnectionPool

_pool: AsyncConnectionPool | None = None


def connection_parameters() -> dict[str, Any]:
    parameters = connections["default"].get_connection_params()
    parameters["cursor_factory"] = psycopg.AsyncClientCursor
    parameters["autocommit"] = True
    return parameters


async def open_async_pool() -> None:
    """Start filling the pool; never waits for a database that is down."""
    global _pool
    if _pool is None:
        pool_options = settings.DATABASES["default"]["OPTIONS"]["pool"]
        _pool = AsyncConnectionPool(
            kwargs=connection_parameters(),
            min_size=settings.ASYNC_POOL_MIN,
            max_size=settings.ASYNC_POOL_MAX,
            timeout=pool_options["timeout"],
            max_idle=pool_options["max_idle"],
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="async",
        )
        await _pool.open(wait=False)


async def close_async_pool() -> None:
    global _pool
    if _pool is not None:
        await _pool.close()
        _pool = None


def async_pool() -> AsyncConnectionPool:
    if _pool is None:
        raise RuntimeError("the async pool opens at start-up (the ASGI lifespan)")
    return _pool
