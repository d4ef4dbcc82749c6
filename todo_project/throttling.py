"""Rate limits, read from settings at each request (so they follow the
environment, and tests can lower them)."""

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class AuthRateThrottle(SimpleRateThrottle):
    """Sign-up and sign-in attempts per client address (AUTH_RATE_LIMIT).

    The address is the connection's: uvicorn rewrites it from X-Forwarded-For
    only for trusted proxies (FORWARDED_ALLOW_IPS), and NUM_PROXIES=0 stops a
    client from choosing its own bucket with that header."""

    scope = "auth"

    def get_rate(self) -> str:
        return settings.AUTH_RATE_LIMIT

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ChatRateThrottle(SimpleRateThrottle):
    """Chat messages per user (CHAT_RATE_LIMIT): each may cost a model call."""

    scope = "chat"

    def get_rate(self) -> str:
        return settings.CHAT_RATE_LIMIT

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
