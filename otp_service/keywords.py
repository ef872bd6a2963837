"""Opt-out and opt-in keywords: the one table, and how an inbound message is compared to it.

A message opts its sender out (or back in) when the whole of it is a keyword, compared in
``keyword_form``: Unicode NFKC (``ＳＴＯＰ`` is ``STOP``), case-folded, every run of
punctuation, symbols, spaces and controls made one space, trimmed — so ``Stop.``,
``opt-out`` and ``opt  out`` match, ``STOP please`` does not. ``OTP_OPTOUT_KEYWORDS`` /
``OTP_OPTIN_KEYWORDS`` (comma-separated) replace a list of ``KEYWORD_TABLE``; config.py
checks them at start-up with ``Keywords.of``.

Standard library only: config.py imports this, and the CLI imports config.py before
gunicorn has set PROMETHEUS_MULTIPROC_DIR (nothing here may import prometheus_client).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DEFAULT_KEYWORDS", "KEYWORD_TABLE", "OPT_IN", "OPT_OUT", "Keywords", "keyword_form"]

OPT_OUT, OPT_IN = "opt_out", "opt_in"
# The one table of keywords: a message that is one of them, whole, opts its sender out
# or back in. Opt-out: CTIA's and carriers' words, REVOKE and OPT OUT (named by the FCC's
# 2025 consent revocation rule as reasonable means), and the usual French, Spanish,
# Portuguese and German ones. OTP_OPTOUT_KEYWORDS / OTP_OPTIN_KEYWORDS replace a list.
KEYWORD_TABLE: dict[str, tuple[str, ...]] = {
    OPT_OUT: (
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "OPT OUT",
        "ARRET",
        "ARRÊT",
        "PARAR",
        "ALTO",
        "HALT",
    ),
    OPT_IN: ("START", "UNSTOP", "YES"),
}
KEYWORD_MAX = 40  # characters of a keyword (and so of a message worth comparing)


def keyword_form(text: str) -> str:
    """The form keywords are compared in: NFKC (``ＳＴＯＰ`` → ``STOP``), case-folded,
    every run of punctuation, symbols, spaces and controls one space, trimmed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in folded)
    return " ".join(kept.split())


@dataclass(frozen=True)
class Keywords:
    """The opt-out and opt-in keywords, in ``keyword_form``."""

    opt_out: frozenset[str]
    opt_in: frozenset[str]

    @classmethod
    def of(
        cls,
        opt_out: Iterable[str],
        opt_in: Iterable[str],
        names: tuple[str, str] = ("opt-out", "opt-in"),
    ) -> Keywords:
        """Both lists checked: ``ValueError`` naming the list (``names``) for an empty
        list, a keyword with no letter or digit, one too long, or one in both lists."""
        lists = []
        for name, words in zip(names, (opt_out, opt_in), strict=True):
            forms = set()
            for word in words:
                form = keyword_form(word)
                if not form:
                    raise ValueError(f"{name}: {word!r} has no letter or digit")
                if len(form) > KEYWORD_MAX:
                    raise ValueError(f"{name}: {word!r} is over {KEYWORD_MAX} characters")
                forms.add(form)
            if not forms:
                raise ValueError(f"{name} must list at least one keyword")
            lists.append(frozenset(forms))
        both = lists[0] & lists[1]
        if both:
            raise ValueError(f"{names[0]} and {names[1]} both have {sorted(both)[0]!r}")
        return cls(*lists)

    def action(self, text: str) -> str | None:
        """``OPT_OUT``, ``OPT_IN`` or None for a whole message."""
        if len(text) > 4 * KEYWORD_MAX:  # not a keyword, however it is spaced
            return None
        form = keyword_form(text)
        if form in self.opt_out:
            return OPT_OUT
        if form in self.opt_in:
            return OPT_IN
        return None


DEFAULT_KEYWORDS = Keywords.of(KEYWORD_TABLE[OPT_OUT], KEYWORD_TABLE[OPT_IN])
