"""Rate limits: fixed windows counted in Django's cache.

Each attempt adds one to a counter named after the limit, the client and the
current window, with the cache's atomic incr(), so requests that arrive
together cannot both see room for one more. Rates are read from settings at
each request, so they follow the environment and tests can lower them.

Sign-in is limited twice: every attempt per client address (AUTH_RATE_LIMIT),
and failures per email and address (AUTH_FAILURE_LIMIT), so a client that
guesses at an account locks out only itself, never the owner signing in from
elsewhere. The client address is the connection's peer; X-Forwarded-For is
used only from the proxies in FORWARDED_ALLOW_IPS, by the server.

With REDIS_URL the counters are shared by every replica. When Redis does not
answer, a request is not failed: the counting goes on in the process's
memory (the "fallback" cache), Redis is tried again after
REDIS_RETRY_SECONDS, and a warning is logged at most once a minute."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

T = TypeVar("T")
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        count, period = text.split("/")
        return cls(int(count), PERIODS[period])


REDIS_RETRY_SECONDS = 5.0
WARNING_INTERVAL_SECONDS = 60.0
logger = logging.getLogger(__name__)


class _Counters:
    """The cache the counters live in: the shared one, or the process's own
    while the shared one is out of reach."""

    def __init__(self) -> None:
        self.shared_down_until = 0.0
        self.warned_at = -WARNING_INTERVAL_SECONDS

    def run(self, operation: Callable[[BaseCache], T]) -> T:
        if "fallback" not in settings.CACHES:
            return operation(caches["default"])
        if time.monotonic() >= self.shared_down_until:
            try:
                return operation(caches["default"])
            except RedisError as exc:
                self._shared_failed(exc)
        return operation(caches["fallback"])

    def _shared_failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self.shared_down_until = now + REDIS_RETRY_SECONDS
        if now - self.warned_at >= WARNING_INTERVAL_SECONDS:
            self.warned_at = now
            logger.warning(
                "Redis does not answer (%s); rate limits count in this process until it does.",
                type(exc).__name__,
            )


counters = _Counters()


def _key(scope: str, ident: str, rate: Rate) -> tuple[str, float]:
    """The counter's cache key for the current window, and the seconds left in it."""
    now = time.time()
    window = int(now // rate.seconds)
    return f"rl:{scope}:{ident}:{rate.seconds}:{window}", (window + 1) * rate.seconds - now


def count_attempt(scope: str, ident: str, rate: Rate) -> float | None:
    """Count one attempt: None while within the rate, else seconds to wait."""
    key, left = _key(scope, ident, rate)

    def increment(cache: BaseCache) -> int:
        cache.add(key, 0, timeout=rate.seconds + 1)
        try:
            return cache.incr(key)
        except ValueError:  # the window ended between add() and incr()
            cache.add(key, 0, timeout=rate.seconds + 1)
            return cache.incr(key)

    count = counters.run(increment)
    return None if count <= rate.count else left


def limit_reached(scope: str, ident: str, rate: Rate) -> float | None:
    """Whether the rate is used up, without counting: None, or seconds to wait."""
    key, left = _key(scope, ident, rate)
    return left if counters.run(lambda cache: cache.get(key, 0)) >= rate.count else None


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def check_failed_signins(request: HttpRequest, account: str) -> None:
    """Throttled when this address has failed too often to sign in to this
    account (an email_key, or the admin's username)."""
    wait = limit_reached("auth-failures", _failures_ident(request, account), _failure_rate())
    if wait is not None:
        raise Throttled(wait=wait)


def record_failed_signin(request: HttpRequest, account: str) -> None:
    count_attempt("auth-failures", _failures_ident(request, account), _failure_rate())


def _failures_ident(request: HttpRequest, account: str) -> str:
    # Short keys that carry no email in clear text.
    return hashlib.sha256(f"{account}|{client_address(request)}".encode()).hexdigest()[:32]


def _failure_rate() -> Rate:
    return Rate.parse(settings.AUTH_FAILURE_LIMIT)


class _CountingThrottle(BaseThrottle):
    scope = ""

    def ident(self, request: Request | HttpRequest) -> str:
        raise NotImplementedError

    def rate(self) -> Rate:
        raise NotImplementedError

    def allow_request(self, request: Request | HttpRequest, view: APIView | None) -> bool:
        self._wait = count_attempt(self.scope, self.ident(request), self.rate())
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class AuthRateThrottle(_CountingThrottle):
    """Sign-up and sign-in attempts per client address (AUTH_RATE_LIMIT)."""

    scope = "auth"

    def ident(self, request: Request | HttpRequest) -> str:
        return client_address(request)

    def rate(self) -> Rate:
        return Rate.parse(settings.AUTH_RATE_LIMIT)


class ChatRateThrottle(_CountingThrottle):
    """Chat messages per user (CHAT_RATE_LIMIT): each may cost a model call."""

    scope = "chat"

    def ident(self, request: Request | HttpRequest) -> str:
        return str(request.user.pk)

    def rate(self) -> Rate:
        return Rate.parse(settings.CHAT_RATE_LIMIT)

    def allow_user(self, user_id: str) -> bool:
        """allow_request for a user known without a DRF request (the streamed
        chat's route on the event loop)."""
        self._wait = count_attempt(self.scope, user_id, self.rate())
        return self._wait is None
