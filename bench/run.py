"""Throughput and latency, the server pinned to one core, the load on the other.

    make bench                                # every scenario, 15 s each
    make bench ARGS="--duration 5 --only tasks_list,health"

Needs wrk (Debian package `wrk`) and taskset. Uses BENCH_DATABASE_URL, else a
`todo_bench` database on the PostgreSQL server at 127.0.0.1:5432. The server
is the image's process (python -m todo_project.serve, access log on) on core
0; wrk and the open-loop client (bench/load.py) run on core 1. Next to it, in the same run,
a bare ASGI app that answers /health's bytes on the same uvicorn and
protocol (bench/bare_asgi.py) is the ceiling for /health.

Prints a Markdown table (requests/s, p50/p99, errors, server CPU-ms per
request, RSS) and writes the same as JSON to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
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
BENCH = ROOT / "bench"
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/todo_bench"
SECRET = "benchmark-secret-not-for-production-0123456789"
CONNECTIONS = 50
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The benchmark server's environment: this one's, a database, the LOCAL
    assistant, limits that a benchmark does not hit."""
    return dict(
        os.environ,
        DATABASE_URL=database_url,
        BETTER_AUTH_SECRET=SECRET,
        FRONTEND_URL="http://localhost:3000",
        LLM_PROVIDER="LOCAL",
        DEBUG="false",
        CHAT_RATE_LIMIT="1000000/minute",
        MAX_TASKS_PER_USER="1000000",
        **overrides,
    )


def checkout(code: Path, prepare: str, **environment: str) -> tuple[dict[str, str], object]:
    """For a checkout's server (this one, or another's at `code`: the previous
    main, say): its environment on a database of its own
    (`<BENCH_DATABASE_URL>_<the folder's name>`), migrated by that code, and
    the JSON that `prepare` (a `manage.py shell` script) printed there."""
    database_url = os.environ.get("BENCH_DATABASE_URL", LOCAL_URL)
    if code != ROOT:
        database_url = f"{database_url}_{code.name.replace('-', '_')}"
    ensure_database(database_url)
    env = server_env(database_url, LOG_LEVEL="WARNING")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=code, env=env, check=True
    )
    shell = [sys.executable, "manage.py", "shell", "-v0", "-c", prepare]
    output = subprocess.run(
        shell, cwd=code, env={**env, **environment}, check=True, capture_output=True, text=True
    )
    return env, json.loads(output.stdout)


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


PREPARE = """
import json
from accounts.auth import issue_token
from accounts.models import User
from tasks.models import Task

def user(name, tasks):
    email = f"bench-{name}@example.com"
    person = User.objects.filter(email=email).first()
    person = person or User.objects.create_user(email, name, "Bench-pass-123")
    Task.objects.filter(owner=person).delete()
    Task.objects.bulk_create(
        Task(owner=person, title=f"Task {n}", description="A task for the benchmark", tags=["bench"])
        for n in range(tasks))
    first = Task.objects.filter(owner=person).order_by("id").first()
    return {"id": str(person.pk), "token": issue_token(person).token, "task": first.pk if first else None}

print(json.dumps({name: user(name, count) for name, count in
    [("list20", 20), ("list1000", 1000), ("writer", 0), ("toggler", 20), ("chatter", 0), ("mixed", 20)]}))
"""


