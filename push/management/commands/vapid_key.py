"""`python manage.py vapid_key`: a new VAPID key pair for Web Push, as the
lines of an environment file (the private key) and the public key a
frontend subscribes with (GET /api/push/public-key answers it too)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from push.config import new_vapid_key


class Command(BaseCommand):
    help = "Print a new VAPID key pair for Web Push (VAPID_PRIVATE_KEY and the public key)."

    def handle(self, *args: Any, **options: Any) -> None:
        private, public = new_vapid_key()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}\n")
        self.stdout.write(f"# public key (GET /api/push/public-key): {public}\n")
