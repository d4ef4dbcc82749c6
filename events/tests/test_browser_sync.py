"""Headless Chromium on a second origin keeps a task list in sync through
EventSource (with a ticket), while other clients change the tasks: REST, the
assistant, the reminders' worker. The page's client is
frontend/live-sync.js, the one the README shows. Also fetch() with a bearer
token and Last-Event-ID, which needs the CORS preflight to allow both."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from accounts.models import User
from conftest import ServerProcess, auth_headers, wait_until

PAGE_DIR = Path(__file__).parent / "frontend"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def synced_page(browser, live_server_process, serve_page) -> tuple[Any, ServerProcess]:
    page = serve_page(PAGE_DIR)
    server = live_server_process(
        FRONTEND_URL=f"https://app.example.com,{page}", LLM_PROVIDER="LOCAL", RUN_WORKER="true"
    )
    browser.get(f"{page}/sync.html")
    return browser, server


def start_sync(browser: Any, server: ServerProcess, user: User) -> None:
    token = auth_headers(user)["Authorization"].removeprefix("Bearer ")
    opened = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "start(arguments[0], arguments[1], arguments[2]).then(done, (e) => done(String(e)));",
        server.url,
        user.pk,
        token,
    )
    assert opened is True


def seen(browser: Any) -> dict[str, Any]:
    return browser.execute_script("return window.seen;")


def shows(browser: Any, titles: list[str]) -> bool:
    return wait_until(lambda: seen(browser)["titles"] == titles)


def test_a_page_on_another_origin_stays_in_sync_without_a_reload(synced_page, alice: User) -> None:
    browser, server = synced_page
    headers = auth_headers(alice)
    tasks = f"{server.url}/api/{alice.pk}/tasks"
    milk = httpx.post(tasks, json={"title": "Buy milk"}, headers=headers).json()
    start_sync(browser, server, alice)

    assert shows(browser, ["Buy milk"])
    httpx.post(tasks, json={"title": "Water the plants"}, headers=headers)
    assert shows(browser, ["Buy milk", "Water the plants"])
    httpx.post(
        f"{server.url}/api/{alice.pk}/chat", json={"message": "Add a task to buy bread"}, headers=headers
    )
    assert shows(browser, ["Buy milk", "Water the plants", "Buy bread"])
    httpx.patch(f"{tasks}/{milk['id']}/complete", headers=headers)
    httpx.delete(f"{tasks}/{milk['id'] + 1}", headers=headers)
    assert shows(browser, ["Buy milk (done)", "Buy bread"])
    remind_at = (timezone.now() + timedelta(seconds=1)).isoformat()
    httpx.post(
        tasks, json={"title": "Call mom", "due_date": remind_at, "remind_at": remind_at}, headers=headers
    )
    assert wait_until(lambda: seen(browser)["notifications"] == ["Reminder: Call mom"])
    assert seen(browser)["opened"] == 1


def test_a_page_reads_the_stream_with_fetch_and_last_event_id(synced_page, alice: User) -> None:
    browser, server = synced_page
    headers = auth_headers(alice)
    for title in ("One", "Two", "Three"):
        httpx.post(f"{server.url}/api/{alice.pk}/tasks", json={"title": title}, headers=headers)

    read = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "readWithFetch(arguments[0], arguments[1], arguments[2], 'c1', 2)"
        ".then(done, (e) => done(String(e)));",
        server.url,
        alice.pk,
        headers["Authorization"].removeprefix("Bearer "),
    )

    assert read == {"status": 200, "ids": ["c2", "c3"]}
