"""A real browser on another origin: headless Chromium loads a small page
from an origin listed in FRONTEND_URL and makes, from inside the page, the
calls a web frontend makes, with and without credentials. A page from an
origin that is not listed is refused by the browser itself.

Needs Debian's chromium and chromium-driver (.ci/run installs them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from conftest import ServerProcess

PAGE_DIR = Path(__file__).parent / "frontend"

pytestmark = pytest.mark.django_db(transaction=True)


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
    page = serve_page(PAGE_DIR)
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
    other_page = serve_page(PAGE_DIR)

    steps = run_journey(browser, other_page, api.url, "include", "mallory@example.com")

    assert steps["shortPassword"] == {"error": "TypeError: Failed to fetch"}
    assert steps["signup"] == {"error": "TypeError: Failed to fetch"}
    assert not User.objects.filter(email="mallory@example.com").exists()
