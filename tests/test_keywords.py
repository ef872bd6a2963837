"""keywords.py: a whole message is compared to the table after NFKC, case folding and
trimming punctuation (the webhook tests in test_inbound.py drive the same through HTTP)."""

from __future__ import annotations

import pytest

from otp_service.keywords import DEFAULT_KEYWORDS, OPT_IN, OPT_OUT, Keywords, keyword_form


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("STOP", "stop"),
        ("  Stop.  ", "stop"),
        ("ＳＴＯＰ", "stop"),
        ("opt  out", "opt out"),
        ("Opt-Out!", "opt out"),
        ("OPT\u00a0OUT", "opt out"),
        ("ARRE\u0302T", "arrêt"),  # decomposed Ê is composed by NFKC
        ("¡Alto!", "alto"),
        ("STOP 🛑", "stop"),
        ("Straße", "strasse"),  # case folding, not only lower()
        ("...", ""),
    ],
)
def test_keyword_form(text: str, form: str) -> None:
    assert keyword_form(text) == form


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("STOP", OPT_OUT),
        ("revoke", OPT_OUT),
        ("opt out", OPT_OUT),
        ("OPTOUT", OPT_OUT),
        ("Arrêt", OPT_OUT),
        ("arret", OPT_OUT),
        ("parar", OPT_OUT),
        ("halt.", OPT_OUT),
        ("Start", OPT_IN),
        ("yes", OPT_IN),
        ("STOP please", None),
        ("S T O P", None),
        ("HELP", None),
        ("", None),
        ("stop" + " " * 500, None),  # longer than any keyword could be: not compared
    ],
)
def test_the_default_table(text: str, action: str | None) -> None:
    assert DEFAULT_KEYWORDS.action(text) == action


def test_a_keyword_list_is_checked() -> None:
    with pytest.raises(ValueError, match="opt-out must list at least one keyword"):
        Keywords.of([], ["START"])
    with pytest.raises(ValueError, match="both have 'stop'"):
        Keywords.of(["STOP"], ["Stop!"])
    with pytest.raises(ValueError, match="no letter or digit"):
        Keywords.of(["STOP", "?!"], ["START"])
    assert Keywords.of(["Stop", "STOP."], ["go"]).opt_out == {"stop"}
