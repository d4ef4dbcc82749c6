"""Sending a fired reminder to each push subscription of its user.

A reminder's job (tasks/reminders.py) defers one `push.deliver` job per
subscription in the transaction that writes the notification, so a
notification has its deliveries exactly when it exists. The worker runs them
on the "push" queue, many at once on its event loop, outside any transaction
and never in a request.

Each delivery reads the subscription as it is then (a deleted one gets
nothing), checks its endpoint against WEB_PUSH_ALLOWED_HOSTS again, encrypts
the message for it (pywebpush: RFC 8291 aes128gcm) and signs a VAPID token
for its push service (py_vapid: RFC 8292), and posts it with a TTL and
Urgency: high (RFC 8030), following no redirect. The push service's answer:
2xx delivered; 404 or 410, the subscription is gone and is deleted; 429 and
5xx (and a connection that fails) are tried again, after Retry-After or with
a backoff whose first wait is 2 s, for up to an hour after the reminder
fired: each retry is a procrastinate job, so a worker's restart loses none;
other 4xx drop the message and keep the subscription.

A slow push service does not hold the others up: a worker has at most
HOST_LIMIT messages in flight to one host, and a message over that waits its
turn as a job (a second later, then longer), leaving the worker's other
places free."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from django.conf import settings
from django.utils import timezone
from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import NoResult
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from pywebpush import WebPusher

from push import config
from push.models import PushSubscription

logger = logging.getLogger(__name__)

QUEUE = "push"
# Jobs a worker runs at once on the push queue, and of those, at most this
# many to one push service's host.
CONCURRENCY = 100
HOST_LIMIT = 50
# How long a push service keeps a message for a browser that is offline.
TTL_SECONDS = 24 * 3600
# How long a message is tried for, from the moment its reminder fired.
RETRY_FOR = timedelta(hours=1)
FIRST_RETRY_SECONDS = 2.0
LONGEST_WAIT_SECONDS = 300.0
BUSY_WAIT_SECONDS = 1.0
LONGEST_BUSY_WAIT_SECONDS = 30.0
TIMEOUT_SECONDS = 5.0
# The longest Retry-After honoured as a number of seconds.
MAX_RETRY_AFTER_SECONDS = 3600


class DeliverLater(Exception):
    """The push service could not take the message now: try again in
    `seconds`."""

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(f"{reason}; trying again in {seconds:.0f} s")
        self.seconds = seconds


class AfterWait(BaseRetryStrategy):
    """A DeliverLater is retried after its own wait; anything else that ends
    a delivery (the database away for a moment) a few seconds later. The
    delivery itself stops asking once RETRY_FOR has passed."""

    def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
        if isinstance(exception, DeliverLater):
            return RetryDecision(retry_in={"seconds": exception.seconds})
        return _fallback.get_retry_decision(exception=exception, job=job)


_fallback = RetryStrategy(max_attempts=60, wait=5)


def defer_deliveries(*, owner_id: Any, message: dict[str, Any]) -> int:
    """One delivery job per push subscription of the owner, in the caller's
    transaction (Django's connection); none when Web Push is off. The
    number deferred."""
    if config.vapid() is None:
        return 0
    ids = list(PushSubscription.objects.filter(owner_id=owner_id).values_list("id", flat=True))
    fired = timezone.now().isoformat()
    if ids:
        deliver.batch_defer(*({"subscription_id": pk, "message": message, "fired_at": fired} for pk in ids))
    return len(ids)


def reminder_message(*, notification_id: int, task_id: int, title: str, body: str) -> dict[str, Any]:
    """The payload a service worker receives on `push` (SPEC.md 4a)."""
    return {
        "type": "reminder",
        "notification_id": notification_id,
        "task_id": task_id,
        "title": title,
        "body": body,
        "url": f"/tasks/{task_id}",
    }


@app.task(name="push.deliver", queue=QUEUE, pass_context=True, retry=AfterWait())
async def deliver(context: JobContext, subscription_id: int, message: dict[str, Any], fired_at: str) -> None:
    connector = context.app.connector
    try:
        row = await connector.execute_query_one_async(
            "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE id = %(id)s", id=subscription_id
        )
    except NoResult:
        return  # unsubscribed since
    signer = config.vapid()
    if signer is None:
        return  # Web Push was turned off since
    endpoint = row["endpoint"]
    host = config.push_service(endpoint)
    if host is None:
        logger.warning("Push subscription %s is not on WEB_PUSH_ALLOWED_HOSTS; nothing sent", subscription_id)
        return
    fired = datetime.fromisoformat(fired_at)
    deadline = fired + RETRY_FOR
    if _in_flight[host] >= HOST_LIMIT:
        # Its turn comes later the more often it found the host busy (a
        # second, then 2, 4, ... 30): a long queue for a slow host is not
        # fetched again and again meanwhile.
        wait = min(BUSY_WAIT_SECONDS * 2**context.job.attempts, LONGEST_BUSY_WAIT_SECONDS)
        _later(deadline, "its push service has many messages in flight", wait)
        return
    _in_flight[host] += 1
    try:
        status, retry_after = await _post(signer, endpoint, row["p256dh"], row["auth"], message)
    except (aiohttp.ClientError, TimeoutError) as exc:
        _later(deadline, f"{host} could not be reached ({type(exc).__name__})", _backoff(fired))
        return
    finally:
        _in_flight[host] -= 1
    if status < 300:
        return
    if status in (404, 410):
        await connector.execute_query_async(
            "DELETE FROM push_subscriptions WHERE id = %(id)s AND endpoint = %(endpoint)s",
            id=subscription_id,
            endpoint=endpoint,
        )
        logger.info("Push subscription %s is gone (%s from %s); deleted", subscription_id, status, host)
        return
    if status == 429 or status >= 500:
        wait = retry_after if retry_after is not None else _backoff(fired)
        _later(deadline, f"{host} answered {status}", wait)
        return
    logger.warning("%s refused a push message with %s; the message is dropped", host, status)


_in_flight: Counter[str] = Counter()


def quiet_retries(record: logging.LogRecord) -> bool:
    """A logging filter for procrastinate's worker: a delivery to be tried
    again is logged without a traceback (its message says why)."""
    if record.exc_info and isinstance(record.exc_info[1], DeliverLater):
        record.exc_info = None
    return True


def _later(deadline: datetime, reason: str, seconds: float) -> None:
    """DeliverLater, unless that would be past the deadline: then the
    message is given up, with a warning."""
    if timezone.now() + timedelta(seconds=seconds) > deadline:
        logger.warning("A push message is given up: %s, for an hour", reason)
        return
    raise DeliverLater(reason, seconds)


def _backoff(fired: datetime) -> float:
    """About as long as the message has waited already: 2 s, then doubling,
    at most LONGEST_WAIT_SECONDS. (From the time waited, not the attempts:
    the turns waited behind a busy host do not lengthen it.)"""
    waited = (timezone.now() - fired).total_seconds()
    return min(max(FIRST_RETRY_SECONDS, waited), LONGEST_WAIT_SECONDS)


async def _post(
    signer: Any, endpoint: str, p256dh: str, auth: str, message: dict[str, Any]
) -> tuple[int, float | None]:
    """Post the encrypted message; the push service's status and Retry-After."""
    pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
    body = pusher.encode(json.dumps(message).encode(), "aes128gcm")["body"]
    parts = urlsplit(endpoint)
    claims = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + 12 * 3600,
        "sub": settings.VAPID_SUBJECT,
    }
    headers = {
        **signer.sign(claims),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(TTL_SECONDS),
        "Urgency": "high",
    }
    async with _session().post(endpoint, data=body, headers=headers, allow_redirects=False) as response:
        await response.read()
        return response.status, _retry_after(response.headers.get("Retry-After"))


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER_SECONDS))
    try:
        moment = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    except ValueError:
        return None
    return min(max((moment - timezone.now()).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


def _session() -> aiohttp.ClientSession:
    """The event loop's HTTP client for push services (one per loop: a
    session belongs to the loop it was made on). No proxy from the
    environment, no cookies, no redirects followed."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONCURRENCY),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        _sessions[loop] = session
    return session


async def close_session() -> None:
    """Close this loop's client (the worker's stop)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()
