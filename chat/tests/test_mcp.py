"""The MCP server (SPEC.md section 6) with the SDK's own client: over
streamable HTTP against a live uvicorn, and over stdio by spawning the
management command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import jsonschema
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from accounts.models import User
from chat.tools import RESULT_SCHEMAS, TOOL_NAMES, TOOL_SCHEMAS, run_tool
from conftest import (
    REQUEST_GUARD_SECONDS,
    ROOT,
    START_GUARD_SECONDS,
    ServerProcess,
    auth_headers,
    database_url_for_tests,
    server_environment,
)
from events.models import Change
from tasks.models import Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db(transaction=True)

Session = Callable[[ClientSession], Awaitable[Any]]


@pytest.fixture
def server(shared_server) -> ServerProcess:
    return shared_server()


def over_http(server: ServerProcess, user: User | None, work: Session, **headers: str) -> Any:
    """Run `work` in an initialized MCP session over /mcp as `user`."""

    async def session() -> Any:
        all_headers = {**(auth_headers(user) if user else {}), **headers}
        async with (
            httpx2.AsyncClient(headers=all_headers, timeout=REQUEST_GUARD_SECONDS) as http,
            streamable_http_client(f"{server.url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            return await work(client)

    return anyio.run(session)


def over_stdio(email: str, work: Session) -> Any:
    """Run `work` in an MCP session with `manage.py mcp_stdio --email`."""
    parameters = StdioServerParameters(
        command=sys.executable,
        args=[str(ROOT / "manage.py"), "mcp_stdio", "--email", email],
        env=server_environment(DATABASE_URL=database_url_for_tests(), PYTHONPATH=str(ROOT)),
        cwd=ROOT,
    )

    async def session() -> Any:
        async with stdio_client(parameters) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            return await work(client)

    return anyio.run(session)


def call(name: str, arguments: dict[str, Any]) -> Session:
    async def work(client: ClientSession) -> Any:
        return await client.call_tool(name, arguments)

    return work


async def list_tools(client: ClientSession) -> Any:
    return await client.list_tools()


def result_of(answer: Any) -> Any:
    """The tool's result as the chat tools return it (the text content), after
    checking that the structured content says the same."""
    assert not answer.is_error, answer.content
    text = json.loads(answer.content[0].text)
    structured = answer.structured_content
    assert (structured["result"] if isinstance(text, list) else structured) == text
    return text


def test_the_five_tools_are_listed_with_the_chat_tools_schemas(server: ServerProcess, alice: User) -> None:
    tools = over_http(server, alice, list_tools).tools

    assert {tool.name for tool in tools} == TOOL_NAMES
    chat = {schema["function"]["name"]: schema["function"] for schema in TOOL_SCHEMAS}
    for tool in tools:
        assert tool.input_schema == chat[tool.name]["parameters"]
        assert tool.description == chat[tool.name]["description"]
        assert tool.output_schema["type"] == "object"


def test_each_tool_works_over_http_and_changes_the_database(server: ServerProcess, alice: User) -> None:
    async def work(client: ClientSession) -> list[Any]:
        added = result_of(
            await client.call_tool("add_task", {"title": "Buy milk", "priority": "high", "tags": ["home"]})
        )
        listed = result_of(await client.call_tool("list_tasks", {"status": "pending"}))
        updated = result_of(
            await client.call_tool("update_task", {"task_id": added["task_id"], "title": "Buy oat milk"})
        )
        completed = result_of(await client.call_tool("complete_task", {"task_id": added["task_id"]}))
        done = result_of(await client.call_tool("list_tasks", {"status": "completed"}))
        second = result_of(await client.call_tool("add_task", {"title": "Call mom"}))
        deleted = result_of(await client.call_tool("delete_task", {"task_id": second["task_id"]}))
        return [added, listed, updated, completed, done, deleted]

    added, listed, updated, completed, done, deleted = over_http(server, alice, work)

    task = Task.objects.get(pk=added["task_id"])
    assert (task.owner_id, task.title, task.priority, task.tags, task.completed) == (
        alice.pk, "Buy oat milk", "high", ["home"], True,
    )  # fmt: skip
    assert added == {"task_id": task.pk, "status": "created", "title": "Buy milk"}
    assert [row["title"] for row in listed] == ["Buy milk"]
    assert updated["status"] == "updated"
    assert completed == {"task_id": task.pk, "status": "completed", "title": "Buy oat milk"}
    assert [row["id"] for row in done] == [task.pk]
    assert deleted["status"] == "deleted"
    assert list(Task.objects.filter(owner=alice).values_list("pk", flat=True)) == [task.pk]
    for name, result in [("add_task", added), ("list_tasks", listed), ("complete_task", completed)]:
        jsonschema.validate(result, RESULT_SCHEMAS[name])
    # Each change is on the user's feed as made over MCP.
    recorded = Change.objects.filter(owner=alice).order_by("seq").values_list("type", "source")
    assert list(recorded) == [
        ("task.created", "mcp"), ("task.updated", "mcp"), ("task.updated", "mcp"),
        ("task.created", "mcp"), ("task.deleted", "mcp"),
    ]  # fmt: skip


def test_bad_arguments_are_tool_errors_not_protocol_failures(server: ServerProcess, alice: User) -> None:
    async def work(client: ClientSession) -> list[Any]:
        return [
            await client.call_tool("add_task", {}),
            await client.call_tool("add_task", {"title": "x" * 500}),
            await client.call_tool("complete_task", {"task_id": "seven"}),
            await client.call_tool("delete_task", {"task_id": 999999}),
            await client.call_tool("list_tasks", {"status": "someday"}),
            await client.call_tool("no_such_tool", {}),
        ]

    answers = over_http(server, alice, work)

    for answer in answers:
        assert answer.is_error
        assert "error" in json.loads(answer.content[0].text)
    assert not Task.objects.exists()


@pytest.mark.parametrize("authorization", [None, "Bearer not.a.jwt", "Basic YWxpY2U6c2VjcmV0"])
def test_no_token_or_a_bad_one_is_401_with_www_authenticate(
    server: ServerProcess, authorization: str | None
) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }

    response = httpx.post(f"{server.url}/mcp", headers=headers, json=initialize)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_revoked_or_deactivated_users_token_is_401(server: ServerProcess, alice: User, bob: User) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    alice_headers, bob_headers = auth_headers(alice), auth_headers(bob)
    alice.revoke_tokens()
    alice.save()
    User.objects.filter(pk=bob.pk).update(is_active=False)

    for token_headers in (alice_headers, bob_headers):
        response = httpx.post(f"{server.url}/mcp", headers={**headers, **token_headers}, json=message)
        assert response.status_code == 401


def test_bob_never_reads_or_changes_alices_tasks(server: ServerProcess, alice: User, bob: User) -> None:
    alices = create_task(owner=alice, title="Alice's secret plan")

    async def work(client: ClientSession) -> list[Any]:
        return [
            await client.call_tool("list_tasks", {"user_id": str(alice.pk)}),
            await client.call_tool("list_tasks", {"search": "secret"}),
            await client.call_tool("complete_task", {"task_id": alices.pk, "user_id": str(alice.pk)}),
            await client.call_tool("update_task", {"task_id": alices.pk, "title": "Bob's now"}),
            await client.call_tool("delete_task", {"task_id": alices.pk}),
            await client.call_tool("add_task", {"title": "Bob's own", "user_id": str(alice.pk)}),
        ]

    listed, searched, completed, updated, deleted, added = over_http(server, bob, work)

    assert result_of(listed) == []
    assert result_of(searched) == []
    for answer in (completed, updated, deleted):
        assert answer.is_error
        assert "Alice" not in answer.content[0].text
    alices.refresh_from_db()
    assert (alices.title, alices.completed) == ("Alice's secret plan", False)
    assert Task.objects.get(pk=result_of(added)["task_id"]).owner_id == bob.pk


def test_a_host_not_in_allowed_hosts_is_refused(shared_server, alice: User) -> None:
    server = shared_server(ALLOWED_HOSTS="api.example.com")
    headers = {
        **auth_headers(alice),
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

    evil = httpx.post(f"{server.url}/mcp", headers={**headers, "Host": "evil.example.com"}, json=message)
    allowed = httpx.post(f"{server.url}/mcp", headers={**headers, "Host": "api.example.com"}, json=message)

    assert evil.status_code == 421
    assert allowed.status_code == 200
    assert {tool["name"] for tool in allowed.json()["result"]["tools"]} == TOOL_NAMES


def test_the_docs_describe_mcp(api) -> None:
    schema = api.get("/openapi.json").json()

    assert "tools/call" in schema["paths"]["/mcp"]["post"]["description"]


def test_stdio_serves_the_same_tools_for_the_named_user(alice: User, bob: User) -> None:
    create_task(owner=bob, title="Bob's")

    async def work(client: ClientSession) -> list[Any]:
        tools = await client.list_tools()
        added = await client.call_tool("add_task", {"title": "From stdio", "user_id": str(bob.pk)})
        listed = await client.call_tool("list_tasks", {})
        return [tools, added, listed]

    tools, added, listed = over_stdio(alice.email.upper(), work)

    assert {tool.name for tool in tools.tools} == TOOL_NAMES
    task = Task.objects.get(pk=result_of(added)["task_id"])
    assert (task.owner_id, task.title) == (alice.pk, "From stdio")
    assert [row["title"] for row in result_of(listed)] == ["From stdio"]


def test_stdio_with_an_unknown_email_is_a_one_line_error_and_status_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "mcp_stdio", "--email", "nobody@example.com"],
        env=server_environment(DATABASE_URL=database_url_for_tests(), PYTHONPATH=str(ROOT)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=START_GUARD_SECONDS,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "nobody@example.com" in done.stderr
    assert done.stdout == ""


def test_a_recurring_task_with_a_reminder_over_mcp(server: ServerProcess, alice: User) -> None:
    async def work(client: ClientSession) -> list[Any]:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        added = result_of(
            await client.call_tool(
                "add_task",
                {
                    "title": "Water the plants",
                    "due_date": "2030-01-07T08:00:00Z",
                    "recurrence": "FREQ=WEEKLY;BYDAY=MO",
                    "remind_at": "2030-01-07T07:45:00Z",
                },
            )
        )
        completed = result_of(await client.call_tool("complete_task", {"task_id": added["task_id"]}))
        refused = await client.call_tool("update_task", {"task_id": added["task_id"], "recurrence": "hourly"})
        return [tools, added, completed, refused]

    tools, added, completed, refused = over_http(server, alice, work)

    for name in ("add_task", "update_task"):
        assert {"due_date", "recurrence", "remind_at"} <= set(tools[name].input_schema["properties"])
    assert completed["status"] == "completed"
    first = Task.objects.get(pk=added["task_id"])
    following = Task.objects.get(pk=first.next_task_id)
    assert following.due_date.isoformat() == "2030-01-14T08:00:00+00:00"
    assert following.remind_at.isoformat() == "2030-01-14T07:45:00+00:00"
    assert refused.is_error
    assert "recurrence" in json.loads(refused.content[0].text)["error"]


# --- what the security review tried --------------------------------------------------

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_get_is_405_instead_of_a_stream_held_open(server: ServerProcess, alice: User) -> None:
    headers = {**auth_headers(alice), "Accept": "text/event-stream"}

    for method in ("GET", "HEAD"):
        response = httpx.request(method, f"{server.url}/mcp", headers=headers)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
    assert httpx.get(f"{server.url}/mcp", headers=headers).json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "body",
    [
        '[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]',  # a batch
        '{"jsonrpc": "1.0", "id": 1, "method": "ping"}',
        '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "x"}',
        "not json",
        '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "add_task", "arguments": 7}}',
    ],
)
def test_a_body_that_is_not_one_json_rpc_message_gets_a_sentence(
    server: ServerProcess, alice: User, body: str
) -> None:
    response = httpx.post(f"{server.url}/mcp", headers={**MCP_HEADERS, **auth_headers(alice)}, content=body)

    message = response.json()["error"]["message"]
    assert response.status_code in (200, 400)
    for internal in ("pydantic", "validation error", "input_value", "line 1 column", "Traceback", ".py"):
        assert internal not in message.lower()


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"title": "T", "time_zone": "America"}, "is not a time zone"),
        ({"title": "T", "time_zone": "x" * 300}, "time_zone"),
        ({"title": "T", "due_date": "9999-12-31T00:00:00Z", "recurrence": "daily"}, "from 1900-01-01"),
        (
            {
                "title": "T",
                "due_date": "2026-11-30T08:00:00Z",
                "recurrence": "FREQ=DAILY;INTERVAL=7;BYDAY=TU",
            },
            "no date",
        ),
    ],
)
def test_a_tool_error_is_a_sentence_never_an_exception(
    server: ServerProcess, alice: User, arguments: dict, words: str
) -> None:
    answer = over_http(server, alice, call("add_task", arguments))

    assert answer.is_error
    text = json.loads(answer.content[0].text)["error"]
    assert words in text
    assert ".py" not in text  # no path of the server's
    assert "Error" not in text  # no exception's name (IsADirectoryError, OverflowError)
    assert not Task.objects.exists()


def test_a_tool_that_fails_unexpectedly_answers_a_sentence(alice: User, monkeypatch, caplog) -> None:
    def broken(**_: Any) -> Any:
        raise OverflowError("date value out of range in /srv/app/tasks/services.py")

    monkeypatch.setattr("tasks.services.create_task", broken)

    result = run_tool(alice, "add_task", {"title": "T"})

    assert result == {"error": "The tool failed on the server's side; try again later."}
    assert "OverflowError" in caplog.text  # for the logs, with its traceback
