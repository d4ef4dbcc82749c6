"""Push subscriptions over the API: made or updated by endpoint, listed,
deleted; only on the allowed push services, with valid keys; at most 20; one
user's never reachable by another."""

from __future__ import annotations

import base64
import os

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from push import config
from push.config import AllowedHost, InvalidConfiguration, allowed_hosts, endpoint_allowed, load_vapid_key
from push.models import PushSubscription
from push.tests.conftest import PRIVATE_KEY, PUBLIC_KEY
from push.tests.push_service import PushService, b64url, unb64url

pytestmark = pytest.mark.django_db

FCM = "https://fcm.googleapis.com/fcm/send/dGVzdC1zdWJzY3JpcHRpb24:APA91bH"


def subscription(endpoint: str = FCM, **keys: str) -> dict:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(os.urandom(16)), **keys},
    }


def url(user: User, suffix: str = "") -> str:
    return f"/api/{user.pk}/push-subscriptions{suffix}"


# --- The public key ----------------------------------------------------------


def test_the_public_key_is_404_when_push_is_not_configured(api: APIClient, settings) -> None:
    settings.VAPID_PRIVATE_KEY = ""
    config.vapid.cache_clear()

    response = api.get("/api/push/public-key")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_public_key_is_the_vapid_keys_point_without_a_token(
    api: APIClient, push_settings: PushService
) -> None:
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")  # ignored

    for path in ("/api/push/public-key", "/api/v1/push/public-key"):
        response = api.get(path)
        assert response.status_code == 200
        assert response.json() == {"public_key": PUBLIC_KEY}
    raw = unb64url(PUBLIC_KEY)
    assert len(raw) == 65  # an uncompressed P-256 point, what subscribe() takes
    assert raw[0] == 4


def test_a_pem_key_with_its_newlines_written_backslash_n_is_the_same_key() -> None:
    from cryptography.hazmat.primitives import serialization

    key = load_vapid_key(PRIVATE_KEY).private_key
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

    for text in (pem, pem.replace("\n", "\\n")):
        assert load_vapid_key(text).private_key.private_numbers() == key.private_numbers()
    with pytest.raises(InvalidConfiguration, match="VAPID_PRIVATE_KEY"):
        load_vapid_key(b64url(os.urandom(31)))


# --- Subscribing ---------------------------------------------------------------


def test_a_subscription_is_made_once_then_updated_by_its_endpoint(alice_api: APIClient, alice: User) -> None:
    first = subscription()

    created = alice_api.post(url(alice), first, format="json")

    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "endpoint", "created_at"}
    assert body["endpoint"] == FCM
    assert created["Location"] == url(alice, f"/{body['id']}")

    again = subscription()  # the browser subscribed again: new keys, same endpoint
    updated = alice_api.post(url(alice), again, format="json")

    assert updated.status_code == 200
    assert updated.json() == body
    stored = PushSubscription.objects.get()
    assert (stored.p256dh, stored.auth) == (again["keys"]["p256dh"], again["keys"]["auth"])


def test_the_list_and_delete(alice_api: APIClient, alice: User) -> None:
    ids = [
        alice_api.post(url(alice), subscription(f"{FCM}{n}"), format="json").json()["id"] for n in range(3)
    ]

    listed = alice_api.get(url(alice))
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()] == ids
    assert all(set(item) == {"id", "endpoint", "created_at"} for item in listed.json())

    assert alice_api.delete(url(alice, f"/{ids[1]}")).status_code == 204
    assert alice_api.delete(url(alice, f"/{ids[1]}")).status_code == 404
    assert [item["id"] for item in alice_api.get(url(alice)).json()] == [ids[0], ids[2]]


