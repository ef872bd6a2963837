"""Telnyx webhook signatures: Ed25519 over ``"{telnyx-timestamp}|{raw body}"``.

Telnyx signs every webhook with its account key; the public half is shown in the portal
(base64, 32 bytes). ``verify_webhook`` checks the signature against every configured key
(so keys can be rotated) before anything parses the body, and refuses timestamps more
than ``tolerance`` seconds away from now in either direction (replays, skewed clocks).
``sign_webhook`` is the other side, used by the sandbox and the tests.

Verification runs on libsodium (PyNaCl): about twice as fast as OpenSSL's Ed25519 here,
and every webhook pays it. Signing keys stay ``cryptography`` keys.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from ._exceptions import TelnyxError

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookVerificationError",
    "generate_signing_key",
    "load_public_key",
    "public_key_b64",
    "sign_webhook",
    "verify_webhook",
]

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
DEFAULT_TOLERANCE = 300  # seconds, as Telnyx documents


class WebhookVerificationError(TelnyxError):
    """The webhook is not provably from Telnyx; ``reason`` says which check failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def load_public_key(value: str) -> VerifyKey:
    """Parse a base64 (standard or urlsafe) 32-byte Ed25519 public key."""
    raw = _b64decode(value.strip())
    if raw is None or len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes, base64-encoded")
    return VerifyKey(raw)


def _verify_key(key: VerifyKey | Ed25519PublicKey | str) -> VerifyKey:
    if isinstance(key, VerifyKey):
        return key
    if isinstance(key, str):
        return load_public_key(key)
    return VerifyKey(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    """The base64 form of the public half, as the Telnyx portal shows it."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def sign_webhook(
    payload: bytes, private_key: Ed25519PrivateKey, timestamp: int | None = None
) -> dict[str, str]:
    """Headers Telnyx would send with ``payload``."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    signature = private_key.sign(ts.encode("ascii") + b"|" + payload)
    return {
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
    }


def verify_webhook(
    payload: bytes,
    headers: Mapping[str, str],
    public_keys: Iterable[VerifyKey | Ed25519PublicKey | str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise ``WebhookVerificationError`` unless one key signed ``payload`` recently."""
    signature_b64 = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    if not signature_b64 or not timestamp:
        raise WebhookVerificationError("missing_headers", "signature or timestamp header missing")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookVerificationError("malformed_timestamp", "timestamp is not Unix seconds")
    signature = _b64decode(signature_b64)
    if signature is None or len(signature) != 64:
        raise WebhookVerificationError("malformed_signature", "signature is not base64 Ed25519")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise WebhookVerificationError("stale_timestamp", "timestamp outside the tolerance")
    message = timestamp.encode("ascii") + b"|" + payload
    for key in public_keys:
        try:
            _verify_key(key).verify(message, signature)
            return
        except BadSignatureError:
            continue
    raise WebhookVerificationError("bad_signature", "signature does not match any trusted key")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive; Telnyx sends lower case
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _b64decode(value: str) -> bytes | None:
    try:
        padded = value + "=" * (-len(value) % 4)
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
