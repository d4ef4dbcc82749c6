"""Load for the mix of traffic (70% GET the list, limit=20; 20% POST a task;
10% PATCH complete), from a client that is never the bottleneck: raw asyncio
on uvloop, every request's bytes encoded before the run, keep-alive
connections, the answers parsed just enough to find their end.

    python bench/load.py URL USER_ID TOKEN TASK_ID --rate 400 --duration 10   # open loop, one user
    python bench/load.py URL USER_ID TOKEN TASK_ID --closed 50 --duration 10  # closed loop
    python bench/load.py URL USER_ID TOKEN 0 --list-only --rate 200           # GET the list only

Open loop: request n starts at start + n / rate whatever the answers do
(on a free connection, or a new one), and its latency counts from then, so
a server that falls behind shows as queueing. Closed loop: that many
connections, each sending its next request when the last is answered (as
wrk does). Prints one JSON object: requests, the rate reached, p50/p95/p99
and max in ms, errors, and the client's own CPU share of its core."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections import Counter
from urllib.parse import urlsplit

import uvloop

MIX = ["list"] * 7 + ["create"] * 2 + ["toggle"]


def requests(url: str, user_id: str, token: str, task_id: str) -> dict[str, bytes]:
    host = urlsplit(url).netloc
    head = f"Host: {host}\r\nAuthorization: Bearer {token}\r\n"
    body = b'{"title": "Open loop task", "priority": "high", "tags": ["bench"]}'
    return {
        "list": f"GET /api/{user_id}/tasks?limit=20 HTTP/1.1\r\n{head}\r\n".encode(),
        "create": (
            f"POST /api/{user_id}/tasks HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body,
        "toggle": (
            f"PATCH /api/{user_id}/tasks/{task_id}/complete HTTP/1.1\r\n{head}Content-Length: 0\r\n\r\n"
        ).encode(),
    }


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> int:
        """Send the request and read its answer; the answer's status."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        start = lower.find(b"content-length:")
        if start >= 0:
            end = lower.find(b"\r\n", start)
            await self.reader.readexactly(int(lower[start + 15 : end]))
        elif b"transfer-encoding: chunked" in lower:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        return status


class Client:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.idle: list[Connection] = []

    async def send(self, request: bytes) -> int:
        while self.idle:
            connection = self.idle.pop()
            try:
                status = await connection.exchange(request)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                if getattr(exc, "partial", b""):
                    raise  # the server began an answer: a real failure
                continue  # the server closed it while idle (keep-alive timeout): HTTP clients retry
            self.idle.append(connection)
            return status
        connection = Connection(*await asyncio.open_connection(self.host, self.port))
        status = await connection.exchange(request)
        self.idle.append(connection)
        return status


def pick(payloads: list[dict[str, bytes]], number: int, mix: list[str]) -> tuple[str, bytes]:
    """Request `number`'s kind and bytes: the mix in order, each user's turn
    for a whole round of it."""
    kind = mix[number % len(mix)]
    return kind, payloads[(number // len(mix)) % len(payloads)][kind]


async def exchange(client: Client, kind: str, request: bytes, errors: Counter[str]) -> None:
    """One request; a 4xx, 5xx or failure counted in `errors` by kind."""
    try:
        status = await client.send(request)
        if status >= 400:
            errors[f"{kind} {status}"] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        errors[f"{kind} {type(exc).__name__}"] += 1


async def open_loop(
    url: str, payloads: list[dict[str, bytes]], rate: float, duration: float, mix: list[str]
) -> dict:
    client = Client(url)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    by_kind: dict[str, list[float]] = {}

    async def one(kind: str, request: bytes, scheduled: float) -> None:
        await exchange(client, kind, request, errors)
        latencies.append(time.monotonic() - scheduled)
        by_kind.setdefault(kind, []).append(time.monotonic() - scheduled)

    count = int(rate * duration)
    running = set()
    started = time.monotonic()
    for number in range(count):
        scheduled = started + number / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.ensure_future(one(*pick(payloads, number, mix), scheduled))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    result = summary(latencies, errors, time.monotonic() - started)
    result["p99_by_kind"] = {kind: summary(values, Counter(), 1)["p99"] for kind, values in by_kind.items()}
    return result


async def closed_loop(
    url: str, payloads: list[dict[str, bytes]], connections: int, duration: float, mix: list[str]
) -> dict:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    stop = time.monotonic() + duration

    async def connection_loop(offset: int) -> None:
        client = Client(url)
        number = offset
        while time.monotonic() < stop:
            sent = time.monotonic()
            await exchange(client, *pick(payloads, number, mix), errors)
            latencies.append(time.monotonic() - sent)
            number += 1

    started = time.monotonic()
    await asyncio.gather(*(connection_loop(n) for n in range(connections)))
    return summary(latencies, errors, time.monotonic() - started)


def summary(latencies: list[float], errors: Counter[str], elapsed: float) -> dict:
    ordered = sorted(latency * 1000 for latency in latencies)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)

    return {
        "requests": len(ordered),
        "rps": round(len(ordered) / elapsed, 1),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 2),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(
    url: str,
    users: list[tuple[str, str, str]],
    *,
    rate: float = 0,
    closed: int = 0,
    duration: float = 10,
    list_only: bool = False,
) -> dict:
    """The mix (or the list only) for `users` ((user_id, token, task_id)
    each), taking turns."""
    payloads = [requests(url, *user) for user in users]
    mix = ["list"] if list_only else MIX
    cpu, wall = cpu_seconds(), time.monotonic()
    if closed:
        result = uvloop.run(closed_loop(url, payloads, closed, duration, mix))
    else:
        result = uvloop.run(open_loop(url, payloads, rate, duration, mix))
    result["client_cpu_share"] = round((cpu_seconds() - cpu) / (time.monotonic() - wall), 2)
    result["rate"] = rate or None
    result["connections"] = closed or None
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("url", "user_id", "token", "task_id"):
        parser.add_argument(name)
    parser.add_argument("--rate", type=float, default=100, help="open loop: requests per second")
    parser.add_argument("--closed", type=int, default=0, help="closed loop with this many connections")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--list-only", action="store_true", help="every request GETs the list")
    args = parser.parse_args()
    user = (args.user_id, args.token, args.task_id)
    result = run(
        args.url, [user], rate=args.rate, closed=args.closed, duration=args.duration, list_only=args.list_only
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
