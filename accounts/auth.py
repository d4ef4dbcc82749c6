"""JWT bearer tokens and the per-user guard.

Our tokens are HMAC-signed with BETTER_AUTH_SECRET (JWT_ALGORITHM). While
BETTER_AUTH_SECRET_PREVIOUS is set, tokens signed with it verify too, so the
secret can rotate without signing everyone out. Tokens of a Better Auth
deployment verify too: HMAC ones with the shared secret, asymmetric ones
against its JWKS (BETTER_AUTH_JWKS_URL, accounts/jwks.py); their user is
created on first sight (token_user). PyJWT directly, not simplejwt: see the
README (Tokens).

Every token needs iat and exp, may live at most JWT_EXPIRATION_DAYS, and may
be at most MAX_TOKEN_BYTES long (refused before any decoding). Ours carry the
user's token version ("ver"); a new password or "sign out everywhere" moves
the version on and so ends them all.
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import setting_changed
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.dispatch import receiver
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts import jwks
from accounts.models import USER_ID_MAX_LENGTH, User, normalize_email
from todo_project.patterns import pattern
from todo_project.sql import Statement, Template

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView

# Better Auth puts the user id in user_id or id where we use sub.
SUBJECT_CLAIMS = ("sub", "user_id", "id")
ISSUER = "todo-backend"
MAX_TOKEN_BYTES = 8 * 1024
logger = logging.getLogger(__name__)
# A user id as a path segment takes it: URL-safe characters only.
USER_ID = pattern(rf"[A-Za-z0-9._~-]{{1,{USER_ID_MAX_LENGTH}}}")


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
    # Made elsewhere (Better Auth): its user is created on first sight.
    external: bool = False
    email: str | None = None
    name: str | None = None
    expires_at: datetime | None = None


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


def decode_token(token: str, header: dict[str, Any], *, fetch_keys: bool = True) -> dict[str, Any]:
    """The token's claims, or jwt.InvalidTokenError. An HMAC token must use
    JWT_ALGORITHM with BETTER_AUTH_SECRET (or the previous one); an asymmetric
    one (EdDSA, ES256, RS256, PS256) a key of BETTER_AUTH_JWKS_URL's set, and
    only when that is configured. "none" and key-confusion tricks fail: each
    key verifies its own algorithm only. `header`: the token's, unverified."""
    algorithm = header.get("alg")
    if algorithm == settings.JWT_ALGORITHM:
        *earlier_keys, last_key = _verification_keys()
        for key in earlier_keys:
            try:
                return _decode(token, key, algorithm)
            except jwt.InvalidSignatureError:
                continue  # perhaps signed with the previous secret
        return _decode(token, last_key, algorithm)
    keys = jwks.key_set()
    if keys is None or algorithm not in jwks.ALGORITHMS:
        raise jwt.InvalidAlgorithmError("the token's algorithm is not accepted")
    key = keys.key(header.get("kid"), fetch=fetch_keys)
    if key.algorithm_name != algorithm:
        raise jwt.InvalidAlgorithmError("the key is not for the token's algorithm")
    return _decode(token, key, algorithm)


def _decode(token: str, key: Any, algorithm: str) -> dict[str, Any]:
    # The audience is checked below, for tokens made elsewhere only.
    claims = jwt.decode(
        token, key, algorithms=[algorithm], options={"require": ["exp", "iat"], "verify_aud": False}
    )
    lifetime = claims["exp"] - claims["iat"]
    if lifetime > settings.JWT_EXPIRATION_DAYS * 86400:
        raise jwt.InvalidTokenError("lives longer than JWT_EXPIRATION_DAYS")
    return claims


# The claims of tokens verified lately, by token. A client sends the same
# token with every request, and checking its signature and claims again was
# a sixth of a small request's CPU. An entry serves for at most
# VERIFIED_TOKEN_SECONDS (a key taken out of a JWKS stops its tokens within
# that) and never at or past the token's exp; a change of settings (the
# secret, the lifetime, the issuer) empties it. Whether the token's user and
# version still hold is checked per request, in the database, as before.
VERIFIED_TOKENS = 4096
VERIFIED_TOKEN_SECONDS = 60
_verified: dict[str, tuple[TokenClaims, float]] = {}
_verified_writes = threading.Lock()


@receiver(setting_changed)
def _forget_verified_tokens(**kwargs: Any) -> None:
    with _verified_writes:
        _verified.clear()


def verify_token(token: str, *, fetch_keys: bool = True) -> TokenClaims:
    """The claims of a token that verifies, else jwt.InvalidTokenError or ValueError."""
    now = time.time()
    known = _verified.get(token)
    if known is not None and now < known[1]:
        return known[0]
    claims = _verify(token, fetch_keys=fetch_keys)
    until = min(now + VERIFIED_TOKEN_SECONDS, claims.expires_at.timestamp())
    with _verified_writes:
        if len(_verified) >= VERIFIED_TOKENS:
            del _verified[next(iter(_verified))]  # the oldest
        _verified[token] = (claims, until)
    return claims


