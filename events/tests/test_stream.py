"""GET /api/{user_id}/events on a live server: replay and live changes,
heartbeats, tickets, the end of a stream (sign-out, expiry, SIGTERM), two
replicas, the reminders' worker and a database that goes away."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.auth import ISSUER
from accounts.models import User
from conftest import WAIT_GUARD_SECONDS, ServerProcess, auth_headers, database_url_for_tests, wait_until
from events import hub
from events.models import Change, EventTicket
from events.tests.sse import EventStream, open_stream
from health.tests.proxy import DatabaseProxy
from tasks import services

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"EVENTS_HEARTBEAT_SECONDS": "1"}


def events_url(server: ServerProcess, user: User) -> str:
    return f"{server.url}/api/{user.pk}/events"


def add_task(server: ServerProcess, user: User, title: str) -> dict:
    response = httpx.post(
        f"{server.url}/api/{user.pk}/tasks", json={"title": title}, headers=auth_headers(user)
    )
    assert response.status_code == 201
    return response.json()


def titles(events: list) -> list[str]:
    return [event.json()["task"]["title"] for event in events]


def test_a_stream_replays_what_was_missed_then_goes_live(shared_server, alice: User) -> None:
    server = shared_server(**FAST)
    for title in ("One", "Two", "Three"):
        add_task(server, alice, title)

    stream = open_stream(events_url(server, alice), headers=auth_headers(alice), params={"since": "c1"})
    first = stream.next()
    replayed = stream.changes(2)
    add_task(server, alice, "Four")
    live = stream.changes(1)
    stream.close()

    assert stream.response_headers["content-type"].startswith("text/event-stream")
    assert stream.response_headers["cache-control"] == "no-cache"
    assert first.retry == 3000
    assert [(e.id, e.event) for e in replayed + live] == [
        ("c2", "task.created"), ("c3", "task.created"), ("c4", "task.created"),
    ]  # fmt: skip
    assert titles(replayed + live) == ["Two", "Three", "Four"]
    assert live[0].json()["cursor"] == "c4"
    assert live[0].json()["source"] == "api"


def test_last_event_id_wins_over_since_and_no_cursor_starts_from_now(shared_server, alice: User) -> None:
    server = shared_server(**FAST)
    for title in ("One", "Two", "Three"):
        add_task(server, alice, title)

    resumed = open_stream(
        events_url(server, alice),
        headers={**auth_headers(alice), "Last-Event-ID": "c2"},
        params={"since": "c0"},
    )
    from_now = open_stream(
        f"{events_url(server, alice)}".replace("/api/", "/api/v1/"), headers=auth_headers(alice)
    )
    add_task(server, alice, "Four")

    assert titles(resumed.changes(2)) == ["Three", "Four"]
    assert titles(from_now.changes(1)) == ["Four"]


def test_every_source_reaches_the_stream(live_server_process, alice: User) -> None:
    server = live_server_process(RUN_WORKER="true", LLM_PROVIDER="LOCAL", **FAST)
    stream = open_stream(events_url(server, alice), headers=auth_headers(alice))
    headers = auth_headers(alice)

    httpx.post(
        f"{server.url}/api/{alice.pk}/chat", json={"message": "Add a task to buy bread"}, headers=headers
    )
    remind_at = (timezone.now() + timedelta(seconds=1)).isoformat()
    httpx.post(
        f"{server.url}/api/{alice.pk}/tasks",
        json={"title": "Call mom", "due_date": remind_at, "remind_at": remind_at},
        headers=headers,
    )
    changes = [event.json() for event in stream.changes(3)]

    assert [(c["type"], c["source"]) for c in changes] == [
        ("task.created", "assistant"), ("task.created", "api"), ("notification.created", "worker"),
    ]  # fmt: skip
    assert changes[2]["notification"]["message"] == "Reminder: Call mom"


def test_heartbeats_keep_an_idle_stream_alive(shared_server, alice: User) -> None:
    server = shared_server(**FAST)
    stream = open_stream(events_url(server, alice), headers=auth_headers(alice))

    pings = [stream.until(lambda e: e.comment is not None) for _ in range(2)]

    assert [ping.comment for ping in pings] == ["ping", "ping"]


def test_the_stream_ends_at_sign_out_everywhere(shared_server, alice: User) -> None:
    server = shared_server(**FAST)
    headers = auth_headers(alice)
    stream = open_stream(events_url(server, alice), headers=headers)

    signed_out = httpx.post(f"{server.url}/api/auth/signout-all", headers=headers)
    started = time.monotonic()
    stream.until(lambda e: e.end)

    assert signed_out.status_code == 204
    assert time.monotonic() - started < WAIT_GUARD_SECONDS
    again = httpx.get(events_url(server, alice), headers=headers)
    assert (again.status_code, again.json()["code"]) == (401, "invalid_token")


def test_the_stream_ends_when_its_token_expires(shared_server, alice: User) -> None:
    server = shared_server(**FAST)
    now = datetime.now(UTC)
    claims = {"sub": alice.pk, "iat": now, "exp": now + timedelta(seconds=2), "iss": ISSUER, "ver": 0}
    token = jwt.encode(claims, settings.BETTER_AUTH_SECRET, algorithm="HS256")
    stream = open_stream(events_url(server, alice), headers={"Authorization": f"Bearer {token}"})

    stream.until(lambda e: e.end)

    assert time.time() >= int((now + timedelta(seconds=2)).timestamp())  # exp, in whole seconds


def test_a_ticket_opens_one_stream_once(shared_server, alice: User, bob: User) -> None:
    server = shared_server(**FAST)

    def ticket(user: User) -> str:
        response = httpx.post(f"{server.url}/api/{user.pk}/events/ticket", headers=auth_headers(user))
        assert response.status_code == 201
        return response.json()["ticket"]

    first = ticket(alice)
    stream = open_stream(events_url(server, alice), params={"ticket": first})
    add_task(server, alice, "Seen through a ticket")
    seen = stream.changes(1)
    reused = httpx.get(events_url(server, alice), params={"ticket": first})
    expired = ticket(alice)
    EventTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    too_late = httpx.get(events_url(server, alice), params={"ticket": expired})
    unknown = httpx.get(events_url(server, alice), params={"ticket": "not-a-ticket"})
    bobs = httpx.get(events_url(server, alice), params={"ticket": ticket(bob)})
    before_sign_out = ticket(alice)
    httpx.post(f"{server.url}/api/auth/signout-all", headers=auth_headers(alice))
    signed_out = httpx.get(events_url(server, alice), params={"ticket": before_sign_out})

    assert titles(seen) == ["Seen through a ticket"]
    for refused in (reused, too_late, unknown, signed_out):
        assert (refused.status_code, refused.json()["code"]) == (401, "invalid_token")
    assert (bobs.status_code, bobs.json()["code"]) == (403, "permission_denied")
    assert first not in server.stdout + server.stderr


def test_streams_refuse_bad_requests_before_they_start(live_server_process, alice: User, bob: User) -> None:
    server = live_server_process(EVENTS_MAX_STREAMS_PER_USER="2", **FAST)
    url = events_url(server, alice)

    anonymous = httpx.get(url)
    bad_token = httpx.get(url, headers={"Authorization": "Bearer nope"})
    other_user = httpx.get(url, headers=auth_headers(bob))
    malformed = httpx.get(url, headers={**auth_headers(alice), "Last-Event-ID": "yesterday"})
    streams = [open_stream(url, headers=auth_headers(alice)) for _ in range(2)]
    third = httpx.get(url, headers=auth_headers(alice))
    bobs_own = open_stream(events_url(server, bob), headers=auth_headers(bob))
    streams[0].close()

    def reopened() -> bool:
        # The server sees the disconnect, and the place is free again.
        return EventStream(url, headers=auth_headers(alice)).open().status == 200

    replacement = wait_until(reopened)

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert (bad_token.status_code, bad_token.json()["code"]) == (401, "invalid_token")
    assert (other_user.status_code, other_user.json()["code"]) == (403, "permission_denied")
    assert (malformed.status_code, malformed.json()["code"]) == (400, "parse_error")
    assert (third.status_code, third.json()["code"]) == (429, "throttled")
    assert third.headers["retry-after"] == "3"
    assert bobs_own.status == 200
    assert replacement


def test_an_expired_cursor_ends_the_stream_with_one_event(shared_server, alice: User) -> None:
    server = shared_server(**FAST)

    stream = open_stream(events_url(server, alice), headers=auth_headers(alice), params={"since": "c99"})

    assert stream.next().retry == 3000
    expired = stream.next()
    assert (expired.event, expired.json()["code"]) == ("cursor_expired", "cursor_expired")
    assert stream.next().end


def test_a_change_on_one_replica_reaches_a_stream_on_another(live_server_process, alice: User) -> None:
    writer, reader = live_server_process(**FAST), live_server_process(**FAST)
    stream = open_stream(events_url(reader, alice), headers=auth_headers(alice))

    task = add_task(writer, alice, "Across replicas")
    httpx.patch(f"{writer.url}/api/{alice.pk}/tasks/{task['id']}/complete", headers=auth_headers(alice))

    events = stream.changes(2)
    assert [e.event for e in events] == ["task.created", "task.updated"]
    assert events[1].json()["task"]["completed"] is True


def test_sigterm_ends_open_streams_at_once(live_server_process, alice: User) -> None:
    server = live_server_process(image_process=True, **FAST)
    streams = [open_stream(events_url(server, alice), headers=auth_headers(alice)) for _ in range(3)]

    started = time.monotonic()
    server.process.terminate()
    for stream in streams:
        stream.until(lambda e: e.end)
    ended = time.monotonic() - started
    status = server.stop()

    assert ended < 5  # not the 25 s drain
    assert status == 0


def test_a_database_restart_under_open_streams_loses_nothing(live_server_process, alice: User) -> None:
    database = connection.settings_dict
    proxy = DatabaseProxy(database["HOST"] or "localhost", int(database["PORT"] or 5432))
    proxy.start()
    try:
        server = live_server_process(
            DATABASE_URL=database_url_for_tests(host="127.0.0.1", port=proxy.port), **FAST
        )
        stream = open_stream(events_url(server, alice), headers=auth_headers(alice))
        add_task(server, alice, "Before")
        before = stream.changes(1)

        proxy.stop()  # every connection of the server drops, the listening one too
        for title in ("While away 1", "While away 2"):
            services.create_task(owner=alice, title=title)  # straight to the database
        proxy.start()
        missed = stream.changes(2)
        add_task(server, alice, "After")
        after = stream.changes(1)
    finally:
        proxy.stop()

    assert titles(before + missed + after) == ["Before", "While away 1", "While away 2", "After"]
    assert [e.id for e in before + missed + after] == ["c1", "c2", "c3", "c4"]


def test_a_stream_is_open_to_a_listed_origin(shared_server, alice: User) -> None:
    server = shared_server(**FAST)
    origin = settings.CORS_ALLOWED_ORIGINS[0]

    stream = EventStream(events_url(server, alice), headers={**auth_headers(alice), "Origin": origin}).open()
    preflight = httpx.options(
        events_url(server, alice),
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,last-event-id",
        },
    )

    assert stream.response_headers["access-control-allow-origin"] == origin
    assert stream.response_headers["access-control-allow-credentials"] == "true"
    assert preflight.status_code == 200
    assert "last-event-id" in preflight.headers["access-control-allow-headers"]


def test_open_streams_hold_no_database_connection_and_share_one_listener(
    live_server_process, alice: User
) -> None:
    # Two connections in the async pool, two in Django's, and 15 open streams.
    server = live_server_process(DB_POOL_MIN="1", DB_POOL_MAX="4", EVENTS_MAX_STREAMS_PER_USER="15", **FAST)
    streams = [open_stream(events_url(server, alice), headers=auth_headers(alice)) for _ in range(15)]

    task = add_task(server, alice, "To every stream")
    listed = httpx.get(f"{server.url}/api/{alice.pk}/tasks", headers=auth_headers(alice))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            [f"LISTEN {hub.CHANNEL}"],
        )
        (listeners,) = cursor.fetchone()

    assert [titles(stream.changes(1)) for stream in streams] == [["To every stream"]] * 15
    assert [t["id"] for t in listed.json()] == [task["id"]]
    assert listeners == 1


def test_the_worker_prunes_changes_older_than_the_retention(live_server_process, alice: User) -> None:
    services.create_task(owner=alice, title="Old")
    services.create_task(owner=alice, title="Recent")
    Change.objects.filter(seq=1).update(at=timezone.now() - timedelta(days=8))
    now = timezone.now()
    for digest, expires_at in (
        ("a" * 64, now - timedelta(seconds=1)),
        ("b" * 64, now + timedelta(minutes=1)),
    ):
        EventTicket.objects.create(
            digest=digest, owner=alice, expires_at=expires_at, token_issued_at=now,
            token_expires_at=now + timedelta(days=1), token_version=0, token_external=False,
        )  # fmt: skip

    live_server_process(RUN_WORKER="true", EVENTS_RETENTION_DAYS="7")

    assert wait_until(lambda: list(Change.objects.values_list("seq", flat=True)) == [2])
    assert wait_until(lambda: list(EventTicket.objects.values_list("digest", flat=True)) == ["b" * 64])


def test_a_stream_that_opens_during_a_change_in_progress_gets_it(live_server_process, alice: User) -> None:
    server = live_server_process(EVENTS_HEARTBEAT_SECONDS="60")  # no heartbeat to catch up with
    task = add_task(server, alice, "Before")
    with psycopg.connect(database_url_for_tests()) as held:
        # A change whose trigger ran while no stream of alice's listened: it sent no NOTIFY.
        held.execute("UPDATE tasks SET title = 'In progress' WHERE id = %s", [task["id"]])
        stream = EventStream(events_url(server, alice), headers=auth_headers(alice), params={"since": "c1"})
        threading.Thread(target=stream.open, daemon=True).start()
        # The stream's registration waits for this transaction. (Were it not
        # to, the stream would open, read nothing yet, and hear of nothing.)
        if stream.opened.wait(2):
            assert stream.next().retry == 3000
            time.sleep(0.5)  # its first read is done
        held.commit()
    in_progress = stream.changes(1)
    add_task(server, alice, "After")
    after = stream.changes(1)

    assert titles(in_progress + after) == ["In progress", "After"]


def test_only_users_with_an_open_stream_cost_a_notify(live_server_process, alice: User, bob: User) -> None:
    server = live_server_process(**FAST)
    open_stream(events_url(server, alice), headers=auth_headers(alice))
    with psycopg.connect(database_url_for_tests(), autocommit=True) as listener:
        listener.execute(f"LISTEN {hub.CHANNEL}")
        add_task(server, bob, "Nobody listens")
        add_task(server, alice, "Alice listens")
        heard = [n.payload for n in listener.notifies(timeout=2, stop_after=2)]

    assert heard == [alice.pk]


def test_the_cap_holds_for_streams_opened_at_once(live_server_process, alice: User) -> None:
    server = live_server_process(EVENTS_MAX_STREAMS_PER_USER="3", **FAST)
    streams = [EventStream(events_url(server, alice), headers=auth_headers(alice)) for _ in range(8)]
    threads = [threading.Thread(target=stream.open, daemon=True) for stream in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_GUARD_SECONDS)

    assert sorted(stream.status for stream in streams) == [200] * 3 + [429] * 5
