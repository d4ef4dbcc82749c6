"""Where the mix's latency turns: the closed-loop capacity of the mix, then
the open loop at fractions of it and at the contract's 500 req/s, the server
(the image's process) pinned to core 0 and the client (bench/load.py) on
core 1, in one run.

    .venv/bin/python bench/knee.py [--duration 10] [--code DIR]

The mix: 70% GET the list (limit=20), 20% POST a task, 10% PATCH complete,
by one user with 20 tasks, or by --users N such users taking turns; the
tasks the run creates are deleted between rows, so every row starts from
the same 20 each. --code runs another checkout's
server on a database of its own (as bench/creates.py). Prints Markdown and
writes bench/knee-results.json."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from load import run as load
from run import BENCH, ROOT, checkout, cpu_seconds, free_port, start

FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# Users with 20 tasks each (the first of them toggled), their tokens.
PREPARE = """
import json, os
from accounts.auth import issue_token
from accounts.models import User
from tasks.models import Task

def user(n):
    email = f"bench-knee-{n}@example.com"
    person = User.objects.filter(email=email).first()
    person = person or User.objects.create_user(email, "Knee", "Bench-pass-123")
    Task.objects.filter(owner=person).delete()
    Task.objects.bulk_create(Task(owner=person, title=f"Task {i}", tags=["bench"]) for i in range(20))
    first = Task.objects.filter(owner=person).order_by("id").first()
    return [str(person.pk), issue_token(person).token, str(first.pk)]

print(json.dumps([user(n) for n in range(int(os.environ["BENCH_USERS"]))]))
"""
CONTRACT_RATE = 500
P99_LIMIT_MS = 50


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--users", type=int, default=1, help="the mix spread over this many users")
    arguments = parser.parse_args()
    os.sched_setaffinity(0, {1})
    code = arguments.code.resolve()
    env, users = checkout(code, PREPARE, BENCH_USERS=str(arguments.users))
    database_url = env["DATABASE_URL"]
    port = free_port()
    server = start([sys.executable, "-m", "todo_project.serve"], {**env, "PORT": str(port)}, port, cwd=code)
    url = f"http://127.0.0.1:{port}"
    arguments_of = (url, [tuple(user) for user in users])
    rows = []
    try:
        reset(database_url, users)
        load(*arguments_of, closed=50, duration=3)  # warm up
        rows.append(
            measured(
                "closed loop, 50 connections",
                server,
                database_url,
                users,
                lambda: load(*arguments_of, closed=50, duration=arguments.duration),
            )
        )
        capacity = rows[0]["rps"]
        rates = sorted({round(capacity * fraction) for fraction in FRACTIONS} | {CONTRACT_RATE})
        step = round(capacity * 0.1)
        while rates:
            rate = rates.pop(0)
            label = f"open loop, {rate}/s ({rate / capacity:.0%} of capacity)"
            rows.append(
                measured(
                    label,
                    server,
                    database_url,
                    users,
                    lambda rate=rate: load(*arguments_of, rate=rate, duration=arguments.duration),
                )
            )
            # Past the last planned rate and still under the limit: on, 10% of capacity at a time.
            if not rates and rows[-1]["p99"] <= P99_LIMIT_MS and rate < 2 * capacity:
                rates.append(rate + step)
    finally:
        server.terminate()
        server.wait(30)
    passing = [row["rate"] for row in rows[1:] if row["p99"] <= P99_LIMIT_MS and not row["errors"]]
    result = {
        "code": str(code),
        "users": arguments.users,
        "capacity_rps": capacity,
        "knee_rps": max(passing, default=None),
        "rows": rows,
    }
    (BENCH / "knee-results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    return 0


def measured(label: str, server: subprocess.Popen, database_url: str, users: list, work) -> dict:
    reset(database_url, users)
    before = cpu_seconds(server.pid)
    started = time.monotonic()
    row = work()
    row["server_cpu_share"] = round((cpu_seconds(server.pid) - before) / (time.monotonic() - started), 2)
    row["label"] = label
    return row


def reset(database_url: str, users: list) -> None:
    """Back to the users' 20 tasks each."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        for user_id, _, _ in users:
            connection.execute(
                "DELETE FROM tasks WHERE owner_id = %s AND id NOT IN"
                " (SELECT id FROM tasks WHERE owner_id = %s ORDER BY id LIMIT 20)",
                [user_id, user_id],
            )
        connection.execute("VACUUM ANALYZE tasks")


def report(result: dict) -> str:
    lines = [
        f"code: {result['code']}; {result['users']} user(s); capacity {result['capacity_rps']} req/s;"
        f" highest open-loop rate with p99 <="
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
