"""Which senders may carry a code to a destination, read once from the environment.

``OTP_ROUTES`` (inline JSON) or ``OTP_ROUTES_FILE`` (a path to the same JSON), not both,
maps a destination country — ISO 3166 alpha-2, as ``phonenumbers`` finds it from the
number — or ``"*"`` to an ordered list of senders (fields per type in ``senders.py``)::

    {"US": [{"type": "short_code", "from": "22395"},
            {"type": "number_pool", "messaging_profile_id": "efe9e056-…"}],
     "CA": [{"type": "long_code", "from": "+13125550120"}],
     "*":  [{"type": "number_pool", "messaging_profile_id": "1c0dfc8f-…"}]}

A channel (``sms`` or ``whatsapp``) uses the senders of its kind from the destination's
own list; when that list has none (or there is no list), those of ``"*"``. A country's
list replaces ``"*"``: they are not merged. Without ``OTP_ROUTES`` the one route is
``"*"``: a long code from ``TELNYX_FROM_NUMBER``, then the number pool of
``TELNYX_MESSAGING_PROFILE_ID``, whichever are set. ``OTP_WHATSAPP_FROM`` (with
``OTP_WHATSAPP_MESSAGING_PROFILE_ID``) adds a WhatsApp sender to ``"*"``.

A country's value may also be an object, ``{"order": "adaptive", "senders": [...],
"min_sends"?: 100, "exploration"?: 0.05}``: its senders are ordered by measured
conversion (``adaptive.py``); ``"order": "configured"`` is the plain list.

``OTP_FALLBACK`` (JSON, ``fallback.py``) says when the worker sends another code after
a failed or missing delivery receipt.

``OTP_ALLOWED_COUNTRIES`` (comma-separated alpha-2, empty = every country) refuses other
destinations before anything is stored or sent, like Telnyx Verify's whitelisted
destinations. Anything invalid raises ``ConfigError`` with one line naming the variable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers

from otp_service.delivery.adaptive import RouteOrder
from otp_service.delivery.fallback import FallbackPolicy, fallback_from, never_sends
from otp_service.delivery.senders import SENDER_TYPES, Sender
from otp_service.delivery.templates import is_app_hash, is_webotp_domain
from otp_service.errors import ConfigError
from otp_service.phones import E164

__all__ = [
    "DeliveryConfig",
    "WhatsAppTemplate",
    "load_delivery_config",
    "parse_routes",
    "route_key",
    "route_orders_from",
    "routes_from",
    "routes_json",
    "senders_for",
    "whatsapp_template",
]

ANY_COUNTRY = "*"
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_UUID_MSG = "must be a messaging profile id (a UUID)"
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:_[A-Z]{2,4})?$")
_LOCALE_KEY = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")
# Telnyx: alphanumeric sender IDs cannot send to the US, Canada or Puerto Rico
# (developers.telnyx.com/docs/messaging/messages/alphanumeric-sender-id).
_NO_ALPHANUMERIC = frozenset({"US", "CA", "PR"})


@dataclass(frozen=True)
class WhatsAppTemplate:
    """The authentication template: its name, and its language per request locale."""

    name: str = "otp_verification"
    language: str = "en_US"
    languages: Mapping[str, str] = field(default_factory=dict)  # "pt-br"/"pt" -> "pt_BR"

    def language_for(self, locale: str | None) -> str:
        tag = (locale or "").replace("_", "-").lower()
        return self.languages.get(tag) or self.languages.get(tag.split("-")[0]) or self.language


@dataclass(frozen=True)
class DeliveryConfig:
    routes: Mapping[str, tuple[Sender, ...]] = field(default_factory=dict)
    allowed_countries: frozenset[str] = frozenset()  # empty: every country
    whatsapp: WhatsAppTemplate = field(default_factory=WhatsAppTemplate)
    webotp_domain: str | None = None
    android_app_hash: str | None = None
    # the routes ordered by conversion ("order": "adaptive"): country or "*" -> how
    orders: Mapping[str, RouteOrder] = field(default_factory=dict)
    fallback: FallbackPolicy | None = None  # OTP_FALLBACK; None: no fallback sends

    def allows(self, country: str | None) -> bool:
        return not self.allowed_countries or country in self.allowed_countries

    def senders_for(self, country: str | None, channel: str) -> tuple[Sender, ...]:
        """The ordered senders of ``channel`` for a destination country (None: unknown)."""
        return senders_for(self.routes, country, channel)

    @classmethod
    def default(
        cls, *, from_number: str | None = None, messaging_profile_id: str | None = None
    ) -> DeliveryConfig:
        """The route without ``OTP_ROUTES``: a long code, then a number pool, to anywhere."""
        senders = []
        if from_number:
            senders.append(Sender("long_code", from_=from_number))
        if messaging_profile_id:
            senders.append(Sender("number_pool", messaging_profile_id=messaging_profile_id))
        return cls(routes={ANY_COUNTRY: tuple(senders)} if senders else {})


def senders_for(
    routes: Mapping[str, tuple[Sender, ...]], country: str | None, channel: str
) -> tuple[Sender, ...]:
    """The ordered senders of ``channel`` in ``routes`` for a destination country: its
    own list's, else those of ``"*"``."""
    key = route_key(routes, country, channel)
    return tuple(s for s in routes.get(key or "", ()) if s.channel == channel)


