from django.contrib.auth.password_validation import MinimumLengthValidator, validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import EMAIL_MAX_LENGTH, User, normalize_email
from todo_project.fields import StrictCharField


class UserSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True, help_text="Opaque, up to 64 characters.")
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


PASSWORD_MIN_LENGTH = 8


class EmailField(serializers.EmailField):
    """An email in its stored form (NFKC, lower-case). The validators (format,
    at most 254 characters) check that form: lower-casing can lengthen text,
    "İ" becomes two characters."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_length=EMAIL_MAX_LENGTH, **kwargs)

    def to_internal_value(self, data: object) -> str:
        return normalize_email(super().to_internal_value(data))


class SignupSerializer(serializers.Serializer):
    email = EmailField()
    # Too short is said the way Django's validator says it, whichever check sees it first.
    password = StrictCharField(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=128,
        trim_whitespace=False,
        write_only=True,
        error_messages={"min_length": MinimumLengthValidator(PASSWORD_MIN_LENGTH).get_error_message()},
    )
    name = StrictCharField(min_length=1, max_length=100)

    def validate(self, attrs: dict) -> dict:
        # Django's validators: too short, too common, all digits, too like the email or name.
        candidate = User(email=attrs["email"], name=attrs["name"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class SigninSerializer(serializers.Serializer):
    email = EmailField()
    password = StrictCharField(max_length=128, trim_whitespace=False, write_only=True)


class AuthTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    token_type = serializers.CharField(default="bearer")
    expires_at = serializers.DateTimeField()
    user = UserSerializer()
