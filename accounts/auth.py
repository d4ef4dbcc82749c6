"""JWT bearer tokens and the per-user guard.

Tokens are HMAC-signed with BETTER_AUTH_SECRET (JWT_ALGORITHM). While
BETTER_AUTH_SECRET_PREVIOUS is set, tokens signed with it verify too, so the
secret can rotate without signing everyone out. simplejwt verifies against a
single key, so this small backend uses PyJWT directly.

Every token needs iat and exp, may live at most JWT_EXPIRATION_DAYS, and may
be at most MAX_TOKEN_BYTES long (refused before any decoding). Ours carry the
user's token version ("ver"); a new password or "sign out everywhere" moves
the version on and so ends them all.
"""

from __future__ import annotations

import functools
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
from django.conf import settings
from django.db.models import Q, QuerySet
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import USER_ID_MAX_LENGTH, User
from todo_project.sql import Statement, Template

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView

# Better Auth puts the user id in user_id or id where we use sub.
SUBJECT_CLAIMS = ("sub", "user_id", "id")
ISSUER = "todo-backend"
MAX_TOKEN_BYTES = 8 * 1024
# A user id as a path segment takes it: URL-safe characters only.
USER_ID = re.compile(rf"[A-Za-z0-9._~-]{{1,{USER_ID_MAX_LENGTH}}}")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says about its holder."""

    user_id: str
    issued_at: datetime
    version: int | None  # None for tokens made elsewhere


def issue_token(user: User) -> IssuedToken:
    issued_at = datetime.now(UTC).replace(microsecond=0)
    expires_at = issued_at + timedelta(days=settings.JWT_EXPIRATION_DAYS)
    claims = {
        "sub": str(user.pk),
        "email": user.email,
        "iat": issued_at,
        "exp": expires_at,
        "iss": ISSUER,
        "ver": user.token_version,
    }
    token = jwt.encode(claims, settings.BETTER_AUTH_SECRET, algorithm=settings.JWT_ALGORITHM)
    return IssuedToken(token=token, expires_at=expires_at)


def _verification_keys() -> list[str]:
    keys = [settings.BETTER_AUTH_SECRET]
    if settings.BETTER_AUTH_SECRET_PREVIOUS:
        keys.append(settings.BETTER_AUTH_SECRET_PREVIOUS)
    return keys


def decode_token(token: str) -> dict[str, Any]:
    """The token's claims, or jwt.InvalidTokenError. Only the configured HMAC
    algorithm is accepted, so alg "none" and key-confusion tricks fail."""
    *earlier_keys, last_key = _verification_keys()
    for key in earlier_keys:
        try:
            return _decode(token, key)
        except jwt.InvalidSignatureError:
            continue  # perhaps signed with the previous secret
    return _decode(token, last_key)


def _decode(token: str, key: str) -> dict[str, Any]:
    claims = jwt.decode(token, key, algorithms=[settings.JWT_ALGORITHM], options={"require": ["exp", "iat"]})
    lifetime = claims["exp"] - claims["iat"]
    if lifetime > settings.JWT_EXPIRATION_DAYS * 86400:
        raise jwt.InvalidTokenError("lives longer than JWT_EXPIRATION_DAYS")
    return claims


def verify_token(token: str) -> TokenClaims:
    """The claims of a token that verifies, else jwt.InvalidTokenError or ValueError."""
    if len(token) > MAX_TOKEN_BYTES:
        raise ValueError("token too long")
    claims = decode_token(token)
    version = claims.get("ver")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ValueError("ver is not an integer")
    return TokenClaims(
        user_id=user_id_from_claims(claims),
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        version=version,
    )


def user_id_from_claims(claims: dict[str, Any]) -> str:
    """The user id, verbatim: an opaque string of up to 64 URL-safe characters
    (ours are UUIDs, Better Auth's 32 random letters and digits)."""
    for claim in SUBJECT_CLAIMS:
        value = claims.get(claim)
        if value:
            if not isinstance(value, str) or not USER_ID.fullmatch(value):
                raise ValueError("the subject is not a user id")
            return value
    raise ValueError("no subject claim")


def token_holder(claims: TokenClaims) -> QuerySet[User]:
    """The active user a verified token still speaks for (none when the user
    is gone, deactivated, or has ended the token): the one place of that rule."""
    users = User.objects.filter(pk=claims.user_id, is_active=True)
    if claims.version is not None:
        return users.filter(token_version=claims.version)
    return users.filter(Q(tokens_revoked_at__isnull=True) | Q(tokens_revoked_at__lt=_revoked_before(claims)))


def _revoked_before(claims: TokenClaims) -> datetime:
    # A token made elsewhere ends with the revocation; iat has whole seconds.
    return claims.issued_at + timedelta(seconds=1)


def token_holder_statement(claims: TokenClaims) -> Statement:
    """token_holder(claims)'s id as SQL (for an EXISTS), compiled once per shape."""
    if claims.version is not None:
        return _holder_template(versioned=True).statement(user_id=claims.user_id, version=claims.version)
    return _holder_template(versioned=False).statement(
        user_id=claims.user_id, revoked_before=_revoked_before(claims)
    )


@functools.cache
def _holder_template(*, versioned: bool) -> Template:
    sample = TokenClaims(
        user_id=str(uuid.uuid4()),
        issued_at=datetime(1970, 1, 2, microsecond=secrets.randbelow(10**6), tzinfo=UTC),
        version=secrets.randbelow(2**30) + 2 if versioned else None,
    )
    holders = token_holder(sample).values("pk")
    if versioned:
        return Template(holders, user_id=sample.user_id, version=sample.version)
    return Template(holders, user_id=sample.user_id, revoked_before=_revoked_before(sample))


def bearer_claims(header: bytes) -> TokenClaims | None:
    """The claims of an Authorization header's bearer token, or None when the
    header is malformed or the token does not verify."""
    scheme, _, token = header.partition(b" ")
    token = token.strip()
    if scheme.lower() != b"bearer" or not token or b" " in token:
        return None
    try:
        return verify_token(token.decode("ascii"))
    except (UnicodeDecodeError, jwt.InvalidTokenError, ValueError, OverflowError):
        return None


def invalid_token() -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed("Invalid or expired token.", code="invalid_token")


class BearerAuthentication(BaseAuthentication):
    """Authorization: Bearer <jwt>. No header means anonymous (the permission
    then answers 401 not_authenticated); any other header that does not
    verify to an active user is 401 invalid_token."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, str] | None:
        header = get_authorization_header(request)
        if not header:
            return None
        claims = bearer_claims(header)
        if claims is None:
            raise invalid_token()
        try:
            # get(), not first(): one row by primary key, no ORDER BY.
            user = token_holder(claims).get()
        except User.DoesNotExist:
            raise invalid_token() from None
        return user, header.partition(b" ")[2].strip().decode("ascii")

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class IsPathUser(BasePermission):
    """The guard of every /api/{user_id}/... route: a token is required, and
    {user_id} must be the token's user. DRF checks permissions before the
    handler runs, so no query for the resource happens when this refuses."""

    message = "You may only access your own data."

    def has_permission(self, request: Request, view: APIView) -> bool:
        # Without a user DRF answers 401 not_authenticated; otherwise False is 403.
        if request.user is None:
            return False
        return view.kwargs.get("user_id", "") == request.user.pk
