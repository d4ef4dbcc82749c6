"""Input built to break things: every answer is a 4xx in the API's error
shape (or, for what is not HTTP at all, a closed connection), never a 5xx,
never a stuck worker, and nothing reaches the database."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest

from accounts.models import User
from chat.models import Conversation
from conftest import REQUEST_GUARD_SECONDS, ServerProcess, auth_headers
from tasks.models import Task

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
LONE_SURROGATE = "a\ud800b"


def body_routes(user: User, task: Task) -> list[tuple[str, str, dict]]:
    """(method, path, a valid body) for every route that takes text."""
    return [
        (
            "post",
            "/api/auth/signup",
            {"email": "eve@example.com", "password": "violet-ladder-42", "name": "Eve"},
        ),
        ("post", "/api/auth/signin", {"email": "alice@example.com", "password": "correct-horse-battery"}),
        ("post", f"/api/{user.pk}/tasks", {"title": "T", "description": "D", "tags": ["t"]}),
        ("patch", f"/api/{user.pk}/tasks/{task.pk}", {"title": "T", "description": "D", "tags": ["t"]}),
        ("put", f"/api/{user.pk}/tasks/{task.pk}", {"title": "T", "description": "D", "tags": ["t"]}),
        ("post", f"/api/{user.pk}/chat", {"message": "Add a task to buy milk"}),
    ]


def spoiled(body: dict, field: str, bad: str) -> dict:
    value = body[field]
    return {**body, field: [bad] if isinstance(value, list) else bad}


def state() -> tuple:
    return (
        sorted(User.objects.values_list("email", flat=True)),
        sorted(Task.objects.values_list("title", "description", "tags")),
        Conversation.objects.count(),
    )


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
def test_nul_bytes_and_lone_surrogates_in_any_text_field_are_400(alice_api, alice: User, bad: str) -> None:
    task = Task.objects.create(owner=alice, title="Original")
    before = state()
    for method, path, body in body_routes(alice, task):
        for field in body:
            # json.dumps escapes a lone surrogate as \ud800, as a browser's JSON.stringify does.
            payload = json.dumps(spoiled(body, field, bad))
            response = getattr(alice_api, method)(path, data=payload, content_type="application/json")

            assert response.status_code == 400, (method, path, field, response.content)
            assert response.json()["code"] == "validation_error"
            assert field in response.json()["errors"]
    assert state() == before


QUERY_PARAMETERS = ["status", "priority", "tag", "search", "sort", "limit", "offset"]


@pytest.mark.parametrize("parameter", QUERY_PARAMETERS)
@pytest.mark.parametrize(
    ("bad", "code"),
    [("a%00b", "validation_error"), ("a%ED%A0%80b", "parse_error"), ("%FF%FE", "parse_error")],
    ids=["nul", "surrogate", "invalid-utf8"],
)
def test_bad_bytes_in_any_query_parameter_are_400(
    alice_api, alice: User, parameter: str, bad: str, code: str
) -> None:
    response = alice_api.get(f"/api/{alice.pk}/tasks?{parameter}={bad}")

    assert response.status_code == 400
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    "payload",
    [
        "[" * 10_000 + "]" * 10_000,
        '{"a":' * 10_000 + "1" + "}" * 10_000,
        '{"title": ' + "[" * 10_000 + "]" * 10_000 + "}",
    ],
    ids=["arrays", "objects", "inside-a-field"],
)
def test_json_nested_ten_thousand_deep_is_a_parse_error(alice_api, alice: User, payload: str) -> None:
    for path in (f"/api/{alice.pk}/tasks", "/api/auth/signup", f"/api/{alice.pk}/chat"):
        response = alice_api.post(path, data=payload, content_type="application/json")

        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("tasks", {"title": 10**30}),
        ("tasks", {"title": "T", "completed": 10**30}),
        ("tasks", {"title": "T", "priority": 2**64}),
        ("tasks", {"title": "T", "due_date": 2**64}),
        ("chat", {"message": "hi", "conversation_id": 10**30}),
        ("chat", {"message": "hi", "conversation_id": -(2**64)}),
    ],
)
def test_numbers_past_64_bits_are_refused(alice_api, alice: User, path: str, body: dict) -> None:
    response = alice_api.post(f"/api/{alice.pk}/{path}", body, format="json")

    assert response.status_code in (400, 404)
    assert response.json()["code"] in ("validation_error", "not_found")
    assert not Task.objects.exists()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_refused(alice_api, alice: User, constant: str) -> None:
    payload = f'{{"message": "hi", "conversation_id": {constant}}}'

    response = alice_api.post(f"/api/{alice.pk}/chat", data=payload, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] in ("parse_error", "validation_error")


def test_a_body_that_is_not_utf8_is_a_parse_error(alice_api, alice: User) -> None:
    response = alice_api.post(
        f"/api/{alice.pk}/tasks", data=b'{"title": "caf\xe9 \xff"}', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_ten_thousand_character_query_string_is_answered(alice_api, alice: User) -> None:
    too_long = alice_api.get(f"/api/{alice.pk}/tasks?search={'x' * 10_000}")
    ignored = alice_api.get(f"/api/{alice.pk}/tasks?colour={'x' * 10_000}")

    assert too_long.status_code == 400
    assert too_long.json()["errors"]["search"]
    assert ignored.status_code == 200


# --- What arrives over the wire -------------------------------------------------------


def raw_exchange(server: ServerProcess, data: bytes, *, timeout: float = REQUEST_GUARD_SECONDS) -> bytes:
    """Send bytes as they are; everything the server answers before it closes (or the timeout)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return head.lower().find(b"transfer-encoding: chunked") == -1 or body.endswith(b"0\r\n\r\n")


