"""Django middleware of our own, async-native.

Under ASGI, Django's built-in middleware classes run their process_request and
process_response hooks through sync_to_async: two thread hops each, per
request. With the usual nine that was about 40% of a task-list request
(bench/). The API needs none of them: the Host check and security headers are done
here without a hop, and sessions, users and messages run only for the admin."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from todo_project.exceptions import error_body

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]
logger = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

ADMIN_PREFIX = "/admin/"


def query_string_is_utf8(query_string: str) -> bool:
    """Whether the percent-decoded query string is UTF-8 (lone surrogates,
    encoded as CESU-8, are not)."""
    try:
        unquote_to_bytes(query_string).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class SecurityMiddleware:
    """What Django's CommonMiddleware, SecurityMiddleware and
    XFrameOptionsMiddleware do with this project's settings: check the Host
    header against ALLOWED_HOSTS (a bad one is a 400 invalid_host) and set the security
    headers (HSTS on HTTPS). No HTTPS redirect: TLS ends at the ingress. A
    query string that is not UTF-8 is a 400 too."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            request.get_host()
        except DisallowedHost:
            # Anyone can send any Host: one line, not Django's error with a traceback.
            host = request.META.get("HTTP_HOST", "")
            logger.warning("Refused a request for host %r, not in ALLOWED_HOSTS.", host[:100])
            body = error_body("This server does not answer for that Host.", "invalid_host")
            response: HttpResponseBase = JsonResponse(body, status=400)
        else:
            response = await self._checked_query(request)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        if settings.SECURE_HSTS_SECONDS and request.is_secure():
            hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
            if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                hsts += "; includeSubDomains"
            response.headers.setdefault("Strict-Transport-Security", hsts)
        return response

    async def _checked_query(self, request: HttpRequest) -> HttpResponseBase:
        if not query_string_is_utf8(request.META.get("QUERY_STRING", "")):
            # Django would read it with replacement characters; say so instead.
            return JsonResponse(error_body("The query string is not valid UTF-8.", "parse_error"), status=400)
        return await self.get_response(request)


class AdminSessionMiddleware:
    """Sessions, the logged-in user and messages, for /admin/ only. The admin
    protects its forms with csrf_protect itself."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        admin_response: GetResponse = get_response
        for middleware in (MessageMiddleware, AuthenticationMiddleware, SessionMiddleware):
            admin_response = middleware(admin_response)
        self.admin_response = admin_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(ADMIN_PREFIX):
            return await self.admin_response(request)
        return await self.get_response(request)
