"""Streaming chats under load: the server pinned to core 0; the provider
stand-in and the clients on core 1.

    .venv/bin/python bench/chat_stream.py                        # GROQ, 50 then 200 chats
    .venv/bin/python bench/chat_stream.py --provider OPENROUTER --duration 20

The provider stand-in (a process of its own) streams every answer as 20 text
chunks 50 ms apart, the first of which carries the moment it was sent
(CLOCK_MONOTONIC, which every process of the machine shares). The chat clients
(raw asyncio, one connection each, a new chat as soon as the last one ends)
send `Accept: text/event-stream` and read the chunked stream as it comes.

1. 50 chats at once: from the provider's first chunk to the client's first
   `text-delta` (p50, p99), and how long a whole chat takes.
2. GET /api/{user_id}/tasks (20 tasks), an open loop at --rate requests/s
   (bench/load.py, with its CPU share): alone, then while --busy chats
   (200) stream at once, each client chatting again as soon as it is done,
   back to back.
3. --busy chats started together, one each, while GETs arrive on a fixed
   schedule: the GETs' latency while those chats stream.

Uses BENCH_DATABASE_URL, else the `todo_bench` database (as bench/run.py).
Prints Markdown and writes bench/chat-stream-results.json.
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

from run import BENCH, LOCAL_URL, cpu_seconds, ensure_database, free_port, prepare, server_env
from run import start as start_server

CHUNKS = 20
CHUNK_GAP_SECONDS = 0.05
SENT_AT = re.compile(rb"@(\d+\.\d+)@")


# --- the provider stand-in (its own process) -------------------------------------------


def chunk_event(content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    event = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    data = b"data: " + json.dumps(event).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


async def stand_in_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                + chunk_event("")
                + chunk_event(f"@{time.monotonic():.6f}@ ")
            )
            for _ in range(CHUNKS - 1):
                await asyncio.sleep(CHUNK_GAP_SECONDS)
                writer.write(chunk_event("word "))
            done = b"data: [DONE]\n\n"
            writer.write(chunk_event(None, "stop") + b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def serve_stand_in(port: int) -> None:
    server = await asyncio.start_server(stand_in_answer, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# --- the chat clients --------------------------------------------------------------------


class Chats:
    """`count` clients, each chatting again as soon as its last chat ends."""

    def __init__(self, port: int, user: dict) -> None:
        self.port = port
        self.request = (
            f"POST /api/{user['id']}/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {user['token']}\r\nAccept: text/event-stream\r\n"
            "Content-Type: application/json\r\nContent-Length: 19\r\n\r\n"
            '{"message":"hello"}'
        ).encode()
        self.first_delta_ms: list[float] = []
        self.head_ms: list[float] = []  # from sending the message to the answer's head
        self.chat_seconds: list[float] = []
        self.errors = 0
        self.running = True
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, count: int) -> None:
        self.tasks = [asyncio.create_task(self._client()) for _ in range(count)]

    async def stop(self) -> None:
        self.running = False
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def burst(self, count: int) -> None:
        """`count` chats started together, one on each connection."""

        async def one() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            started = time.monotonic()
            writer.write(self.request)
            if await self._read_stream(reader, started):
                self.chat_seconds.append(time.monotonic() - started)
            else:
                self.errors += 1
            writer.close()

        await asyncio.gather(*(one() for _ in range(count)))

    def reset(self) -> None:
        self.first_delta_ms.clear()
        self.head_ms.clear()
        self.chat_seconds.clear()
        self.errors = 0

    async def _client(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            while self.running:
                started = time.monotonic()
                writer.write(self.request)
                if not await self._read_stream(reader, started):
                    self.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    continue
                self.chat_seconds.append(time.monotonic() - started)
        finally:
            writer.close()

    async def _read_stream(self, reader: asyncio.StreamReader, started: float) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            return False
        self.head_ms.append((time.monotonic() - started) * 1000)
        seen_first = False
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                return True
            data = await reader.readexactly(size + 2)
            if not seen_first and b'"text-delta"' in data:
                now = time.monotonic()
                seen_first = True
                sent_at = SENT_AT.search(data)
                if sent_at:
                    self.first_delta_ms.append((now - float(sent_at[1])) * 1000)


async def sample_gets(port: int, user: dict, rate: int, until: float) -> list[tuple[float, float]]:
    """GET the user's tasks on a fixed schedule (an open loop, 20 kept-alive
    connections): each request's scheduled moment and its latency in ms from then."""
    request = (
        f"GET /api/{user['id']}/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {user['token']}\r\n\r\n"
    ).encode()
    connections: asyncio.Queue = asyncio.Queue()
    for _ in range(20):
        connections.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    samples: list[tuple[float, float]] = []

    async def get(scheduled: float) -> None:
        reader, writer = await connections.get()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(re.search(rb"(?i)content-length: *(\d+)", head)[1]))
        samples.append((scheduled, (time.monotonic() - scheduled) * 1000))
        connections.put_nowait((reader, writer))

    started, sent, running = time.monotonic(), 0, []
    while (scheduled := started + sent / rate) < until:
        await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        running.append(asyncio.create_task(get(scheduled)))
        sent += 1
    await asyncio.gather(*running)
    while not connections.empty():
        connections.get_nowait()[1].close()
    return samples


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def open_loop(port: int, user: dict, rate: int, duration: int) -> dict:
    command = ["taskset", "-c", "1", sys.executable, str(BENCH / "load.py"), f"http://127.0.0.1:{port}"]
    command += [user["id"], user["token"], "0", "--list-only"]
    command += ["--rate", str(rate), "--duration", str(duration)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


async def measure(port: int, server_pid: int, users: dict, duration: int, rate: int, busy: int) -> dict:
    chats = Chats(port, users["chatter"])
    chats.start(50)
    await asyncio.sleep(3)  # warm-up: the provider connections opened, the code paths loaded
    chats.reset()
    cpu, own, started = cpu_seconds(server_pid), time.process_time(), time.monotonic()
    await asyncio.sleep(duration)
    elapsed = time.monotonic() - started
    fifty = {
        "chats": len(chats.chat_seconds),
        "chats_per_s": round(len(chats.chat_seconds) / elapsed, 1),
        "first_delta_p50_ms": round(statistics.median(chats.first_delta_ms), 1),
        "first_delta_p99_ms": round(percentile(chats.first_delta_ms, 0.99), 1),
        "chat_p50_s": round(statistics.median(chats.chat_seconds), 2),
        "chat_p99_s": round(percentile(chats.chat_seconds, 0.99), 2),
        "errors": chats.errors,
        "server_cpu_share": round((cpu_seconds(server_pid) - cpu) / elapsed, 2),
        "client_cpu_share": round((time.process_time() - own) / elapsed, 2),
    }
    await chats.stop()

    alone = await asyncio.to_thread(open_loop, port, users["list20"], rate, duration)
    chats = Chats(port, users["chatter"])
    chats.start(busy)
    await asyncio.sleep(3)
    chats.reset()
    cpu, own, started = cpu_seconds(server_pid), time.process_time(), time.monotonic()
    during = await asyncio.to_thread(open_loop, port, users["list20"], rate, duration)
    elapsed = time.monotonic() - started
    busy_result = {
        "chats_per_s": round(len(chats.chat_seconds) / elapsed, 1),
        "first_delta_p50_ms": round(statistics.median(chats.first_delta_ms), 1),
        "first_delta_p99_ms": round(percentile(chats.first_delta_ms, 0.99), 1),
        "chat_p99_s": round(percentile(chats.chat_seconds, 0.99), 2),
        "errors": chats.errors,
        "server_cpu_share": round((cpu_seconds(server_pid) - cpu) / elapsed, 2),
        "chat_client_cpu_share": round((time.process_time() - own) / elapsed, 2),
    }
    await chats.stop()

    # 3. `busy` chats started together, one each, while GETs arrive on their schedule.
    chats = Chats(port, users["chatter"])
    sampling = asyncio.create_task(sample_gets(port, users["list20"], rate, time.monotonic() + duration))
    await asyncio.sleep(1)
    burst_started = time.monotonic()
    await chats.burst(busy)
    burst_ended = time.monotonic()
    samples = await sampling
    during_burst = [ms for at, ms in samples if burst_started <= at <= burst_ended]
    burst = {
        "count": busy,
        "seconds": round(burst_ended - burst_started, 2),
        "errors": chats.errors,
        "first_delta_p99_ms": round(percentile(chats.first_delta_ms, 0.99), 1),
        "get_p50_ms": round(statistics.median(during_burst), 1),
        "get_p99_ms": round(percentile(during_burst, 0.99), 1),
        "gets": len(during_burst),
    }
    return {
        "burst": burst,
        "fifty_chats": fifty,
        "list_alone": alone,
        "list_during_chats": during,
        "busy_chats": {"count": busy, **busy_result},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--provider", choices=["GROQ", "OPENROUTER"], default="GROQ")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--rate", type=int, default=100, help="the open loop's GETs per second")
    parser.add_argument("--busy", type=int, default=200, help="chats at once beside the GETs")
    parser.add_argument("--stand-in", type=int, help=argparse.SUPPRESS)  # the stand-in's own process
    arguments = parser.parse_args()
    if arguments.stand_in:
        asyncio.run(serve_stand_in(arguments.stand_in))
        return 0

    database_url = os.environ.get("BENCH_DATABASE_URL", LOCAL_URL)
    ensure_database(database_url)
    stand_in_port, port = free_port(), free_port()
    stand_in = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, __file__, "--stand-in", str(stand_in_port)], cwd=BENCH
    )
    provider = {
        "GROQ": {"GROQ_API_KEY": "gsk_bench", "GROQ_BASE_URL": f"http://127.0.0.1:{stand_in_port}"},
        "OPENROUTER": {
            "OPENROUTER_API_KEY": "sk-or-bench",
            "OPENROUTER_BASE_URL": f"http://127.0.0.1:{stand_in_port}/api/v1",
        },
    }[arguments.provider]
    env = {**server_env(database_url, PORT=str(port)), "LLM_PROVIDER": arguments.provider, **provider}
    users = prepare(env)
    server = start_server([sys.executable, "-m", "todo_project.serve"], env, port)
    try:
        result = asyncio.run(
            measure(port, server.pid, users, arguments.duration, arguments.rate, arguments.busy)
        )
    finally:
        server.terminate()
        server.wait(60)
        stand_in.terminate()
    result["provider"] = arguments.provider
    (BENCH / "chat-stream-results.json").write_text(json.dumps(result, indent=2))
    fifty, busy = result["fifty_chats"], result["busy_chats"]
    alone, during = result["list_alone"], result["list_during_chats"]
    stand_in_pace = f"{CHUNKS} chunks {CHUNK_GAP_SECONDS * 1000:.0f} ms apart"
    print(f"| streaming chats ({arguments.provider}, stand-in: {stand_in_pace}) | result |")
    print("|---|---|")
    print(
        "| 50 at once: provider's first chunk to the client's first text-delta |"
        f" p50 {fifty['first_delta_p50_ms']} ms,"
        f" p99 {fifty['first_delta_p99_ms']} ms ({fifty['chats']} chats, {fifty['chats_per_s']}/s,"
        f" whole chat p50 {fifty['chat_p50_s']} s, p99 {fifty['chat_p99_s']} s, {fifty['errors']} errors;"
        f" server CPU {fifty['server_cpu_share']:.0%}, client CPU {fifty['client_cpu_share']:.0%}) |"
    )
    print(
        f"| GET tasks, open loop {arguments.rate}/s, alone |"
        f" p50 {alone['p50']:.1f} ms, p99 {alone['p99']:.1f} ms"
        f" (client CPU {alone['client_cpu_share']:.0%}) |"
    )
    print(
        f"| GET tasks, open loop {arguments.rate}/s, while {busy['count']} chats stream |"
        f" p50 {during['p50']:.1f} ms,"
        f" p99 {during['p99']:.1f} ms ({during['errors']} errors; chats {busy['chats_per_s']}/s,"
        " first delta p99"
        f" {busy['first_delta_p99_ms']} ms, server CPU {busy['server_cpu_share']:.0%},"
        f" chat clients' CPU {busy['chat_client_cpu_share']:.0%}) |"
    )
    burst = result["burst"]
    print(
        f"| GET tasks, open loop {arguments.rate}/s, while {burst['count']} chats started together stream |"
        f" p50 {burst['get_p50_ms']} ms, p99 {burst['get_p99_ms']} ms ({burst['gets']} GETs; all chats"
        f" done in {burst['seconds']} s, {burst['errors']} errors,"
        f" first delta p99 {burst['first_delta_p99_ms']} ms) |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
