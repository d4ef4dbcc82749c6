"""The Django admin's site, with the sign-in limits of the API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import Throttled

from accounts.models import email_key
from todo_project.exceptions import error_response
from todo_project.throttling import AuthRateThrottle, check_failed_signins, record_failed_signin


class AdminSite(admin.AdminSite):
    """Sign-in attempts count per client address (AUTH_RATE_LIMIT) and
    failures per account and address (AUTH_FAILURE_LIMIT), as on the API."""

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method != "POST":
            return super().login(request, extra_context)
        throttle = AuthRateThrottle()
        if not throttle.allow_request(request, None):
            return error_response(Throttled(wait=throttle.wait()))
        account = email_key(request.POST.get("username", ""))
        try:
            check_failed_signins(request, account)
        except Throttled as exc:
            return error_response(exc)
        response = super().login(request, extra_context)
        if not (request.user.is_authenticated and request.user.is_staff):
            record_failed_signin(request, account)
        return response
