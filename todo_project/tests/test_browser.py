"""A real browser on another origin: headless Chromium loads a small page
from an origin listed in FRONTEND_URL and makes, from inside the page, the
calls a web frontend makes, with and without credentials. A page from an
origin that is not listed is refused by the browser itself.

Needs Debian's chromium and chromium-driver (.ci/run installs them)."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from conftest import REQUEST_GUARD_SECONDS, ServerProcess, free_port

PAGE_DIR = Path(__file__).parent / "frontend"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.django_db(transaction=True)


def _browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return None


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve_page() -> Iterator[Callable[[], str]]:
    """Serve PAGE_DIR on a new loopback port: each call is a new origin."""
    servers: list[ThreadingHTTPServer] = []

    def start() -> str:
        handler = functools.partial(_QuietHandler, directory=str(PAGE_DIR))
        server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The flags of a closed network: no background requests to Google's hosts.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(REQUEST_GUARD_SECONDS)  # the journey takes a few seconds
    try:
        yield driver
    finally:
        driver.quit()


def run_journey(browser: Any, page: str, api: str, credentials: str | None, email: str) -> dict[str, Any]:
    browser.get(f"{page}/index.html")
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "journey(arguments[0], arguments[1], arguments[2]).then(done, (e) => done({fatal: String(e)}));",
        api,
        credentials,
        email,
    )


@pytest.fixture
def frontend(live_server_process, serve_page) -> tuple[ServerProcess, str]:
    """The API and a page on an origin listed in FRONTEND_URL (next to another one)."""
    page = serve_page()
    api = live_server_process(FRONTEND_URL=f"https://app.example.com,{page}", LLM_PROVIDER="LOCAL")
    return api, page


@pytest.mark.parametrize("credentials", ["include", None], ids=["with-credentials", "without-credentials"])
def test_a_frontend_on_a_listed_origin_uses_every_route(
    browser, frontend: tuple[ServerProcess, str], credentials: str | None
) -> None:
    api, page = frontend

    steps = run_journey(browser, page, api.url, credentials, "dana@example.com")

    assert "fatal" not in steps
    assert steps["shortPassword"]["status"] == 400
    assert steps["shortPassword"]["body"]["detail"] == (
        "password: This password is too short. It must contain at least 8 characters."
    )
    assert steps["signup"]["status"] == 201
    assert steps["signin"]["status"] == 200
    user_id = steps["signin"]["body"]["user"]["id"]
    assert steps["me"]["status"] == 200
    assert steps["me"]["body"]["email"] == "dana@example.com"
    assert (steps["emptyList"]["status"], steps["emptyList"]["body"], steps["emptyList"]["total"]) == (
        200,
        [],
        "0",
    )
    assert steps["create"]["status"] == 201
    task_id = steps["create"]["body"]["id"]
    assert steps["create"]["location"] == f"/api/{user_id}/tasks/{task_id}"
    assert steps["list"]["total"] == "1"
    assert [task["title"] for task in steps["list"]["body"]] == ["Buy milk"]
    assert (steps["toggle"]["status"], steps["toggle"]["body"]["completed"]) == (200, True)
    assert (steps["toggleBack"]["status"], steps["toggleBack"]["body"]["completed"]) == (200, False)
    assert (steps["edit"]["status"], steps["edit"]["body"]["title"]) == (200, "Buy oat milk")
    assert steps["edit"]["body"]["priority"] == "high"
    assert (steps["patch"]["status"], steps["patch"]["body"]["tags"]) == (200, ["shop"])
    assert (steps["delete"]["status"], steps["delete"]["body"]) == (204, None)
    assert steps["chat"]["status"] == 200
    assert steps["chat"]["body"]["tool_calls"][0]["tool"] == "add_task"
    assert [task["title"] for task in steps["listAfterChat"]["body"]] == ["Buy bread"]
    assert steps["conversations"]["status"] == 200
    assert steps["conversations"]["total"] == "1"
    assert steps["conversations"]["body"][0]["message_count"] == 2


def test_a_page_on_an_origin_not_listed_is_refused_by_the_browser(
    browser, frontend: tuple[ServerProcess, str], serve_page
) -> None:
    api, _ = frontend
    other_page = serve_page()

    steps = run_journey(browser, other_page, api.url, "include", "mallory@example.com")

    assert steps["shortPassword"] == {"error": "TypeError: Failed to fetch"}
    assert steps["signup"] == {"error": "TypeError: Failed to fetch"}
    assert not User.objects.filter(email="mallory@example.com").exists()
