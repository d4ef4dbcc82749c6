"""Live changes under load: servers pinned to core 0, the clients on core 1.

    .venv/bin/python bench/events.py                     # 10,000 streams, 300 writes
    .venv/bin/python bench/events.py --streams 2000 --writes 100

1. Across replicas: a stream held by replica B, 300 writes through replica A
   (both the image's process, on core 0), one every 20 ms: the time from
   sending the write to its event arriving on B's stream (p50, p99, max).
2. Many open streams on one process (10 per user, the default cap): the
   server's RSS before and after they opened; writes for 20 users, each of
   which must reach all 10 of its user's streams; and GET /api/{user_id}/tasks
   (20 tasks) with wrk at 50 connections before the streams opened and while
   they are open, back to back.

Uses BENCH_DATABASE_URL, else the `todo_bench` database (as bench/run.py).
Prints Markdown and writes bench/events-results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time

import httpx
import psycopg
from run import (
    BENCH,
    CONNECTIONS,
    LOCAL_URL,
    ROOT,
    cpu_seconds,
    ensure_database,
    free_port,
    memory_mib,
    server_env,
    wrk,
)
from run import start as start_server

STREAMS_PER_USER = 10
PREPARE = """
import json
from accounts.auth import issue_token
from accounts.models import User, email_key
from tasks.models import Task

count = %d
existing = {user.email: user for user in User.objects.filter(email__startswith="bench-stream-")}
missing = [
    User(email=f"bench-stream-{n}@example.com", name=f"Stream {n}", password="!")
    for n in range(count) if f"bench-stream-{n}@example.com" not in existing
]
for user in missing:
    user.email_key = email_key(user.email)
User.objects.bulk_create(missing)
users = list(User.objects.filter(email__startswith="bench-stream-").order_by("email")[:count])
lister = User.objects.filter(email="bench-list20@example.com").first()
if lister is None:
    lister = User.objects.create_user("bench-list20@example.com", "Lister", "Bench-pass-123")
    Task.objects.bulk_create(Task(owner=lister, title=f"Task {n}", tags=["bench"]) for n in range(20))
