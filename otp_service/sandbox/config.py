"""Sandbox settings: one small value object, defaults that work with no environment at all."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from otp_service.telnyx.webhooks import generate_signing_key, public_key_b64

__all__ = ["DEFAULT_API_KEY", "SandboxConfig", "load_signing_key", "signing_key_b64"]

DEFAULT_API_KEY = "sandbox-key"


def load_signing_key(value: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from the base64 of its 32-byte seed."""
    try:
        raw = base64.b64decode(value.strip() + "=" * (-len(value.strip()) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the signing key is the base64 of a 32-byte Ed25519 seed") from exc
    if len(raw) != 32:
        raise ValueError("the signing key is the base64 of a 32-byte Ed25519 seed")
    return Ed25519PrivateKey.from_private_bytes(raw)


def signing_key_b64(key: Ed25519PrivateKey) -> str:
    """The base64 seed of ``key``: what ``SANDBOX_SIGNING_KEY`` holds."""
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode("ascii")


@dataclass
class SandboxConfig:
    """How the sandbox behaves; every field has a default that suits local development.

    ``webhook_url`` is where events go when neither the message nor its messaging profile
    names a URL. ``webhook_delay`` separates ``message.sent`` from ``message.finalized``.
    """

    api_key: str = DEFAULT_API_KEY
    signing_key: Ed25519PrivateKey = field(default_factory=generate_signing_key)
    webhook_url: str | None = None
    webhook_delay: float = 0.2
    webhook_max_attempts: int = 3
    webhook_retry_delay: float = 0.5  # doubled after every failed attempt
    webhook_timeout: float = 5.0
    webhook_workers: int = 4
    default_page_size: int = 20
    max_messages: int = 50_000  # the oldest are forgotten beyond this (long benchmarks)
    timeout_fault_seconds: float = 30.0  # how long ``X-Sandbox-Fault: timeout`` holds a response
    seed: int = 20240611

    @property
    def public_key(self) -> str:
        return public_key_b64(self.signing_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxConfig:
        """Read ``SANDBOX_*`` variables; unset ones keep their defaults.

        ``SANDBOX_SIGNING_KEY`` is a base64 32-byte seed, ``SANDBOX_SIGNING_KEY_FILE`` a file
        holding one; with neither, a fresh key is generated (``GET /_sandbox/public_key``).
        """
        env = os.environ if environ is None else environ
        config = cls()
        if env.get("SANDBOX_API_KEY"):
            config.api_key = env["SANDBOX_API_KEY"]
        if env.get("SANDBOX_SIGNING_KEY"):
            config.signing_key = load_signing_key(env["SANDBOX_SIGNING_KEY"])
        elif env.get("SANDBOX_SIGNING_KEY_FILE"):
            config.signing_key = load_signing_key(Path(env["SANDBOX_SIGNING_KEY_FILE"]).read_text())
        if env.get("SANDBOX_WEBHOOK_URL"):
            config.webhook_url = env["SANDBOX_WEBHOOK_URL"]
        if env.get("SANDBOX_WEBHOOK_DELAY"):
            config.webhook_delay = float(env["SANDBOX_WEBHOOK_DELAY"])
        return config
