"""A small HTTP/1.1 load client on raw sockets, for tests that must know
exactly when each request's bytes left the client (SIGTERM, restarts) and
must see every reset, which higher-level clients retry or hide."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self, host: str) -> bytes:
        payload = b"" if self.body is None else json.dumps(self.body).encode()
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(payload)}"]
        if self.body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class Outcome:
    request: Request
    sent_at: float  # time.monotonic() once the request's bytes were written
    status: int | None = None
    body: bytes = b""
    error: str | None = None
    server: str = ""

    def json(self) -> Any:
        return json.loads(self.body)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    assert status_line.startswith("HTTP/1.1 "), head
    status = int(status_line.split(" ")[1])
    headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request: Request,
    host: str,
    on_sent: Callable[[], None] = lambda: None,
) -> tuple[Outcome, bool]:
    """Send one request and read its answer: the outcome, and whether the
    connection may be used again. `on_sent` is called once its bytes are written."""
    outcome = Outcome(request, sent_at=time.monotonic())
    try:
        writer.write(request.encode(host))
        await writer.drain()
        outcome.sent_at = time.monotonic()
        on_sent()
        status, headers, body = await read_response(reader)
    except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
        outcome.error = type(exc).__name__
        return outcome, False
    outcome.status, outcome.body = status, body
    return outcome, headers.get("connection", "").lower() != "close"


@dataclass
class Traffic:
    """Workers sending requests over keep-alive connections until stopped.
    `targets` are (host, port) pairs taken in turn, as a load balancer does;
    a refused connection is tried on the next target."""

    targets: list[tuple[str, int]]
    next_request: Callable[[int], Request]
    workers: int = 50
    keep_alive: bool = True
    outcomes: list[Outcome] = field(default_factory=list)
    sent: int = 0  # requests whose bytes were written
    refused: int = 0
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _turn: int = 0

    def stop(self) -> None:
        self._stopping.set()

    async def until_outcomes(self, count: int, *, guard: float = 60) -> None:
        """Until `count` more requests than now have an outcome: a span of
        traffic counted in requests, the same on a slow machine as on a fast
        one. `guard` seconds only stop a hang."""
        target = len(self.outcomes) + count
        deadline = time.monotonic() + guard
        while len(self.outcomes) < target:
            assert time.monotonic() < deadline, f"{len(self.outcomes)} outcomes of {target} after {guard} s"
            await asyncio.sleep(0.01)

    async def run(self) -> None:
        await asyncio.gather(*(self._worker(n) for n in range(self.workers)))

    async def send_one(self, number: int) -> Outcome:
        """One request on a new connection."""
        host, port = self.targets[number % len(self.targets)]
        reader, writer = await asyncio.open_connection(host, port)
        request = self.next_request(number)
        request = replace(request, headers={**request.headers, "Connection": "close"})
        outcome, _ = await exchange(reader, writer, request, f"{host}:{port}", self._count_sent)
        self.outcomes.append(outcome)
        writer.close()
        return outcome

    def _count_sent(self) -> None:
        self.sent += 1

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str] | None:
        while not self._stopping.is_set():
            host, port = self.targets[self._turn % len(self.targets)]
            self._turn += 1
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                # Nothing listens there: the balancer's retry on connection refused.
                self.refused += 1
                await asyncio.sleep(0.01)
                continue
            return reader, writer, f"{host}:{port}"
        return None

    async def _worker(self, number: int) -> None:
        count = 0
        while not self._stopping.is_set():
            connected = await self._connect()
            if connected is None:
                return
            reader, writer, server = connected
            reusable = True
            while reusable and not self._stopping.is_set():
                request = self.next_request(number * 100000 + count)
                if not self.keep_alive:
                    request = replace(request, headers={**request.headers, "Connection": "close"})
                outcome, reusable = await exchange(reader, writer, request, server, self._count_sent)
                outcome.server = server
                self.outcomes.append(outcome)
                count += 1
            writer.close()


def writes_and_reads(user_id: object, headers: dict[str, str]) -> Callable[[int], Request]:
    """Requests that alternate: a new task, then a page of the list."""

    def next_request(number: int) -> Request:
        if number % 2:
            return Request("GET", f"/api/{user_id}/tasks?limit=5", headers=headers)
        return Request("POST", f"/api/{user_id}/tasks", {"title": f"Write {number}"}, headers)

    return next_request
