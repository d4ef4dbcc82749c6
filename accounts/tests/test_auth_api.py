"""Sign-up, sign-in and /api/auth/me, through the HTTP stack."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher

from accounts.models import User

pytestmark = pytest.mark.django_db

SIGNUP = "/api/auth/signup"
SIGNIN = "/api/auth/signin"
ME = "/api/auth/me"


def signup(api, **fields):
    body = {"email": "carol@example.com", "password": "violet-ladder-42", "name": "Carol"} | fields
    return api.post(SIGNUP, body, format="json")


def assert_token_body(body: dict, user: User) -> None:
    assert set(body) == {"token", "token_type", "expires_at", "user"}
    assert body["token_type"] == "bearer"
    assert body["user"] == {
        "id": str(user.pk),
        "email": user.email,
        "name": user.name,
        "created_at": user.created_at.isoformat().replace("+00:00", "Z"),
    }
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None
    assert timedelta(days=6, hours=23) < expires_at - datetime.now(UTC) <= timedelta(days=7)


def test_signup_creates_the_user_and_returns_a_working_token(api) -> None:
    response = signup(api, email="  Carol@Example.COM ", name="  Carol  ")

    assert response.status_code == 201
    user = User.objects.get(email="carol@example.com")
    assert user.name == "Carol"
    assert user.check_password("violet-ladder-42")
    assert_token_body(response.json(), user)
    me = api.get(ME, HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    assert me.status_code == 200
    assert me.json()["email"] == "carol@example.com"


def test_signup_stores_a_hashed_password_only(api) -> None:
    signup(api)

    assert "violet-ladder-42" not in User.objects.get(email="carol@example.com").password


def test_signup_with_a_taken_email_in_any_case_is_409(api, alice: User) -> None:
    response = signup(api, email="ALICE@example.com")

    assert response.status_code == 409
    assert response.json() == {"detail": "Email already registered", "code": "email_taken"}
    assert User.objects.filter(email="alice@example.com").count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "a" * 250 + "@x.org"}, "email"),
        ({"password": "short1!"}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "8427319562"}, "password"),
        ({"email": "zanzibar.quill@example.com", "password": "zanzibar.quill"}, "password"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"name": "Car\x00ol"}, "name"),
        ({"name": 12}, "name"),
        ({"email": ["carol@example.com"]}, "email"),
    ],
)
def test_signup_refuses_bad_input_naming_the_field(api, fields: dict, field: str) -> None:
    response = signup(api, **fields)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["errors"]
    assert body["detail"].startswith(f"{field}: ")
    assert not User.objects.exists()


def test_a_short_password_is_explained_in_the_detail(api) -> None:
    response = signup(api, password="Ab1!xyz")

    assert response.json()["detail"] == (
        "password: This password is too short. It must contain at least 8 characters."
    )


def test_signup_without_a_body_names_every_field(api) -> None:
    response = api.post(SIGNUP, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"email", "password", "name"}


def test_signup_with_a_json_array_is_a_validation_error(api) -> None:
    response = api.post(SIGNUP, [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_signin_returns_a_token_for_the_right_password(api, alice: User) -> None:
    response = api.post(
        SIGNIN, {"email": "Alice@Example.com", "password": "correct-horse-battery"}, format="json"
    )

    assert response.status_code == 200
    assert_token_body(response.json(), alice)


def test_a_wrong_password_and_an_unknown_email_get_the_same_401(api, alice: User) -> None:
    wrong = api.post(SIGNIN, {"email": "alice@example.com", "password": "not-her-password"}, format="json")
    unknown = api.post(SIGNIN, {"email": "nobody@example.com", "password": "not-her-password"}, format="json")

    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"detail": "Invalid email or password", "code": "invalid_credentials"}
    )


class CountingHasher(MD5PasswordHasher):
    algorithm = "counting_md5"
    calls = 0

    def encode(self, password: str, salt: str) -> str:
        CountingHasher.calls += 1
        return super().encode(password, salt)


def test_an_unknown_email_costs_one_password_hash_like_a_wrong_password(api, settings) -> None:
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    User.objects.create_user("alice@example.com", "Alice", "correct-horse-battery")

    CountingHasher.calls = 0
    api.post(SIGNIN, {"email": "alice@example.com", "password": "not-her-password"}, format="json")
    wrong_password_hashes = CountingHasher.calls
    CountingHasher.calls = 0
    api.post(SIGNIN, {"email": "nobody@example.com", "password": "not-her-password"}, format="json")

    assert wrong_password_hashes == CountingHasher.calls == 1


def test_a_deactivated_user_cannot_sign_in(api, alice: User) -> None:
    alice.is_active = False
    alice.save()

    response = api.post(
        SIGNIN, {"email": "alice@example.com", "password": "correct-horse-battery"}, format="json"
    )

    assert response.status_code == 401


def test_signin_with_missing_fields_is_400(api) -> None:
    response = api.post(SIGNIN, {"email": "alice@example.com"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"password"}


def test_me_returns_the_tokens_user(alice_api, alice: User) -> None:
    response = alice_api.get(ME)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(alice.pk),
        "email": "alice@example.com",
        "name": "Alice",
        "created_at": alice.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_me_without_a_token_is_401_with_www_authenticate(api) -> None:
    response = api.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_the_routes_also_answer_under_api_v1(api, alice_api) -> None:
    assert alice_api.get("/api/v1/auth/me").status_code == 200
    assert signup(api, email="dan@example.com").status_code == 201
    response = api.post(
        "/api/v1/auth/signin", {"email": "dan@example.com", "password": "violet-ladder-42"}, format="json"
    )
    assert response.status_code == 200


def test_signin_ignores_a_bad_authorization_header(api, alice: User) -> None:
    response = api.post(
        SIGNIN,
        {"email": "alice@example.com", "password": "correct-horse-battery"},
        format="json",
        HTTP_AUTHORIZATION="Bearer garbage",
    )

    assert response.status_code == 200


def test_a_user_id_is_a_uuid(api) -> None:
    body = signup(api).json()

    assert uuid.UUID(body["user"]["id"])


def test_a_name_that_is_not_unicode_is_400(api) -> None:
    body = '{"email": "carol@example.com", "password": "violet-ladder-42", "name": "Car\\udc80ol"}'

    response = api.post(SIGNUP, body, content_type="application/json")

    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_the_api_sets_no_cookies(api, alice_api, alice: User) -> None:
    responses = [
        signup(api),
        api.post(SIGNIN, {"email": "alice@example.com", "password": "correct-horse-battery"}, format="json"),
        alice_api.get(ME),
    ]

    for response in responses:
        assert not response.cookies
