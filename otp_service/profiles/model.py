"""A stored profile: its fields, their checks, and the preview of its message.

What a profile stores is only what it overrides (``settings.OVERRIDABLE``) and a name;
everything else falls back on the environment (``settings.effective``). The checks here
are the API's and the CLI's alike: each refusal is a 422 ``invalid_request`` whose
``errors`` name the field (``errors.templates.<language>`` for a template).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from otp_service import errors
from otp_service.config import Settings
from otp_service.delivery.fallback import fallback_from
from otp_service.delivery.routing import routes_from, routes_json, whatsapp_template
from otp_service.delivery.templates import (
    APP_NAME_MAX,
    DEFAULT_LOCALE,
    SAMPLE_APP_NAME,
    TEMPLATES,
    encoding,
    is_app_hash,
    is_gsm7,
    is_webotp_domain,
    language_of,
    render_text,
    segments,
    units,
)
from otp_service.errors import ConfigError
from otp_service.ids import CodeHasher, PhoneTagger
from otp_service.phones import E164, InvalidPhone, normalize
from otp_service.profiles.settings import (
    GUARD_CAPS,
    GUARD_MODES,
    OVERRIDABLE,
    GuardLimits,
    ProfileSettings,
)
from otp_service.timefmt import iso_time

__all__ = [
    "FIELDS",
    "RANGES",
    "SAMPLE_APP_NAME",
    "StoredProfile",
    "app_name_problems",
    "check_fields",
    "message_problems",
    "preview",
    "profile_dict",
    "settings_dict",
    "template_problem",
]

NAME_MAX = 64
FIELDS = ("name", *OVERRIDABLE)  # what a create or an update may set
RANGES = {
    "code_length": (4, 10),
    "ttl_seconds": (60, 600),
    "max_attempts": (1, 20),
    "max_sends": (1, 20),
    "resend_cooldown_seconds": (0, 3600),
}
LOCALE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}")
LANGUAGE = re.compile(r"[a-z]{2,3}")  # a template's key: the locale's language part
PLACEHOLDERS = ("{code}", "{app_name}", "{minutes}")
_BRACED = re.compile(r"\{[^{}]*\}?|\}")
_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # a newline is allowed in a text
TEMPLATE_MAX = 1000  # characters, before the one-segment check
TEST_NUMBERS_MAX = 20
CODE = re.compile(r"[0-9]+")
TEMPLATES_MAX = 50  # languages
GUARD_CAP_MAX = 10**9  # as the OTP_LIMIT_* variables
WHATSAPP_FIELDS = ("template", "language", "languages")

# What a template is measured with: the longest code, app name (SAMPLE_APP_NAME) and
# duration allowed.
SAMPLE_LONGEST_CODE = "9" * 10
SAMPLE_MINUTES = 10
# The preview's code: a sample of the length asked, never a code that was sent.
SAMPLE_DIGITS = "1234567890"


@dataclass(frozen=True)
class StoredProfile:
    id: str
    name: str | None
    overrides: dict[str, Any]  # JSON values: templates a dict, allowed_countries a list
    created_at: int  # ms
    updated_at: int  # ms

    @classmethod
    def from_json(cls, profile_id: str, raw: str | Mapping[str, Any]) -> StoredProfile:
        data = json.loads(raw) if isinstance(raw, str) else dict(raw)
        overrides = {k: data[k] for k in OVERRIDABLE if data.get(k) is not None}
        return cls(
            id=profile_id,
            name=data.get("name"),
            overrides=overrides,
            created_at=int(data.get("created_at", 0)),
            updated_at=int(data.get("updated_at", 0)),
        )

    def to_json(self) -> str:
        data = {
            "name": self.name,
            **self.overrides,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def settings_dict(profile: ProfileSettings) -> dict[str, Any]:
    """A profile's effective settings as the API shows them."""
    return {
        "app_name": profile.app_name,
        "code_length": profile.code_length,
        "ttl_seconds": profile.ttl_seconds,
        "max_attempts": profile.max_attempts,
        "max_sends": profile.max_sends,
        "resend_cooldown_seconds": profile.resend_cooldown_seconds,
        "default_locale": profile.default_locale,
        "templates": dict(profile.templates),
        "allowed_countries": sorted(profile.allowed_countries),
        "webotp_domain": profile.webotp_domain,
        "android_app_hash": profile.android_app_hash,
        "test_numbers": sorted(profile.test_numbers),  # never their codes
        "test_numbers_in_production": profile.test_numbers_in_production,
        "guard": None if profile.guard is None else guard_dict(profile.guard),
        "routes": None
        if profile.routes is None
        else routes_json(profile.routes, profile.route_orders),
        "fallback": None if profile.fallback is None else profile.fallback.to_json(),
        "whatsapp": {
            "template": profile.whatsapp.name,
            "language": profile.whatsapp.language,
            "languages": dict(profile.whatsapp.languages),
        },
    }


