"""Secrets that must be read back (a TOTP factor's, a webhook endpoint's signing secret)
are kept in Redis only sealed: AES-256-GCM under a key derived (HKDF-SHA256) from a
server key for one purpose, bound to the id of what owns them."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidTag", "SecretBox"]

_CIPHER_VERSION = b"\x01"


class SecretBox:
    """Seal and open secrets of one purpose; a blob opens only under its owner's id."""

    def __init__(
        self,
        key_material: bytes,
        purpose: bytes = b"otp-service factor secret v1",
        owner_label: bytes = b"otp-service factor:",
    ) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
            key_material
        )
        self._aead = AESGCM(key)
        self._label = owner_label

    def seal(self, owner_id: str, secret: bytes) -> bytes:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret, self._aad(owner_id))
        return _CIPHER_VERSION + nonce + sealed

    def open(self, owner_id: str, blob: bytes) -> bytes:
        if blob[:1] != _CIPHER_VERSION:
            raise InvalidTag
        return self._aead.decrypt(blob[1:13], blob[13:], self._aad(owner_id))

    def _aad(self, owner_id: str) -> bytes:
        return self._label + owner_id.encode("ascii")
