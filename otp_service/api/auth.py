"""Bearer API keys: client keys for verifications, admin keys for /v1/admin; and the
metrics token for /metrics (OTP_METRICS_TOKEN).

Only SHA-256 digests of the configured keys are held; the presented key is hashed and
compared against every configured digest in constant time (no early exit), so neither
timing nor logs reveal a key. A key of a Verify profile (``otpk_…``) is then found by its
digest in the process's cached ring (``profiles.KeyRing``: no Redis round trip); a lookup
by digest reveals nothing of the key.

``require_client`` sets ``g.key_id`` and ``g.profile_id``: ``default`` for ``OTP_API_KEYS``
and admin keys, the key's profile for a profile key. Views get the profile's settings from
``services().profiles.settings_for(g.profile_id)``.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import g, request

from otp_service import errors
from otp_service.api.http import services
from otp_service.config import ApiKey
from otp_service.ids import DEFAULT_PROFILE
from otp_service.profiles import ProfileSettings

__all__ = [
    "admin_key_id",
    "key_identity",
    "require_admin",
    "require_client",
    "require_metrics_token",
]


def _match(digest: bytes, keys: tuple[ApiKey, ...]) -> str | None:
    found = None
    for key in keys:
        if hmac.compare_digest(digest, key.digest):
            found = key.id
    return found


def _presented_digest() -> bytes:
    scheme, _, token = request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise errors.Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    return hashlib.sha256(token.encode()).digest()


def key_identity(digest: bytes) -> tuple[str, str] | None:
    """(key id, profile id) of a presented key's digest, or None: an ``OTP_API_KEYS`` or
    admin key is of the profile ``default``; a profile key of its profile."""
    found = services()
    settings = found.settings
    client_id = _match(digest, settings.api_keys)
    admin_id = _match(digest, settings.admin_keys)
    if client_id is not None or admin_id is not None:
        return client_id or admin_id, DEFAULT_PROFILE
    return found.profiles.resolve_key(digest)


def require_client() -> None:
    """Client, profile and admin keys may call the client API."""
    identity = key_identity(_presented_digest())
    if identity is None:
        raise errors.Unauthorized("the API key is not valid")
    g.key_id, g.profile_id = identity


def require_admin() -> None:
    g.key_id = admin_key_id(_presented_digest())


def admin_key_id(digest: bytes) -> str:
    """The id of the admin key of SHA-256 ``digest``: 403 for a client or profile key,
    401 for anything else. The admin API and the console's sign-in both ask here."""
    settings = services().settings
    admin_id = _match(digest, settings.admin_keys)
    if admin_id is not None:
        return admin_id
    if _match(digest, settings.api_keys) is not None or (
        services().profiles.resolve_key(digest) is not None
    ):
        raise errors.Forbidden("this route needs an admin key")
    raise errors.Unauthorized("the API key is not valid")


def require_metrics_token() -> None:
    """/metrics: open when configured so (development, or ``OTP_METRICS_TOKEN=off``),
    else the token; production without the setting serves no metrics at all."""
    settings = services().settings
    if settings.metrics_open:
        return
    if settings.metrics_token_digest is None:
        raise errors.Forbidden(
            "metrics are not served in production until OTP_METRICS_TOKEN is set (a token, or off)"
        )
    if not hmac.compare_digest(_presented_digest(), settings.metrics_token_digest):
        raise errors.Unauthorized("the metrics token is not valid")


def key_profile() -> ProfileSettings:
    """The settings of the profile of this request's key (``require_client`` ran)."""
    if g.profile_id == DEFAULT_PROFILE:
        return services().verifications.default_profile
    found = services().profiles.settings_for(g.profile_id)
    if found is None:  # deleted since the key was checked
        raise errors.Unauthorized("the API key is not valid")
    return found
