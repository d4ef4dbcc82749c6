from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models

from accounts.models import User

MAX_SUBSCRIPTIONS_PER_USER = 20


class PushSubscriptionQuerySet(models.QuerySet["PushSubscription"]):
    def for_user(self, user: User) -> PushSubscriptionQuerySet:
        return self.filter(owner=user)


class PushSubscription(models.Model):
    """A browser's PushSubscription (its toJSON()): where the push service
    takes messages for it, and the keys that encrypt them for it alone."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions", db_index=False
    )
    endpoint = models.CharField(max_length=2048)
    # The browser's ECDH public key (P-256, base64url) and auth secret (16 bytes, base64url).
    p256dh = models.CharField(max_length=128)
    auth = models.CharField(max_length=64)
    expiration_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PushSubscriptionQuerySet.as_manager()

    class Meta:
        db_table = "push_subscriptions"
        ordering = ["created_at", "id"]
        constraints = [
            # Also the index of a user's subscriptions (owner first).
            models.UniqueConstraint(fields=["owner", "endpoint"], name="push_subscriptions_once_per_user"),
        ]

    def __str__(self) -> str:
        return f"Push subscription {self.pk} at {self.host}"

    @property
    def host(self) -> str:
        """The push service's host, all of the endpoint that is shown (its
        path is the browser's address there)."""
        return urlsplit(self.endpoint).hostname or ""