def prepare(env: dict[str, str]) -> dict[str, dict]:
    """Migrate, and make the users of the scenarios with their tasks and tokens."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    output = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", PREPARE],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # Earlier runs' created and deleted rows would otherwise skew the plans.
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE tasks")
    return json.loads(output)


def start(command: list[str], env: dict[str, str], port: int, *, cwd: Path = ROOT) -> subprocess.Popen:
    """`command` pinned to core 0 in `cwd`, once /health answers on `port`."""
    process = subprocess.Popen(
        ["taskset", "-c", "0", *command],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health")
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mib(pid: int, field: str) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)[1]) / 1024


def wrk(url: str, duration: int, connections: int, token: str | None, script: str | None) -> dict:
    command = ["taskset", "-c", "1", "wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    if script:
        command += ["-s", str(BENCH / script)]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return {
        "requests": int(re.search(r"(\d+) requests in", output)[1]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", output)[1]),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", output)[1]),
        "errors": errors,
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(server: subprocess.Popen, url: str, duration: int, **kwargs: object) -> dict:
    wrk(url, 2, **kwargs)  # warm up: pools filled, code paths loaded
    before = cpu_seconds(server.pid)
    result = wrk(url, duration, **kwargs)
    result["cpu_ms_per_request"] = round(
        (cpu_seconds(server.pid) - before) * 1000 / max(1, result["requests"]), 3
    )
    result["rss_mib"] = round(memory_mib(server.pid, "VmRSS"), 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--only", help="comma-separated scenarios (see SCENARIOS in bench/run.py)")
    parser.add_argument(
        "--passes", type=int, default=1, help="run the scenarios this many times (RSS growth)"
    )
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            print(f"{tool} is needed (apt-get install wrk util-linux).", file=sys.stderr)
            return 2

    database_url = os.environ.get("BENCH_DATABASE_URL", LOCAL_URL)
    ensure_database(database_url)
    env = server_env(database_url, LOG_LEVEL="INFO")
    users = prepare(env)
    port, bare_port = free_port(), free_port()
    server = start([sys.executable, "-m", "todo_project.serve"], {**env, "PORT": str(port)}, port)
    bare_command = [sys.executable, "-m", "uvicorn", "bench.bare_asgi:app", "--host", "127.0.0.1"]
    bare_command += ["--port", str(bare_port), "--no-server-header"]
    bare_command += ["--http", "todo_project.protocol:LimitedHttpToolsProtocol"]
    bare = start(bare_command, {**env, "DJANGO_SETTINGS_MODULE": "todo_project.settings"}, bare_port)
    base = f"http://127.0.0.1:{port}"

    def api(user: str, path: str = "tasks") -> str:
        return f"{base}/api/{users[user]['id']}/{path}"

    scenarios = {
        "health": ("GET /health", f"{base}/health", None, None, CONNECTIONS),
        "bare_asgi": ("bare ASGI app, same bytes (ceiling of /health)", f"http://127.0.0.1:{bare_port}/health",
                      None, None, CONNECTIONS),
        "ready": ("GET /ready", f"{base}/ready", None, None, CONNECTIONS),
        "tasks_list": ("GET /api/{user_id}/tasks (20 tasks)", api("list20"), "list20", None, CONNECTIONS),
        "tasks_list_1000": ("GET /api/{user_id}/tasks (1,000 tasks)", api("list1000"), "list1000", None,
                            CONNECTIONS),
        "task_get": ("GET /api/{user_id}/tasks/{id}", f"{api('list20')}/{users['list20']['task']}", "list20",
                     None, CONNECTIONS),
        "tasks_create": ("POST /api/{user_id}/tasks", api("writer"), "writer", "post_task.lua", CONNECTIONS),
        "task_complete": ("PATCH /api/{user_id}/tasks/{id}/complete",
                          f"{api('toggler')}/{users['toggler']['task']}/complete", "toggler", "patch.lua",
                          CONNECTIONS),
        "task_update": ("PATCH /api/{user_id}/tasks/{id} (one field)",
                        f"{api('toggler')}/{users['toggler']['task']}", "toggler", "update.lua", CONNECTIONS),
        "chat_local": ("POST /api/{user_id}/chat (LOCAL agent, 10 connections)", api("chatter", "chat"),
                       "chatter", "chat.lua", 10),
    }  # fmt: skip
    chosen = set(args.only.split(",")) if args.only else None
    results: dict[str, object] = {"machine": os.uname().nodename, "duration": args.duration, "passes": []}
    try:
        for number in range(1, args.passes + 1):
            rows = {}
            print(f"\npass {number}\n")
            print("| endpoint (server on 1 core) | req/s | p50 ms | p99 ms | errors | CPU ms/req | RSS MiB |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for name, (label, url, user, script, connections) in scenarios.items():
                if chosen and name not in chosen and name != "open_loop":
                    continue
                process = bare if name == "bare_asgi" else server
                token = users[user]["token"] if user else None
                row = measure(
                    process, url, args.duration, connections=connections, token=token, script=script
                )
                rows[name] = {"label": label, "connections": connections, **row}
                print(
                    f"| {label} | {row['rps']:.0f} | {row['p50']:.1f} | {row['p99']:.1f} | {row['errors']} "
                    f"| {row['cpu_ms_per_request']:.3f} | {row['rss_mib']:.0f} |",
                    flush=True,
                )
            if not chosen or "open_loop" in chosen:
                mixed = users["mixed"]
                command = ["taskset", "-c", "1", sys.executable, str(BENCH / "load.py"), base]
                command += [mixed["id"], mixed["token"], str(mixed["task"]), "--rate", "100"]
                # Warm up for 2 s (code paths loaded, pools grown), then measure.
                subprocess.run([*command, "--duration", "2"], check=True, capture_output=True)
                command += ["--duration", str(args.duration)]
                output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                rows["open_loop"] = json.loads(output)
                loop = rows["open_loop"]
                print(
                    f"\nOpen loop, 100 req/s of 70% list, 20% create, 10% complete: p50 {loop['p50']} ms, "
                    f"p95 {loop['p95']} ms, p99 {loop['p99']} ms, {loop['errors']} errors "
                    f"(the client at {loop['client_cpu_share']:.0%} of its core)"
                )
            rss = round(memory_mib(server.pid, "VmRSS"), 1)
            peak = round(memory_mib(server.pid, "VmHWM"), 1)
            print(f"\nServer RSS after pass {number}: {rss} MiB (peak {peak} MiB)")
            results["passes"].append({"rows": rows, "rss_mib": rss, "peak_rss_mib": peak})
    finally:
        for process in (server, bare):
            process.terminate()
            process.wait(30)
    (BENCH / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nWritten to {BENCH / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
