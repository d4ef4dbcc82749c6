"""Sign-up, sign-in and sign-out rules."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from rest_framework import exceptions, status

from accounts.models import User, email_key


class EmailTaken(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Email already registered"
    default_code = "email_taken"


def register_user(*, email: str, name: str, password: str) -> User:
    """Create an account; EmailTaken when the email, or a look-alike of it
    (email_key), exists in any letter case."""
    if User.objects.filter(email_key=email_key(email)).exists():
        raise EmailTaken()
    try:
        # The unique indexes settle a race between two sign-ups for one email.
        with transaction.atomic():
            return User.objects.create_user(email=email, name=name, password=password)
    except IntegrityError:
        raise EmailTaken() from None


def authenticate_user(*, email: str, password: str) -> User | None:
    """The active user with these credentials, or None. An unknown email costs
    one password hash too, so response times do not reveal which emails exist."""
    user = User.objects.filter(email_key=email_key(email)).first()
    if user is None:
        make_password(password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def sign_out_everywhere(*, user: User) -> None:
    """End every token issued to the user so far."""
    user.revoke_tokens()
    user.save(update_fields=["token_version", "tokens_revoked_at"])
