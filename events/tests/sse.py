"""A Server-Sent Events reader for the tests: a real HTTP stream (httpx), its
events parsed as the SSE specification says, on a thread of its own."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from conftest import WAIT_GUARD_SECONDS


@dataclass
class Event:
    id: str | None = None
    event: str | None = None
    data: str | None = None
    retry: int | None = None
    comment: str | None = None
    end: bool = False

    def json(self) -> Any:
        return json.loads(self.data or "null")


@dataclass
class EventStream:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response_headers: httpx.Headers | None = None
    body: bytes = b""
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    opened: threading.Event = field(default_factory=threading.Event)
    _response: httpx.Response | None = None

    def open(self) -> EventStream:
        threading.Thread(target=self._read, daemon=True).start()
        assert self.opened.wait(WAIT_GUARD_SECONDS), "the stream did not answer"
        return self

    def _read(self) -> None:
        try:
            # No read timeout: a stream is silent between events (next() bounds the wait).
            timeout = httpx.Timeout(WAIT_GUARD_SECONDS, read=None)
            with httpx.stream(
                "GET", self.url, headers=self.headers, params=self.params, timeout=timeout
            ) as r:
                self._response, self.status, self.response_headers = r, r.status_code, r.headers
                if r.status_code != 200:
                    self.body = r.read()
                    return
                self.opened.set()
                event = Event()
                for line in r.iter_lines():
                    if line == "":
                        if event != Event():
                            self.events.put(event)
                        event = Event()
                    elif line.startswith(":"):
                        self.events.put(Event(comment=line[1:].strip()))
                    else:
                        name, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        if name == "retry":
                            event.retry = int(value)
                        elif name in ("id", "event"):
                            setattr(event, name, value)
                        elif name == "data":
                            event.data = value if event.data is None else f"{event.data}\n{value}"
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.events.put(Event(end=True))

    def next(self, timeout: float = WAIT_GUARD_SECONDS) -> Event:
        return self.events.get(timeout=timeout)

    def changes(self, count: int) -> list[Event]:
        """The next `count` changes (pings skipped); fails on the stream's end."""
        found: list[Event] = []
        while len(found) < count:
            event = self.next()
            assert not event.end, f"the stream ended after {found}"
            if event.comment is None and event.retry is None:
                found.append(event)
        return found

    def until(self, condition: Callable[[Event], bool], timeout: float = WAIT_GUARD_SECONDS) -> Event:
        while True:
            event = self.next(timeout)
            if condition(event):
                return event
            assert not event.end, "the stream ended first"

    def close(self) -> None:
        if self._response is not None:
            self._response.close()


def open_stream(url: str, **arguments: Any) -> EventStream:
    return EventStream(url, **arguments).open()
