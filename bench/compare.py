"""This checkout against another one (a previous main), interleaved: both
servers run side by side on core 0 (only one is under load at a time), wrk on
core 1, and each scenario alternates between them, so a machine that speeds
up or slows down during the run weighs on both alike.

    git worktree add /tmp/previous <commit>
    .venv/bin/python bench/compare.py /tmp/previous --rounds 5 --duration 5

Each side has its own database (`todo_bench_<side>`, created and migrated by
its own code). Prints, per scenario, the median req/s of each side over the
rounds, every round's figures, the ratio of the medians, and the median
server CPU time per request (less disturbed by a busy machine than req/s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
from run import (
    BENCH,
    CONNECTIONS,
    LOCAL_URL,
    PREPARE,
    ROOT,
    cpu_seconds,
    ensure_database,
    free_port,
    server_env,
    wrk,
)  # fmt: skip

SCENARIOS = {
    "GET /api/{user_id}/tasks (20 tasks)": ("list20", "tasks", None),
    "POST /api/{user_id}/tasks": ("writer", "tasks", "post_task.lua"),
    # Each request with a key of its own here; the other side (before keys) ignores the header.
    "POST /api/{user_id}/tasks with an Idempotency-Key": ("writer", "tasks", "post_task_keyed.lua"),
    "PATCH /api/{user_id}/tasks/{id}/complete": ("toggler", "tasks/{task}/complete", "patch.lua"),
    "PATCH /api/{user_id}/tasks/{id}/complete, 20 tasks in turn": (
        "toggler",
        "tasks/{task}/complete",
        "patch_spread.lua",
    ),
    "PATCH /api/{user_id}/tasks/{id} (one field)": ("toggler", "tasks/{task}", "update.lua"),
}


def side(tree: Path, name: str) -> dict:
    """Migrate and prepare the side's database with its own code; start its server."""
    database_url = LOCAL_URL.rsplit("/", 1)[0] + f"/todo_bench_{name}"
    ensure_database(database_url)
    env = server_env(database_url, LOG_LEVEL="WARNING", RUN_WORKER="false")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=tree, env=env, check=True
    )
    output = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", PREPARE],
        cwd=tree, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    port = free_port()
    command = ["taskset", "-c", "0", sys.executable, "-m", "todo_project.serve"]
    server = subprocess.Popen(command, cwd=tree, env={**env, "PORT": str(port)}, stdout=subprocess.DEVNULL)
    _wait(port)
    return {"users": json.loads(output), "port": port, "server": server, "database": database_url}


def empty(database_url: str, user_id: str) -> None:
    """The writer starts each run with no tasks: a create counts the user's
    tasks (MAX_TASKS_PER_USER), so a table that grows run after run would
    slow the later runs, whichever side they are."""
    with psycopg.connect(database_url, autocommit=True) as database:
        database.execute("SET session_replication_role = replica")  # no change records of this
        database.execute("DELETE FROM tasks WHERE owner_id = %s", [user_id])
        database.execute("VACUUM tasks")


def _wait(port: int) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health")
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("other", type=Path, help="the other checkout (a previous main)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--only", default="", help="the scenarios whose label contains this")
    args = parser.parse_args()
    sides = {"other": side(args.other.resolve(), "other"), "this": side(ROOT, "this")}
    results: dict[str, dict[str, list[float]]] = {}
    cpu: dict[str, dict[str, list[float]]] = {}
    print(
        "| scenario (50 connections) | other req/s | this req/s | this/other"
        " | server CPU ms/req (other/this) | rounds (other/this) |"
    )
    print("|---|---:|---:|---:|---:|---|")
    try:
        for label, (user, path, script) in SCENARIOS.items():
            if args.only not in label:
                continue
            results[label] = {"other": [], "this": []}
            cpu[label] = {"other": [], "this": []}
            for number in range(args.rounds):
                order = ("other", "this") if number % 2 == 0 else ("this", "other")
                for name in order:
                    users = sides[name]["users"][user]
                    url = f"http://127.0.0.1:{sides[name]['port']}/api/{users['id']}/"
                    url += path.format(task=users["task"])
                    if user == "writer":
                        empty(sides[name]["database"], users["id"])
                    if number == 0:
                        wrk(url, 2, connections=CONNECTIONS, token=users["token"], script=script)  # warm-up
                    before = cpu_seconds(sides[name]["server"].pid)
                    row = wrk(
                        url, args.duration, connections=CONNECTIONS, token=users["token"], script=script
                    )
                    spent = cpu_seconds(sides[name]["server"].pid) - before
                    results[label][name].append(row["rps"])
                    cpu[label][name].append(spent * 1000 / max(1, row["requests"]))
                    if row["errors"]:
                        print(f"<!-- {label}, {name}: {row['errors']} errors -->", flush=True)
            other, this = (statistics.median(results[label][name]) for name in ("other", "this"))
            rounds = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(*results[label].values(), strict=True))
            spent = "/".join(f"{statistics.median(cpu[label][name]):.3f}" for name in ("other", "this"))
            print(
                f"| {label} | {other:.0f} | {this:.0f} | {this / other:.2f} | {spent} | {rounds} |",
                flush=True,
            )
    finally:
        for name in sides:
            sides[name]["server"].terminate()
            sides[name]["server"].wait(30)
    (BENCH / "compare-results.json").write_text(json.dumps({"rps": results, "cpu_ms": cpu}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
