"""The custom user: an opaque string key (a UUID for our sign-ups), email login
stored lower-case and unique in any case."""

import uuid

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_users_live_in_the_users_table_with_a_uuid_string_key(alice: User) -> None:
    assert User._meta.db_table == "users"
    assert str(uuid.UUID(alice.pk)) == alice.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT email, name FROM users WHERE id = %s", [alice.pk])
        assert cursor.fetchone() == ("alice@example.com", "Alice")


def test_email_is_stored_lower_case_and_is_the_login() -> None:
    user = User.objects.create_user("  Carol@Example.COM ", "Carol", "a-good-password")

    assert user.email == "carol@example.com"
    assert User.objects.get_by_natural_key("CAROL@example.com") == user
    assert user.check_password("a-good-password")
    assert user.created_at is not None


def test_the_same_email_in_another_case_is_refused(alice: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ALICE@example.com", "Other Alice", "a-good-password")


def test_the_database_refuses_an_upper_case_email_written_behind_the_models_back(alice: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=alice.pk).update(email="Alice@Example.com")


def test_createsuperuser_asks_for_email_and_name_not_a_username(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "an-admin-password-1")

    call_command("createsuperuser", "--noinput", "--email", "Admin@Example.com", "--name", "Admin")

    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.check_password("an-admin-password-1")


def test_the_admin_lists_and_searches_users(client, alice: User, bob: User) -> None:
    admin = User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1")
    client.force_login(admin)

    listing = client.get("/admin/accounts/user/")
    search = client.get("/admin/accounts/user/", {"q": "bob"})

    assert listing.status_code == 200
    assert b"alice@example.com" in listing.content
    assert search.status_code == 200
    assert b"bob@example.com" in search.content
    assert b"alice@example.com" not in search.content


def test_the_admin_adds_a_user_with_email_and_name(client) -> None:
    admin = User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1")
    client.force_login(admin)

    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Dave@Example.com",
            "name": "Dave",
            "usable_password": "true",
            "password1": "a-strong-pass-phrase",
            "password2": "a-strong-pass-phrase",
        },
    )

    assert response.status_code == 302
    assert User.objects.get(email="dave@example.com").name == "Dave"


def test_an_admin_signs_in_through_the_login_form_and_sees_messages() -> None:
    from django.test import Client

    User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1")
    client = Client(enforce_csrf_checks=True)

    login_page = client.get("/admin/login/")
    token = login_page.cookies["csrftoken"].value
    signed_in = client.post(
        "/admin/login/?next=/admin/",
        {"username": "root@example.com", "password": "an-admin-password-1", "csrfmiddlewaretoken": token},
    )
    home = client.get("/admin/")
    added = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "new@example.com", "name": "New", "usable_password": "false",
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
        follow=True,
    )  # fmt: skip

    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/"
    assert home.status_code == 200
    assert b"Site administration" in home.content
    assert b"was added successfully" in added.content