def route_key(
    routes: Mapping[str, tuple[Sender, ...]], country: str | None, channel: str
) -> str | None:
    """Which route serves ``channel`` to ``country``: the country's, else ``"*"``."""
    for key in (country, ANY_COUNTRY):
        if any(s.channel == channel for s in routes.get(key or "", ())):
            return key
    return None


def load_delivery_config(
    get: Callable[[str], str | None], *, production: bool = False
) -> DeliveryConfig:
    """Read the delivery variables through ``get`` (name -> stripped value or None)."""
    inline, path = get("OTP_ROUTES"), get("OTP_ROUTES_FILE")
    if inline and path:
        raise ConfigError("set OTP_ROUTES or OTP_ROUTES_FILE, not both")
    source = None  # the routes JSON, when given
    if inline:
        source = inline
        routes = parse_routes(inline, "OTP_ROUTES")
    elif path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"OTP_ROUTES_FILE: cannot read {path}: {reason}") from None
        source = text
        routes = parse_routes(text, "OTP_ROUTES_FILE")
    else:
        routes = dict(
            DeliveryConfig.default(
                from_number=get("TELNYX_FROM_NUMBER"),
                messaging_profile_id=get("TELNYX_MESSAGING_PROFILE_ID"),
            ).routes
        )

    whatsapp_from = get("OTP_WHATSAPP_FROM")
    whatsapp_profile = get("OTP_WHATSAPP_MESSAGING_PROFILE_ID")
    if whatsapp_profile and not whatsapp_from:
        raise ConfigError("OTP_WHATSAPP_MESSAGING_PROFILE_ID needs OTP_WHATSAPP_FROM")
    if whatsapp_from:
        _check(E164.fullmatch(whatsapp_from), "OTP_WHATSAPP_FROM must be an E.164 number")
        if whatsapp_profile:
            _check(
                _UUID.fullmatch(whatsapp_profile), f"OTP_WHATSAPP_MESSAGING_PROFILE_ID {_UUID_MSG}"
            )
        sender = Sender("whatsapp", from_=whatsapp_from, messaging_profile_id=whatsapp_profile)
        routes[ANY_COUNTRY] = (*routes.get(ANY_COUNTRY, ()), sender)

    fallback = get("OTP_FALLBACK")
    if production and not any(s.channel == "sms" for r in routes.values() for s in r):
        raise ConfigError(
            "OTP_ROUTES, TELNYX_FROM_NUMBER or TELNYX_MESSAGING_PROFILE_ID is required "
            "in production (no SMS sender configured)"
        )
    policy = fallback_from(fallback, "OTP_FALLBACK") if fallback else None
    why = never_sends(policy, routes) if policy else None
    if why:
        raise ConfigError(f"OTP_FALLBACK: {why}")
    return DeliveryConfig(
        routes=routes,
        allowed_countries=_countries(get("OTP_ALLOWED_COUNTRIES") or ""),
        whatsapp=_whatsapp_template(get),
        webotp_domain=_webotp_domain(get("OTP_WEBOTP_DOMAIN")),
        android_app_hash=_app_hash(get("OTP_ANDROID_APP_HASH")),
        orders=route_orders_from(json.loads(source)) if source else {},
        fallback=policy,
    )


