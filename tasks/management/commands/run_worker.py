"""`python manage.py run_worker`: runs the reminders (tasks/reminders.py).

Several workers, on one machine or many, are safe: PostgreSQL hands each job
to one of them. SIGTERM or SIGINT stops the worker after the job in hand."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from procrastinate import PsycopgConnector
from procrastinate.contrib.django import app
from procrastinate.contrib.django.utils import connector_params

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
        # Its own small pool: the worker runs one job at a time.
        connector = PsycopgConnector(kwargs=connector_params(), min_size=1, max_size=3)
        logger.info("Worker started (queue %s, polling every %.1f s)", QUEUE, poll_seconds)
        with app.replace_connector(connector):
            app.run_worker(
                queues=[QUEUE],
                fetch_job_polling_interval=poll_seconds,
                delete_jobs="successful",
                install_signal_handlers=True,
            )
        logger.info("Worker stopped")