def guard_dict(guard: GuardLimits) -> dict[str, Any]:
    return {"mode": guard.mode, **{cap: getattr(guard, cap) for cap in GUARD_CAPS}}


def profile_dict(stored: StoredProfile, effective: ProfileSettings) -> dict[str, Any]:
    return {
        "id": stored.id,
        "name": stored.name,
        "read_only": False,
        "created_at": iso_time(stored.created_at),
        "updated_at": iso_time(stored.updated_at),
        "overrides": {
            name: sorted(value) if name == "test_numbers" else value  # never the codes' HMACs
            for name, value in sorted(stored.overrides.items())
        },
        "settings": settings_dict(effective),
    }


def check_fields(data: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """``data``'s fields checked and normalised; ``None`` kept (an update's "remove the
    override"). Every bad field is named in one 422."""
    problems: dict[str, Any] = {}
    checked: dict[str, Any] = {}
    for name, value in data.items():
        if name not in FIELDS:
            problems[name] = ["unknown field"]
            continue
        if value is None:
            checked[name] = None
            continue
        try:
            checked[name] = _check(name, value, settings)
        except _Refused as refused:
            problems[name] = refused.detail
    if problems:
        raise errors.InvalidRequest("the profile is not valid", errors=problems)
    return checked


class _Refused(Exception):
    def __init__(self, detail: Any) -> None:
        super().__init__(str(detail))
        self.detail = detail if isinstance(detail, dict) else [detail]


def _check(name: str, value: Any, settings: Settings) -> Any:
    if name in RANGES:
        low, high = RANGES[name]
        if name == "code_length":
            low = max(low, settings.min_code_length)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Refused(f"must be an integer from {low} to {high}")
        return value
    if name in ("name", "app_name"):
        most = NAME_MAX if name == "name" else APP_NAME_MAX
        if not isinstance(value, str) or not 1 <= len(value) <= most:
            raise _Refused(f"must be a string of 1 to {most} characters")
        if _CONTROLS.search(value) or "\n" in value:
            raise _Refused("must not contain control characters")
        return value
    if name == "default_locale":
        if not isinstance(value, str) or not LOCALE.fullmatch(value):
            raise _Refused("must be a locale like en or pt-BR")
        return value
    if name == "templates":
        return _templates(value)
    if name == "allowed_countries":
        return _countries(value)
    if name == "webotp_domain":
        if value == "":  # none for this profile, whatever the environment's
            return value
        domain = value.lower() if isinstance(value, str) else ""
        if not is_webotp_domain(domain):
            raise _Refused("must be a host name such as example.com (no scheme, port or path)")
        return domain
    if name == "test_numbers":
        return _test_numbers(value, settings)
    if name == "guard":
        return _guard(value)
    if name == "routes":
        try:
            routes_from(value, "routes")
        except ConfigError as exc:
            raise _Refused(str(exc)) from None
        return value
    if name == "whatsapp":
        return _whatsapp(value)
    if name == "fallback":
        try:
            return fallback_from(value, "fallback").to_json()
        except ConfigError as exc:
            raise _Refused(str(exc)) from None
    if name == "test_numbers_in_production":
        if not isinstance(value, bool):
            raise _Refused("must be true or false")
        return value
    if name == "android_app_hash":
        if value == "":  # none for this profile, whatever the environment's
            return value
        if not isinstance(value, str) or not is_app_hash(value):
            raise _Refused("must be the app's 11-character hash (A-Z, a-z, 0-9, + and /)")
        return value
    raise _Refused("unknown field")  # FIELDS and this function disagree


def _test_numbers(value: Any, settings: Settings) -> dict[str, str] | None:
    """{number: the HMAC of its fixed code}: the code itself is never stored."""
    shape = f"must be a list of at most {TEST_NUMBERS_MAX} {{phone_number, code}} objects"
    if not isinstance(value, list) or len(value) > TEST_NUMBERS_MAX:
        raise _Refused(shape)
    tagger, hasher = PhoneTagger(settings.secret), CodeHasher(settings.secret)
    digests: dict[str, str] = {}
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"phone_number", "code"}:
            raise _Refused(shape)
        phone, code = entry["phone_number"], entry["code"]
        if not isinstance(phone, str) or not E164.fullmatch(phone):
            raise _Refused("each phone_number must be an E.164 number such as +14155550123")
        try:
            phone = normalize(phone)
        except InvalidPhone as exc:
            raise _Refused(f"{phone}: {exc}") from None
        if phone in digests:
            raise _Refused(f"{phone}: each phone_number may be listed once")
        low = settings.min_code_length
        if not isinstance(code, str) or not CODE.fullmatch(code) or not low <= len(code) <= 10:
            raise _Refused(f"each code must be a string of {low} to 10 ASCII digits")
        digests[phone] = hasher.digest(tagger.tag(phone), code).hex()
    return digests or None


