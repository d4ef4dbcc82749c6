"""`python manage.py run_worker`: the reminders' worker (tasks/worker.py) on
its own. SIGTERM or SIGINT stops it after the job in hand, with status 0."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tasks import worker
from tasks.reminders import QUEUE

logger = logging.getLogger("tasks.worker")


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
        logger.info("Worker started (queue %s, polling every %.1f s)", QUEUE, poll_seconds)
        asyncio.run(_serve(poll_seconds))
        logger.info("Worker stopped")


async def _serve(poll_seconds: float) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    if not await worker.run(stopping, poll_seconds=poll_seconds):
        # Its clean-up still waits for the database. Jobs are safe to run
        # again (a stalled one is retried), so leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
