"""The image's server process: python -m todo_project.serve

Runs the migrations first when RUN_MIGRATIONS=true, then uvicorn on PORT
(8001). On SIGTERM it stops accepting, lets in-flight requests finish (25 s
at most, inside Kubernetes' 30 s grace period), closes the database pool and
exits 0. The plain uvicorn command re-raises the signal after a graceful
shutdown, which ends the process with 143, and waits for requests without
any limit."""

from __future__ import annotations

import os
import signal
import sys

GRACEFUL_SHUTDOWN_SECONDS = 25


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")
    import django
    from django.conf import settings

    from todo_project.env import exit_on_configuration_error

    with exit_on_configuration_error():
        django.setup()

    if settings.RUN_MIGRATIONS:
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", interactive=False)
        connections["default"].close_pool()  # the server opens its own at start-up

    import uvicorn

    config = uvicorn.Config(
        "todo_project.asgi:application",
        host="0.0.0.0",  # noqa: S104 - a container listens on all its interfaces
        port=settings.PORT,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_config=None,  # Django's LOGGING, already applied, covers uvicorn's loggers
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal it shut down for once it is done; with
    # these handlers in place that is a no-op and the process exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