def _guard(value: Any) -> dict[str, Any]:
    """The caps given (0: none) and the mode, ``enforce`` unless given."""
    if not isinstance(value, dict):
        raise _Refused(
            f"must be an object of mode ({', '.join(GUARD_MODES)}) and caps: "
            + ", ".join(GUARD_CAPS)
        )
    problems: dict[str, list[str]] = {}
    for key, cap in value.items():
        if key == "mode":
            if cap not in GUARD_MODES:
                problems[key] = [f"must be one of {', '.join(GUARD_MODES)}"]
        elif key not in GUARD_CAPS:
            problems[key] = [f"unknown cap: the caps are {', '.join(GUARD_CAPS)}"]
        elif isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= GUARD_CAP_MAX:
            problems[key] = [f"must be an integer from 0 (no cap) to {GUARD_CAP_MAX}"]
    if problems:
        raise _Refused(problems)
    return {"mode": "enforce", **value}


def _whatsapp(value: Any) -> dict[str, Any]:
    """Any of template, language and languages; the others are the environment's."""
    if not isinstance(value, dict) or not value or set(value) - set(WHATSAPP_FIELDS):
        raise _Refused(
            "must be an object of template (a name of a-z, 0-9 and _), language (such as "
            'en_US) and languages (locale -> language, such as {"pt-BR": "pt_BR"})'
        )
    try:
        checked = whatsapp_template(
            value.get("template", "otp_verification"),
            value.get("language", "en_US"),
            value.get("languages", {}),
            names=("template", "language", "languages"),
        )
    except ConfigError as exc:
        raise _Refused(str(exc)) from None
    out = dict(value)
    if "languages" in value:
        out["languages"] = dict(sorted(checked.languages.items()))
    return out


def _countries(value: Any) -> list[str] | None:
    """The sorted codes; an empty list is the service-wide rule (no override)."""
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise _Refused("must be a list of ISO 3166 alpha-2 country codes such as US")
    unknown = sorted({c for c in value if c not in phonenumbers.SUPPORTED_REGIONS})
    if unknown:
        raise _Refused(f"not ISO 3166 alpha-2 country codes: {', '.join(unknown)}")
    return sorted(set(value)) or None


