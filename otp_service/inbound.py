"""What each authentic Telnyx webhook event changes. No Flask: the view verified it.

- ``message.sent`` / ``message.finalized`` (deliveryUpdate): the delivery status and
  history of the verification whose message it is (``delivery_event.lua``).
- ``message.received`` (inboundMessage): an opt-out keyword (STOP, …) opts the sender out,
  an opt-in keyword (START, …) opts it back in, anything else (HELP included) changes
  nothing (``keywords.py``: the one table, ``OTP_OPTOUT_KEYWORDS`` / ``OTP_OPTIN_KEYWORDS``,
  and how a whole message is compared to it).
- ``message.link_click`` (replacedLinkClick): one more click on that verification.

Each event is applied at most once (its id is remembered for 24 hours, in the number's
hash slot, inside the same script that applies it) and costs one Redis round trip.
Events that are malformed, for numbers or messages we do not know, or of types we do not
handle are acknowledged and ignored: Telnyx would otherwise retry them for nothing. Every
number is normalised (``phones.normalize``) before it is tagged or stored; one that cannot
be is logged masked and counted as ``otp_webhook_events_total{result="invalid_number"}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from otp_service.ids import DEFAULT_PROFILE, PhoneTagger
from otp_service.keywords import DEFAULT_KEYWORDS, OPT_OUT, Keywords
from otp_service.metrics import WEBHOOK_EVENTS, child
from otp_service.phones import E164, InvalidPhone, mask_phone, normalize
from otp_service.store import Store
from otp_service.store.optouts import EVENT_TTL_MS, OptOutStore
from otp_service.timefmt import parse_iso

__all__ = ["InboundEvents"]

log = logging.getLogger(__name__)

DELIVERY_EVENTS = ("message.sent", "message.finalized")


class InvalidNumber(ValueError):
    """A webhook's number that ``phones.normalize`` refuses, ``masked`` for the log."""

    def __init__(self, masked: str) -> None:
        super().__init__("not a phone number")
        self.masked = masked


class InboundEvents:
    def __init__(
        self,
        store: Store,
        tagger: PhoneTagger,
        optouts: OptOutStore,
        clock: Callable[[], float] = time.time,
        *,
        keywords: Keywords = DEFAULT_KEYWORDS,
    ) -> None:
        self.store = store
        self.tagger = tagger
        self.optouts = optouts
        self.clock = clock
        self.keywords = keywords
        self._handlers = {
            "message.sent": self._delivery,
            "message.finalized": self._delivery,
            "message.received": self._inbound,
            "message.link_click": self._link_click,
        }

    def handle(self, body: Any, profile: str = DEFAULT_PROFILE) -> tuple[str, str]:
        """Apply one event; return (event type, outcome) for logs and metrics.

        ``profile``: whose verification a receipt or a click concerns (the webhook URL of
        a profile's sends names it); opt-outs are everyone's."""
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            child(WEBHOOK_EVENTS, "malformed", "ignored").inc()
            return "malformed", "ignored"
        event_type = data.get("event_type")
        if not event_type and data.get("record_type") == "link_clicked":
            event_type = "message.link_click"
        if not isinstance(event_type, str):
            child(WEBHOOK_EVENTS, "malformed", "ignored").inc()
            return "malformed", "ignored"
        handler = self._handlers.get(event_type)
        if handler is None:
            child(WEBHOOK_EVENTS, "unknown", "ignored").inc()
            return "unknown", "ignored"
        try:
            outcome = handler(data, profile)
        except InvalidNumber as exc:
            # never stored, tagged or compared raw: counted, and logged masked
            log.warning("webhook %s ignored: %s is not a phone number", event_type, exc.masked)
            outcome = "invalid_number"
        except (KeyError, TypeError, ValueError, IndexError):
            outcome = "ignored"
        child(WEBHOOK_EVENTS, event_type, outcome).inc()
        return event_type, outcome

    def _delivery(self, data: dict[str, Any], profile: str) -> str:
        payload = data["payload"]
        recipient = payload["to"][0]
        phone = _phone(recipient["phone_number"], lookup=True)
        message_id = _field(payload["id"])
        event_id = _field(data["id"])
        status = _field(recipient.get("status") or "")
        errors = [_error(e) for e in payload.get("errors") or []]
        tag = self.tagger.tag(phone)
        return self.store.apply_delivery_event(
            tag,
            event_id,
            message_id=message_id,
            status=status,
            occurred_at=self._ms(data.get("occurred_at")),
            errors_json=json.dumps(errors) if errors else "",
            event_type=data["event_type"],
            dedupe_ms=EVENT_TTL_MS,
            profile=profile,
            cost_json=_cost(payload.get("cost")),
        )

    def _inbound(self, data: dict[str, Any], _profile: str) -> str:
        payload = data["payload"]
        action = self.keywords.action(_field(payload.get("text") or ""))
        if action is None:
            return "ignored"
        phone = _phone(payload["from"]["phone_number"])
        at = self._ms(data.get("occurred_at"))
        event_id = _field(data["id"])
        if action == OPT_OUT:
            return self.optouts.add(phone, "inbound_stop", at_ms=at, event_id=event_id)
        return self.optouts.remove(phone, by="inbound_stop", at_ms=at, event_id=event_id)

    def _link_click(self, data: dict[str, Any], profile: str) -> str:
        phone = _phone(data["to"], bare_digits=True, lookup=True)
        message_id = _field(data["message_id"])
        event_id = (
            data.get("id")
            or hashlib.sha256(
                f"{message_id}|{data.get('time_clicked')}|{data.get('url')}".encode()
            ).hexdigest()
        )
        tag = self.tagger.tag(phone)
        return self.store.count_link_click(tag, _field(event_id), message_id, EVENT_TTL_MS, profile)

    def _ms(self, value: Any) -> int:
        """An ISO 8601 timestamp in ms; now when absent or unreadable."""
        at = parse_iso(value)
        return int(self.clock() * 1000) if at is None else at


