"""phones.py: the one normalisation to E.164, and masking that always hides enough."""

from __future__ import annotations

import math
import re

import phonenumbers
import pytest

from otp_service.phones import E164, InvalidPhone, Phone, country_of, mask_phone, normalize

# -- normalize ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+13125550123", "+13125550123"),
        ("+1 312 555 0123", "+13125550123"),
        ("+1 (312) 555-0123", "+13125550123"),
        ("+1.312.555.0123", "+13125550123"),
        ("  +1-312-555-0123\t", "+13125550123"),
        ("+447911123457", "+447911123457"),
        ("+44 0 7911123457", "+447911123457"),  # the trunk 0 after the country code
        ("+4407911123457", "+447911123457"),
        ("+44 (0) 7911 123-457", "+447911123457"),
        ("+44 (0)7911/123457", "+447911123457"),
        ("+44\u00a07911\u00a0123457", "+447911123457"),  # no-break spaces (NFKC)
        ("＋４４７９１１１２３４５７", "+447911123457"),  # full-width (NFKC)
        ("+39 06 1234 5678", "+390612345678"),  # Italy keeps its leading 0
        ("+500 51234", "+50051234"),
    ],
)
def test_formatted_numbers_normalise_to_e164(value: str, expected: str) -> None:
    phone = normalize(value)
    assert phone == expected
    assert isinstance(phone, Phone)
    assert E164.fullmatch(phone)
    assert normalize(phone) == phone  # a fixed point: normalising twice changes nothing


@pytest.mark.parametrize(
    "value",
    [
        "13125550123",  # no +: we do not guess a country
        "07911123457",
        "3125550123",
        "+1312",
        "+15551234567",  # not a valid number for its country
        "+447700900123",
        "+1 312 555 0123 ext 5",
        "+1 312 555 0123x5",
        "+1 312 FLOWERS",
        "+1+3125550123",
        "tel:+1-312-555-0123",
        "+1 312 555" + " " * 40 + "0123",  # longer than any formatted number
        "+" + "1" * 41,
        "+",
        "",
        "+447766****",
        13125550123,
        None,
    ],
)
def test_what_cannot_be_normalised_is_refused(value: object) -> None:
    with pytest.raises(InvalidPhone):
        normalize(value)


def test_the_country_is_found_once_and_kept() -> None:
    phone = normalize("+44 (0) 7400 123456")
    assert phone.region == "GB"
    assert country_of(phone) == "GB"
    assert country_of("+13125550123") == "US"


# -- mask_phone --------------------------------------------------------------------------


def _mask_problem(e164: str, code: str) -> str | None:
    """Why ``mask_phone(e164)`` is not good enough, or None: it must keep the country
    code, hide a third of the national digits or more (and show at most 6), and change
    no digit it shows."""
    national = e164[1 + len(code) :]
    masked = mask_phone(e164)
    rest = masked[1 + len(code) :]
    hidden = rest.count("*")
    if not re.fullmatch(r"\+[0-9*]+", masked) or not masked.startswith("+" + code):
        return f"{e164} → {masked}: not + country code, digits and *"
    if len(rest) != len(national) or any(
        m not in ("*", d) for m, d in zip(rest, national, strict=True)
    ):
        return f"{e164} → {masked}: digits changed"
    if hidden * 3 < len(national) or len(national) - hidden > 6:
        return f"{e164} → {masked}: {hidden} of {len(national)} national digits hidden"
    return None


def _every_example_number() -> list[tuple[str, str]]:
    """(E.164, country code) of every example number phonenumbers has: every region and
    every number type, and the non-geographic entities (+800, +882, …)."""
    found: set[tuple[str, str]] = set()
    types = [
        value
        for name, value in vars(phonenumbers.PhoneNumberType).items()
        if name.isupper() and isinstance(value, int)
    ]
    for region in phonenumbers.SUPPORTED_REGIONS:
        for number_type in types:
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                found.add(_e164(number))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.add(_e164(number))
    return sorted(found)


def _e164(number: phonenumbers.PhoneNumber) -> tuple[str, str]:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), str(
        number.country_code
    )


def _extreme_lengths() -> list[tuple[str, str]]:
    """For every country code, numbers of the shortest and the longest national length
    its metadata allows (possible lengths), and E.164's longest (15 digits in all)."""
    found = []
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        lengths: set[int] = set()
        for region in regions:
            if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
                meta = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(code)
            else:
                meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
            if meta is not None and meta.general_desc is not None:
                lengths |= {n for n in meta.general_desc.possible_length if n > 0}
        for n in {min(lengths, default=4), max(lengths, default=12), 15 - len(str(code))}:
            found.append((f"+{code}" + "9" * n, str(code)))
    return found


EXAMPLES = _every_example_number()
EXTREMES = _extreme_lengths()


def test_the_examples_cover_short_and_long_numbers() -> None:
    national = [len(e164) - 1 - len(code) for e164, code in EXAMPLES + EXTREMES]
    assert len(EXAMPLES) > 1000
    assert min(national) <= 4
    assert max(national) >= 13


def test_every_example_number_is_masked_enough() -> None:
    problems = [p for e164, code in EXAMPLES if (p := _mask_problem(e164, code))]
    assert problems == []


def test_the_shortest_and_longest_numbers_are_masked_enough() -> None:
    problems = [p for e164, code in EXTREMES if (p := _mask_problem(e164, code))]
    assert problems == []


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+13125550123", "+1312****123"),  # 4 of 10 national digits hidden
        ("+50051234", "+5005**34"),  # Falklands: 5 national digits, 2 hidden
        ("+447911123457", "+44791****457"),
        ("+6834001", "+6834**1"),  # Niue: 4 national digits
        ("+8613812345678", "+86138*****678"),
    ],
)
def test_the_masked_form(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
    hidden = masked.count("*")
    assert hidden >= math.ceil((len(masked) - hidden - 1) / 3)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+44 0 7911 123457", "+44079*****457"),  # formatting dropped, digits masked
        ("13125550123", "131*****123"),  # no +: no country code kept
        ("+447766****", "+447**6"),
        ("alphanumeric", "***"),
        ("", "***"),
        ("+", "***"),
    ],
)
def test_raw_values_are_masked_to_plus_digits_and_stars(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked
