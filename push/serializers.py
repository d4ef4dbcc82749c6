"""The shapes of push subscriptions: a browser's PushSubscription.toJSON() in,
{id, endpoint, created_at} out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rest_framework import serializers

from push import config
from push.models import PushSubscription
from tasks.serializers import iso
from todo_project.fields import StrictCharField

# expirationTime is milliseconds since the epoch (a DOMHighResTimeStamp), or null.
LATEST_EXPIRATION_MS = 32503680000000  # 3000-01-01


class KeysSerializer(serializers.Serializer):
    p256dh = StrictCharField(max_length=128, help_text="The browser's P-256 public key, base64url.")
    auth = StrictCharField(max_length=64, help_text="The browser's 16-byte auth secret, base64url.")

    def validate_p256dh(self, value: str) -> str:
        if not config.valid_public_key(value):
            raise serializers.ValidationError("Not a P-256 public key (65 bytes, base64url).")
        return value

    def validate_auth(self, value: str) -> str:
        if not config.valid_auth_secret(value):
            raise serializers.ValidationError("Not a 16-byte auth secret (base64url).")
        return value


class PushSubscriptionInputSerializer(serializers.Serializer):
    """What PushSubscription.toJSON() gives."""

    endpoint = StrictCharField(
        max_length=config.MAX_ENDPOINT_LENGTH,
        help_text="The push service's URL for this browser; its host must be on WEB_PUSH_ALLOWED_HOSTS.",
    )
    expirationTime = serializers.FloatField(
        allow_null=True, required=False, min_value=0, max_value=LATEST_EXPIRATION_MS
    )
    keys = KeysSerializer()

    def validate_endpoint(self, value: str) -> str:
        if not config.endpoint_allowed(value):
            raise serializers.ValidationError(
                "This push service is not allowed: the endpoint must be an https URL of a browser's push"
                " service (WEB_PUSH_ALLOWED_HOSTS)."
            )
        return value

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        values = super().to_internal_value(data)
        milliseconds = values.get("expirationTime")
        return {
            "endpoint": values["endpoint"],
            "p256dh": values["keys"]["p256dh"],
            "auth": values["keys"]["auth"],
            "expiration_time": None
            if milliseconds is None
            else datetime.fromtimestamp(milliseconds / 1000, tz=UTC),
        }


class PushSubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.CharField()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: PushSubscription) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "endpoint": instance.endpoint,
            "created_at": iso(instance.created_at),
        }


class PublicKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="The VAPID application server key (base64url), for subscribe()."
    )