def status_of(received: bytes) -> int | None:
    if not received.startswith(b"HTTP/1.1 "):
        return None
    return int(received.split(b" ")[1])


@pytest.fixture
def server(shared_server) -> ServerProcess:
    return shared_server()


@pytest.fixture
def image_server(shared_server) -> ServerProcess:
    return shared_server(image_process=True)


def test_invalid_utf8_in_the_path_and_query_is_a_4xx(server: ServerProcess, alice: User) -> None:
    token = auth_headers(alice)["Authorization"].encode()
    for target in (b"/api/\xff\xfe/tasks", f"/api/{alice.pk}/tasks?search=\xff\xfe".encode("latin-1")):
        received = raw_exchange(
            server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + token + b"\r\n\r\n"
        )

        status = status_of(received)
        assert status is None or 400 <= status < 500, received[:200]


def big_header_request(size: int, path: bytes = b"/health") -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"


@pytest.mark.parametrize("size", [20_000, 200_000, 5_000_000])
def test_an_overlong_header_is_a_431(image_server: ServerProcess, size: int) -> None:
    received = raw_exchange(image_server, big_header_request(size))

    assert status_of(received) == 431
    assert json.loads(received.partition(b"\r\n\r\n")[2])["code"] == "headers_too_large"


def test_a_plain_uvicorn_refuses_an_overlong_header_too(server: ServerProcess) -> None:
    """Past the probes, which read nothing of a request but its path."""
    received = raw_exchange(server, big_header_request(20_000, b"/openapi.json"))

    assert status_of(received) == 431
    assert json.loads(received.partition(b"\r\n\r\n")[2])["code"] == "headers_too_large"


def test_headers_under_the_limit_are_served(image_server: ServerProcess) -> None:
    assert status_of(raw_exchange(image_server, big_header_request(12_000))) == 200


def test_a_body_shorter_than_declared_neither_fails_nor_blocks_others(
    server: ServerProcess, alice: User
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    token = auth_headers(alice)["Authorization"]
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"POST /api/{alice.pk}/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n".encode()
            + b'{"title": "x"'
        )
        others = [
            httpx.get(f"{server.url}/api/{alice.pk}/tasks", headers=auth_headers(alice)) for _ in range(5)
        ]
        assert {r.status_code for r in others} == {200}
        # Answered while the short body's connection is still open: none
        # waited for the server to give up on it.
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(1)
    time.sleep(0.3)  # the client went away mid-body

    assert not Task.objects.filter(owner=alice).exists()
    assert httpx.get(f"{server.url}/health").status_code == 200
    assert "Traceback" not in server.stderr


def test_a_slowly_trickling_body_is_served_without_blocking_others(
    server: ServerProcess, alice: User
) -> None:
    body = json.dumps({"title": "Slowly typed"}).encode()
    headers = {**auth_headers(alice), "Content-Type": "application/json", "Content-Length": str(len(body))}

    async def scenario() -> tuple[httpx.Response, list[int], bool]:
        others_served = asyncio.Event()

        async def trickle():
            for index in range(len(body) - 1):
                yield body[index : index + 1]
                await asyncio.sleep(0.05)
            await others_served.wait()  # the last byte only once the others have their answers
            yield body[-1:]

        async with httpx.AsyncClient(base_url=server.url) as client:
            slow = asyncio.ensure_future(
                client.post(f"/api/{alice.pk}/tasks", content=trickle(), headers=headers)
            )
            statuses = []
            for _ in range(10):
                statuses.append((await client.get("/health")).status_code)
                statuses.append(
                    (await client.get(f"/api/{alice.pk}/tasks", headers=auth_headers(alice))).status_code
                )
                await asyncio.sleep(0.05)
            still_sending = not slow.done()
            others_served.set()
            return await slow, statuses, still_sending

    slow, statuses, still_sending = asyncio.run(scenario())

    assert statuses == [200] * 20
    assert still_sending
    assert slow.status_code == 201
    assert slow.json()["title"] == "Slowly typed"
