"""The image's server process: python -m todo_project.serve

Runs the migrations first when RUN_MIGRATIONS=true, then uvicorn on PORT
(8001). On SIGTERM it stops accepting, answers every request that reached it
before the signal, lets in-flight requests finish (25 s at most, inside
Kubernetes' 30 s grace period), closes the database pool and exits 0. The
plain uvicorn command re-raises the signal after a graceful shutdown, which
ends the process with 143, waits for requests without any limit, and resets
connections whose request it had not started yet."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
import sys

import uvicorn

GRACEFUL_SHUTDOWN_SECONDS = 25
# Time for the event loop to read what clients sent before the signal.
READ_PENDING_SECONDS = 0.05


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with a shutdown that loses no request.

    uvicorn closes its listening socket, which resets the connections waiting
    in the kernel's accept queue, and closes every connection whose request it
    has not parsed yet, though the client's bytes may already be in the
    socket. Both kinds of client sent their request before the signal; here
    they are accepted and read first, so they get their answer."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        waiting = self._accept_waiting_connections()
        for server in self.servers:
            server.close()  # from here on, new connections are refused
        loop = asyncio.get_running_loop()
        protocol = functools.partial(
            self.config.http_protocol_class,
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        for connection in waiting:
            with contextlib.suppress(OSError):
                await loop.connect_accepted_socket(protocol, connection)
        await asyncio.sleep(READ_PENDING_SECONDS)
        await super().shutdown(sockets)

    def _accept_waiting_connections(self) -> list[socket.socket]:
        waiting = []
        for server in self.servers:
            for listener in server.sockets:
                # A duplicate of the listening socket reads the same accept queue.
                with socket.socket(fileno=os.dup(listener.fileno())) as queue:
                    queue.setblocking(False)
                    with contextlib.suppress(BlockingIOError, InterruptedError):
                        while True:
                            waiting.append(queue.accept()[0])
        return waiting


# pg_advisory_lock's key for the migrations: any constant the project owns.
MIGRATION_LOCK_KEY = 0x746F646F  # "todo"


def migrate_once() -> None:
    """Run the migrations under a PostgreSQL advisory lock: replicas that start
    together wait for the first one's migration, then find nothing to do,
    instead of racing to create the same tables. The lock is the session's, so
    it ends with the connection if this process dies."""
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        try:
            call_command("migrate", interactive=False)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")
    import django
    from django.conf import settings

    from todo_project.env import exit_on_configuration_error

    with exit_on_configuration_error():
        django.setup()

    if settings.RUN_MIGRATIONS:
        from django.db import connections

        migrate_once()
        connections["default"].close_pool()  # the server opens its own at start-up

    from todo_project.protocol import LimitedHttpToolsProtocol

    config = uvicorn.Config(
        "todo_project.asgi:application",
        host="0.0.0.0",  # noqa: S104 - a container listens on all its interfaces
        port=settings.PORT,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_config=None,  # Django's LOGGING, already applied, covers uvicorn's loggers
        http=LimitedHttpToolsProtocol,
        # X-Forwarded-For/-Proto only from these proxies (none by default).
        forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
        server_header=False,
    )
    server = DrainingServer(config)
    # uvicorn re-raises the signal it shut down for once it is done; with
    # these handlers in place that is a no-op and the process exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
