"""What Web Push is configured with, checked at start-up: the VAPID key and
subject, and the push services the server may post to.

The server never posts to an address a user chose: a subscription's endpoint
must be on WEB_PUSH_ALLOWED_HOSTS, the browsers' push services by default,
when it is saved and again when a message is sent. An endpoint is read by one
strict pattern (a scheme, a host of letters, digits, dots and dashes, a port,
then a path) so that no parser can find another host in it (no user info,
no backslashes, no IP literal unless an entry names it)."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from py_vapid import Vapid, VapidException

from todo_project.env import ConfigurationError

# The browsers' push services: Chrome and Edge (FCM), Firefox, Windows, Safari.
DEFAULT_ALLOWED_HOSTS = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "*.notify.windows.com",
    "web.push.apple.com",
)
MAX_ENDPOINT_LENGTH = 2048
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST = r"(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
_ENTRY = re.compile(rf"(?:(?P<scheme>https?)://)?(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?/?")
_ENDPOINT = re.compile(
    r"(?P<scheme>https?)://(?P<host>[a-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?(?P<rest>[/?][\x21-\x5b\x5d-\x7e]*)?",
    re.IGNORECASE,
)
_BASE64 = re.compile(r"[A-Za-z0-9_+/-]+={0,2}")


class InvalidConfiguration(ConfigurationError):
    """The message names the variable and what is wrong, for an operator."""


@dataclass(frozen=True)
class AllowedHost:
    """One entry of WEB_PUSH_ALLOWED_HOSTS: a host (or every host under a
    domain, for "*.domain"), with its scheme and port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, entry: str) -> AllowedHost:
        """A plain entry (fcm.googleapis.com, *.notify.windows.com) means
        https on port 443; one written with a scheme (http://127.0.0.1:9000)
        allows exactly that scheme, host and port."""
        match = _ENTRY.fullmatch(entry.strip().lower())
        if match is None or (match["port"] and not match["scheme"]):
            raise InvalidConfiguration(
                "WEB_PUSH_ALLOWED_HOSTS must list hosts (fcm.googleapis.com, *.notify.windows.com) or"
                f" scheme://host:port entries (http://127.0.0.1:9000), got {entry!r}."
            )
        scheme = match["scheme"] or "https"
        port = int(match["port"]) if match["port"] else _DEFAULT_PORTS[scheme]
        if not 0 < port < 65536:
            raise InvalidConfiguration(f"WEB_PUSH_ALLOWED_HOSTS: {entry!r} has no valid port.")
        return cls(scheme=scheme, host=match["host"], port=port)

    def admits(self, scheme: str, host: str, port: int) -> bool:
        if (scheme, port) != (self.scheme, self.port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def allowed_hosts(entries: list[str]) -> tuple[AllowedHost, ...]:
    return tuple(AllowedHost.parse(entry) for entry in entries)


def endpoint_allowed(endpoint: str, hosts: tuple[AllowedHost, ...] | None = None) -> bool:
    """Whether the server may post to `endpoint`: an http(s) URL whose scheme,
    host and port an entry of WEB_PUSH_ALLOWED_HOSTS admits."""
    return push_service(endpoint, hosts) is not None


def push_service(endpoint: str, hosts: tuple[AllowedHost, ...] | None = None) -> str | None:
    """The allowed push service `endpoint` goes to, as "host:port" (one name
    however an endpoint writes it: FCM.googleapis.com:443 is
    fcm.googleapis.com:443); None when the server may not post to it."""
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        return None
    match = _ENDPOINT.fullmatch(endpoint)
    if match is None:
        return None
    scheme, host = match["scheme"].lower(), match["host"].lower()
    port = int(match["port"]) if match["port"] else _DEFAULT_PORTS[scheme]
    hosts = settings.WEB_PUSH_ALLOWED_HOSTS if hosts is None else hosts
    if not any(allowed.admits(scheme, host, port) for allowed in hosts):
        return None
    return f"{host}:{port}"


def encode_key(raw: bytes) -> str:
    """base64url without padding, as browsers and VAPID write keys."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_key(value: str) -> bytes | None:
    """The bytes of a base64url (or base64) key, padded or not; None when it
    is not one."""
    if not _BASE64.fullmatch(value):
        return None
    value = value.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def valid_public_key(value: str) -> bool:
    """A subscription's p256dh: an uncompressed point of P-256 (65 bytes)."""
    raw = decode_key(value)
    if raw is None or len(raw) != 65:
        return False
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return False
    return True


def valid_auth_secret(value: str) -> bool:
    """A subscription's auth: 16 bytes."""
    raw = decode_key(value)
    return raw is not None and len(raw) == 16


def load_vapid_key(value: str) -> Vapid:
    """VAPID_PRIVATE_KEY as a Vapid signer: a PEM (the newlines may be
    written \\n, as one line of an environment file), or the base64url raw
    key of 32 bytes (what `make run` writes), or a base64 DER key. A P-256
    key only."""
    text = value.strip().replace("\\n", "\n")
    try:
        if "-----BEGIN" in text:
            vapid = Vapid.from_pem(text.encode())
        else:
            vapid = Vapid.from_string(text)
    except (VapidException, ValueError, TypeError, binascii.Error) as exc:
        raise InvalidConfiguration(
            "VAPID_PRIVATE_KEY must be a P-256 private key, as PEM or as the base64url raw key"
            f" (generate one with: python manage.py vapid_key); it could not be read ({type(exc).__name__})."
        ) from None
    if (
        not isinstance(vapid.private_key, ec.EllipticCurvePrivateKey)
        or vapid.private_key.curve.name != "secp256r1"
    ):
        raise InvalidConfiguration("VAPID_PRIVATE_KEY must be a key of the P-256 curve (prime256v1).")
    return vapid


def check_subject(value: str) -> str:
    """VAPID_SUBJECT: how a push service reaches the sender, mailto: or https:."""
    if not re.fullmatch(r"mailto:[^\s@]+@[^\s@]+|https://[^\s/]+(?:/\S*)?", value):
        raise InvalidConfiguration(
            "VAPID_SUBJECT must be a mailto: address or an https: URL (mailto:ops@example.com),"
            f" got {value!r}."
        )
    return value


@functools.cache
def vapid() -> Vapid | None:
    """The signer of VAPID_PRIVATE_KEY; None when Web Push is off."""
    if not settings.VAPID_PRIVATE_KEY:
        return None
    return load_vapid_key(settings.VAPID_PRIVATE_KEY)


def public_key() -> str | None:
    """The application server key a browser subscribes with (base64url of
    the uncompressed point), or None when Web Push is off."""
    signer = vapid()
    if signer is None:
        return None
    return encode_key(signer.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def new_vapid_key() -> tuple[str, str]:
    """A new P-256 key pair: the private key as VAPID_PRIVATE_KEY takes it
    (base64url of its 32 bytes) and the public key (base64url point)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return encode_key(private), encode_key(public)
