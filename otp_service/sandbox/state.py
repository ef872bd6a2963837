"""In-memory state of the fake account: generic collections, the message outbox, one lock.

Handlers run under ``SandboxState.lock`` and answer deep copies, so the webhook worker can
move a message along (queued → sent → delivered) while another thread serialises it.
"""

from __future__ import annotations

import math
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import not_found
from .seed import seeded_account
from .timestamps import now_iso

__all__ = ["Collection", "Message", "SandboxState", "paginate"]


class Collection:
    """Objects of one kind keyed by ``key``, in creation order, with optional alias lookup."""

    def __init__(
        self,
        what: str,
        items: Iterable[dict[str, Any]] = (),
        *,
        key: str = "id",
        alias: str | None = None,
    ) -> None:
        self.what = what
        self.key = key
        self.alias = alias  # a second unique field that also finds an object (a phone number)
        self.items: dict[str, dict[str, Any]] = {}
        for obj in items:
            self.add(obj)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self.items.values()))

    def __len__(self) -> int:
        return len(self.items)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.items[str(obj[self.key])] = obj
        return obj

    def find(self, ident: str) -> dict[str, Any] | None:
        obj = self.items.get(ident)
        if obj is None and self.alias:
            obj = next((o for o in self.items.values() if o.get(self.alias) == ident), None)
        return obj

    def get(self, ident: str) -> dict[str, Any]:
        obj = self.find(ident)
        if obj is None:
            raise not_found(self.what)
        return obj

    def update(self, ident: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        obj = self.get(ident)
        obj.update(changes)
        if "updated_at" in obj:
            obj["updated_at"] = now_iso()
        return obj

    def delete(self, ident: str) -> dict[str, Any]:
        obj = self.get(ident)
        del self.items[str(obj[self.key])]
        return obj

    def where(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [o for o in self.items.values() if predicate(o)]


def paginate(items: list[Any], number: int, size: int) -> tuple[list[Any], dict[str, int]]:
    """One page and Telnyx's ``meta``; pages past the end are empty."""
    total = len(items)
    start = (number - 1) * size
    meta = {
        "page_number": number,
        "page_size": size,
        "total_pages": math.ceil(total / size) if size else 0,
        "total_results": total,
    }
    return items[start : start + size], meta


@dataclass
class Message:
    """A message the sandbox accepted (or received), plus what tests want to know about it."""

    data: dict[str, Any]  # the Telnyx message object, as GET /v2/messages/{id} returns it
    endpoint: str  # the path it came in on, e.g. /v2/messages/long_code
    body: dict[str, Any]  # the JSON request body as received
    created_at: str
    final_status: str = "delivered"
    error: dict[str, Any] | None = None  # reported in message.finalized errors[]
    skip_sent: bool = False  # sending_failed never reaches message.sent
    receipt_delay: float | None = None  # seconds from message.sent to message.finalized
    receipt: bool = True  # False: message.finalized never comes (a dropped receipt)
    scheduled_for: datetime | None = None
    cancelled: bool = False
    response: dict[str, Any] | None = None  # WhatsApp / RCS answer a different shape
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.data["to"][0]["status"] if self.data.get("to") else ""

    def summary(self) -> dict[str, Any]:
        """The ``GET /_sandbox/messages`` view."""
        data = self.data
        sender = data.get("from", {})
        return {
            "id": data["id"],
            "to": data["to"][0]["phone_number"] if data.get("to") else None,
            "from": sender.get("phone_number") or sender.get("agent_id"),
            "text": data.get("text"),
            "endpoint": self.endpoint,
            "messaging_profile_id": data.get("messaging_profile_id"),
            "type": self.extra.get("channel_type", data.get("type")),
            "direction": data.get("direction"),
            "status": self.status,
            # how it will end: the status of its message.finalized (None: never comes)
            "final_status": self.final_status if self.receipt else None,
            "webhook_url": data.get("webhook_url"),
            "created_at": self.created_at,
            "body": self.body,
        }


class SandboxState:
    """Every collection of the fake account; ``reset`` puts the deterministic seed back."""

    def __init__(self, seed: int, max_messages: int = 50_000) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.max_messages = max_messages
        self.reset()

    def reset(self) -> None:
        with self.lock:
            seeded = seeded_account(random.Random(self.seed))
            self.profiles = Collection("messaging profile", seeded.profiles)
            self.phone_numbers = Collection(
                "phone number", seeded.phone_numbers, alias="phone_number"
            )
            self.mobile_numbers = Collection(
                "mobile phone number", seeded.mobile_numbers, alias="phone_number"
            )
            self.hosted_numbers = Collection(
                "hosted number", seeded.hosted_numbers, alias="phone_number"
            )
            self.short_codes = Collection("short code", seeded.short_codes, alias="short_code")
            self.alphanumeric_ids = Collection("alphanumeric sender ID", seeded.alphanumeric_ids)
            self.autoresp: dict[str, Collection] = {
                profile_id: Collection("auto-response config", configs)
                for profile_id, configs in seeded.autoresp.items()
            }
            self.optouts: list[dict[str, Any]] = seeded.optouts
            self.url_domains = Collection("URL domain", seeded.url_domains)
            self.hosted_orders = Collection("hosted number order", seeded.hosted_orders)
            self.verification_codes: dict[str, dict[str, str]] = {}  # order id -> number -> code
            self.bulk_updates = Collection("bulk update order", key="order_id")
            self.tf_requests = Collection("verification request", seeded.tf_requests)
            self.tf_history: dict[str, list[dict[str, Any]]] = seeded.tf_history
            self.rcs_agents = Collection("RCS agent", seeded.rcs_agents, key="agent_id")
            self.messages: dict[str, Message] = {}

    # ids -----------------------------------------------------------------------------
    def new_uuid(self) -> str:
        """A fresh random id for an object created through the API."""
        return str(uuid.uuid4())

    def autoresp_for(self, profile_id: str) -> Collection:
        return self.autoresp.setdefault(profile_id, Collection("auto-response config"))

    # messages --------------------------------------------------------------------------
    def add_message(self, message: Message) -> None:
        self.messages[message.data["id"]] = message
        while len(self.messages) > self.max_messages:
            del self.messages[next(iter(self.messages))]  # the oldest

    def get_message(self, ident: str) -> Message:
        message = self.messages.get(ident)
        if message is None:
            raise not_found("message")
        return message

    def outbox(self, to: str | None = None) -> list[Message]:
        """Accepted outbound messages, newest first."""
        found = [
            m
            for m in self.messages.values()
            if m.data.get("direction") == "outbound"
            and (to is None or any(t.get("phone_number") == to for t in m.data.get("to", [])))
        ]
        return found[::-1]

    def clear_outbox(self) -> None:
        self.messages = {
            k: m for k, m in self.messages.items() if m.data["direction"] != "outbound"
        }

    # senders ---------------------------------------------------------------------------
    def sender_number(self, number: str) -> dict[str, Any] | None:
        """A number of the account that can send: long code, toll-free, or hosted."""
        for collection in (self.phone_numbers, self.hosted_numbers):
            found = collection.find(number)
            if found is not None and found.get("phone_number") == number:
                return found
        return None

    def profile_numbers(self, profile_id: str) -> list[dict[str, Any]]:
        return self.phone_numbers.where(lambda n: n.get("messaging_profile_id") == profile_id)

    def find_optout(self, to: str, sender: str | None, profile_id: str | None) -> dict | None:
        for entry in self.optouts:
            if entry["to"] != to:
                continue
            if entry.get("from") == sender or (
                profile_id and entry.get("messaging_profile_id") == profile_id
            ):
                return entry
        return None