def parse_routes(text: str, name: str = "OTP_ROUTES") -> dict[str, tuple[Sender, ...]]:
    """Parse and check the routes JSON; ``name`` is the variable named in errors."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    return routes_from(raw, name)


def routes_from(raw: Any, name: str) -> dict[str, tuple[Sender, ...]]:
    """Check routes already parsed from JSON (a profile's ``routes``, OTP_ROUTES)."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            f'{name} must be a JSON object mapping a country code or "*" to a list of senders'
        )
    routes: dict[str, tuple[Sender, ...]] = {}
    for key, senders in raw.items():
        if key != ANY_COUNTRY and key not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(
                f'{name}: "{key}" is not an ISO 3166 alpha-2 country code (like "US") or "*"'
            )
        if isinstance(senders, dict) and "senders" in senders:
            _route_order(senders, f'{name}: route "{key}"')
            senders = senders.get("senders")
        if not isinstance(senders, list) or not senders:
            raise ConfigError(
                f'{name}: route "{key}" must be a non-empty list of senders, or an object '
                'with "order" and "senders"'
            )
        routes[key] = tuple(
            _sender(spec, f'{name}: route "{key}", sender {index}', key)
            for index, spec in enumerate(senders, 1)
        )
    return routes


ROUTE_FIELDS = ("order", "senders", "min_sends", "exploration")


def _route_order(spec: dict[str, Any], where: str) -> RouteOrder | None:
    """A route's object form checked: its order (None: the configured one)."""
    for key in spec:
        if key not in ROUTE_FIELDS:
            raise ConfigError(
                f'{where}: unknown field "{key}" (a route takes {", ".join(ROUTE_FIELDS)})'
            )
    order = spec.get("order", "configured")
    _check(order in ("configured", "adaptive"), f'{where}: "order" must be configured or adaptive')
    min_sends = spec.get("min_sends", RouteOrder.min_sends)
    _check(
        isinstance(min_sends, int) and not isinstance(min_sends, bool) and 1 <= min_sends <= 10**6,
        f'{where}: "min_sends" must be an integer from 1 to 1000000',
    )
    share = spec.get("exploration", RouteOrder.exploration)
    _check(
        isinstance(share, int | float) and not isinstance(share, bool) and 0 <= share <= 0.5,
        f'{where}: "exploration" must be a number from 0 to 0.5',
    )
    if order != "adaptive":
        return None
    return RouteOrder("adaptive", min_sends, float(share))


def route_orders_from(raw: Any) -> dict[str, RouteOrder]:
    """The adaptive routes of routes JSON already checked by ``routes_from``."""
    if not isinstance(raw, dict):
        return {}
    orders = {}
    for key, spec in raw.items():
        order = _route_order(spec, key) if isinstance(spec, dict) else None
        if order is not None:
            orders[key] = order
    return orders


def routes_json(
    routes: Mapping[str, tuple[Sender, ...]], orders: Mapping[str, RouteOrder] | None = None
) -> dict[str, Any]:
    """``routes`` in the JSON form they are configured in."""
    out: dict[str, Any] = {}
    for key, senders in routes.items():
        listed = []
        for sender in senders:
            spec = {"type": sender.type, "from": sender.from_}
            spec["messaging_profile_id"] = sender.messaging_profile_id
            listed.append({k: v for k, v in spec.items() if v is not None})
        order = (orders or {}).get(key)
        out[key] = listed
        if order is not None:
            out[key] = {
                "order": order.order,
                "senders": listed,
                "min_sends": order.min_sends,
                "exploration": order.exploration,
            }
    return out


