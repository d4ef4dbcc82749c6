from __future__ import annotations

from collections.abc import Iterator

import pytest

from push import config
from push.config import allowed_hosts, new_vapid_key
from push.tests.push_service import PushService

VAPID_SUBJECT = "mailto:reminders@todo.example"
PRIVATE_KEY, PUBLIC_KEY = new_vapid_key()


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushService(subject=VAPID_SUBJECT, public_key=PUBLIC_KEY) as service:
        yield service


@pytest.fixture
def push_settings(settings, push_service: PushService) -> PushService:
    """This process configured for Web Push, with the stand-in allowed."""
    settings.VAPID_PRIVATE_KEY = PRIVATE_KEY
    settings.VAPID_SUBJECT = VAPID_SUBJECT
    settings.WEB_PUSH_ALLOWED_HOSTS = allowed_hosts([push_service.origin])
    config.vapid.cache_clear()
    yield push_service
    config.vapid.cache_clear()


def worker_environment(*services: PushService) -> dict[str, str]:
    """A worker's environment for Web Push to these stand-ins."""
    return {
        "VAPID_PRIVATE_KEY": PRIVATE_KEY,
        "VAPID_SUBJECT": VAPID_SUBJECT,
        "WEB_PUSH_ALLOWED_HOSTS": ",".join(service.origin for service in services),
    }
