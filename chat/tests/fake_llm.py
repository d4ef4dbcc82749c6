"""A chat-completions server on a free loopback port, scripted per test.

The real groq SDK and the OpenRouter client talk to it over HTTP; tests queue
its answers and read what it received. A request with `"stream": true` gets
its answer as the services stream it: server-sent chat.completion.chunk
events (the text a few characters at a time, each tool call's id and name
first and its arguments in pieces, by index), `delay` seconds apart, then
`data: [DONE]`; `drop_after` chunks, the connection is cut instead. A
client that goes away mid-stream is counted in `abandoned`."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A held answer goes out after this even if the test never releases it: a limit that only stops a hang.
RELEASE_GUARD_SECONDS = 60


@dataclass
class Answer:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    release: threading.Event | None = None  # answered once this is set
    delay: float = 0.0  # between a stream's chunks
    drop_after: int | None = None  # chunks sent before the connection is cut
    piece: int = 4  # characters of text per chunk


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    client_port: int  # which connection it came on


class FakeChatCompletions:
    def __init__(self) -> None:
        self.answers: deque[Answer] = deque()
        self.received: list[Received] = []
        self.abandoned = 0  # streams whose client went away before the end
        self.chunk_times: list[float] = []  # when each streamed chunk went out (time.monotonic())
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeChatCompletions:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- scripting -----------------------------------------------------------------

    def text(self, content: str, **stream: Any) -> FakeChatCompletions:
        return self._queue(Answer(body=_completion({"role": "assistant", "content": content}), **stream))

    def tool_calls(
        self, *calls: tuple[str, dict[str, Any] | str], content: str | None = None, **stream: Any
    ) -> FakeChatCompletions:
        tool_calls = [
            {
                "id": f"call_{len(self.answers)}_{index}",
                "type": "function",
                "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
            }
            for index, (name, args) in enumerate(calls)
        ]
        message = {"role": "assistant", "content": content, "tool_calls": tool_calls}
        return self._queue(Answer(body=_completion(message, finish_reason="tool_calls"), **stream))

    def error(
        self, status: int, code: str | None = None, message: str = "upstream trouble"
    ) -> FakeChatCompletions:
        error: dict[str, Any] = {"message": message, "type": "invalid_request_error"}
        if code:
            error["code"] = code
        return self._queue(Answer(status=status, body={"error": error}))

    def held(self, release: threading.Event, content: str) -> FakeChatCompletions:
        """An answer sent only once the test sets `release`: a model as slow as the test needs."""
        message = {"role": "assistant", "content": content}
        return self._queue(Answer(body=_completion(message), release=release))

    def _queue(self, answer: Answer) -> FakeChatCompletions:
        self.answers.append(answer)
        return self

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real providers do

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.received.append(Received(self.path, headers, body, self.client_address[1]))
                answer = fake.answers.popleft() if fake.answers else Answer(status=500, body={"error": {}})
                if answer.release:
                    answer.release.wait(RELEASE_GUARD_SECONDS)
                if body.get("stream") and answer.status == 200:
                    self._stream(answer)
                    return
                payload = json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting

            def _stream(self, answer: Answer) -> None:
                self.close_connection = True
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    events = _chunks(answer.body, answer.piece)
                    for number, event in enumerate(events):
                        if answer.drop_after is not None and number == answer.drop_after:
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        if number and answer.delay:
                            time.sleep(answer.delay)
                        data = b"data: " + json.dumps(event).encode() + b"\n\n"
                        self._send_chunk(data)
                        fake.chunk_times.append(time.monotonic())
                    self._send_chunk(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    fake.abandoned += 1

            def _send_chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _chunks(completion: dict[str, Any], piece: int) -> list[dict[str, Any]]:
    """A completion as the chat.completion.chunk events that stream it."""
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": completion["id"],
            "object": "chat.completion.chunk",
            "created": completion["created"],
            "model": completion["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    events = [chunk({"role": "assistant", "content": ""})]
    content = message.get("content") or ""
    events += [chunk({"content": content[start : start + piece]}) for start in range(0, len(content), piece)]
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        arguments = function["arguments"]
        third = max(1, len(arguments) // 3)
        for start in range(0, len(arguments), third):
            piece_of = {"index": index, "function": {"arguments": arguments[start : start + third]}}
            events.append(chunk({"tool_calls": [piece_of]}))
    events.append(chunk({}, finish_reason=choice["finish_reason"]))
    return events


def _completion(message: dict[str, Any], finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
