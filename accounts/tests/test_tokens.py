"""Bearer tokens and the per-user guard of /api/{user_id}/... routes."""

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.auth import ISSUER
from accounts.models import User
from accounts.tests import urls as guarded_urls

pytestmark = [pytest.mark.django_db, pytest.mark.urls("accounts.tests.urls")]

ME = "/api/auth/me"
OTHER_SECRET = "another-secret-that-is-also-long-enough-42"


def make_token(claims: dict, secret: str | None = None, algorithm: str = "HS256") -> str:
    """A token made by hand, with our own iss unless `claims` says otherwise
    (None leaves it out)."""
    now = datetime.now(UTC)
    claims = {"iat": now, "exp": now + timedelta(hours=1), "iss": ISSUER} | claims
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, secret or django_settings.BETTER_AUTH_SECRET, algorithm=algorithm)


def get_me(api, token: str):
    return api.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_invalid_token(response) -> None:
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert response["WWW-Authenticate"] == "Bearer"


def test_the_issued_token_carries_sub_email_iat_and_exp(alice_api, alice: User) -> None:
    token = alice_api._credentials["HTTP_AUTHORIZATION"].split()[1]

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, django_settings.BETTER_AUTH_SECRET, algorithms=["HS256"])

    assert header["alg"] == "HS256"
    assert claims["sub"] == str(alice.pk)
    assert claims["email"] == "alice@example.com"
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600


@pytest.mark.parametrize("claim", ["sub", "user_id", "id"])
def test_a_token_made_by_hand_with_the_secret_is_accepted(api, alice: User, claim: str) -> None:
    response = get_me(api, make_token({claim: str(alice.pk)}))

    assert response.status_code == 200
    assert response.json()["id"] == str(alice.pk)


@pytest.mark.parametrize("issuer", [None, "http://127.0.0.1:3000", "todo-backend-2"])
@pytest.mark.parametrize("email", [None, "alice@example.com", "mallory@example.com"])
def test_a_token_made_elsewhere_never_speaks_for_an_account_that_signed_up_here(
    api, alice: User, issuer: str | None, email: str | None
) -> None:
    """Without our iss a token is one made elsewhere (Better Auth's): it may
    make and speak for users of its own, never for alice, whatever its email."""
    token = make_token({"sub": str(alice.pk), "iss": issuer, "email": email})

    assert_invalid_token(get_me(api, token))
    assert User.objects.get(pk=alice.pk).external is False


def test_jwt_algorithm_selects_the_signing_algorithm(api, alice: User, settings) -> None:
    settings.JWT_ALGORITHM = "HS512"
    settings.BETTER_AUTH_SECRET = "s" * 64  # RFC 7518: HS512 keys of at least 64 bytes

    assert get_me(api, make_token({"sub": str(alice.pk)}, algorithm="HS512")).status_code == 200
    assert_invalid_token(get_me(api, make_token({"sub": str(alice.pk)}, algorithm="HS256")))


def test_an_expired_token_is_refused(api, alice: User) -> None:
    past = datetime.now(UTC) - timedelta(days=1)

    assert_invalid_token(get_me(api, make_token({"sub": str(alice.pk), "iat": past, "exp": past})))


def test_a_token_without_exp_is_refused(api, alice: User) -> None:
    token = jwt.encode({"sub": str(alice.pk)}, django_settings.BETTER_AUTH_SECRET, algorithm="HS256")

    assert_invalid_token(get_me(api, token))


def test_a_token_signed_with_another_secret_is_refused(api, alice: User) -> None:
    assert_invalid_token(get_me(api, make_token({"sub": str(alice.pk)}, secret=OTHER_SECRET)))


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_alg_none_token_is_refused(api, alice: User) -> None:
    exp = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'sub': str(alice.pk), 'exp': exp})}."

    assert_invalid_token(get_me(api, token))


def test_a_tampered_payload_is_refused(api, alice: User, bob: User) -> None:
    header, _, signature = make_token({"sub": str(bob.pk)}).split(".")
    exp = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    forged = f"{header}.{_b64({'sub': str(alice.pk), 'exp': exp})}.{signature}"

    assert_invalid_token(get_me(api, forged))


def test_a_deleted_users_token_is_refused(api, alice: User) -> None:
    token = make_token({"sub": str(alice.pk)})
    alice.delete()

    assert_invalid_token(get_me(api, token))


@pytest.mark.parametrize(
    "claims", [{"sub": "not-a-uuid"}, {"sub": ""}, {"email": "alice@example.com"}, {"sub": 12}]
)
def test_a_token_without_a_usable_subject_is_refused(api, alice: User, claims: dict) -> None:
    assert_invalid_token(get_me(api, make_token(claims)))


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic YWxpY2U6cGFzcw==", "Token abc", "Bearer a b", "Bearer not.a.jwt"]
)
def test_a_malformed_authorization_header_is_an_invalid_token(api, alice: User, header: str) -> None:
    assert_invalid_token(api.get(ME, HTTP_AUTHORIZATION=header))