def _templates(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > TEMPLATES_MAX:
        raise _Refused(f"must be an object of at most {TEMPLATES_MAX} language: text pairs")
    problems: dict[str, list[str]] = {}
    for language, text in value.items():
        if not LANGUAGE.fullmatch(language):
            problems[language] = ["the key must be a language in lower case, such as en or pt"]
        elif not isinstance(text, str):
            problems[language] = ["must be a string"]
        else:
            problem = template_problem(text)
            if problem:
                problems[language] = [problem]
    if problems:
        raise _Refused(problems)
    return dict(sorted(value.items()))


def template_problem(text: str) -> str | None:
    """Why ``text`` cannot be a template, or None: it needs ``{code}``, may use only
    ``{code}``, ``{app_name}`` and ``{minutes}``, and must fit ONE SMS segment with a
    10-digit code, a 30-character app name and 10 minutes."""
    if len(text) > TEMPLATE_MAX:
        return f"must be at most {TEMPLATE_MAX} characters"
    if _CONTROLS.search(text):
        return "must not contain control characters (a newline is allowed)"
    if "{code}" not in text:
        return "must contain {code}"
    rest = text
    for placeholder in PLACEHOLDERS:
        rest = rest.replace(placeholder, "")
    unknown = sorted(set(_BRACED.findall(rest)))
    if unknown:
        return (
            f"uses unknown placeholder(s) {', '.join(unknown)}: only {{code}}, {{app_name}} "
            "and {minutes} (no other braces)"
        )
    sample = _fill(text, SAMPLE_LONGEST_CODE, SAMPLE_APP_NAME, SAMPLE_MINUTES)
    parts = segments(sample)
    if parts > 1:
        gsm7 = encoding(sample) == "GSM-7"
        counted = f"{units(sample)} {'septets' if gsm7 else 'UCS-2 code units'}"
        return (
            f"takes {parts} SMS segments in {encoding(sample)} with a 10-digit code, a "
            f"30-character app name and 10 minutes ({counted}): it must fit one (160 GSM-7 "
            "septets, two for each of ^ { } [ ] ~ | € and backslash; or 70 UCS-2 code units)"
        )
    return None


def app_name_problems(profile: ProfileSettings) -> list[str]:
    """Why the profile's own app name cannot go in the shipped template of its default
    locale (the text most of its codes go out in), or []: a name that is not GSM-7 makes
    a GSM-7 text UCS-2, and may split a message the shipped templates keep in one segment
    with any 30-character GSM-7 name. Measured with the longest code, 10 minutes and the
    lines the profile adds (a split those lines cause with any name is not the name's
    doing). The profile's own templates are measured by ``message_problems``; a request
    that asks for another language gets that language's text as it comes."""
    wanted = language_of(profile.default_locale) or DEFAULT_LOCALE
    language = wanted if wanted in TEMPLATES else DEFAULT_LOCALE  # as render_text picks
    if is_gsm7(profile.app_name) or wanted in profile.templates or language in profile.templates:
        return []  # the name is measured in the profile's own templates
    text = _longest(profile, language, profile.app_name)
    parts = segments(text)
    if parts <= segments(_longest(profile, language, SAMPLE_APP_NAME)):
        return []
    return [
        f"is not GSM-7: with it the shipped {language} message (the default locale's) takes "
        f"{parts} SMS segments in UCS-2 with a 10-digit code ({units(text)} UCS-2 code "
        "units; a code's message must fit one: 70): use GSM-7 characters only or a shorter "
        f"name, or give the profile its own {language} template"
    ]


def _longest(profile: ProfileSettings, language: str, app_name: str, own: str | None = None) -> str:
    """The text of ``language`` (the shipped template, or ``own``) as the profile would
    send it at its longest: a 10-digit code, 10 minutes, its lines."""
    return render_text(
        code=SAMPLE_LONGEST_CODE,
        app_name=app_name,
        ttl_seconds=SAMPLE_MINUTES * 60,
        locale=language,
        webotp_domain=profile.webotp_domain,
        app_hash=profile.android_app_hash,
        custom=None if own is None else {language: own},
    )


def message_problems(profile: ProfileSettings) -> dict[str, list[str]]:
    """Each of the profile's own templates that fits one segment alone (``template_problem``)
    but not as the profile's messages carry it: with the lines they end with (the app hash,
    the WebOTP line with the code), or with the profile's own app name where it is not
    GSM-7 (that makes the message UCS-2); with the longest code and duration.
    {language: [why]}."""
    lines = []
    if profile.android_app_hash:
        lines.append("the SMS Retriever app hash line")
    if profile.webotp_domain:
        lines.append(f"the WebOTP line (@{profile.webotp_domain} #code)")
    names = [(SAMPLE_APP_NAME, "a 30-character app name")]
    if not is_gsm7(profile.app_name):
        names.append((profile.app_name, f"the profile's app name {profile.app_name} (not GSM-7)"))
    if not lines and len(names) == 1:
        return {}  # what template_problem measured already
    added = f"{' and '.join(lines)} this profile adds, " if lines else ""
    problems: dict[str, list[str]] = {}
    for language, text in sorted(profile.templates.items()):
        for app_name, named in names:
            sample = _longest(profile, language, app_name, text)
            parts = segments(sample)
            if parts > 1:
                gsm7 = encoding(sample) == "GSM-7"
                counted = f"{units(sample)} {'septets' if gsm7 else 'UCS-2 code units'}"
                problems[language] = [
                    f"takes {parts} SMS segments in {encoding(sample)} with {added}a 10-digit "
                    f"code and {named} ({counted}): shorten it"
                    + (
                        ', or set webotp_domain or android_app_hash to "" (none for this profile)'
                        if lines
                        else ""
                    )
                ]
                break
    return problems


def _fill(text: str, code: str, app_name: str, minutes: int) -> str:
    return (
        text.replace("{code}", code)
        .replace("{app_name}", app_name)
        .replace("{minutes}", str(minutes))
    )


def preview(
    profile: ProfileSettings, locale: str | None, code_length: int | None
) -> dict[str, Any]:
    """The exact text a verification of ``profile`` would send, with a SAMPLE code."""
    length = code_length or profile.code_length
    code = (SAMPLE_DIGITS * 2)[:length]
    chosen = locale or profile.default_locale
    text = render_text(
        code=code,
        app_name=profile.app_name,
        ttl_seconds=profile.ttl_seconds,
        locale=chosen,
        webotp_domain=profile.webotp_domain,
        app_hash=profile.android_app_hash,
        custom=profile.templates,
    )
    return {
        "text": text,
        "encoding": encoding(text),
        "segments": segments(text),
        "locale": chosen,
        "sample_code": code,
        "note": "the code is a sample of the profile's length; a real send has a random one",
    }