def _verify(token: str, *, fetch_keys: bool) -> TokenClaims:
    if len(token) > MAX_TOKEN_BYTES:
        raise ValueError("token too long")
    header = jwt.get_unverified_header(token)
    claims = decode_token(token, header, fetch_keys=fetch_keys)
    version = claims.get("ver")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ValueError("ver is not an integer")
    # Made elsewhere: verified through the JWKS, or without our own iss
    # (which every token we issue carries). Only those may create a user.
    external = claims.get("iss") != ISSUER or header.get("alg") in jwks.ALGORITHMS
    if external:
        _check_issuer_and_audience(claims)
    email, name = claims.get("email"), claims.get("name")
    return TokenClaims(
        user_id=user_id_from_claims(claims),
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        version=None if external else version,
        external=external,
        email=email if isinstance(email, str) else None,
        name=name if isinstance(name, str) else None,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


def _check_issuer_and_audience(claims: dict[str, Any]) -> None:
    if settings.BETTER_AUTH_ISSUER and claims.get("iss") != settings.BETTER_AUTH_ISSUER:
        raise jwt.InvalidIssuerError("not the configured issuer")
    if settings.BETTER_AUTH_AUDIENCE:
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.BETTER_AUTH_AUDIENCE not in audiences:
            raise jwt.InvalidAudienceError("not for the configured audience")


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
    is gone, deactivated, or has ended the token, and none across origins: a
    token made elsewhere speaks only for a user made by such a token, ours
    only for a user who signed up here): the one place of that rule."""
    users = User.objects.filter(pk=claims.user_id, is_active=True, external=claims.external)
    if claims.version is not None:
        return users.filter(token_version=claims.version)
    return users.filter(Q(tokens_revoked_at__isnull=True) | Q(tokens_revoked_at__lt=_revoked_before(claims)))


# What still_held reads of a user.
HOLDER_FIELDS = ("pk", "is_active", "external", "token_version", "tokens_revoked_at")


def still_held(claims: TokenClaims, user: dict[str, Any] | None) -> bool:
    """token_holder's rule for a user already read (HOLDER_FIELDS; None: gone),
    for code that checks many tokens in one query (the event streams)."""
    if user is None or not user["is_active"] or user["external"] != claims.external:
        return False
    if claims.version is not None:
        return user["token_version"] == claims.version
    revoked_at = user["tokens_revoked_at"]
    return revoked_at is None or revoked_at < _revoked_before(claims)


def _revoked_before(claims: TokenClaims) -> datetime:
    # A token made elsewhere ends with the revocation; iat has whole seconds.
    return claims.issued_at + timedelta(seconds=1)


def token_holder_statement(claims: TokenClaims) -> Statement:
    """token_holder(claims)'s id as SQL (for an EXISTS), compiled once per shape."""
    if claims.version is not None:
        return _holder_template(versioned=True, external=claims.external).statement(
            user_id=claims.user_id, version=claims.version
        )
    return _holder_template(versioned=False, external=claims.external).statement(
        user_id=claims.user_id, revoked_before=_revoked_before(claims)
    )


@functools.cache
def _holder_template(*, versioned: bool, external: bool) -> Template:
    sample = TokenClaims(
        user_id=str(uuid.uuid4()),
        issued_at=datetime(1970, 1, 2, microsecond=secrets.randbelow(10**6), tzinfo=UTC),
        version=secrets.randbelow(2**30) + 2 if versioned else None,
        external=external,
    )
    holders = token_holder(sample).values("pk")
    if versioned:
        return Template(holders, user_id=sample.user_id, version=sample.version)
    return Template(holders, user_id=sample.user_id, revoked_before=_revoked_before(sample))


def bearer_claims(header: bytes, *, fetch_keys: bool = True) -> TokenClaims | None:
    """The claims of an Authorization header's bearer token, or None when the
    header is malformed or the token does not verify. Without `fetch_keys`,
    never waits for a JWKS (code on the event loop hands such tokens on)."""
    scheme, _, token = header.partition(b" ")
    token = token.strip()
    if scheme.lower() != b"bearer" or not token or b" " in token:
        return None
    try:
        return verify_token(token.decode("ascii"), fetch_keys=fetch_keys)
    except (UnicodeDecodeError, jwt.InvalidTokenError, ValueError, OverflowError):
        return None


def token_user(claims: TokenClaims) -> User | None:
    """The active user a verified token speaks for; a user of a token made
    elsewhere (Better Auth) is created on first sight, with the token's id,
    email and name. Never merges accounts: when the email is another user's,
    the token is refused (None) and a warning logged."""
    try:
        # get(), not first(): one row by primary key, no ORDER BY.
        return token_holder(claims).get()
    except User.DoesNotExist:
        pass
    if not claims.external:
        return None  # gone, deactivated, or the token ended
    existing = User.objects.filter(pk=claims.user_id).values_list("external", flat=True).first()
    if existing is not None:
        if not existing:
            logger.warning("Refused a token made elsewhere for %s, who signed up here.", claims.user_id)
        return None  # gone, deactivated, the token ended, or one of ours
    try:
        email = normalize_email(claims.email or "")
        validate_email(email)
    except DjangoValidationError:
        return None
    name = (claims.name or "").strip()[:100] or email.split("@")[0]
    user = User(id=claims.user_id, email=email, name=name, external=True)
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        if User.objects.filter(pk=claims.user_id).exists():
            return token_holder(claims).first()  # made by a request at the same moment
        logger.warning(
            "Refused a token for new user %s: its email belongs to another account.", claims.user_id
        )
        return None
    return user


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
        user = None if claims is None else token_user(claims)
        if user is None:
            raise invalid_token()
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
