"""Phone numbers: the one normalisation to E.164, the country, and masking for logs.

Every number that enters the service — API bodies, admin paths, CSV imports, Telnyx's
opt-out list and webhooks — goes through ``normalize`` before it is stored, compared or
tagged, so one subscriber is one key whatever form the number came in. Logs and audit
lines show only ``mask_phone``'s form.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

import phonenumbers

__all__ = ["E164", "InvalidPhone", "Phone", "country_of", "mask_phone", "normalize"]

E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # the whole value: fullmatch
_MESSAGE = "must be an E.164 phone number such as +14155550123"
# What ``normalize`` reads (after NFKC, so full-width digits and no-break spaces count):
# a leading + then digits and the usual formatting: spaces, dashes, dots, parentheses and
# slashes. No letters (vanity numbers, "ext."), no second +, nothing national.
_FORMATTED = re.compile(r"\+[0-9 ().\-/]+")
_MAX_FORMATTED = 40
_COUNTRY_CODES = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_MASK_VISIBLE_MAX = 6  # national digits a mask shows at most (first half, last half)


class InvalidPhone(ValueError):
    """Not a valid phone number; the message says why, fit for an API error."""


class Phone(str):
    """An E.164 number that remembers its country, so a request parses it only once."""

    region: str | None


def normalize(value: Any) -> Phone:
    """The E.164 form of a valid phone number, or ``InvalidPhone``.

    Lenient about formatting — ``+44 (0) 7911 123-457``, ``+1.312.555.0123``, the trunk
    ``0`` some write after the country code — but the number must start with ``+`` and
    be valid for its country (``phonenumbers``). The one place numbers are read: callers
    that want only the bare form (the public API) check ``E164`` first."""
    if not isinstance(value, str):
        raise InvalidPhone(_MESSAGE)
    text = value if E164.fullmatch(value) else unicodedata.normalize("NFKC", value).strip()
    if len(text) > _MAX_FORMATTED or not _FORMATTED.fullmatch(text):
        raise InvalidPhone(_MESSAGE)
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(_MESSAGE) from None
    # a valid number has a region (validity is decided per region)
    region = phonenumbers.region_code_for_number(parsed)
    if (
        parsed.extension
        or not region
        or not phonenumbers.is_valid_number_for_region(parsed, region)
    ):
        raise InvalidPhone("is not a valid phone number for its country")
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not E164.fullmatch(formatted):  # pragma: no cover - phonenumbers' valid numbers fit
        raise InvalidPhone(_MESSAGE)
    phone = Phone(formatted)
    phone.region = region
    return phone


def country_of(phone: str) -> str | None:
    """ISO 3166 alpha-2 of an E.164 number, or None when phonenumbers cannot tell."""
    known = getattr(phone, "region", None)  # a Phone: found when it was normalised
    if known:
        return known
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    if not region:  # not a valid number: the main country of its calling code
        region = phonenumbers.region_code_for_country_code(parsed.country_code)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def mask_phone(phone: str) -> str:
    """A number fit for logs: ``+13125550123`` → ``+1312****123``, ``+50051234`` → ``+5005**34``.

    The country code stays; of the national digits at least a third (rounded up) are
    hidden, one ``*`` each, and at most 6 are shown — the first and last few, enough to
    tell numbers apart. Anything (a raw webhook value, a formatted number) is read for
    its digits only, so the answer holds nothing but ``+``, digits and ``*``."""
    text = phone if isinstance(phone, str) else ""
    if E164.fullmatch(text):  # the usual case: a normalised number
        digits, plus = text[1:], True
    else:
        digits = "".join(c for c in text if "0" <= c <= "9")
        plus = text.lstrip().startswith("+")
    if not digits:
        return "***"
    code = next((digits[:n] for n in (1, 2, 3) if plus and int(digits[:n]) in _COUNTRY_CODES), "")
    national = digits[len(code) :]
    hidden = math.ceil(len(national) / 3)
    visible = min(_MASK_VISIBLE_MAX, len(national) - hidden)
    head, tail = visible // 2, visible - visible // 2
    shown_tail = national[len(national) - tail :] if tail else ""
    masked = national[:head] + "*" * (len(national) - head - tail) + shown_tail
    return ("+" if plus else "") + code + masked
