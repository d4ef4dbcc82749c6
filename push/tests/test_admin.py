import pytest

from accounts.models import User
from push.models import PushSubscription
from push.tests.push_service import b64url

pytestmark = pytest.mark.django_db

ENDPOINT = "https://fcm.googleapis.com/fcm/send/the-browsers-secret-address"
P256DH = b64url(b"\x04" + b"\x11" * 64)
AUTH = b64url(b"auth-secret-0123")


def test_the_admin_shows_a_subscription_by_its_host_never_its_address_or_keys(client, alice: User) -> None:
    subscription = PushSubscription.objects.create(owner=alice, endpoint=ENDPOINT, p256dh=P256DH, auth=AUTH)
    client.force_login(User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1"))

    listing = client.get("/admin/push/pushsubscription/")
    page = client.get(f"/admin/push/pushsubscription/{subscription.pk}/change/")

    for response in (listing, page):
        assert response.status_code == 200
        assert b"fcm.googleapis.com" in response.content
        assert b"the-browsers-secret-address" not in response.content
        assert P256DH.encode() not in response.content
        assert AUTH.encode() not in response.content
    assert b"alice@example.com" in listing.content
    # Browsers make subscriptions: there is no form to add or edit one; one can be deleted.
    assert client.get("/admin/push/pushsubscription/add/").status_code == 403
    assert (
        client.post(f"/admin/push/pushsubscription/{subscription.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    assert not PushSubscription.objects.exists()
