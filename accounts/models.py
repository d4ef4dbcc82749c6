import unicodedata
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

EMAIL_MAX_LENGTH = 254


def normalize_email(email: str) -> str:
    """The stored form: NFKC, lower-case. Alice@X.org and alice@x.org are one account."""
    return unicodedata.normalize("NFKC", email.strip()).lower()


def email_key(email: str) -> str:
    """What two emails must not share to be two accounts: the stored form,
    upper-cased and then case-folded, so that look-alikes fold together
    (a dotless i and an i, a long s and an s, fullwidth letters and ASCII)."""
    return unicodedata.normalize("NFKC", normalize_email(email).upper().casefold())


USER_ID_MAX_LENGTH = 64


def new_user_id() -> str:
    """Our own sign-ups' ids. Ids are opaque strings of up to 64 characters:
    users first seen through an external token (Better Auth) keep its id."""
    return str(uuid.uuid4())


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, name: str, password: str | None = None, **extra: object) -> "User":
        if not email:
            raise ValueError("Users must have an email address.")
        user = self.model(email=normalize_email(email), name=name.strip(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, name: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, name, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email_key=email_key(username or ""))


class User(AbstractBaseUser, PermissionsMixin):
    """A person using the app. The email is the login."""

    id = models.CharField(
        primary_key=True, max_length=USER_ID_MAX_LENGTH, default=new_user_id, editable=False
    )
    email = models.EmailField(max_length=EMAIL_MAX_LENGTH, unique=True)
    # email_key(email): unique, so look-alike emails cannot make a second account.
    # (Null only for rows older than the key whose key another row already had.)
    email_key = models.TextField(unique=True, null=True, editable=False)  # noqa: DJ001
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Tokens carry the version they were issued at; a new password or "sign out
    # everywhere" moves it on, ending every earlier token. Tokens made elsewhere
    # (no version in them) end when issued before tokens_revoked_at.
    token_version = models.PositiveIntegerField(default=0, editable=False)
    tokens_revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Made on first sight of a token made elsewhere (Better Auth). Only such
    # tokens speak for such a user, and never for one who signed up here.
    external = models.BooleanField(default=False, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        db_table = "users"
        ordering = ["-created_at"]
        constraints = [
            # The database itself guarantees case-insensitive uniqueness.
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="users_email_lower_case"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args: object, **kwargs: object) -> None:
        self.email = normalize_email(self.email)
        self.email_key = email_key(self.email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_key"}
        super().save(*args, **kwargs)

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        if not self._state.adding:
            self.revoke_tokens()

    def revoke_tokens(self) -> None:
        """End every token issued so far (saved with the user's next save)."""
        self.token_version += 1
        self.tokens_revoked_at = timezone.now()
