"""uvicorn's HTTP protocol (httptools), with limits a public server needs.

uvicorn buffers a request's line and headers without a limit (a 30 MB header
took the process near its memory limit) and waits for them, and for the body,
without a deadline (slow clients could hold connections for minutes). Here:
- the request line and headers together may be MAX_REQUEST_HEAD_BYTES: past
  that the client gets 431 and the connection closes, before more is buffered;
- the head must arrive within HEAD_TIMEOUT_SECONDS (else 408 and close), the
  body within BODY_TIMEOUT_SECONDS of the head (else the connection closes);
- at shutdown an idle kept-alive connection is not closed at once: its client
  may already have sent the next request, which closing would lose without
  the client knowing whether it was done. For DRAIN_SECONDS the next request
  is still answered, with Connection: close.
The image's server process (todo_project.serve) runs with this protocol."""

from __future__ import annotations

import asyncio
import json

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from todo_project.exceptions import HeadersTooLarge, error_body

HEAD_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 30.0
# After refusing a request, what the client still sends is read and dropped
# for this long, so it can finish sending and read the answer (closing with
# unread data would reset the connection and lose the answer).
LINGER_SECONDS = 2.0
DRAIN_SECONDS = 1.0


def _error_response(status: int, reason: str, detail: str, code: str) -> bytes:
    body = json.dumps(error_body(detail, code), separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


HEADERS_TOO_LARGE = _error_response(
    431, "Request Header Fields Too Large", str(HeadersTooLarge.default_detail), HeadersTooLarge.default_code
)
REQUEST_TIMEOUT = _error_response(
    408, "Request Timeout", "The request did not arrive in time.", "request_timeout"
)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._in_head = False
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False
        self._draining = False
        self._max_head = settings.MAX_REQUEST_HEAD_BYTES
        # A connection that never sends a byte is closed too.
        self._set_deadline(HEAD_TIMEOUT_SECONDS, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused request: dropped unread
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head:
                self._refuse(HEADERS_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._head_size = 0
        self._in_head = True
        self._set_deadline(HEAD_TIMEOUT_SECONDS, self._head_timed_out)

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_size > self._max_head:
            # The whole head came in one read: refused here, before any app sees it.
            self._refuse(HEADERS_TOO_LARGE)
            return
        self._set_deadline(BODY_TIMEOUT_SECONDS, self._body_timed_out)
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False  # answered with Connection: close

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._cancel_deadline()
        super().on_message_complete()

    def shutdown(self) -> None:
        """The server is stopping (uvicorn closes idle connections at once)."""
        self._draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        elif not self._in_head and not self.transport.is_closing():
            self._set_deadline(DRAIN_SECONDS, self._drained)

    def _drained(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def _set_deadline(self, seconds: float, callback: object) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(seconds, callback)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_timed_out(self) -> None:
        if self._in_head:
            self._refuse(REQUEST_TIMEOUT)
        else:
            self.transport.close()

    def _body_timed_out(self) -> None:
        # The application is reading the body: closing tells it the client is gone.
        self.logger.warning("Closed a connection whose request body did not arrive in time.")
        self.transport.close()

    def eof_received(self) -> bool | None:
        if self._refused:
            self.transport.close()
        return super().eof_received()

    def _refuse(self, response: bytes) -> None:
        self._in_head = False
        if self.transport.is_closing():
            return
        self._refused = True
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._set_deadline(LINGER_SECONDS, self.transport.close)
