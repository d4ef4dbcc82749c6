"""Every error leaves the app as {"detail", "code"[, "errors"]}: the DRF
exception handler for API views, and JSON handlers for Django's own errors."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.response import Response

logger = logging.getLogger(__name__)

# DRF's and simplejwt's codes, renamed to the codes of the API's error shape.
CODE_ALIASES = {
    "invalid": "validation_error",
    "authentication_failed": "invalid_token",
    "token_not_valid": "invalid_token",
    "error": "server_error",
}


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable. Try again shortly."
    default_code = "service_unavailable"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is larger than 1 MiB."
    default_code = "payload_too_large"


class HeadersTooLarge(exceptions.APIException):
    status_code = 431
    default_detail = "The request line and headers are larger than 16 KiB."
    default_code = "headers_too_large"


def error_body(detail: str, code: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors is not None:
        body["errors"] = errors
    return body


def flatten_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's error detail as {field: [message, ...]}: keys are the body's
    top-level fields; errors inside a field (a list item) become its messages."""
    if isinstance(detail, dict):
        return {str(field): _messages(value) for field, value in detail.items()}
    return {"non_field_errors": _messages(detail)}


def first_problem(errors: dict[str, list[str]]) -> str:
    """A sentence a frontend can show as it is: the first field and its first
    message ("password: This password is too short. ...")."""
    for field, messages in errors.items():
        if messages:
            return messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"
    return "Invalid input."


def _messages(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        messages: list[str] = []
        for key, value in detail.items():
            label = f"Item {key}" if isinstance(key, int) else str(key)
            messages += _messages(value, f"{prefix}{label}: ")
        return messages
    if isinstance(detail, list):
        return [message for item in detail for message in _messages(item, prefix)]
    return [f"{prefix}{detail}"]


def _as_api_exception(exc: Exception) -> exceptions.APIException | None:
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(get_error_detail(exc))
    if isinstance(exc, DatabaseOperationalError):
        # Lost or unreachable database (a pool timeout included): the request
        # may succeed on retry, so 503 rather than 500.
        logger.warning("Database unavailable: %s", exc.__class__.__name__)
        return ServiceUnavailable()
    return None


@dataclass(frozen=True)
class ErrorAnswer:
    """An error as the API answers it."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def error_answer(api_exc: exceptions.APIException) -> ErrorAnswer:
    headers: dict[str, str] = {}
    auth_header = getattr(api_exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(api_exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    elif isinstance(api_exc, ServiceUnavailable):
        headers["Retry-After"] = "5"

    if isinstance(api_exc, exceptions.ValidationError):
        errors = flatten_errors(api_exc.detail)
        body = error_body(first_problem(errors), "validation_error", errors)
    else:
        detail = api_exc.detail
        raw_code = getattr(detail, "code", None) or api_exc.default_code
        code = CODE_ALIASES.get(raw_code, raw_code)
        if isinstance(detail, (dict, list)):
            body = error_body(str(api_exc.default_detail), code, flatten_errors(detail))
        else:
            body = error_body(str(detail), code)
    # What an error adds to its answer (the current task of a 412, say).
    body.update(getattr(api_exc, "extra_body", {}))
    headers.update(getattr(api_exc, "extra_headers", {}))
    return ErrorAnswer(api_exc.status_code, body, headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER. Unexpected exceptions return None so Django
    logs them and answers with handler500 below."""
    api_exc = _as_api_exception(exc)
    if api_exc is None:
        return None
    answer = error_answer(api_exc)
    return Response(answer.body, status=answer.status, headers=answer.headers)


def error_response(api_exc: exceptions.APIException) -> JsonResponse:
    """The same answer from a plain Django view."""
    answer = error_answer(api_exc)
    return JsonResponse(answer.body, status=answer.status, headers=answer.headers)


# --- Django's own error views (handler400/403/404/500 and CSRF) ----------------


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(error_body(str(PayloadTooLarge.default_detail), "payload_too_large"), status=413)
    return JsonResponse(error_body("Bad request.", "parse_error"), status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        error_body("You do not have permission to perform this action.", "permission_denied"),
        status=403,
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("Not found.", "not_found"), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("A server error occurred.", "server_error"), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return JsonResponse(error_body("CSRF verification failed.", "permission_denied"), status=403)
