"""The public keys of a Better Auth deployment (BETTER_AUTH_JWKS_URL), for
tokens its JWT plugin signs with EdDSA, ES256, RS256 or PS256.

The key set is fetched once and cached. A token naming a key the set does not
hold makes it fetched again, at most once a minute (a rotation), and after a
failed fetch again after a few seconds. A fetch waits at most FETCH_TIMEOUT_SECONDS;
while it runs, other requests needing keys wait for it, requests with the
API's own tokens never do. A set that cannot be fetched refuses its tokens."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import jwt
from django.conf import settings

ALGORITHMS = ("EdDSA", "ES256", "RS256", "PS256")
FETCH_TIMEOUT_SECONDS = 2.0
REFETCH_INTERVAL_SECONDS = 60.0
RETRY_AFTER_FAILURE_SECONDS = 5.0

logger = logging.getLogger(__name__)


class KeySet:
    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._next_fetch = 0.0  # monotonic time from which a fetch may run
        self._lock = threading.Lock()

    def key(self, kid: str | None, *, fetch: bool = True) -> jwt.PyJWK:
        """The key a token's header names, or jwt.InvalidTokenError. Without
        `fetch`, only keys already cached (for code on the event loop)."""
        key = self._keys.get(kid)
        if key is None and fetch:
            self._fetch_when_due()
            key = self._keys.get(kid)
        if key is None:
            raise jwt.InvalidTokenError("no such key in the JWKS")
        return key

    def _fetch_when_due(self) -> None:
        if not self._lock.acquire(timeout=FETCH_TIMEOUT_SECONDS):
            return  # another request is fetching and did not finish in time
        try:
            if time.monotonic() < self._next_fetch:
                return
            try:
                response = httpx.get(self.url, timeout=FETCH_TIMEOUT_SECONDS)
                response.raise_for_status()
                key_set = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWKError, jwt.PyJWKSetError) as exc:
                self._next_fetch = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
                logger.warning("The JWKS at %s could not be fetched (%s).", self.url, type(exc).__name__)
                return
            self._keys = {key.key_id: key for key in key_set.keys}
            self._next_fetch = time.monotonic() + REFETCH_INTERVAL_SECONDS
        finally:
            self._lock.release()


_key_set: KeySet | None = None


def key_set() -> KeySet | None:
    """The configured deployment's keys (None without BETTER_AUTH_JWKS_URL)."""
    global _key_set
    if not settings.BETTER_AUTH_JWKS_URL:
        return None
    if _key_set is None or _key_set.url != settings.BETTER_AUTH_JWKS_URL:
        _key_set = KeySet(settings.BETTER_AUTH_JWKS_URL)
    return _key_set
