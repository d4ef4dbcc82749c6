"""Accounts that cannot be impersonated by a look-alike email, passwords
that are more than spaces, and tokens that end: by their lifetime, by a new
password, or by signing out everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.conf import settings as django_settings

from accounts.auth import issue_token
from accounts.models import User
from conftest import client_for

pytestmark = pytest.mark.django_db

SIGNUP = "/api/auth/signup"
SIGNIN = "/api/auth/signin"
ME = "/api/auth/me"


def signup(api, email: str, password: str = "violet-ladder-42", name: str = "Someone"):
    return api.post(SIGNUP, {"email": email, "password": password, "name": name}, format="json")


# --- emails ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "look_alike",
    [
        "user@k\u0131te.example",  # dotless i
        "user@\u017fite.example",  # long s
        "user@\uff4b\uff49\uff54\uff45.example",  # fullwidth letters
        "USER@KITE.EXAMPLE",
    ],
)
def test_an_email_that_folds_to_an_existing_one_is_taken(api, look_alike: str) -> None:
    assert signup(api, "user@kite.example").status_code == 201
    assert signup(api, "user@site.example").status_code == 201

    response = signup(api, look_alike)

    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert User.objects.count() == 2


def test_a_look_alike_email_signs_in_to_the_one_account(api) -> None:
    signup(api, "user@kite.example")

    response = api.post(
        SIGNIN, {"email": "user@k\u0131te.example", "password": "violet-ladder-42"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["user"]["email"] == "user@kite.example"


def test_an_email_that_lower_casing_makes_too_long_is_400_not_a_server_error(api) -> None:
    email = "a@" + "\u0130" * 120 + ".example"  # each İ lower-cases to two characters

    response = signup(api, email)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "email" in response.json()["errors"]


def test_emails_are_stored_in_nfkc_lower_case(api) -> None:
    signup(api, "Carol@\uff25xample.com")

    assert User.objects.get().email == "carol@example.com"


# --- passwords -------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", [" " * 8, " " * 20, "\t" * 10, "abcdefgh", "qwertyuiop", "ZXCVBNMASD", "!@#$%^&*()"]
)
def test_spaces_only_and_short_one_kind_passwords_are_refused(api, password: str) -> None:
    response = signup(api, "dave@example.com", password=password)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("password: ")
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["violet-ladder-42", "Tangerine7", "correcthorsebatterystaple"])
def test_mixed_or_long_passwords_are_accepted(api, password: str) -> None:
    assert signup(api, "dave@example.com", password=password).status_code == 201


# --- token lifetimes ------------------------------------------------------------


def token(claims: dict) -> str:
    return jwt.encode(claims, django_settings.BETTER_AUTH_SECRET, algorithm="HS256")


def assert_refused(api, token_text: str) -> None:
    response = api.get(ME, HTTP_AUTHORIZATION=f"Bearer {token_text}")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_a_token_without_iat_is_refused(api, alice: User) -> None:
    exp = datetime.now(UTC) + timedelta(hours=1)

    assert_refused(api, token({"sub": str(alice.pk), "exp": exp}))


@pytest.mark.parametrize("lifetime", [timedelta(days=7, seconds=1), timedelta(days=10**6)])
def test_a_token_living_longer_than_jwt_expiration_days_is_refused(api, alice: User, lifetime) -> None:
    now = datetime.now(UTC)

    assert_refused(api, token({"sub": str(alice.pk), "iat": now, "exp": now + lifetime}))


def test_a_token_whose_exp_is_far_in_the_future_is_refused(api, alice: User) -> None:
    now = int(datetime.now(UTC).timestamp())

    assert_refused(api, token({"sub": str(alice.pk), "iat": now, "exp": 10**20}))


def test_a_token_issued_in_the_future_is_refused(api, alice: User) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)

    assert_refused(api, token({"sub": str(alice.pk), "iat": later, "exp": later + timedelta(hours=1)}))


def test_a_token_over_8_kb_is_refused_before_decoding(api, alice: User, monkeypatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr(jwt, "decode", never)
    padded = token({"sub": str(alice.pk), "pad": "x" * 9000})

    assert_refused(api, padded)


def test_our_tokens_say_who_issued_them_and_at_which_version(alice: User) -> None:
    claims = jwt.decode(issue_token(alice).token, django_settings.BETTER_AUTH_SECRET, algorithms=["HS256"])

    assert claims["iss"] == "todo-backend"
    assert claims["ver"] == alice.token_version


# --- ending tokens --------------------------------------------------------------


def test_sign_out_everywhere_ends_every_earlier_token(api, alice: User) -> None:
    first, second = client_for(alice), client_for(alice)
    now = datetime.now(UTC) - timedelta(seconds=5)
    made_elsewhere = token({"sub": str(alice.pk), "iat": now, "exp": now + timedelta(hours=1)})

    response = first.post("/api/auth/signout-all")

    assert response.status_code == 204
    assert first.get(ME).status_code == 401
    assert second.get(ME).json()["code"] == "invalid_token"
    assert_refused(api, made_elsewhere)
    credentials = {"email": "alice@example.com", "password": "correct-horse-battery"}
    signed_in = api.post(SIGNIN, credentials, format="json")
    assert api.get(ME, HTTP_AUTHORIZATION=f"Bearer {signed_in.json()['token']}").status_code == 200


def test_sign_out_everywhere_needs_a_token_and_touches_only_its_user(api, alice: User, bob: User) -> None:
    bobs = client_for(bob)

    assert api.post("/api/auth/signout-all").status_code == 401
    client_for(alice).post("/api/auth/signout-all")

    assert bobs.get(ME).status_code == 200


def test_a_new_password_ends_every_earlier_token(alice: User) -> None:
    client = client_for(alice)

    alice.set_password("a-brand-new-password-9")
    alice.save()

    assert client.get(ME).status_code == 401
    assert client_for(alice).get(ME).status_code == 200


def test_the_admin_can_sign_a_user_out_everywhere(client, alice: User) -> None:
    admin = User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1")
    client.force_login(admin)
    alices = client_for(alice)

    response = client.post(
        "/admin/accounts/user/", {"action": "sign_out_everywhere", "_selected_action": [str(alice.pk)]}
    )

    assert response.status_code == 302
    assert alices.get(ME).status_code == 401
