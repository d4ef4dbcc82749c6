"""A password validator of ours, next to Django's (settings.AUTH_PASSWORD_VALIDATORS)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

# Below this length a password must mix kinds of characters.
SINGLE_KIND_MIN_LENGTH = 12


def _kinds(password: str) -> int:
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


class PasswordVarietyValidator:
    """Refuses passwords of only spaces, and short passwords of one kind of
    character ("        ", "abcdefgh", "ABCDEFGHIJ"); long passphrases of one
    kind are fine."""

    def validate(self, password: str, user: Any = None) -> None:
        if not password.strip():
            raise ValidationError("This password is only spaces.", code="password_only_spaces")
        if len(password) < SINGLE_KIND_MIN_LENGTH and _kinds(password) < 2:
            raise ValidationError(
                f"This password is too simple: under {SINGLE_KIND_MIN_LENGTH} characters it must mix "
                "letters with digits, capitals or symbols.",
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return (
            f"Your password can't be only spaces, and under {SINGLE_KIND_MIN_LENGTH} characters it must mix "
            "letters with digits, capitals or symbols."
        )
