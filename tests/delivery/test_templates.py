"""Message text per locale, and the one-segment promise of every shipped template."""

from __future__ import annotations

import pytest

from otp_service.delivery.templates import (
    TEMPLATES,
    encoding,
    is_gsm7,
    render_text,
    segments,
    template_for,
)

LONGEST_CODE = "1234567890"
APP_NAME_30 = "Acme Online Banking Services 1"
UCS2_LOCALES = {"es", "pt", "zh", "ja"}  # "código" has ó; CJK


def test_the_shipped_locales_include_the_six_the_issue_names():
    assert {"en", "es", "fr", "de", "pt", "zh"} <= set(TEMPLATES)


@pytest.mark.parametrize("locale", sorted(TEMPLATES))
def test_every_template_fits_one_segment_with_a_10_digit_code_and_a_30_character_name(locale):
    assert len(APP_NAME_30) == 30 and is_gsm7(APP_NAME_30)
    for ttl in (60, 600):  # "1 minute" and the longest duration, "10 minutes"
        text = render_text(code=LONGEST_CODE, app_name=APP_NAME_30, ttl_seconds=ttl, locale=locale)
        assert LONGEST_CODE in text and APP_NAME_30 in text
        assert encoding(text) == ("UCS-2" if locale in UCS2_LOCALES else "GSM-7")
        assert segments(text) == 1, (locale, len(text), text)


@pytest.mark.parametrize("locale", sorted(TEMPLATES))
def test_every_template_names_code_app_and_duration_once(locale):
    template = TEMPLATES[locale]
    for placeholder in ("{code}", "{app_name}", "{duration}"):
        assert template.text.count(placeholder) == 1
    assert "{n}" in template.other


def test_english_is_the_text_the_first_cut_sent():
    text = render_text(code="123456", app_name="Acme", ttl_seconds=600)
    assert text == "123456 is your Acme verification code. It expires in 10 minutes."
    one = render_text(code="123456", app_name="Acme", ttl_seconds=90)
    assert one.endswith("It expires in 1 minute.")


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("pt-BR", "pt"),
        ("pt_BR", "pt"),
        ("ES", "es"),
        ("zh-Hant-TW", "zh"),
        ("de-AT", "de"),
        ("nl", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_the_language_part_of_the_locale_picks_the_template_and_unknown_is_english(
    locale, language
):
    assert template_for(locale)[0] == language


def test_webotp_line_is_last_and_the_app_hash_comes_before_it():
    text = render_text(
        code="123456",
        app_name="Acme",
        ttl_seconds=600,
        locale="fr",
        webotp_domain="acme.example",
        app_hash="FA+9qCX9VSu",
    )
    lines = text.split("\n")
    assert lines[0].startswith("123456 est votre code")
    assert lines[1] == "FA+9qCX9VSu"
    assert lines[-1] == "@acme.example #123456"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension-table characters take two septets
        ("€" * 81, 2),
        ("ó" * 70, 1),  # one character outside GSM-7 makes the message UCS-2
        ("ó" * 71, 2),
        ("验" * 134, 2),
        ("验" * 135, 3),
        ("😀" * 35, 1),  # a surrogate pair is two UCS-2 code units
        ("😀" * 36, 2),
    ],
)
def test_segments_count_gsm7_septets_and_ucs2_code_units(text, expected):
    assert segments(text) == expected


@pytest.mark.parametrize(
    ("char", "gsm"),
    [
        ("é", True),
        ("è", True),
        ("ä", True),
        ("Ç", True),
        ("ç", False),
        ("á", False),
        ("ó", False),
        ("€", True),
        ("[", True),
        ("`", False),
        ("\n", True),
    ],
)
def test_gsm7_covers_the_basic_and_extension_tables_only(char, gsm):
    assert is_gsm7(char) is gsm


def test_an_app_name_outside_gsm7_switches_the_message_to_ucs2():
    text = render_text(code="123456", app_name="Café Olá", ttl_seconds=600)
    assert encoding(text) == "UCS-2"