print(json.dumps({
    "streams": [{"id": str(u.pk), "token": issue_token(u).token} for u in users],
    "lister": {"id": str(lister.pk), "token": issue_token(lister).token},
}))
"""
MARK = re.compile(rb"bench-mark-(\d+)")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 0.99):.1f} ms, "
        f"max {max(values):.1f} ms ({len(values)} events)"
    )


class Streams:
    """Open SSE streams on raw sockets; the arrival time of each marked event per stream."""

    def __init__(self) -> None:
        self.arrivals: dict[int, list[float]] = {}
        self.readers: list[asyncio.Task[None]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self, port: int, user_id: str, token: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /api/{user_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        self.writers.append(writer)
        self.readers.append(asyncio.create_task(self._read(reader)))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        tail = b""
        while data := await reader.read(65536):
            now = time.perf_counter()
            text = tail + data
            for match in MARK.finditer(text):
                if match.end() > len(tail):  # not counted with the previous read
                    self.arrivals.setdefault(int(match[1]), []).append(now)
            tail = text[-40:]

    def close(self) -> None:
        for task in self.readers:
            task.cancel()
        for writer in self.writers:
            writer.close()


async def write_and_wait(
    client: httpx.AsyncClient, url: str, token: str, mark: int, streams: Streams, expected: int
) -> list[float]:
    """POST a task named by `mark`; the milliseconds until each of `expected` streams had it."""
    sent = time.perf_counter()
    response = await client.post(
        url, json={"title": f"bench-mark-{mark}"}, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    deadline = sent + 10
    while len(streams.arrivals.get(mark, [])) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.001)
    arrivals = streams.arrivals.get(mark, [])
    if len(arrivals) < expected:
        raise RuntimeError(f"write {mark}: {len(arrivals)} of {expected} streams had it after 10 s")
    return [(arrival - sent) * 1000 for arrival in arrivals]


async def across_replicas(env: dict, users: dict, writes: int) -> dict:
    ports = free_port(), free_port()
    servers = [
        start_server([sys.executable, "-m", "todo_project.serve"], {**env, "PORT": str(p)}, p) for p in ports
    ]
    streams = Streams()
    try:
        user = users["streams"][0]
        await streams.open(ports[1], user["id"], user["token"])
        url = f"http://127.0.0.1:{ports[0]}/api/{user['id']}/tasks"
        latencies = []
        async with httpx.AsyncClient(timeout=30) as client:
            for mark in range(writes):
                latencies += await write_and_wait(client, url, user["token"], mark, streams, 1)
                await asyncio.sleep(0.02)
        return {
            "writes": writes,
            "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies),
            "text": summary(latencies),
        }
    finally:
        streams.close()
        for server in servers:
            server.terminate()
            server.wait(30)


def list_load(port: int, lister: dict, duration: int, rate: int) -> dict:
    """GET /api/{user_id}/tasks (20 tasks): wrk's closed loop at 50 connections
    (capacity), then an open loop at `rate` requests/s (latency below capacity),
    with the open-loop client's CPU share."""
    url = f"http://127.0.0.1:{port}/api/{lister['id']}/tasks"
    wrk(url, 2, connections=CONNECTIONS, token=lister["token"], script=None)
    closed = wrk(url, duration, connections=CONNECTIONS, token=lister["token"], script=None)
    command = ["taskset", "-c", "1", sys.executable, str(BENCH / "load.py"), f"http://127.0.0.1:{port}"]
    command += [
        lister["id"],
        lister["token"],
        "0",
        "--list-only",
        "--rate",
        str(rate),
        "--duration",
        str(duration),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return {"closed": closed, "open": json.loads(output)}


async def many_streams(env: dict, users: dict, duration: int, rate: int) -> dict:
    port = free_port()
    server = start_server([sys.executable, "-m", "todo_project.serve"], {**env, "PORT": str(port)}, port)
    streams = Streams()
    try:
        list_load(port, users["lister"], duration, rate)  # warm-up: a new process's first seconds are slower
        before = list_load(port, users["lister"], duration, rate)
        rss_before = memory_mib(server.pid, "VmRSS")
        opening = asyncio.Semaphore(100)

        async def open_one(user: dict) -> None:
            async with opening:
                await streams.open(port, user["id"], user["token"])

        started = time.perf_counter()
        await asyncio.gather(*(open_one(u) for u in users["streams"] for _ in range(STREAMS_PER_USER)))
        opened_in = time.perf_counter() - started
        await asyncio.sleep(2)
        rss_open = memory_mib(server.pid, "VmRSS")

        latencies: list[float] = []
        async with httpx.AsyncClient(timeout=30) as client:
            for n, user in enumerate(users["streams"][:: max(1, len(users["streams"]) // 20)][:20]):
                url = f"http://127.0.0.1:{port}/api/{user['id']}/tasks"
                latencies += await write_and_wait(
                    client, url, user["token"], 100_000 + n, streams, STREAMS_PER_USER
                )

        own_cpu = time.process_time()
        server_cpu = cpu_seconds(server.pid)
        loop_start = time.perf_counter()
        during = await asyncio.to_thread(list_load, port, users["lister"], duration, rate)
        elapsed = time.perf_counter() - loop_start
        return {
            "streams": len(streams.writers),
            "opened_in_s": round(opened_in, 1),
            "rss_mib_before": round(rss_before, 1),
            "rss_mib_open": round(rss_open, 1),
            "rss_mib_peak": round(memory_mib(server.pid, "VmHWM"), 1),
            "fan_out": summary(latencies),
            "fan_out_p99_ms": percentile(latencies, 0.99),
            "list_before": before,
            "list_during": during,
            "stream_client_cpu_share": round((time.process_time() - own_cpu) / elapsed, 3),
            "server_cpu_share": round((cpu_seconds(server.pid) - server_cpu) / elapsed, 3),
        }
    finally:
        streams.close()
        server.terminate()
        server.wait(60)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rate", type=int, default=200, help="the open loop's GETs per second")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})  # the clients' core

    database_url = os.environ.get("BENCH_DATABASE_URL", LOCAL_URL)
    ensure_database(database_url)
    env = server_env(database_url, LOG_LEVEL="WARNING", RUN_WORKER="false")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    users_count = max(1, args.streams // STREAMS_PER_USER)
    output = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", PREPARE % users_count],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    users = json.loads(output)
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("DELETE FROM tasks WHERE title LIKE 'bench-mark-%%'")
        connection.execute("VACUUM ANALYZE tasks")

    replicas = asyncio.run(across_replicas(env, users, args.writes))
    print(f"Across replicas (write on A, stream on B): {replicas['text']}")
    many = asyncio.run(many_streams(env, users, args.duration, args.rate))
    before, during = many["list_before"], many["list_during"]
    print(
        f"\n{many['streams']} streams opened in {many['opened_in_s']} s; server RSS"
        f" {many['rss_mib_before']} MiB before, {many['rss_mib_open']} MiB with them open"
        f" (peak {many['rss_mib_peak']} MiB)"
    )
    print(f"A write reaches all 10 of its user's streams: {many['fan_out']}")
    print("\n| GET tasks (20) | closed loop, 50 connections | open loop |")
    print("|---|---|---|")
    for label, row in (
        ("before the streams opened", before),
        (f"with {many['streams']} streams open", during),
    ):
        closed, opened = row["closed"], row["open"]
        print(
            f"| {label} | {closed['rps']:.0f} req/s, p50 {closed['p50']:.1f} ms, p99 {closed['p99']:.1f} ms,"
            f" {closed['errors']} errors | {opened['achieved_rps']:.0f} req/s, p50 {opened['p50']:.1f} ms,"
            f" p99 {opened['p99']:.1f} ms, {opened['errors']} errors"
            f" (client CPU {opened['client_cpu_share']:.0%}) |"
        )
    print(
        f"\nServer CPU share during the GET loads: {many['server_cpu_share']:.0%};"
        f" the stream-holding client's: {many['stream_client_cpu_share']:.0%}"
    )
    (BENCH / "events-results.json").write_text(json.dumps({"replicas": replicas, "streams": many}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
