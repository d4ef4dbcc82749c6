"""`python manage.py run_worker`: runs the reminders (tasks/reminders.py).

Several workers, on one machine or many, are safe: PostgreSQL hands each job
to one of them. SIGTERM or SIGINT stops the worker after the job in hand
(status 0). procrastinate's worker stops when it loses the database (its
LISTEN connection fails); this command starts it again a second later, so a
database restart delays reminders by seconds instead of ending the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from procrastinate import PsycopgConnector
from procrastinate.contrib.django import app
from procrastinate.contrib.django.utils import connector_params

from tasks.reminders import QUEUE

logger = logging.getLogger("tasks.worker")

RESTART_SECONDS = 1.0
STOP_SECONDS = 10.0


class Command(BaseCommand):
    help = "Run the worker that fires reminders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--poll-seconds",
            type=float,
            default=1.0,
            help="How often to look for jobs that came due (default 1; reminders fire within it).",
        )

    def handle(self, *args: Any, poll_seconds: float, **options: Any) -> None:
        logging.getLogger("procrastinate").setLevel(settings.LOG_LEVEL)
        # Its own small pool: the worker runs one job at a time.
        connector = PsycopgConnector(kwargs=connector_params(), min_size=1, max_size=3)
        logger.info("Worker started (queue %s, polling every %.1f s)", QUEUE, poll_seconds)
        with app.replace_connector(connector):
            asyncio.run(_serve(poll_seconds))
        logger.info("Worker stopped")


async def _serve(poll_seconds: float) -> None:
    """Run procrastinate's worker until SIGTERM or SIGINT, starting it again
    whenever it stops on its own (the database went away)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    while not stopping.is_set():
        attempt = asyncio.create_task(_run_until(stopping, poll_seconds))
        stop = asyncio.create_task(stopping.wait())
        await asyncio.wait({attempt, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not attempt.done():
            # Stopping: the job in hand finishes. A database that does not
            # answer (the worker still connecting, say) gets STOP_SECONDS.
            done, _ = await asyncio.wait({attempt}, timeout=STOP_SECONDS)
            if not done:
                # Its clean-up waits for the database too. Jobs are safe to
                # run again (a stalled one is retried), so leave now.
                logger.warning("No database for %.0f s; the worker stops without it", STOP_SECONDS)
                logging.shutdown()
                os._exit(0)
            return
        if attempt.exception() is not None:
            exc = attempt.exception()
            logger.warning("The worker stopped (%s: %s)", type(exc).__name__, exc)
        if not stopping.is_set():
            logger.warning("Starting the worker again in %.0f s", RESTART_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), RESTART_SECONDS)


async def _run_until(stopping: asyncio.Event, poll_seconds: float) -> None:
    async with app.open_async():
        worker = asyncio.create_task(
            app.run_worker_async(
                queues=[QUEUE],
                fetch_job_polling_interval=poll_seconds,
                delete_jobs="successful",
                install_signal_handlers=False,
            )
        )
        stop = asyncio.create_task(stopping.wait())
        await asyncio.wait({worker, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not worker.done():
            # Cancelling is procrastinate's graceful stop: the job in hand finishes.
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            return
        worker.result()  # its exception, if it ended with one
