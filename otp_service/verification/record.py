"""The stored verification and the API object: the one place that knows the short field
names of a verification's Redis hash (as ``store/lua/include/view.lua`` returns them)
and what each one means."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from otp_service.delivery import SenderInfo
from otp_service.delivery.adaptive import CONFIGURED
from otp_service.timefmt import iso_time

__all__ = [
    "CHANNELS",
    "CHECK_STATUSES",
    "STATUSES",
    "VIEW_FIELDS",
    "Limits",
    "Record",
    "TIMEOUT_ERRORS",
    "api_object",
]

STATUSES = {"p": "pending", "a": "approved", "c": "canceled", "f": "failed"}
# check.lua's status letters: the stored ones, and x for a pending one past its expiry
CHECK_STATUSES = {k.encode(): v for k, v in {**STATUSES, "x": "expired"}.items()}
CHANNELS = {"sms": "s", "whatsapp": "w"}
CHANNEL_NAMES = {v: k for k, v in CHANNELS.items()}

# The hash fields view.lua returns, in its order (a test holds the two lists together).
VIEW_FIELDS = (
    "id",  # the random half of the verification id
    "ph",  # the phone number, E.164
    "ch",  # channel: s (sms) or w (whatsapp)
    "st",  # status: p, a, c or f (STATUSES)
    "ca",  # created at, ms
    "ea",  # expires at, ms
    "at",  # check attempts used
    "sn",  # sends
    "ls",  # last send at, ms
    "sd",  # the sender (SenderInfo.encode)
    "mi",  # Telnyx's message id
    "ds",  # delivery status (Telnyx's)
    "du",  # delivery status updated at, ms
    "de",  # delivery errors, JSON
    "lc",  # link clicks
    "as",  # the send whose code approved it (only after a fallback: else the latest)
    "cb",  # why the latest send's sender ('': the configured order)
    "fb",  # fallback sends made
)

# The delivery errors of a send whose Telnyx answer did not come in time.
TIMEOUT_ERRORS = json.dumps(
    [
        {
            "code": "provider_timeout",
            "title": "Telnyx did not answer in time",
            "detail": "the message may or may not have been sent",
        }
    ]
)


@dataclass(slots=True)
class Record:
    """view.lua's reply with every field named; absent fields are None."""

    suffix: str
    phone_number: str
    channel: str
    status: str
    created_at: int
    expires_at: int
    attempts: int
    sends: int
    last_sent_at: int
    sender: str | None
    message_id: str | None
    delivery_status: str | None
    delivery_updated_at: int | None
    delivery_errors: str | None
    link_clicks: int
    approved_send: int | None = None
    chosen_because: str | None = None
    fallbacks: int = 0

    @classmethod
    def from_view(cls, values: list[bytes | None]) -> Record:
        (suffix, ph, ch, st, ca, ea, at, sn, ls, sd, mi, ds, du, de, lc, as_, cb, fb) = (
            None if value is None else value.decode() for value in values
        )
        return cls(
            suffix=str(suffix),
            phone_number=str(ph),
            channel=CHANNEL_NAMES[str(ch)],
            status=STATUSES[str(st)],
            created_at=int(str(ca)),
            expires_at=int(str(ea)),
            attempts=int(at or 0),
            sends=int(str(sn)),
            last_sent_at=int(str(ls)),
            sender=sd or None,
            message_id=mi,
            delivery_status=ds,
            delivery_updated_at=int(du) if du else None,
            delivery_errors=de or None,
            link_clicks=int(lc or 0),
            approved_send=int(as_) if as_ else None,
            chosen_because=cb or None,
            fallbacks=int(fb or 0),
        )


@dataclass(frozen=True)
class Limits:
    """The settings an API object is computed with."""

    max_attempts: int
    max_sends: int
    resend_cooldown_ms: int


def api_object(
    tag: str, record: Record, history: list[bytes], limits: Limits, now: int
) -> dict[str, Any]:
    """The verification as the API returns it (openapi.yaml's Verification)."""
    status = record.status
    if status == "pending" and now >= record.expires_at:
        status = "expired"
    resend_at = None
    if status == "pending" and record.sends < limits.max_sends:
        resend_at = iso_time(record.last_sent_at + limits.resend_cooldown_ms)
    return {
        "id": tag + record.suffix,
        "phone_number": record.phone_number,
        "channel": record.channel,
        "status": status,
        "created_at": iso_time(record.created_at),
        "expires_at": iso_time(record.expires_at),
        "attempts_remaining": max(0, limits.max_attempts - record.attempts),
        "sends": record.sends,
        "resend_available_at": resend_at,
        "sender": _sender(record),
        "delivery": {
            "message_id": record.message_id,
            "status": record.delivery_status,
            "updated_at": iso_time(record.delivery_updated_at),
            "errors": json.loads(record.delivery_errors) if record.delivery_errors else [],
            "history": delivery_history(history, record.suffix),
        },
        "link_clicks": record.link_clicks,
        "test": record.sender is not None and record.sender.startswith("test|"),
        "fallbacks": record.fallbacks,
        "approved_send": (record.approved_send or record.sends) if status == "approved" else None,
    }


def _sender(record: Record) -> dict[str, Any] | None:
    """The latest send's sender, and why it was chosen."""
    if not record.sender:
        return None
    info = SenderInfo.decode(record.sender)
    because = record.chosen_because or ("test number" if info.type == "test" else CONFIGURED)
    return {**info.to_dict(), "chosen_because": because}


def delivery_history(raw: list[bytes], suffix: str) -> list[dict[str, Any]]:
    """The delivery events of verification ``suffix`` in its number's history list."""
    out = []
    for item in raw:
        entry = json.loads(item)
        if entry.get("v") != suffix or entry.get("event_type") == "send":
            continue  # a resend's previous send: for the history record only
        event = {
            "event_type": entry["event_type"],
            "status": entry["status"] or None,
            "occurred_at": iso_time(entry["occurred_at"]),
            "message_id": entry["message_id"],
        }
        if entry.get("errors"):
            event["errors"] = entry["errors"]
        out.append(event)
    return out