def test_the_browsers_push_services_are_allowed_by_default(alice_api: APIClient, alice: User) -> None:
    for endpoint in (
        FCM,
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD",
        "https://web.push.apple.com/QGxGmqvTf3eXhQ",
        "https://FCM.googleapis.com:443/fcm/send/upper-case-host",
    ):
        assert alice_api.post(url(alice), subscription(endpoint), format="json").status_code == 201, endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
        "http://127.0.0.1:8001/api/health",
        "http://localhost/",
        "https://10.0.0.1/push",
        "http://fcm.googleapis.com/fcm/send/plain-http",
        "https://fcm.googleapis.com:8443/fcm/send/other-port",
        "https://fcm.googleapis.com.evil.example/fcm/send/x",
        "https://evil.example/?https://fcm.googleapis.com/",
        "https://user@fcm.googleapis.com/fcm/send/x",
        "https://evil.example\\@fcm.googleapis.com/fcm/send/x",
        "https://evil.example#@fcm.googleapis.com/",
        "https://notify.windows.com/w/",  # the wildcard's own domain is not under it
        "https://evilnotify.windows.com/w/",
        "https://fcm.googleapis.com./fcm/send/trailing-dot",
        "https://[::1]/push",
        "ftp://fcm.googleapis.com/x",
        "javascript:alert(1)",
        "fcm.googleapis.com/fcm/send/x",
        "https://fcm.googleapis.com/fcm/send/" + "x" * 2100,
        "",
    ],
)
def test_an_endpoint_off_the_allowed_hosts_is_refused(
    alice_api: APIClient, alice: User, endpoint: str
) -> None:
    response = alice_api.post(url(alice), subscription(endpoint), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "endpoint" in response.json()["errors"]
    assert not PushSubscription.objects.exists()


def test_an_http_entry_allows_exactly_its_scheme_host_and_port() -> None:
    hosts = allowed_hosts(["http://127.0.0.1:9000", "*.notify.windows.com"])

    assert endpoint_allowed("http://127.0.0.1:9000/push/abc", hosts)
    assert not endpoint_allowed("https://127.0.0.1:9000/push/abc", hosts)
    assert not endpoint_allowed("http://127.0.0.1:9001/push/abc", hosts)
    assert not endpoint_allowed("http://127.0.0.1/push/abc", hosts)
    assert endpoint_allowed("https://a.b.notify.windows.com/w/?token=1", hosts)
    assert AllowedHost.parse("Web.Push.Apple.com") == AllowedHost("https", "web.push.apple.com", 443)


def _point_off_the_curve() -> str:
    return b64url(b"\x04" + b"\x01" * 64)


@pytest.mark.parametrize(
    "keys",
    [
        {"p256dh": _point_off_the_curve()},
        {"p256dh": b64url(b"\x04" + os.urandom(31))},  # too short
        {"p256dh": "not base64!"},
        {"p256dh": 12345},
        {"auth": b64url(os.urandom(15))},
        {"auth": b64url(os.urandom(32))},
        {"auth": "%%%%"},
        {"auth": ""},
    ],
)
def test_keys_that_are_not_a_p256_point_and_a_16_byte_secret_are_refused(
    alice_api: APIClient, alice: User, keys: dict
) -> None:
    response = alice_api.post(url(alice), subscription(**keys), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": FCM},
        {"endpoint": FCM, "keys": "p256dh"},
        {"endpoint": 42, "keys": subscription()["keys"]},
        {"endpoint": FCM + "\x00", "keys": subscription()["keys"]},
        {**subscription(), "expirationTime": "tomorrow"},
        {**subscription(), "expirationTime": -1},
        [],
    ],
)
def test_malformed_bodies_are_400(alice_api: APIClient, alice: User, body: object) -> None:
    response = alice_api.post(url(alice), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] in ("validation_error", "parse_error")


def test_a_browsers_expiration_time_is_kept(alice_api: APIClient, alice: User) -> None:
    body = {**subscription(), "expirationTime": 1924992000000}  # 2031-01-01, in milliseconds

    assert alice_api.post(url(alice), body, format="json").status_code == 201
    assert PushSubscription.objects.get().expiration_time.isoformat() == "2031-01-01T00:00:00+00:00"


def test_twenty_subscriptions_at_most(alice_api: APIClient, alice: User) -> None:
    for n in range(20):
        assert alice_api.post(url(alice), subscription(f"{FCM}-{n}"), format="json").status_code == 201

    over = alice_api.post(url(alice), subscription(f"{FCM}-20"), format="json")

    assert over.status_code == 400
    assert over.json()["code"] == "validation_error"
    assert "20" in over.json()["detail"]
    assert PushSubscription.objects.count() == 20
    # An existing one may still be updated.
    assert alice_api.post(url(alice), subscription(f"{FCM}-3"), format="json").status_code == 200


# --- Another user ------------------------------------------------------------------


def test_another_users_subscriptions_are_out_of_reach(
    alice_api: APIClient, bob_api: APIClient, alice: User, bob: User
) -> None:
    alices = alice_api.post(url(alice), subscription(), format="json").json()["id"]

    assert bob_api.get(url(alice)).status_code == 403
    assert bob_api.post(url(alice), subscription(), format="json").status_code == 403
    assert bob_api.delete(url(alice, f"/{alices}")).status_code == 403
    # On his own path, her subscription does not exist for him.
    assert bob_api.delete(url(bob, f"/{alices}")).json()["code"] == "not_found"
    assert bob_api.get(url(bob)).json() == []
    # The same browser endpoint is his own subscription, not hers moved.
    assert bob_api.post(url(bob), subscription(), format="json").status_code == 201
    assert PushSubscription.objects.filter(owner=alice).count() == 1


def test_no_token_is_401(api: APIClient, alice: User) -> None:
    assert api.get(url(alice)).status_code == 401
    assert api.post(url(alice), subscription(), format="json").status_code == 401


def test_a_retried_subscribe_with_its_key_is_replayed(alice_api: APIClient, alice: User) -> None:
    body = subscription()
    first = alice_api.post(url(alice), body, format="json", HTTP_IDEMPOTENCY_KEY="subscribe-1")
    again = alice_api.post(url(alice), body, format="json", HTTP_IDEMPOTENCY_KEY="subscribe-1")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert PushSubscription.objects.count() == 1


def test_the_subscription_ids_in_paths_are_integers(alice_api: APIClient, alice: User) -> None:
    assert alice_api.delete(url(alice, "/abc")).status_code == 404
    assert alice_api.delete(url(alice, "/99999999999999999999999")).status_code == 404


def test_base64_with_padding_or_the_standard_alphabet_is_taken(alice_api: APIClient, alice: User) -> None:
    keys = subscription()["keys"]
    padded = base64.b64encode(unb64url(keys["p256dh"])).decode()  # + and / and =

    response = alice_api.post(
        url(alice), subscription(p256dh=padded, auth=keys["auth"] + "=="), format="json"
    )

    assert response.status_code == 201
