"""The reminders' worker: procrastinate's worker on the "reminders" queue
(a few at once, in threads) and on the "push" queue (push/delivery.py: many
at once, they wait on push services), run by `manage.py run_worker` and,
with RUN_WORKER (the default), beside the API server in its own process
(`running`, entered at the server's start-up).

Any number of workers are safe: PostgreSQL hands each job to one of them.
procrastinate's worker stops when it loses the database (its LISTEN
connection fails); `run` starts it again a second later, so a database
restart delays reminders by seconds instead of ending the worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import psycopg
from django.conf import settings
from procrastinate import App, PsycopgConnector
from procrastinate.contrib.django import app
from procrastinate.contrib.django.utils import connector_params

from push import delivery
from tasks.reminders import QUEUE

logger = logging.getLogger("tasks.worker")

# Reminders fired at once, each in a thread of its own with its own
# connection: a job spends most of its time waiting on PostgreSQL's round
# trips, so a second of 300 reminders fires in a third of the time with 4.
REMINDER_CONCURRENCY = 4
RESTART_SECONDS = 1.0
STOP_SECONDS = 10.0
STALLED_CHECK_SECONDS = 60.0
PRUNE_SECONDS = 3600.0


def worker_app() -> App:
    """An app with the Django app's tasks on a small pool of its own. (The
    Django app keeps its connector: deferring stays in Django's transaction.)
    Every wait for a connection is bounded, so a stop never hangs on a
    database that is gone."""
    connector = PsycopgConnector(kwargs=connector_params(), min_size=1, max_size=8, timeout=5)
    return app.with_connector(connector)


async def run(stopping: asyncio.Event, *, poll_seconds: float = 1.0) -> bool:
    """Work until `stopping` is set, starting again whenever the worker stops
    on its own. Once stopping, the job in hand finishes; False when that took
    more than STOP_SECONDS (a database that does not answer)."""
    worker = worker_app()
    logging.getLogger("procrastinate.worker").addFilter(delivery.quiet_retries)
    while not stopping.is_set():
        attempt = asyncio.create_task(_run_until(worker, stopping, poll_seconds))
        await _until_done_or_set(attempt, stopping)
        if not attempt.done():
            done, _ = await asyncio.wait({attempt}, timeout=STOP_SECONDS)
            if not done:
                attempt.cancel()
                logger.warning("No database for %.0f s; the worker stops without it", STOP_SECONDS)
            return bool(done)
        if attempt.exception() is not None:
            exc = attempt.exception()
            logger.warning("The worker stopped (%s: %s)", type(exc).__name__, exc)
        if not stopping.is_set():
            logger.warning("Starting the worker again in %.0f s", RESTART_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), RESTART_SECONDS)
    return True


async def _run_until(worker: App, stopping: asyncio.Event, poll_seconds: float) -> None:
    async with worker.open_async():
        options: dict = {
            "fetch_job_polling_interval": poll_seconds,
            "delete_jobs": "successful",
            "install_signal_handlers": False,
        }
        workers = [
            asyncio.create_task(
                worker.run_worker_async(
                    queues=[QUEUE], concurrency=REMINDER_CONCURRENCY, name="reminders", **options
                )
            ),
            asyncio.create_task(
                worker.run_worker_async(
                    queues=[delivery.QUEUE], concurrency=delivery.CONCURRENCY, name="push", **options
                )
            ),
        ]
        stalled = asyncio.create_task(_retry_stalled_jobs(worker))
        pruning = asyncio.create_task(_prune_expired())
        try:
            waiting = asyncio.create_task(stopping.wait())
            await asyncio.wait({*workers, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            stalled.cancel()
            pruning.cancel()
            # Cancelling is procrastinate's graceful stop: the jobs in hand finish.
            for working in workers:
                working.cancel()
            results = await asyncio.gather(*workers, return_exceptions=True)
        finally:
            await delivery.close_session()
        for result in results:  # the exception a worker ended with, if one did
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result


async def _until_done_or_set(task: asyncio.Task[None], event: asyncio.Event) -> None:
    """Wait until `task` ends or `event` is set, whichever comes first."""
    waiting = asyncio.create_task(event.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()


async def _retry_stalled_jobs(worker: App) -> None:
    """A worker killed in the middle of a job leaves it "doing": once that
    worker's heartbeat is 30 s old, its jobs run again (fire_reminder makes
    that harmless). (Not a periodic procrastinate task: those defer through
    the Django app's connector, which this worker does not use.)"""
    while True:
        await asyncio.sleep(STALLED_CHECK_SECONDS)
        try:
            for job in await worker.job_manager.get_stalled_jobs():
                logger.warning("Retrying job %s of a worker that stopped answering", job.id)
                await worker.job_manager.retry_job(job)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            logger.warning("Could not look for stalled jobs (%s)", type(exc).__name__)


async def _prune_expired() -> None:
    """The change feed's retention (events/pruning.py) and the expired
    idempotency keys (idempotency/keys.py): at the start, then hourly, on a
    connection of its own (cancelled with the worker: a database that does
    not answer never holds a stop)."""
    from events.pruning import prune
    from idempotency.keys import prune as prune_keys
    from todo_project.database import connection_parameters

    while True:
        try:
            async with await psycopg.AsyncConnection.connect(**connection_parameters()) as database:
                changes, tickets = await prune(database)
                keys = await prune_keys(database)
            if changes or tickets or keys:
                logger.info(
                    "Pruned %d old changes, %d expired tickets and %d expired idempotency keys",
                    changes, tickets, keys,
                )  # fmt: skip
        except (psycopg.Error, OSError) as exc:
            logger.warning("Could not prune expired rows (%s); trying again in an hour", type(exc).__name__)
        await asyncio.sleep(PRUNE_SECONDS)


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[None]:
    """The worker beside the API server, from start-up to shutdown, when
    RUN_WORKER is on (a deployment with its own worker turns it off)."""
    if not settings.RUN_WORKER:
        yield
        return
    stopping = asyncio.Event()
    task = asyncio.create_task(run(stopping))
    try:
        yield
    finally:
        stopping.set()
        await task
