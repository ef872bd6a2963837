"""Verification ids and phone tags.

A phone number's tag is a keyed digest of the number (16 base32 characters, 80 bits):
it names the number's Redis keys and hash slot without putting the number in an id.
A verification id is that tag followed by 16 random base32 characters, so the id alone
finds the verification's slot and key in one round trip, and an id that does not match
the format is refused before Redis is touched.

A TOTP factor's subject (the customer's user id) is tagged the same way, with a key of
its own (``SubjectTagger``), and a factor id is that tag followed by 16 random characters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

__all__ = [
    "CodeHasher",
    "DEFAULT_PROFILE",
    "PROFILE_PATTERN",
    "TAG_LENGTH",
    "ID_PATTERN",
    "KeyedDigest",
    "PhoneTagger",
    "SignalTagger",
    "SubjectTagger",
    "Tagger",
    "b32",
    "generate_code",
    "new_suffix",
    "split_id",
]

ID_PATTERN = re.compile(r"[a-z2-7]{32}")  # the whole id: fullmatch
TAG_LENGTH = 16
# The profile of the environment's settings and OTP_API_KEYS; others are pf_ + 16 base32.
DEFAULT_PROFILE = "default"
PROFILE_PATTERN = re.compile(r"pf_[a-z2-7]{16}")  # the whole id: fullmatch


def b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").lower().rstrip("=")


class KeyedDigest:
    """HMAC-SHA256 under a key derived from ``secret`` for one purpose.

    Each digest copies an HMAC object keyed once. Not ``hmac.digest``: that one-shot
    C path lets go of the GIL on every call, however short the message, and under
    gunicorn's threads each release hands the interpreter to a waiting thread, so the
    request waits for its turn again (a tag or a code digest is on most requests).
    """

    def __init__(self, secret: bytes, purpose: bytes) -> None:
        key = hmac.new(secret, purpose, hashlib.sha256).digest()
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, message: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(message)
        return mac.digest()


class Tagger:
    """Keyed digests of values, under a key derived from ``secret`` for one purpose."""

    def __init__(self, secret: bytes, purpose: bytes) -> None:
        self._digest = KeyedDigest(secret, purpose).digest

    def tag(self, value: str) -> str:
        return b32(self._digest(value.encode("utf-8"))[:10])


class PhoneTagger(Tagger):
    """Derives phone tags with a key of their own, derived from the server secret."""

    def __init__(self, secret: bytes) -> None:
        super().__init__(secret, b"otp-service phone tag v1")


class SubjectTagger(Tagger):
    """Derives factor subjects' tags with a key of their own (from OTP_FACTOR_KEY)."""

    def __init__(self, secret: bytes) -> None:
        super().__init__(secret, b"otp-service subject tag v1")


class SignalTagger(Tagger):
    """Tags an end user's IP (or its /64) and device id for the guard's counters, so that
    Redis keys hold neither in plain."""

    def __init__(self, secret: bytes) -> None:
        super().__init__(secret, b"otp-service signal tag v1")


def new_suffix() -> str:
    return b32(secrets.token_bytes(10))


def split_id(verification_id: str) -> tuple[str, str] | None:
    """(tag, suffix) of a well-formed id, else None."""
    if not ID_PATTERN.fullmatch(verification_id):
        return None
    return verification_id[:TAG_LENGTH], verification_id[TAG_LENGTH:]


def generate_code(length: int) -> str:
    """A one-time code of ``length`` digits, from the CSPRNG."""
    return str(secrets.randbelow(10**length)).zfill(length)


class CodeHasher:
    """One-time codes are stored only as this keyed HMAC: bound to the phone tag they
    were issued for, under a key derived from OTP_SECRET, 128 bits kept (brute force is
    bounded by the attempt limit, not by the digest length). No code is stored or logged."""

    def __init__(self, secret: bytes) -> None:
        self._digest = KeyedDigest(secret, b"otp-service code v1").digest

    def digest(self, tag: str, code: str) -> bytes:
        return self._digest(f"{tag}:{code}".encode("ascii"))[:16]
