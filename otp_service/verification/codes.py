"""One-time codes: drawn from a CSPRNG, stored only as a keyed HMAC.

The HMAC binds the code to the phone tag it was issued for, under a key derived from
``OTP_SECRET``; only 128 bits of it are kept (brute force is bounded by the attempt
limit, not by the digest length). The code itself is never stored or logged.
"""

from __future__ import annotations

import secrets

from otp_service.ids import KeyedDigest

__all__ = ["CodeHasher", "generate_code"]


def generate_code(length: int) -> str:
    return str(secrets.randbelow(10**length)).zfill(length)


class CodeHasher:
    def __init__(self, secret: bytes) -> None:
        self._digest = KeyedDigest(secret, b"otp-service code v1").digest

    def digest(self, tag: str, code: str) -> bytes:
        return self._digest(f"{tag}:{code}".encode("ascii"))[:16]
