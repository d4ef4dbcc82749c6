from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotentRequest(models.Model):
    """A write sent with an Idempotency-Key (idempotency/keys.py): who sent it,
    what it was (its fingerprint), and its first answer once there is one."""

    pk = models.CompositePrimaryKey("owner", "key")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255)
    # SHA-256 of the method, the route and the body.
    fingerprint = models.CharField(max_length=64)
    # None while the first request runs (a chat message's model call).
    status = models.PositiveSmallIntegerField(null=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField(default=bytes)
    created_at = models.DateTimeField()
    # Until then the answer is replayed (or the running request's claim holds);
    # afterwards the key is free and the worker deletes the row.
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "idempotency_keys"
        indexes = [models.Index(fields=["expires_at"], name="idempotency_keys_expiry_idx")]

    def __str__(self) -> str:
        return self.key
