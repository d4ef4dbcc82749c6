"""An open-loop load: requests start on a fixed schedule whatever the answers
do, and each latency counts from its scheduled start, so a slow server shows
as queueing instead of hiding it (as a closed loop like wrk's does).

    python bench/open_loop.py URL USER_ID TOKEN TASK_ID --rate 100 --duration 15

Mix: 70% GET the list (limit=20), 20% POST a task, 10% PATCH complete;
with --list-only, every request is the GET.
Prints one JSON object: the rate reached, p50/p95/p99 in ms, errors."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(
    url: str, user_id: str, token: str, task_id: str, rate: float, duration: float, list_only: bool = False
) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    latencies: list[float] = []
    errors = 0

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as client:

        async def one(number: int, scheduled: float) -> None:
            nonlocal errors
            kind = 0 if list_only else number % 10
            try:
                if kind < 7:
                    response = await client.get(f"/api/{user_id}/tasks?limit=20")
                elif kind < 9:
                    response = await client.post(
                        f"/api/{user_id}/tasks", json={"title": f"Open loop {number}"}
                    )
                else:
                    response = await client.patch(f"/api/{user_id}/tasks/{task_id}/complete")
                if response.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.monotonic() - scheduled)

        started = time.monotonic()
        running = []
        count = int(rate * duration)
        for number in range(count):
            scheduled = started + number / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            running.append(asyncio.ensure_future(one(number, scheduled)))
        await asyncio.gather(*running)
        elapsed = time.monotonic() - started

    milliseconds = [latency * 1000 for latency in latencies]
    return {
        "rate": rate,
        "requests": count,
        "achieved_rps": round(count / elapsed, 1),
        "p50": round(statistics.median(milliseconds), 2),
        "p95": round(percentile(milliseconds, 0.95), 2),
        "p99": round(percentile(milliseconds, 0.99), 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("url", "user_id", "token", "task_id"):
        parser.add_argument(name)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--list-only", action="store_true", help="every request is GET the list")
    args = parser.parse_args()
    result = asyncio.run(
        run(args.url, args.user_id, args.token, args.task_id, args.rate, args.duration, args.list_only)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
