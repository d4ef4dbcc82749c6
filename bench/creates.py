"""Creates as their owner's tasks grow: POST /api/{user_id}/tasks with wrk at
50 connections, the image's process pinned to core 0, for a user who starts
with 0 tasks and one who starts with 9,000.

    .venv/bin/python bench/creates.py [--duration 5] [--code DIR]

--code runs another checkout's server (the previous main, say) on a database
of its own (`<BENCH_DATABASE_URL>_<name of DIR>`), migrated by that code, so
two versions compare back to back. Prints Markdown."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg
from run import ROOT, checkout, free_port, start, wrk

PREPARE = """
import json
from django.db import connection
from accounts.auth import issue_token
from accounts.models import User
from tasks.models import Task

def user(owned, name=None):
    email = f"bench-creates-{name or owned}@example.com"
    person = User.objects.filter(email=email).first()
    person = person or User.objects.create_user(email, "Creates", "Bench-pass-123")
    Task.objects.filter(owner=person).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tasks (owner_id, title, description, completed, priority, tags, created_at,"
            " updated_at) SELECT %s, 'Task ' || n, 'A task for the benchmark', false, 'medium', '{bench}',"
            " now(), now()"
            " FROM generate_series(1, %s) AS n", [person.pk, owned])
    return {"id": str(person.pk), "token": issue_token(person).token}

print(json.dumps({"warm-up": user(0, "warm-up"), **{owned: user(owned) for owned in (0, 9000)}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--code", type=Path, default=ROOT)
    arguments = parser.parse_args()
    code = arguments.code.resolve()
    env, users = checkout(code, PREPARE)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE tasks")
    port = free_port()
    command = [sys.executable, "-m", "todo_project.serve"]
    server = start(command, {**env, "PORT": str(port), "RUN_WORKER": "false"}, port, cwd=code)
    try:
        lines = [
            f"code: {code}",
            "",
            "| owned at the start | req/s | p50 ms | p99 ms | errors |",
            "|---:|---:|---:|---:|---:|",
        ]
        warm = users.pop("warm-up")  # pools filled, code paths loaded, before any figure
        wrk(f"http://127.0.0.1:{port}/api/{warm['id']}/tasks", 5, 50, warm["token"], "post_task.lua")
        for owned, user in users.items():
            url = f"http://127.0.0.1:{port}/api/{user['id']}/tasks"
            result = wrk(url, arguments.duration, connections=50, token=user["token"], script="post_task.lua")
            figures = (result["rps"], result["p50"], result["p99"], result["errors"])
            lines.append("| {} | {:.0f} | {:.1f} | {:.1f} | {} |".format(owned, *figures))
    finally:
        server.terminate()
        server.wait(30)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