def _field(value: Any) -> str:
    """A webhook field we use: a non-empty string of at most 200 characters, else
    ValueError (the event is acknowledged and ignored)."""
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValueError("not a usable string")
    return value


def _phone(value: Any, *, bare_digits: bool = False, lookup: bool = False) -> str:
    """A webhook's number, normalised; ``InvalidNumber`` (with the value masked) when it
    cannot be. Telnyx writes +E.164; link clicks' ``to`` comes without the + at times
    (``bare_digits``: digits only are then read as international).

    ``lookup``: the number only finds what is stored (a receipt, a click), and every
    number stored was normalised to E.164 on its way in, so an E.164 string is looked up
    as it is — phonenumbers' parse costs a webhook about a tenth of its time."""
    raw = _field(value)
    if bare_digits and raw.isascii() and raw.isdigit():
        raw = "+" + raw
    if lookup and E164.fullmatch(raw):
        return raw
    try:
        return normalize(raw)
    except InvalidPhone:
        raise InvalidNumber(mask_phone(raw)) from None


def _error(error: Any) -> dict[str, str]:
    if not isinstance(error, dict):
        return {"code": "unknown", "title": str(error)[:200]}
    out = {"code": str(error.get("code", "unknown")), "title": str(error.get("title", ""))}
    if error.get("detail"):
        out["detail"] = str(error["detail"])
    return out


def _cost(cost: Any) -> str:
    """Telnyx's cost of a message (``message.finalized``), as JSON, or '' without one."""
    if not isinstance(cost, dict) or cost.get("amount") in (None, ""):
        return ""
    try:
        amount = str(float(str(cost["amount"])))
    except ValueError:
        return ""
    currency = str(cost.get("currency") or "")[:3].upper()
    if not (currency.isascii() and currency.isalpha()):
        return json.dumps({"amount": amount, "currency": currency})
    # what json.dumps writes for these, without its encoder (a receipt's hot path)
    return f'{{"amount": "{amount}", "currency": "{currency}"}}'
