"""A user's push subscriptions: created or updated by endpoint, listed,
deleted; at most MAX_SUBSCRIPTIONS_PER_USER each."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from rest_framework import exceptions
from rest_framework.exceptions import ValidationError

from accounts.models import User
from push.models import MAX_SUBSCRIPTIONS_PER_USER, PushSubscription
from tasks.services import MAX_ID


class SubscriptionNotFound(exceptions.NotFound):
    default_detail = "Push subscription not found"


@transaction.atomic
def subscribe(
    *, owner: User, endpoint: str, p256dh: str, auth: str, expiration_time: datetime | None
) -> tuple[PushSubscription, bool]:
    """The owner's subscription at `endpoint`, made or brought up to date
    (a browser that subscribes again gets new keys), and whether it is new.
    The owner's row lock makes the user's subscribes take turns, so two at
    once can neither both take the last place nor both make one endpoint."""
    User.objects.select_for_update(no_key=True).filter(pk=owner.pk).exists()
    subscription = PushSubscription.objects.for_user(owner).filter(endpoint=endpoint).first()
    if subscription is not None:
        subscription.p256dh, subscription.auth = p256dh, auth
        subscription.expiration_time = expiration_time
        subscription.save(update_fields=["p256dh", "auth", "expiration_time", "updated_at"])
        return subscription, False
    if PushSubscription.objects.for_user(owner).count() >= MAX_SUBSCRIPTIONS_PER_USER:
        raise ValidationError({
            "endpoint": [
                f"At most {MAX_SUBSCRIPTIONS_PER_USER} push subscriptions per user; delete one first."
            ]
        })  # fmt: skip
    subscription = PushSubscription.objects.create(
        owner=owner, endpoint=endpoint, p256dh=p256dh, auth=auth, expiration_time=expiration_time
    )
    return subscription, True


def subscriptions(*, owner: User) -> list[PushSubscription]:
    return list(PushSubscription.objects.for_user(owner))


def unsubscribe(*, owner: User, subscription_id: int) -> None:
    """Delete the owner's subscription (SubscriptionNotFound for another user's)."""
    if not 0 < subscription_id <= MAX_ID:
        raise SubscriptionNotFound()
    deleted, _ = PushSubscription.objects.for_user(owner).filter(pk=subscription_id).delete()
    if not deleted:
        raise SubscriptionNotFound()