def test_rotation_keeps_previous_tokens_valid_until_the_old_secret_is_dropped(
    api, alice: User, settings
) -> None:
    old_secret = settings.BETTER_AUTH_SECRET
    old_token = make_token({"sub": str(alice.pk)}, secret=old_secret)
    settings.BETTER_AUTH_SECRET = OTHER_SECRET
    settings.BETTER_AUTH_SECRET_PREVIOUS = old_secret

    assert get_me(api, old_token).status_code == 200
    assert get_me(api, make_token({"sub": str(alice.pk)}, secret=OTHER_SECRET)).status_code == 200
    new_token = api.post(
        "/api/auth/signin", {"email": "alice@example.com", "password": "correct-horse-battery"}, format="json"
    ).json()["token"]
    assert jwt.decode(new_token, OTHER_SECRET, algorithms=["HS256"])["sub"] == str(alice.pk)

    settings.BETTER_AUTH_SECRET_PREVIOUS = ""
    assert_invalid_token(get_me(api, old_token))


def test_an_expired_token_signed_with_the_previous_secret_is_refused(api, alice: User, settings) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    old_token = make_token(
        {"sub": str(alice.pk), "iat": past, "exp": past}, secret=settings.BETTER_AUTH_SECRET
    )
    settings.BETTER_AUTH_SECRET_PREVIOUS = settings.BETTER_AUTH_SECRET
    settings.BETTER_AUTH_SECRET = OTHER_SECRET

    assert_invalid_token(get_me(api, old_token))


def test_a_token_is_verified_once_and_then_remembered(api, alice: User, monkeypatch) -> None:
    token = make_token({"sub": str(alice.pk)})
    decoded = []
    decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *args, **kwargs: decoded.append(1) or decode(*args, **kwargs))

    assert get_me(api, token).status_code == 200
    assert get_me(api, token).status_code == 200
    assert get_me(api, make_token({"sub": str(alice.pk), "email": "another@example.com"})).status_code == 200

    assert len(decoded) == 2


def test_a_remembered_token_still_ends_at_its_exp(api, alice: User) -> None:
    now = int(time.time())
    token = make_token({"sub": str(alice.pk), "iat": now, "exp": now + 2})
    assert get_me(api, token).status_code == 200

    time.sleep(now + 2 - time.time() + 0.05)

    assert_invalid_token(get_me(api, token))


def test_a_remembered_token_ends_when_its_user_signs_out_everywhere(api, alice: User) -> None:
    token = api.post(
        "/api/auth/signin", {"email": "alice@example.com", "password": "correct-horse-battery"}, format="json"
    ).json()["token"]
    assert get_me(api, token).status_code == 200

    User.objects.filter(pk=alice.pk).update(token_version=alice.token_version + 1)

    assert_invalid_token(get_me(api, token))


# --- The per-user guard ---------------------------------------------------------


@pytest.fixture
def handled() -> list[str]:
    guarded_urls.handled.clear()
    return guarded_urls.handled


def test_alice_reaches_her_own_path(alice_api, alice: User, handled: list[str]) -> None:
    response = alice_api.get(f"/api/{alice.pk}/things")

    assert response.status_code == 200
    assert response.json() == {"user_id": str(alice.pk)}
    assert handled == [str(alice.pk)]


def test_bobs_token_on_alices_path_is_403_before_the_view_runs(
    bob_api, alice: User, handled: list[str]
) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = bob_api.get(f"/api/{alice.pk}/things")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert handled == []
    # Only the token's user was looked up.
    assert len(queries) == 1
    assert 'FROM "users"' in queries[0]["sql"]


def test_no_token_on_a_user_path_is_401_not_authenticated(api, alice: User, handled: list[str]) -> None:
    response = api.get(f"/api/{alice.pk}/things")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"
    assert handled == []


def test_a_bad_token_on_a_user_path_is_401_invalid_token(api, alice: User, handled: list[str]) -> None:
    assert_invalid_token(api.get(f"/api/{alice.pk}/things", HTTP_AUTHORIZATION="Bearer nonsense"))
    assert handled == []


@pytest.mark.parametrize("user_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_any_other_user_id_is_403(alice_api, user_id: str, handled: list[str]) -> None:
    assert alice_api.get(f"/api/{user_id}/things").status_code == 403
    assert handled == []


def test_the_user_id_in_the_path_is_matched_exactly(alice_api, alice: User) -> None:
    # Ids are opaque: Better Auth's "aB3x..." and "AB3X..." are two users.
    assert alice_api.get(f"/api/{alice.pk}/things").status_code == 200
    assert alice_api.get(f"/api/{alice.pk.upper()}/things").status_code == 403
