"""The text of the message that carries a code, per locale, and how many SMS parts it takes.

A template is chosen by the language part of the request's ``locale`` (``pt-BR`` → ``pt``);
an unknown or missing locale gets English. Every shipped template, with a 10-digit code
and a 30-character app name, fits one SMS segment: 160 GSM-7 characters, or 70 UCS-2
characters for the locales whose text needs UCS-2 (es and pt for "código", zh, ja) — a
test proves it. An app name with characters outside GSM-7 turns a GSM-7 message into
UCS-2, which may then take two segments. A create's own ``app_name`` that makes its
message take more segments than a 30-character GSM-7 name would (``SAMPLE_APP_NAME``) is
refused before anything is stored (``verification/service.py``); a profile's app name
is measured with its own templates and with its default locale's shipped text when saved
(``profiles/model.py``). The environment's app name, and a profile's in another
language's shipped text, are not: such a message goes out in two segments (Telnyx joins
up to 10 parts).

Two optional lines go at the end, both configured once for the service:

- Android SMS Retriever: the app's 11-character hash (``OTP_ANDROID_APP_HASH``) on a line
  of its own. Google asks for a message of at most 140 bytes that *includes* the hash, so
  it need not be last — https://developers.google.com/identity/sms-retriever/verify
- WebOTP: ``@{domain} #{code}`` (``OTP_WEBOTP_DOMAIN``) as the very last line, the
  origin-bound one-time code format browsers read — https://web.dev/articles/web-otp

With both, the hash comes first and the WebOTP line last, so each reader finds its own.
They add 12 and ``len(domain) + 14`` characters (GSM-7) that the shipped templates'
one-segment test does not cover; a profile's own templates are measured with them
(``profiles/model.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "APP_NAME_MAX",
    "DEFAULT_LOCALE",
    "SAMPLE_APP_NAME",
    "TEMPLATES",
    "Template",
    "encoding",
    "is_app_hash",
    "is_gsm7",
    "is_webotp_domain",
    "language_of",
    "render_text",
    "segments",
    "template_for",
    "units",
]


@dataclass(frozen=True)
class Template:
    """``text`` has ``{code}``, ``{app_name}`` and ``{duration}``; the duration is ``one``
    for one minute, else ``other`` with ``{n}``."""

    text: str
    one: str
    other: str

    def render(self, *, code: str, app_name: str, minutes: int) -> str:
        duration = self.one if minutes == 1 else self.other.format(n=minutes)
        return self.text.format(code=code, app_name=app_name, duration=duration)


TEMPLATES: dict[str, Template] = {
    "en": Template(
        "{code} is your {app_name} verification code. It expires in {duration}.",
        "1 minute",
        "{n} minutes",
    ),
    # "código" needs UCS-2 (ó is not GSM-7): short enough for 70 characters.
    "es": Template("Código {app_name}: {code}. Vence en {duration}.", "1 min", "{n} min"),
    "pt": Template("Código {app_name}: {code}. Expira em {duration}.", "1 min", "{n} min"),
    "fr": Template(
        "{code} est votre code de vérification {app_name}. Il expire dans {duration}.",
        "1 minute",
        "{n} minutes",
    ),
    "de": Template(
        "{code} ist Ihr Bestätigungscode für {app_name}. Er ist {duration} gültig.",
        "1 Minute",
        "{n} Minuten",
    ),
    "it": Template(
        "{code} è il tuo codice di verifica {app_name}. Scade tra {duration}.",
        "1 minuto",
        "{n} minuti",
    ),
    "zh": Template("{code}是您的{app_name}验证码，{duration}内有效。", "1分钟", "{n}分钟"),
    "ja": Template(
        "{app_name}の確認コードは{code}です。有効期限は{duration}です。", "1分", "{n}分"
    ),
}
DEFAULT_LOCALE = "en"
# A verification's own app name is at most 30 characters (api/schemas.py); the templates'
# one-segment rule counts 30 GSM-7 ones.
APP_NAME_MAX = 30
SAMPLE_APP_NAME = "W" * APP_NAME_MAX


def language_of(locale: str | None) -> str:
    """The language of a locale such as ``pt-BR``, ``pt_BR`` or ``PT``: ``pt``."""
    return (locale or "").replace("_", "-").split("-")[0].lower()


def template_for(locale: str | None) -> tuple[str, Template]:
    """(language, template) for a locale such as ``pt-BR``, ``pt_BR`` or ``PT``."""
    language = language_of(locale)
    if language not in TEMPLATES:
        language = DEFAULT_LOCALE
    return language, TEMPLATES[language]


def render_text(
    *,
    code: str,
    app_name: str,
    ttl_seconds: int,
    locale: str | None = None,
    webotp_domain: str | None = None,
    app_hash: str | None = None,
    custom: Mapping[str, str] | None = None,
) -> str:
    """The message text. ``custom``: a profile's own texts by language (``{code}``,
    ``{app_name}``, ``{minutes}``), used for a locale whose language it has."""
    minutes = max(1, ttl_seconds // 60)
    language = language_of(locale) or DEFAULT_LOCALE
    own = (custom or {}).get(language)
    if own is None and language not in TEMPLATES:  # what a shipped text falls back on
        own = (custom or {}).get(DEFAULT_LOCALE)
    if own is not None:
        # replaced, not str.format: a stored text must not reach format's attribute access
        text = (
            own.replace("{code}", code)
            .replace("{app_name}", app_name)
            .replace("{minutes}", str(minutes))
        )
    else:
        text = template_for(locale)[1].render(code=code, app_name=app_name, minutes=minutes)
    if app_hash:
        text += "\n" + app_hash
    if webotp_domain:
        text += f"\n@{webotp_domain} #{code}"
    return text


# GSM 03.38: the basic character set (without the escape), and the extension table
# whose characters take two septets (escape + character).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in text)


def encoding(text: str) -> str:
    """``GSM-7`` or ``UCS-2``, as Telnyx reports it."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def units(text: str) -> int:
    """What an SMS's length counts: GSM-7 septets (an extension character takes two), or
    UCS-2 code units (a character outside the BMP takes two)."""
    if is_gsm7(text):
        return sum(2 if c in _GSM7_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """SMS parts: GSM-7 160 septets (153 per part when split), UCS-2 70 (67) code units."""
    single, part = (GSM7_SINGLE, GSM7_PART) if is_gsm7(text) else (UCS2_SINGLE, UCS2_PART)
    counted = units(text)
    return 1 if counted <= single else math.ceil(counted / part)


# The two optional lines' values (OTP_WEBOTP_DOMAIN, OTP_ANDROID_APP_HASH, or a profile's):
# a bare host name, and the SMS Retriever's 11-character hash.
_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_APP_HASH = re.compile(r"^[A-Za-z0-9+/]{11}$")


def is_webotp_domain(domain: str) -> bool:
    """Whether ``domain`` (lower case) is a host name: no scheme, port or path."""
    return _DOMAIN.fullmatch(domain) is not None


def is_app_hash(value: str) -> bool:
    """Whether ``value`` is an Android app's 11-character SMS Retriever hash."""
    return _APP_HASH.fullmatch(value) is not None
