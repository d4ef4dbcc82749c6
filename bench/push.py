"""Reminders due in the same second, delivered by Web Push: one worker
(`manage.py run_worker`, polling every second as deployed) pinned to core 0;
the push-service stand-ins (push/tests/push_service.py: each message's VAPID
token checked and its body decrypted, as a browser would) and this script on
core 1.

    .venv/bin/python bench/push.py                  # 300 reminders, 2 subscriptions each
    .venv/bin/python bench/push.py --reminders 600

1. Every user's two browsers on one fast push service: from the second the
   reminders are due to the last of the 2 x N messages decrypted.
2. One browser of each user on a push service that answers after 2 s, the
   other on the fast one: when the fast one's messages arrive (they must not
   wait for the slow one's), and when the slow one's do.

Uses BENCH_DATABASE_URL, else the `todo_bench` database (as bench/run.py).
Prints Markdown and writes bench/push-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

from run import BENCH, LOCAL_URL, ROOT, cpu_seconds, ensure_database, server_env

sys.path.insert(0, str(ROOT))

SLOW_SECONDS = 2.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reminders", type=int, default=300)
    arguments = parser.parse_args()
    os.sched_setaffinity(0, {1})
    database_url = os.environ.get("BENCH_DATABASE_URL", LOCAL_URL)
    ensure_database(database_url)

    from push.config import new_vapid_key
    from push.tests.push_service import PushService

    private, public = new_vapid_key()
    subject = "mailto:bench@todo.example"
    with (
        PushService(subject=subject, public_key=public) as fast,
        PushService(subject=subject, public_key=public, delay=SLOW_SECONDS) as slow,
    ):
        env = server_env(
            database_url,
            VAPID_PRIVATE_KEY=private,
            VAPID_SUBJECT=subject,
            WEB_PUSH_ALLOWED_HOSTS=f"{fast.origin},{slow.origin}",
            LOG_LEVEL="WARNING",
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
        )
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "todo_project.settings"
        import django

        django.setup()
        results = {
            "reminders": arguments.reminders,
            "one fast service": scenario(arguments.reminders, env, fast, fast),
            "one slow service": scenario(arguments.reminders, env, fast, slow),
        }
    print(report(results))
    (BENCH / "push-results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


def scenario(count: int, env: dict[str, str], first, second) -> dict:
    """`count` users, each with a browser on `first` and one on `second` and
    a reminder due at the same second; the worker delivers them."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from push.models import PushSubscription
    from tasks.services import create_task

    User.objects.filter(email__startswith="bench-push-").delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs WHERE queue_name IN ('reminders', 'push')")
    worker = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "manage.py", "run_worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # started, waiting for jobs
        users = User.objects.bulk_create(
            User(email=f"bench-push-{n}@example.com", name=f"Bench {n}") for n in range(count)
        )
        subscriptions = [
            (user, service.browser().subscription()) for user in users for service in (first, second)
        ]
        PushSubscription.objects.bulk_create(
            PushSubscription(owner=user, endpoint=data["endpoint"], **data["keys"])
            for user, data in subscriptions
        )
        due = (timezone.now() + timedelta(seconds=5)).replace(microsecond=0)
        for user in users:
            create_task(owner=user, title="Stretch", remind_at=due)
        cpu_before = cpu_seconds(worker.pid)
        deadline = time.time() + 120
        # Messages each service should see (both browsers' when first is second).
        expected = {service: browsers * count for service, browsers in Counter([first, second]).items()}
        while time.time() < deadline:
            if all(len(service.arrivals) >= messages for service, messages in expected.items()):
                break
            time.sleep(0.05)
        worker_cpu = cpu_seconds(worker.pid) - cpu_before
    finally:
        worker.terminate()
        worker.wait(30)
    start = due.timestamp()
    result = {"worker_cpu_seconds": round(worker_cpu, 2)}
    for name, (service, messages) in zip(("first", "second"), expected.items(), strict=False):
        times = sorted(arrival.at - start for arrival in service.arrivals)
        result[name] = {
            "delay": service.delay,
            "messages": messages,
            "arrived": len(times),
            "refused": len(service.refused),
            "p50_s": round(statistics.median(times), 2) if times else None,
            "last_s": round(times[-1], 2) if times else None,
        }
    for service in (first, second):  # the next scenario counts afresh
        service.arrivals.clear()
    return result


def report(results: dict) -> str:
    lines = [
        f"{results['reminders']} reminders due in the same second, 2 browsers each; one worker on one core.",
        "",
        "| push services | messages | arrived | first due → p50 | → last | worker CPU |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in ("one fast service", "one slow service"):
        data = results[scenario]
        for part in ("first", "second"):
            if part not in data:
                continue
            item = data[part]
            label = f"{scenario}: {'slow (2 s)' if item['delay'] else 'fast'}"
            lines.append(
                f"| {label} | {item['messages']} | {item['arrived']} | {item['p50_s']} s | {item['last_s']} s"
                f" | {data['worker_cpu_seconds']} s |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
