"""Idempotency-Key on the DRF views under /api/{user_id}/... (idempotency/keys.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpResponseBase
from rest_framework.request import Request

from idempotency import keys


class _Replay(Exception):
    def __init__(self, answer: keys.Answer) -> None:
        self.answer = answer


class _NotKept(Exception):
    def __init__(self, response: HttpResponseBase) -> None:
        self.response = response


class IdempotentWrites:
    """A write with an Idempotency-Key is claimed once its user is known
    (after authentication, permissions and throttles: another user's path is
    403 before any key is looked at), and its answer kept.

    By default the whole request is one transaction with its claim and its
    kept answer. A view whose work must not hold a transaction (the chat's
    model call) returns a lease from lease(): the claim commits at once for
    that long, and the view keeps its answer with keep(), in the transaction
    of its own last write; an answer it did not keep is kept (or, not to be
    kept, released) when it ends. Mixed in before the view's DRF class."""

    idempotent_call: keys.Call | None = None
    _answer_kept = False

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in keys.WRITE_METHODS or keys.HEADER not in request.headers:
            return super().dispatch(request, *args, **kwargs)
        if self.lease() is not None:
            return self._dispatch_leased(request, *args, **kwargs)
        try:
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                if self.idempotent_call is not None:
                    if not keys.kept(response.status_code):
                        raise _NotKept(response)
                    keys.keep(self.idempotent_call, keys.Answer.of(_rendered(response)))
        except _NotKept as undone:
            return undone.response
        return response

    def _dispatch_leased(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = super().dispatch(request, *args, **kwargs)
        except BaseException:
            if self.idempotent_call is not None:
                keys.release(self.idempotent_call)
            raise
        if self.idempotent_call is not None and not self._answer_kept:
            if keys.kept(response.status_code):
                keys.keep(self.idempotent_call, keys.Answer.of(_rendered(response)))
            else:
                keys.release(self.idempotent_call)
        return response

    def lease(self) -> timedelta | None:
        return None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        key = request.headers.get(keys.HEADER)
        if key is None or request.method not in keys.WRITE_METHODS:
            return
        call = keys.Call.of(
            owner_id=request.user.pk, key=key, method=request.method, path=request.path, body=request.body
        )
        answer = keys.claim(call, lease=self.lease())
        if answer is not None:
            raise _Replay(answer)
        self.idempotent_call = call

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        if isinstance(exc, _Replay):
            return exc.answer.replay()
        return super().handle_exception(exc)

    def hand_over(self) -> keys.Call | None:
        """This request's key, for work that outlives the view (a streamed
        reply) to keep its answer or release it: the view leaves it alone."""
        self._answer_kept = self.idempotent_call is not None
        return self.idempotent_call

    def keep(self, answer: keys.Answer) -> None:
        """The answer to keep, in the caller's transaction (a leased view's last write)."""
        if self.idempotent_call is not None:
            keys.keep(self.idempotent_call, answer)
            self._answer_kept = True


def _rendered(response: HttpResponseBase) -> HttpResponseBase:
    render = getattr(response, "render", None)  # DRF's Response renders lazily
    if render is not None:
        render()
    return response
