"""The events a customer's endpoint can subscribe to, and the body each is sent with.

Body: ``{"type", "timestamp", "data"}`` where ``data`` is the verification or factor as
the API returns it, at the moment of the change (the outbox keeps a snapshot). The
``webhook-id`` of an event is derived from where the outbox holds it, so it is the same
at every retry and every replay, for every endpoint: receivers deduplicate on it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otp_service.store.outbox import OutboxEntry
from otp_service.timefmt import iso_time

__all__ = [
    "EVENT_TYPES",
    "HISTORY_TYPES",
    "INTERNAL_TYPES",
    "PING",
    "Event",
    "Renderer",
    "body_of",
    "webhook_id_of",
]

EVENT_TYPES = (
    "verification.created",
    "verification.sent",
    "verification.delivered",
    "verification.delivery_failed",
    "verification.fallback_sent",
    "verification.approved",
    "verification.failed",
    "verification.canceled",
    "verification.expired",
    "factor.verified",
    "factor.deleted",
)
# in the outbox for the worker's own use (a no-receipt timer fired; a final receipt of a
# send before the latest, for the insights; a send refused for good ended the
# verification, for its history record; a final receipt without a public event,
# delivery_unconfirmed or expired, for the history record and the cost), never sent out
INTERNAL_TYPES = frozenset(
    {
        "verification.no_receipt",
        "verification.earlier_receipt",
        "verification.send_refused",
        "verification.final_receipt",
    }
)
# the events whose verification's delivery history the worker's consumers read: a
# verification's history record (it ended), Telnyx's cost of a message (a final receipt),
# the senders a fallback has used already (a failed or missing receipt)
HISTORY_TYPES = frozenset(
    {
        "verification.no_receipt",
        "verification.approved",
        "verification.failed",
        "verification.canceled",
        "verification.expired",
        "verification.delivered",
        "verification.delivery_failed",
        "verification.earlier_receipt",
        "verification.send_refused",
        "verification.final_receipt",
    }
)
# sent only by an operator's test of an endpoint, whatever it subscribes to
PING = "ping"

# (outbox entry) -> the API object the event carries, or None when it cannot be rendered
Renderer = Callable[[OutboxEntry], dict[str, Any] | None]


@dataclass(frozen=True)
class Event:
    webhook_id: str
    type: str
    profile: str
    at: int  # ms
    data: dict[str, Any]


def webhook_id_of(shard: str, entry_id: str) -> str:
    """A stable id for the outbox entry (stream ids are unique within a shard only)."""
    digest = hashlib.sha256(f"{shard}/{entry_id}".encode()).digest()[:15]
    return "msg_" + base64.b32encode(digest).decode().lower()


def body_of(event: Event) -> bytes:
    return json.dumps(
        {"type": event.type, "timestamp": iso_time(event.at), "data": event.data},
        separators=(",", ":"),
    ).encode()