def _sender(spec: Any, where: str, country: str) -> Sender:
    if not isinstance(spec, dict):
        raise ConfigError(f'{where}: must be an object such as {{"type": "long_code", ...}}')
    kind = spec.get("type")
    if not isinstance(kind, str) or kind not in SENDER_TYPES:
        raise ConfigError(f'{where}: "type" must be one of {", ".join(SENDER_TYPES)}')
    rules = SENDER_TYPES[kind]
    allowed = ("type", *rules.required, *rules.optional)
    for key in spec:
        if key not in allowed:
            fields_ = ", ".join(f'"{k}"' for k in allowed)
            raise ConfigError(f'{where}: unknown field "{key}" (a {kind} sender takes {fields_})')
    for key in rules.required:
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise ConfigError(f'{where}: a {kind} sender needs "{key}"')
    from_, profile = spec.get("from"), spec.get("messaging_profile_id")
    if profile is not None:
        _check(
            isinstance(profile, str) and _UUID.fullmatch(profile),
            f'{where}: "messaging_profile_id" {_UUID_MSG}',
        )
    if kind == "short_code":
        _check(
            _SHORT_CODE.fullmatch(from_),
            f'{where}: "from" must be a short code of 3 to 8 digits (got {json.dumps(from_)})',
        )
    elif kind in ("long_code", "whatsapp"):
        _check(
            E164.fullmatch(from_),
            f'{where}: "from" must be an E.164 number such as +13125550100 '
            f"(got {json.dumps(from_)})",
        )
    elif kind == "alphanumeric":
        _check(
            _ALPHANUMERIC.fullmatch(from_) and re.search("[A-Za-z]", from_),
            f'{where}: "from" must be 1 to 11 letters, digits or spaces, at least one of them '
            f"a letter (got {json.dumps(from_)})",
        )
        _check(
            country not in _NO_ALPHANUMERIC,
            f"{where}: Telnyx cannot send from an alphanumeric sender ID to {country}",
        )
    return Sender(kind, from_=from_, messaging_profile_id=profile)


def _check(ok: Any, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _countries(value: str) -> frozenset[str]:
    codes = [part.strip().upper() for part in value.split(",") if part.strip()]
    for code in codes:
        _check(
            code in phonenumbers.SUPPORTED_REGIONS,
            f'OTP_ALLOWED_COUNTRIES: "{code}" is not an ISO 3166 alpha-2 country code',
        )
    return frozenset(codes)


def _whatsapp_template(get: Callable[[str], str | None]) -> WhatsAppTemplate:
    languages: dict[str, str] = {}
    for entry in (get("OTP_WHATSAPP_LANGUAGES") or "").split(","):
        if entry.strip():
            locale, _, code = (part.strip() for part in entry.partition(":"))
            languages[locale] = code
    return whatsapp_template(
        get("OTP_WHATSAPP_TEMPLATE") or WhatsAppTemplate.name,
        get("OTP_WHATSAPP_LANGUAGE") or WhatsAppTemplate.language,
        languages,
        names=("OTP_WHATSAPP_TEMPLATE", "OTP_WHATSAPP_LANGUAGE", "OTP_WHATSAPP_LANGUAGES"),
    )


def whatsapp_template(
    name: Any, language: Any, languages: Any, *, names: tuple[str, str, str]
) -> WhatsAppTemplate:
    """The template checked; ``names`` name the three values in errors (variables, or a
    profile's fields)."""
    _check(
        isinstance(name, str) and _TEMPLATE_NAME.fullmatch(name),
        f"{names[0]} must be a name of a-z, 0-9 and _",
    )
    _check(
        isinstance(language, str) and _LANGUAGE.fullmatch(language),
        f"{names[1]} must be a language code like en_US",
    )
    _check(isinstance(languages, dict), f"{names[2]} must map locales to language codes")
    checked: dict[str, str] = {}
    for locale, code in languages.items():
        key = locale.replace("_", "-").lower() if isinstance(locale, str) else ""
        _check(
            _LOCALE_KEY.fullmatch(key) and isinstance(code, str) and _LANGUAGE.fullmatch(code),
            f'{names[2]}: entries are locale:language such as "pt-BR:pt_BR" '
            f'(got "{locale}:{code}")',
        )
        checked[key] = code
    return WhatsAppTemplate(name=name, language=language, languages=checked)


def _webotp_domain(value: str | None) -> str | None:
    if not value:
        return None
    domain = value.lower()
    _check(
        is_webotp_domain(domain),
        "OTP_WEBOTP_DOMAIN must be a host name such as example.com (no scheme, port or path)",
    )
    return domain


def _app_hash(value: str | None) -> str | None:
    if value:
        _check(is_app_hash(value), "OTP_ANDROID_APP_HASH must be the app's 11-character hash")
    return value or None
