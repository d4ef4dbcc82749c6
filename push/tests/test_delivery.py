"""A fired reminder reaches the user's browsers: real workers
(`manage.py run_worker`) send it through the push-service stand-in, which
checks each message's VAPID token and decrypts it with the browser's key."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.models import User
from conftest import WAIT_GUARD_SECONDS, auth_headers, spawn_worker, wait_until
from push.delivery import HOST_LIMIT
from push.models import PushSubscription
from push.services import subscribe
from push.tests.conftest import worker_environment
from push.tests.push_service import Browser, PushService, Reply
from tasks.models import Notification, Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(tmp_path: Path, transactional_db: None) -> Iterator[Callable[..., object]]:
    started = []

    def start(*services: PushService, **environment: str | None) -> object:
        process = spawn_worker(
            tmp_path, f"worker-{len(started)}", **{**worker_environment(*services), **environment}
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        process.wait(WAIT_GUARD_SECONDS)


def subscribed(user: User, browser: Browser) -> PushSubscription:
    data = browser.subscription()
    subscription, _ = subscribe(owner=user, endpoint=data["endpoint"], expiration_time=None, **data["keys"])
    return subscription


def remind(user: User, title: str = "Water the plants", seconds: float = 1.0) -> Task:
    return create_task(owner=user, title=title, remind_at=timezone.now() + timedelta(seconds=seconds))


def push_jobs_done() -> bool:
    return not ProcrastinateJob.objects.filter(queue_name="push", status__in=["todo", "doing"]).exists()


def test_a_fired_reminder_arrives_once_on_each_browser_decrypted(
    worker, push_settings: PushService, alice: User, bob: User
) -> None:
    service = push_settings
    phone, laptop, bobs = service.browser(), service.browser(), service.browser()
    subscribed(alice, phone)
    subscribed(alice, laptop)
    subscribed(bob, bobs)
    worker(service)

    task = remind(alice)

    assert wait_until(lambda: service.arrived(phone) and service.arrived(laptop))
    [notification] = Notification.objects.all()
    expected = {
        "type": "reminder",
        "notification_id": notification.pk,
        "task_id": task.pk,
        "title": "Water the plants",
        "body": notification.message,
        "url": f"/tasks/{task.pk}",
    }
    assert service.arrived(phone) == [expected]
    assert service.arrived(laptop) == [expected]
    assert wait_until(push_jobs_done)
    time.sleep(0.5)
    assert len(service.arrived(phone)) == 1  # once
    assert service.arrived(bobs) == []  # another user's browser hears nothing
    assert service.refused == []
    [arrival, *_] = service.arrivals
    assert int(arrival.headers["TTL"]) > 0
    assert arrival.headers["Urgency"] == "high"


def test_a_gone_subscription_is_deleted(worker, push_settings: PushService, alice: User) -> None:
    service = push_settings
    gone, missing, kept = service.browser(), service.browser(), service.browser()
    for browser in (gone, missing, kept):
        subscribed(alice, browser)
    service.answer(gone, Reply(410))
    service.answer(missing, Reply(404))
    worker(service)

    remind(alice)

    assert wait_until(lambda: service.arrived(kept))
    assert wait_until(lambda: PushSubscription.objects.count() == 1)
    assert PushSubscription.objects.get().endpoint == kept.endpoint
    assert wait_until(push_jobs_done)
    assert len(service.tries(gone)) == len(service.tries(missing)) == 1


def test_429_with_retry_after_and_a_500_are_tried_again_and_delivered(
    worker, push_settings: PushService, alice: User
) -> None:
    service = push_settings
    throttled, failing = service.browser(), service.browser()
    subscribed(alice, throttled)
    subscribed(alice, failing)
    service.answer(throttled, Reply(429, {"Retry-After": "2"}))
    service.answer(failing, Reply(500), Reply(503))
    worker(service)

    remind(alice)

    assert wait_until(lambda: service.arrived(throttled) and service.arrived(failing))
    tries = service.tries(throttled)
    assert len(tries) == 2
    assert tries[1] - tries[0] >= 1.9  # after Retry-After
    failing_tries = service.tries(failing)
    assert len(failing_tries) == 3
    assert failing_tries[1] - failing_tries[0] < 5 + 1  # the first retry within 5 s
    assert len(service.arrived(throttled)) == len(service.arrived(failing)) == 1
    assert PushSubscription.objects.count() == 2


def test_another_4xx_drops_the_message_and_keeps_the_subscription(
    worker, push_settings: PushService, alice: User
) -> None:
    service = push_settings
    browser = service.browser()
    subscribed(alice, browser)
    service.answer(browser, Reply(413))
    worker(service)

    remind(alice)

    assert wait_until(lambda: service.tries(browser))
    assert wait_until(push_jobs_done)
    time.sleep(2.5)  # longer than a retry's first wait
    assert len(service.tries(browser)) == 1
    assert PushSubscription.objects.count() == 1


def test_a_deleted_subscription_gets_nothing(worker, push_settings: PushService, alice: User) -> None:
    service = push_settings
    deleted, kept = service.browser(), service.browser()
    subscribed(alice, deleted).delete()
    subscribed(alice, kept)
    worker(service)

    remind(alice)

    assert wait_until(lambda: service.arrived(kept))
    assert wait_until(push_jobs_done)
    assert service.tries(deleted) == []


def test_an_endpoint_no_longer_allowed_when_sending_gets_nothing(
    worker, push_settings: PushService, alice: User
) -> None:
    service = push_settings
    browser = service.browser()
    subscribed(alice, browser)
    with PushService(subject=service.subject, public_key=service.public_key) as other:
        worker(other)  # this worker allows only the other service

        remind(alice)

        assert wait_until(lambda: Notification.objects.exists())
        assert wait_until(push_jobs_done)
    assert service.tries(browser) == []


def test_without_push_configured_reminders_still_notify(
    worker, push_settings: PushService, alice: User
) -> None:
    service = push_settings
    browser = service.browser()
    subscribed(alice, browser)
    worker(service, VAPID_PRIVATE_KEY=None, VAPID_SUBJECT=None)

    remind(alice)

    assert wait_until(lambda: Notification.objects.exists())
    assert not ProcrastinateJob.objects.filter(queue_name="push").exists()
    assert service.tries(browser) == []


def test_the_image_process_alone_serves_the_key_takes_a_subscription_and_pushes(
    live_server_process, push_service: PushService, alice: User
) -> None:
    """Over HTTP, as a frontend does it: the public key, the browser's
    subscription posted as it is, a task with a reminder; the server's own
    worker sends the push when the reminder fires."""
    server = live_server_process(image_process=True, RUN_WORKER=None, **worker_environment(push_service))
    headers = auth_headers(alice)
    key = httpx.get(f"{server.url}/api/push/public-key").json()["public_key"]
    assert key == push_service.public_key
    browser = push_service.browser()
    subscribed_now = httpx.post(
        f"{server.url}/api/{alice.pk}/push-subscriptions", json=browser.subscription(), headers=headers
    )
    assert subscribed_now.status_code == 201
    soon = timezone.now() + timedelta(seconds=1)
    task = httpx.post(
        f"{server.url}/api/{alice.pk}/tasks",
        json={"title": "Stretch", "remind_at": soon.isoformat()},
        headers=headers,
    ).json()

    assert wait_until(lambda: push_service.arrived(browser))
    [message] = push_service.arrived(browser)
    assert (message["type"], message["task_id"], message["title"]) == ("reminder", task["id"], "Stretch")
    assert server.stop() == 0
    assert "Traceback" not in server.stderr


def test_a_push_service_that_does_not_answer_holds_up_only_its_own_messages(
    worker, push_settings: PushService, alice: User, bob: User
) -> None:
    """60 messages for a service that answers only when the test lets it: a
    worker keeps HOST_LIMIT of them in flight, and another service's message
    is delivered meanwhile; the rest follow once the service answers."""
    stuck = push_settings
    carol = User.objects.create_user("carol@example.com", "Carol", "a-password-for-carol")
    dave = User.objects.create_user("dave@example.com", "Dave", "a-password-for-dave")
    stuck_browsers = []
    for user in (alice, bob, carol):
        for _ in range(20):
            stuck_browsers.append(stuck.browser())
            subscribed(user, stuck_browsers[-1])
    with PushService(subject=stuck.subject, public_key=stuck.public_key) as other:
        dave_browser = other.browser()
        subscribed(dave, dave_browser)
        stuck.hold()
        worker(stuck, other)
        for user in (alice, bob, carol, dave):
            remind(user)

        assert wait_until(lambda: other.arrived(dave_browser))
        assert wait_until(lambda: stuck.in_flight == HOST_LIMIT)
        assert stuck.arrivals == []  # still none answered: dave's did not wait for them

        stuck.release()
        assert wait_until(lambda: len(stuck.arrivals) == 60)
    assert stuck.most_in_flight == HOST_LIMIT
    assert sorted(len(stuck.arrived(browser)) for browser in stuck_browsers) == [1] * 60
