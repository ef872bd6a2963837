"""Phone numbers: the one E.164 rule, normalisation, the country, and masking for logs.

Every number that enters the service goes through ``normalize`` before it is stored,
compared or tagged; logs and audit lines show only ``mask_phone``'s form.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

__all__ = ["E164", "InvalidPhone", "Phone", "country_of", "mask_phone", "normalize"]

E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # the whole value: fullmatch
_MESSAGE = "must be an E.164 phone number such as +14155550123"


class InvalidPhone(ValueError):
    """Not a valid phone number; the message says why, fit for an API error."""


class Phone(str):
    """An E.164 number that remembers its country, so a request parses it only once."""

    region: str | None


def normalize(value: Any) -> Phone:
    """The E.164 form of a valid phone number, or ``InvalidPhone``."""
    if not isinstance(value, str) or not E164.fullmatch(value):
        raise InvalidPhone(_MESSAGE)
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(_MESSAGE) from None
    # a valid number has a region (validity is decided per region)
    region = phonenumbers.region_code_for_number(parsed)
    if not region or not phonenumbers.is_valid_number_for_region(parsed, region):
        raise InvalidPhone("is not a valid phone number for its country")
    phone = Phone(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
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
    """``+13125550123`` → ``+1312***0123``: enough to tell numbers apart in logs."""
    if len(phone) < 9:
        return "***"
    return f"{phone[:5]}***{phone[-4:]}"
