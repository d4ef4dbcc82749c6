"""Where the mix's latency turns: the closed-loop capacity of the mix, then
the open loop at fractions of it and at the contract's 500 req/s, the server
(the image's process) pinned to core 0 and the client (bench/load.py) on
core 1, in one run.

    .venv/bin/python bench/knee.py [--duration 10] [--code DIR]

The mix: 70% GET the list (limit=20), 20% POST a task, 10% PATCH complete,
by a user with 20 tasks; the tasks the run creates are deleted between
rows, so every row starts from the same 20. --code runs another checkout's
server on a database of its own (as bench/creates.py). Prints Markdown and
writes bench/knee-results.json."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
from load import run as load
from run import BENCH, LOCAL_URL, PREPARE, ROOT, cpu_seconds, ensure_database, free_port, server_env

FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CONTRACT_RATE = 500
P99_LIMIT_MS = 50


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--code", type=Path, default=ROOT)
    arguments = parser.parse_args()
    os.sched_setaffinity(0, {1})
    code = arguments.code.resolve()
    database_url = os.environ.get("BENCH_DATABASE_URL", LOCAL_URL)
    if code != ROOT:
        database_url = f"{database_url}_{code.name.replace('-', '_')}"
    ensure_database(database_url)
    env = server_env(database_url, LOG_LEVEL="WARNING")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=code, env=env, check=True
    )
    shell = [sys.executable, "manage.py", "shell", "-v0", "-c", PREPARE]
    user = json.loads(
        subprocess.run(shell, cwd=code, env=env, check=True, capture_output=True, text=True).stdout
    )["mixed"]
    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "todo_project.serve"],
        cwd=code,
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    arguments_of = (url, user["id"], user["token"], str(user["task"]))
    rows = []
    try:
        wait_for(port)
        reset(database_url, user["id"])
        load(*arguments_of, closed=50, duration=3)  # warm up
        rows.append(
            measured(
                "closed loop, 50 connections",
                server,
                database_url,
                user,
                lambda: load(*arguments_of, closed=50, duration=arguments.duration),
            )
        )
        capacity = rows[0]["rps"]
        rates = [round(capacity * fraction) for fraction in FRACTIONS] + [CONTRACT_RATE]
        for rate in sorted(set(rates)):
            label = f"open loop, {rate}/s ({rate / capacity:.0%} of capacity)"
            rows.append(
                measured(
                    label,
                    server,
                    database_url,
                    user,
                    lambda rate=rate: load(*arguments_of, rate=rate, duration=arguments.duration),
                )
            )
    finally:
        server.terminate()
        server.wait(30)
    passing = [row["rate"] for row in rows[1:] if row["p99"] <= P99_LIMIT_MS and not row["errors"]]
    result = {
        "code": str(code),
        "capacity_rps": capacity,
        "knee_rps": max(passing, default=None),
        "rows": rows,
    }
    (BENCH / "knee-results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    return 0


def measured(label: str, server: subprocess.Popen, database_url: str, user: dict, work) -> dict:
    reset(database_url, user["id"])
    before = cpu_seconds(server.pid)
    started = time.monotonic()
    row = work()
    row["server_cpu_share"] = round((cpu_seconds(server.pid) - before) / (time.monotonic() - started), 2)
    row["label"] = label
    return row


def reset(database_url: str, user_id: str) -> None:
    """Back to the user's 20 tasks, the toggled one open."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "DELETE FROM tasks WHERE owner_id = %s AND id NOT IN"
            " (SELECT id FROM tasks WHERE owner_id = %s ORDER BY id LIMIT 20)",
            [user_id, user_id],
        )
        connection.execute("VACUUM ANALYZE tasks")


def wait_for(port: int) -> None:
    for _ in range(400):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health")
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def report(result: dict) -> str:
    lines = [
        f"code: {result['code']}; capacity {result['capacity_rps']} req/s; highest open-loop rate with p99 <="
        f" {P99_LIMIT_MS} ms: {result['knee_rps']} req/s",
        "",
        "| the mix, server on one core | req/s | p50 ms | p99 ms | max ms | errors | server CPU"
        " | client CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['label']} | {row['rps']} | {row['p50']} | {row['p99']} | {row['max']} | {row['errors']}"
            f" | {row['server_cpu_share']:.0%} | {row['client_cpu_share']:.0%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
