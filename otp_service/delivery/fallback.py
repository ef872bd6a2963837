"""When a code that Telnyx took does not arrive, and how to try again: the fallback policy
of a profile (``fallback``) or of the service (``OTP_FALLBACK``), as JSON::

    {"on": ["delivery_failed", "sending_failed", "no_receipt"],
     "no_receipt_seconds": 20, "to": "whatsapp", "max_fallbacks": 1}

- ``on``: the triggers — a ``delivery_failed`` or ``sending_failed`` receipt, or no
  ``delivered`` receipt within ``no_receipt_seconds`` (``no_receipt``; 0, the default, is off).
- ``to``: ``next_sender`` (the route's next sender of the same channel: after the one that
  failed, then before it; none used already), ``whatsapp`` or ``sms`` (the destination's
  senders of that channel).
- ``max_fallbacks``: fallback sends per verification (1 to 3, default 1).

The worker sends them (``verification/fallback.py``); this module only reads the policy.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otp_service.delivery.senders import Sender
from otp_service.errors import ConfigError

__all__ = [
    "FALLBACK_TARGETS",
    "FALLBACK_TRIGGERS",
    "FallbackPolicy",
    "fallback_from",
    "never_sends",
]

FALLBACK_TRIGGERS = ("delivery_failed", "sending_failed", "no_receipt")
FALLBACK_TARGETS = ("next_sender", "whatsapp", "sms")
MAX_FALLBACKS = 3  # codes live at once: max_fallbacks + 1 (see docs/security.md)
NO_RECEIPT_SECONDS = (5, 600)


@dataclass(frozen=True)
class FallbackPolicy:
    on: frozenset[str] = frozenset({"delivery_failed", "sending_failed"})
    no_receipt_seconds: int = 0  # 0: no timer
    to: str = "next_sender"
    max_fallbacks: int = 1

    def fires_on(self, trigger: str) -> bool:
        if trigger == "no_receipt":
            return self.waits_for_receipt
        return trigger in self.on

    @property
    def waits_for_receipt(self) -> bool:
        """Whether each send starts a no-receipt timer."""
        return "no_receipt" in self.on and self.no_receipt_seconds > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "on": sorted(self.on, key=FALLBACK_TRIGGERS.index),
            "no_receipt_seconds": self.no_receipt_seconds,
            "to": self.to,
            "max_fallbacks": self.max_fallbacks,
        }


def fallback_from(raw: Any, name: str = "OTP_FALLBACK") -> FallbackPolicy:
    """A policy checked from its JSON value; ``ConfigError`` naming ``name`` otherwise."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name} is not valid JSON: {exc.msg}") from None
    fields = ("on", "no_receipt_seconds", "to", "max_fallbacks")
    if not isinstance(raw, dict) or set(raw) - set(fields):
        raise ConfigError(f"{name} must be an object of {', '.join(fields)}")
    on = raw.get("on", sorted(FallbackPolicy.on))
    if not isinstance(on, list) or not all(t in FALLBACK_TRIGGERS for t in on):
        raise ConfigError(f'{name}: "on" must be a list of {", ".join(FALLBACK_TRIGGERS)}')
    seconds = raw.get("no_receipt_seconds", 0)
    low, high = NO_RECEIPT_SECONDS
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not (seconds == 0 or low <= seconds <= high)
    ):
        raise ConfigError(f'{name}: "no_receipt_seconds" must be 0 (off) or {low} to {high}')
    if "no_receipt" in on and not seconds:
        raise ConfigError(f'{name}: "no_receipt" needs "no_receipt_seconds"')
    to = raw.get("to", "next_sender")
    if to not in FALLBACK_TARGETS:
        raise ConfigError(f'{name}: "to" must be one of {", ".join(FALLBACK_TARGETS)}')
    most = raw.get("max_fallbacks", 1)
    if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= MAX_FALLBACKS:
        raise ConfigError(f'{name}: "max_fallbacks" must be an integer from 1 to {MAX_FALLBACKS}')
    return FallbackPolicy(frozenset(on), seconds, to, most)


def never_sends(policy: FallbackPolicy, routes: Mapping[str, tuple[Sender, ...]]) -> str | None:
    """Why ``policy`` could never send a fallback through ``routes``, or None: ``to`` a
    channel no route has a sender of, or ``next_sender`` where no route has two senders of
    one channel (a country's senders of a channel replace those of ``"*"``). A policy
    of no triggers (``"on": []``, fallback off) has nothing to check."""
    if not policy.on:
        return None
    if policy.to in ("sms", "whatsapp"):
        if not any(s.channel == policy.to for senders in routes.values() for s in senders):
            return f'"to": "{policy.to}" needs a {policy.to} sender in the routes: there is none'
        return None
    if not any(
        most >= 2
        for senders in routes.values()
        for most in Counter(s.channel for s in senders).values()
    ):
        return (
            '"to": "next_sender" needs a route with two senders of one channel: each route '
            "has one, so a fallback would have no sender to try"
        )
    return None
