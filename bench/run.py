"""Throughput and latency at 50 concurrent connections, the server pinned to one core.

    make bench                      # all scenarios, 15 s each
    make bench ARGS="--duration 5 --only tasks_list"

Needs wrk (Debian package `wrk`) and taskset. Uses BENCH_DATABASE_URL, else a
`todo_bench` database on the PostgreSQL server at 127.0.0.1:5432. The server
runs uvicorn exactly as the image does (access log on), on core 0; wrk runs on
core 1. Prints a Markdown table of requests/s and p50/p99 latency.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/todo_bench"
SECRET = "benchmark-secret-not-for-production-0123456789"
TASKS_PER_USER = 200
CONNECTIONS = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def prepare(env: dict[str, str]) -> tuple[str, str]:
    """Migrate, and give the bench user TASKS_PER_USER tasks. Returns (user id, token)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    script = f"""
from accounts.auth import issue_token
from accounts.models import User
from tasks.models import Task
user = User.objects.filter(email="bench@example.com").first() or User.objects.create_user(
    "bench@example.com", "Bench", "bench-password-123")
Task.objects.filter(owner=user).delete()
Task.objects.bulk_create(
    Task(owner=user, title=f"Task {{n}}", description="A task for the benchmark", tags=["bench"])
    for n in range({TASKS_PER_USER}))
print(user.pk, issue_token(user).token)
"""
    output = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    # Earlier runs' created and deleted rows would otherwise skew the plans.
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE tasks")
    return output[0], output[1]


def wrk(url: str, duration: int, token: str | None, script: Path | None = None) -> dict[str, float]:
    command = ["taskset", "-c", "1", "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", output).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", output).group(1)),
        "errors": float(len(re.findall(r"Non-2xx|Socket errors", output))),
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--only", help="one scenario: health, ready, tasks_list, tasks_create")
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            print(f"{tool} is needed (apt-get install wrk util-linux).", file=sys.stderr)
            return 2

    database_url = os.environ.get("BENCH_DATABASE_URL", LOCAL_URL)
    ensure_database(database_url)
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        BETTER_AUTH_SECRET=SECRET,
        FRONTEND_URL="http://localhost:3000",
        LLM_PROVIDER="LOCAL",
        DEBUG="false",
        LOG_LEVEL="INFO",
    )
    user_id, token = prepare(env)

    port = free_port()
    server = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            "-m",
            "uvicorn",
            "todo_project.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health")  # noqa: S310 - loopback only
                break
            except OSError:
                time.sleep(0.1)
        scenarios = {
            "health": ("GET /health", f"{base}/health", None, None),
            "ready": ("GET /ready", f"{base}/ready", None, None),
            "tasks_list": (
                f"GET /api/{{user_id}}/tasks ({TASKS_PER_USER} tasks)",
                f"{base}/api/{user_id}/tasks",
                token,
                None,
            ),
            "tasks_create": (
                "POST /api/{user_id}/tasks",
                f"{base}/api/{user_id}/tasks",
                token,
                ROOT / "bench" / "post_task.lua",
            ),
        }
        print(f"| endpoint ({CONNECTIONS} connections, server on 1 core) | req/s | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|")
        for name, (label, url, auth, script) in scenarios.items():
            if args.only and name != args.only:
                continue
            wrk(url, 2, auth, script)  # warm up: pool filled, code paths loaded
            result = wrk(url, args.duration, auth, script)
            flag = " (errors!)" if result["errors"] else ""
            print(
                f"| {label}{flag} | {result['rps']:.0f} | {result['p50']:.1f} | {result['p99']:.1f} |",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
