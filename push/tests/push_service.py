"""A push service on a free loopback port, for the worker to deliver to.

It does what a browser's push service and the browser do together: checks
each message's VAPID token (RFC 8292: an ES256 JWT whose `aud` is this
service's origin, whose `exp` is at most 24 hours ahead and whose `sub` is
the sender's contact, signed by the key in `k`) and decrypts its aes128gcm
body (RFC 8291) with the private key of the browser it is addressed to.
Tests make browsers (`browser()`: a subscription's JSON and its keys), queue
answers per browser (a status, headers, a delay) and read what arrived."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# A held post is answered after this even if the test never releases it: a limit that only stops a hang.
RELEASE_GUARD_SECONDS = 60


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's push subscription: where it is reached, and its keys."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes

    def subscription(self) -> dict[str, Any]:
        """What PushSubscription.toJSON() gives."""
        public = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class Reply:
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Arrival:
    token: str
    message: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.time()


class PushService:
    def __init__(self, *, subject: str, public_key: str, delay: float = 0.0) -> None:
        self.subject = subject
        self.public_key = public_key  # the sender's VAPID key, base64url
        self.delay = delay  # before every answer: a slow service
        self.replies: dict[str, deque[Reply]] = defaultdict(deque)
        self.arrivals: list[Arrival] = []
        self.refused: list[str] = []  # why a message was refused (bad token, undecryptable)
        self.attempts: dict[str, list[float]] = defaultdict(list)  # token -> when each post came
        self.browsers: dict[str, Browser] = {}
        # While `held` is set, every post waits until it is cleared (a
        # service that does not answer yet); in_flight counts the posts
        # waiting, most_in_flight the most there were at once.
        self.held = threading.Event()
        self.released = threading.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.server.request_queue_size = 1024
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> PushService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def browser(self) -> Browser:
        token = b64url(os.urandom(12))
        browser = Browser(
            f"{self.origin}/push/{token}", ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
        )
        self.browsers[token] = browser
        return browser

    def hold(self) -> None:
        self.released.clear()
        self.held.set()

    def release(self) -> None:
        self.held.clear()
        self.released.set()

    def answer(self, browser: Browser, *replies: Reply) -> None:
        """The next posts to `browser` get these answers, in order (then 201)."""
        self.replies[self._token(browser)].extend(replies)

    def arrived(self, browser: Browser) -> list[dict[str, Any]]:
        with self.lock:
            return [arrival.message for arrival in self.arrivals if arrival.token == self._token(browser)]

    def tries(self, browser: Browser) -> list[float]:
        with self.lock:
            return list(self.attempts[self._token(browser)])

    @staticmethod
    def _token(browser: Browser) -> str:
        return browser.endpoint.rsplit("/", 1)[1]

    def _check(self, headers: Any) -> str | None:
        """Why the message's headers are refused, or None."""
        scheme, _, parameters = headers.get("Authorization", "").partition(" ")
        values = dict(item.split("=", 1) for item in parameters.split(",") if "=" in item)
        if scheme != "vapid" or set(values) != {"t", "k"}:
            return f"no vapid t=...,k=... authorization: {headers.get('Authorization')!r}"
        if values["k"] != self.public_key:
            return "k is not the sender's key"
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(values["k"]))
        try:
            claims = jwt.decode(
                values["t"],
                key,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return f"token refused: {exc}"
        if claims["exp"] > time.time() + 24 * 3600:
            return "exp more than 24 hours ahead"
        if claims["sub"] != self.subject:
            return f"sub is {claims['sub']!r}"
        if headers.get("Content-Encoding") != "aes128gcm":
            return f"Content-Encoding {headers.get('Content-Encoding')!r}"
        if not headers.get("TTL", "").isdigit():
            return "no TTL"
        if headers.get("Urgency") != "high":
            return f"Urgency {headers.get('Urgency')!r}"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                token = self.path.rsplit("/", 1)[-1]
                with service.lock:
                    service.attempts[token].append(time.time())
                    queued = service.replies[token]
                    reply = queued.popleft() if queued else Reply()
                with service.lock:
                    service.in_flight += 1
                    service.most_in_flight = max(service.most_in_flight, service.in_flight)
                try:
                    if service.held.is_set():
                        service.released.wait(RELEASE_GUARD_SECONDS)
                    time.sleep(service.delay + reply.delay)
                finally:
                    with service.lock:
                        service.in_flight -= 1
                browser = service.browsers.get(token)
                if browser is None:
                    return self._reply(Reply(404))
                problem = service._check(self.headers)
                if problem is None:
                    try:
                        plain = http_ece.decrypt(
                            body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm"
                        )
                        message = json.loads(plain)
                    except Exception as exc:  # noqa: BLE001 - any failure is a refusal, reported
                        problem = f"undecryptable: {type(exc).__name__}: {exc}"
                if problem is not None:
                    with service.lock:
                        service.refused.append(problem)
                    return self._reply(Reply(400))
                if reply.status < 300:
                    with service.lock:
                        service.arrivals.append(Arrival(token, message, dict(self.headers), time.time()))
                self._reply(reply)

            def _reply(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in {"Content-Length": "0", **reply.headers}.items():
                    self.send_header(name, value)
                self.end_headers()

        return Handler
