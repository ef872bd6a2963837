"""What a profile may set, and how each value falls back on the environment's settings.

The environment's settings (and ``OTP_API_KEYS``) are the profile ``default``, so an
install without profiles behaves as before. A profile stores only what it overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otp_service.config import Settings
from otp_service.delivery.adaptive import RouteOrder
from otp_service.delivery.fallback import FallbackPolicy, fallback_from
from otp_service.delivery.routing import WhatsAppTemplate, route_orders_from, routes_from
from otp_service.delivery.senders import Sender
from otp_service.ids import DEFAULT_PROFILE

__all__ = [
    "DEFAULT_PROFILE",
    "GUARD_CAPS",
    "GUARD_MODES",
    "OVERRIDABLE",
    "GuardLimits",
    "ProfileSettings",
    "effective",
]

GUARD_MODES = ("enforce", "shadow", "off")
# A profile's own caps, named as the reasons of the service's (verification/guard.py).
GUARD_CAPS = (
    "phone_hourly",
    "phone_daily",
    "api_key_minute",
    "prefix_hourly",
    "country_hourly",
    "global_daily",
    "ip_hourly",
    "device_hourly",
)


@dataclass(frozen=True)
class GuardLimits:
    """A profile's own SMS-pumping caps (0: none), counted over its sends alone and in
    its own mode; the service's caps still count every profile's sends."""

    mode: str = "enforce"
    phone_hourly: int = 0
    phone_daily: int = 0
    api_key_minute: int = 0
    prefix_hourly: int = 0
    country_hourly: int = 0
    global_daily: int = 0
    ip_hourly: int = 0
    device_hourly: int = 0


@dataclass(frozen=True)
class ProfileSettings:
    """The settings one profile's verifications are made with."""

    id: str
    app_name: str
    code_length: int
    ttl_seconds: int
    max_attempts: int
    max_sends: int
    resend_cooldown_seconds: int
    default_locale: str | None = None
    # language -> text with {code}, {app_name} and {minutes}; others use the shipped ones
    templates: Mapping[str, str] = field(default_factory=dict)
    # ISO 3166 alpha-2; empty: the service-wide rule (OTP_ALLOWED_COUNTRIES)
    allowed_countries: frozenset[str] = frozenset()
    webotp_domain: str | None = None
    android_app_hash: str | None = None
    # test numbers (app-store review, end-to-end tests): E.164 number -> the HMAC of its
    # fixed code (ids.CodeHasher), hex; a create for one sends nothing
    test_numbers: Mapping[str, str] = field(default_factory=dict)
    test_numbers_in_production: bool = False
    guard: GuardLimits | None = None  # None: the service's caps only
    # country or "*" -> senders, replacing the environment's (OTP_ROUTES); None: those
    routes: Mapping[str, tuple[Sender, ...]] | None = None
    # the WhatsApp authentication template: the profile's fields over the environment's
    whatsapp: WhatsAppTemplate = field(default_factory=WhatsAppTemplate)
    # when and how the worker sends another code (OTP_FALLBACK's when not set); None: never
    fallback: FallbackPolicy | None = None
    # the adaptive routes among ``routes`` (read from them, not set on their own)
    route_orders: Mapping[str, RouteOrder] | None = None


# The fields a profile may override (all but its id and what is read from another).
OVERRIDABLE = tuple(
    name for name in ProfileSettings.__dataclass_fields__ if name not in ("id", "route_orders")
)


def effective(
    settings: Settings,
    profile_id: str = DEFAULT_PROFILE,
    overrides: Mapping[str, Any] | None = None,
) -> ProfileSettings:
    """Profile ``profile_id``'s settings: its ``overrides`` over the environment's."""
    delivery = settings.delivery
    whatsapp = delivery.whatsapp if delivery else WhatsAppTemplate()
    base: dict[str, Any] = {
        "app_name": settings.app_name,
        "code_length": settings.code_length,
        "ttl_seconds": settings.ttl_seconds,
        "max_attempts": settings.max_attempts,
        "max_sends": settings.max_sends,
        "resend_cooldown_seconds": settings.resend_cooldown_seconds,
        "webotp_domain": delivery.webotp_domain if delivery else None,
        "android_app_hash": delivery.android_app_hash if delivery else None,
        "whatsapp": whatsapp,
        "fallback": delivery.fallback if delivery else None,
    }
    given = overrides or {}
    chosen = {name: given[name] for name in OVERRIDABLE if given.get(name) is not None}
    if "code_length" in chosen:  # a floor raised since the profile was saved holds
        chosen["code_length"] = max(chosen["code_length"], settings.min_code_length)
    for mapping in ("templates", "test_numbers"):
        if mapping in chosen:
            chosen[mapping] = dict(chosen[mapping])
    if "allowed_countries" in chosen:
        chosen["allowed_countries"] = frozenset(chosen["allowed_countries"])
    if "guard" in chosen:
        chosen["guard"] = GuardLimits(**chosen["guard"])
    if "routes" in chosen:
        chosen["route_orders"] = route_orders_from(chosen["routes"])
        chosen["routes"] = routes_from(chosen["routes"], "routes")
    if "fallback" in chosen:
        chosen["fallback"] = fallback_from(chosen["fallback"], "fallback")
    if "whatsapp" in chosen:
        given = chosen["whatsapp"]
        chosen["whatsapp"] = WhatsAppTemplate(
            name=given.get("template", whatsapp.name),
            language=given.get("language", whatsapp.language),
            languages=given.get("languages", whatsapp.languages),
        )
    return ProfileSettings(id=profile_id, **{**base, **chosen})
