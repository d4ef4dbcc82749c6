"""/health and /ready over real HTTP, against the uvicorn server the image runs."""

import time

import httpx
from django.db import connection

from conftest import BUSY_MACHINE_MARGIN_SECONDS, database_url_for_tests, free_port, wait_until
from health.asgi import READY_TIMEOUT_SECONDS
from health.tests.proxy import DatabaseProxy

STARTUP_LINES = [
    "INFO:     Started server process [",
    "INFO:     Waiting for application startup.",
    "INFO:     Application startup complete.",
    "INFO:     Uvicorn running on http://127.0.0.1:",
]


def test_the_server_prints_the_contracts_four_start_up_lines(live_server_process) -> None:
    server = live_server_process()
    server.stop()

    lines = server.stdout.splitlines()
    assert len(lines) >= 4
    for line, expected in zip(lines[:4], STARTUP_LINES, strict=True):
        assert line.startswith(expected), server.stdout
    assert server.stderr == ""


def test_health_is_healthy_and_ignores_an_authorization_header(shared_server) -> None:
    server = shared_server()

    response = httpx.get(f"{server.url}/health", headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}
    assert response.headers["content-type"] == "application/json"


def test_ready_reports_a_connected_database(shared_server) -> None:
    server = shared_server()

    response = httpx.get(f"{server.url}/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "connected"}


def test_ready_is_503_after_its_2_second_check_when_the_database_does_not_answer(
    live_server_process,
) -> None:
    closed_port = free_port()
    server = live_server_process(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port}/todo")

    health = httpx.get(f"{server.url}/health")
    started = time.monotonic()
    response = httpx.get(f"{server.url}/ready")
    elapsed = time.monotonic() - started

    assert health.status_code == 200
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "database": "disconnected"}
    # The check's own timer (inside the contract's 3 s probe timeout), and the work around it.
    assert elapsed < READY_TIMEOUT_SECONDS + BUSY_MACHINE_MARGIN_SECONDS
    server.stop()
    # The failure is reported on stderr; the access lines stay on stdout.
    assert "Database connection failed" in server.stderr
    assert '"GET /ready HTTP/1.1" 503' in server.stdout


def test_probes_refuse_other_methods_with_a_json_405(shared_server) -> None:
    server = shared_server()

    response = httpx.post(f"{server.url}/health")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET, HEAD"


def test_probes_answer_head(shared_server) -> None:
    server = shared_server()

    assert httpx.head(f"{server.url}/health").status_code == 200
    assert httpx.head(f"{server.url}/ready").status_code == 200


def test_ready_recovers_by_itself_when_the_database_returns(live_server_process) -> None:
    database = connection.settings_dict
    proxy = DatabaseProxy(database["HOST"] or "localhost", int(database["PORT"] or 5432))
    proxy.start()
    server = live_server_process(DATABASE_URL=database_url_for_tests(host="127.0.0.1", port=proxy.port))
    try:
        assert httpx.get(f"{server.url}/ready").status_code == 200

        proxy.stop()
        assert httpx.get(f"{server.url}/ready").status_code == 503

        proxy.start()
        assert wait_until(lambda: httpx.get(f"{server.url}/ready").status_code == 200)
    finally:
        proxy.stop()
