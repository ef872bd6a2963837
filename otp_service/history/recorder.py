"""What the worker learns from every event: the insights counters, and, when a
verification ends (approved, failed, canceled, expired), its compact history record —
amended when a send's final delivery receipt comes after that.

Called with each batch the worker hands over (``Worker.consumers``), after its
deliveries are stored and before the batch is acknowledged: a worker that dies between
the two hands the batch over again, so a count may be added twice then (at least once,
like the webhooks). Test numbers' verifications are kept in history (marked) and left out
of the counters: they are not traffic.

A late receipt whose verification has no record yet is held in Redis (30 s,
``HistoryStore.hold``; tried again each second by every worker's chore
``amend_waiting``): another worker may have read the verification before the receipt
came and be writing its record now, without it. Held in Redis, it outlives the worker
that held it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from typing import Any

from otp_service.delivery import SenderInfo, sender_key
from otp_service.metrics import ROUTE_EVENTS, child
from otp_service.phones import country_of, mask_phone
from otp_service.store.history import HistoryRecord, HistoryStore, day_of
from otp_service.store.insights import Count, InsightsStore, bucket_of
from otp_service.store.outbox import OutboxEntry

__all__ = ["ENDINGS", "Recorder", "counts_of", "record_of"]

ENDINGS = {
    "verification.approved": "approved",
    "verification.failed": "failed",
    "verification.canceled": "canceled",
    "verification.expired": "expired",
    # record.lua: a send refused for good (40300, opted out) ended it
    "verification.send_refused": "failed",
}
SEND_REFUSED = "verification.send_refused"
METRICS = {
    "verification.created": "created",
    "verification.sent": "sent",
    "verification.delivered": "delivered",
    "verification.delivery_failed": "delivery_failed",
    "verification.fallback_sent": "fallback_sent",
    **ENDINGS,
}
FINAL_RECEIPTS = {"delivered", "delivery_failed", "sending_failed", "delivery_unconfirmed"}
ENDED = ("a", "c", "f")  # the snapshot's status of an approved, canceled or failed one
# verification.earlier_receipt (delivery_event.lua): a final receipt of a send before the
# latest, counted for that send's route as the latest send's receipts are
EARLIER_RECEIPT = "verification.earlier_receipt"
# delivery_apply.lua: a final receipt without a public event (delivery_unconfirmed,
# expired): its cost is counted, and it may come after the verification ended
FINAL_RECEIPT = "verification.final_receipt"
# the events of a final receipt, which may come after the verification ended
LATE_RECEIPTS = {
    "verification.delivered",
    "verification.delivery_failed",
    EARLIER_RECEIPT,
    FINAL_RECEIPT,
}
AMEND_TRIES = 3
# how often a worker looks again for the records late receipts are held for
LATE_RETRY_SECONDS = 1.0
RECEIPT_METRICS = {
    "delivered": "delivered",
    "delivery_failed": "delivery_failed",
    "sending_failed": "delivery_failed",
}


def _fields(entry: OutboxEntry) -> dict[str, Any]:
    """The snapshot's view fields by name (lua/include/view.lua's order)."""
    names = (
        *("id", "ph", "ch", "st", "ca", "ea", "at", "sn", "ls", "sd", "mi", "ds", "du", "de"),
        *("lc", "as", "cb", "fb"),
    )
    values = entry.snapshot if isinstance(entry.snapshot, list) else []
    return {n: (None if v is False else v) for n, v in zip(names, values, strict=False)}


@functools.lru_cache(maxsize=4096)
def _country(phone: str) -> str | None:
    """The number's country (a verification's events each ask: created, sent, approved)."""
    return country_of(phone)


def _sender_key(encoded: str | None) -> str:
    if not encoded:
        return ""
    info = SenderInfo.decode(encoded)
    return sender_key(info.type, info.from_, info.messaging_profile_id)


def _history(entry: OutboxEntry) -> list[dict[str, Any]]:
    suffix = _fields(entry).get("id")
    out = []
    for raw in entry.history:
        item = json.loads(raw) if isinstance(raw, str | bytes) else raw
        if isinstance(item, dict) and item.get("v") == suffix:
            out.append(item)
    return out


def approving_sender(entry: OutboxEntry) -> str | None:
    """The sender of the send whose code approved the verification: the latest send's
    unless a fallback's earlier code did (the history's send entries name theirs)."""
    f = _fields(entry)
    wanted = f.get("as")
    if not wanted or str(wanted) == str(f.get("sn")):
        return f.get("sd")
    for item in _history(entry):
        if item.get("event_type") == "send" and str(item.get("n")) == str(wanted):
            return item.get("sender") or None
    return f.get("sd")


def _channel(sender: str | None, stored: Any) -> str:
    """A send's channel: its sender's kind (a fallback may change it), else the stored one."""
    if sender:
        return "whatsapp" if sender.startswith("whatsapp|") else "sms"
    return {"s": "sms", "w": "whatsapp"}.get(str(stored), "")


def counts_of(entry: OutboxEntry) -> list[Count]:
    if entry.type == EARLIER_RECEIPT:
        return _earlier_receipt_counts(entry)
    metric = METRICS.get(entry.type)
    f = _fields(entry)
    if entry.kind != "v" or str(f.get("sd") or "").startswith("test|"):
        return []
    if metric is None and entry.type != FINAL_RECEIPT:
        return []
    phone = str(f.get("ph") or "")
    sender = approving_sender(entry) if metric == "approved" else f.get("sd")
    base = {
        "profile": entry.profile,
        "country": _country(phone) or "" if phone else "",
        "sender": _sender_key(sender),
        "channel": _channel(sender, f.get("ch")),
    }
    counts = [Count(entry.at, metric, **base)] if metric else []
    if metric == "delivered" and f.get("ls") and f.get("du"):
        seconds = (int(f["du"]) - int(f["ls"])) / 1000
        counts.append(Count(entry.at, f"ttd:{bucket_of(max(seconds, 0))}", **base))
    if metric == "approved" and f.get("ca"):
        seconds = (entry.at - int(f["ca"])) / 1000
        counts.append(Count(entry.at, f"tta:{bucket_of(max(seconds, 0))}", **base))
    if metric in ("delivered", "delivery_failed") or entry.type == FINAL_RECEIPT:
        for item in _history(entry):
            cost = item.get("cost")
            if item.get("message_id") == f.get("mi") and isinstance(cost, dict):
                try:
                    amount = float(cost["amount"])
                except (KeyError, TypeError, ValueError):
                    continue
                counts.append(
                    Count(entry.at, f"cost:{cost.get('currency', '')}", amount=amount, **base)
                )
    return counts


def _earlier_receipt_counts(entry: OutboxEntry) -> list[Count]:
    """A final receipt of a send before the latest (a fallback went out after it), counted
    for that send's route: the history's send entry names its sender and time."""
    f = _fields(entry)
    history = _history(entry)
    send = next(
        (
            item
            for item in history
            if item.get("event_type") == "send" and item.get("message_id") == entry.message_id
        ),
        None,
    )
    receipt = next(
        (
            item
            for item in reversed(history)
            if item.get("message_id") == entry.message_id
            and item.get("event_type") != "send"
            and item.get("status") in RECEIPT_METRICS
        ),
        None,
    )
    if send is None or receipt is None or str(send.get("sender") or "").startswith("test|"):
        return []
    sender = send.get("sender")
    phone = str(f.get("ph") or "")
    base = {
        "profile": entry.profile,
        "country": _country(phone) or "" if phone else "",
        "sender": _sender_key(sender),
        "channel": _channel(sender, f.get("ch")),
    }
    metric = RECEIPT_METRICS[receipt["status"]]
    counts = [Count(entry.at, metric, **base)] if metric else []
    if metric == "delivered" and send.get("occurred_at") and receipt.get("occurred_at"):
        seconds = (int(receipt["occurred_at"]) - int(send["occurred_at"])) / 1000
        counts.append(Count(entry.at, f"ttd:{bucket_of(max(seconds, 0))}", **base))
    cost = receipt.get("cost")
    if isinstance(cost, dict):
        try:
            amount = float(cost["amount"])
        except (KeyError, TypeError, ValueError):
            return counts
        counts.append(Count(entry.at, f"cost:{cost.get('currency', '')}", amount=amount, **base))
    return counts


def record_of(entry: OutboxEntry, checks: str) -> HistoryRecord | None:
    """The compact record of a verification that ended with ``entry``."""
    outcome = ENDINGS.get(entry.type)
    f = _fields(entry)
    if outcome is None or entry.kind != "v" or not f.get("id") or not f.get("ca"):
        return None
    created = int(f["ca"])
    phone = str(f.get("ph") or "")
    sends = _sends(entry, f, created)
    if entry.type == SEND_REFUSED and sends:  # Telnyx's codes of the refusal ('de')
        sends[-1][4] = _codes(f.get("de"))
    return HistoryRecord(
        id=entry.tag + str(f["id"]),
        profile=entry.profile,
        masked=mask_phone(phone) if phone else "",
        country=(_country(phone) or "") if phone else "",
        channel={"s": "sms", "w": "whatsapp"}.get(str(f.get("ch")), "sms"),
        created_at=created,
        ended_at=entry.at,
        outcome=outcome,
        attempts=int(f.get("at") or 0),
        sends=sends,
        checks=_checks(checks),
        test=str(f.get("sd") or "").startswith("test|"),
        approved_send=int(f.get("as") or f.get("sn") or 1) if outcome == "approved" else None,
    )


def _sends(entry: OutboxEntry, f: dict[str, Any], created: int) -> list[list[Any]]:
    """Each send of the snapshot, with the receipt it had by then (HistoryRecord.sends)."""
    history = _history(entry)
    receipts: dict[str, dict[str, Any]] = {}
    for item in history:
        message_id = item.get("message_id")
        if item.get("event_type") == "send" or not message_id:
            continue
        if item.get("status") in FINAL_RECEIPTS or message_id not in receipts:
            receipts[message_id] = item
    # the sends before a resend are in the history list; the latest is the snapshot's own
    sent = [
        (int(item.get("occurred_at") or created), item.get("sender") or "", item.get("message_id"))
        for item in history
        if item.get("event_type") == "send"
    ]
    if f.get("ls"):
        sent.append((int(f["ls"]), str(f.get("sd") or ""), f.get("mi")))
    sends = []
    for at, sender, message_id in sent:
        info = SenderInfo.decode(sender)
        receipt = receipts.get(message_id or "", {})
        delivered_at = receipt.get("occurred_at") if receipt.get("status") == "delivered" else None
        errors = [e.get("code") for e in receipt.get("errors") or [] if isinstance(e, dict)]
        sends.append(
            [
                round((at - created) / 1000),
                info.type,
                info.from_ or "",
                receipt.get("status") or None,
                errors,
                round((int(delivered_at) - at) / 1000, 1) if delivered_at else None,
            ]
        )
    return sends


def _codes(stored: Any) -> list[str]:
    """The error codes of a stored errors JSON ('de'), such as ["40300"]."""
    try:
        errors = json.loads(stored) if stored else []
    except (TypeError, ValueError):
        return []
    return [str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")]


def _checks(packed: str) -> list[list[int]]:
    """check.lua's 'ck': '<seconds after creation><v|x>' joined by ','."""
    out = []
    for item in filter(None, packed.split(",")):
        try:
            out.append([int(item[:-1]), 1 if item[-1] == "v" else 0])
        except ValueError:
            continue
    return out


def late_sends(entry: OutboxEntry) -> tuple[str, int, list[list[Any]]] | None:
    """(record id, creation ms, sends) of a final receipt that came after its verification
    ended; None for any other event."""
    if entry.kind != "v" or entry.type not in LATE_RECEIPTS:
        return None
    f = _fields(entry)
    if not f.get("id") or not f.get("ca"):
        return None
    status, expires = str(f.get("st") or ""), int(f.get("ea") or 0)
    if status not in ENDED and not (status == "p" and expires and expires <= entry.at):
        return None
    created = int(f["ca"])
    return entry.tag + str(f["id"]), created, _sends(entry, f, created)


def merged_sends(kept: list[list[Any]], late: list[list[Any]]) -> list[list[Any]] | None:
    """``kept`` with the final receipts only ``late`` has; None when it adds none (or the
    two are not the same sends)."""
    if len(kept) != len(late):
        return None
    out, changed = [], False
    for old, new in zip(kept, late, strict=True):
        if old[:3] != new[:3]:
            return None
        if old[3] not in FINAL_RECEIPTS and new[3] in FINAL_RECEIPTS:
            out.append(new)
            changed = True
        else:
            out.append(old)
    return out if changed else None


class Recorder:
    def __init__(self, history: HistoryStore, insights: InsightsStore) -> None:
        self.history = history
        self.insights = insights
        self._looked = -float("inf")

    def amend(self, record_id: str, created: int, sends: list[list[Any]]) -> bool:
        """Put a late receipt in the record of its ended verification (three round trips,
        only for receipts that came after the end); False when there is nothing to add or
        no record yet. Without a record it is held (``amend_waiting``): the ending event
        may not be handed over yet (the record written then has the receipt), or another
        worker read the verification before this receipt came and writes the record only
        now, without it.
        A verification ends within its TTL of its last send (at most 10 minutes; at most
        20 sends): its record is in the day it was created or the next."""
        for _ in range(AMEND_TRIES):
            found = self.history.find(record_id, day_of(created), day_of(created) + 1)
            if found is None:
                self._hold(record_id, created, sends)
                return False
            day, entry_id, record, read = found
            merged = merged_sends(record.sends, sends)
            if merged is None:
                return False
            amended = dataclasses.replace(record, sends=merged)
            if self.history.replace(day, entry_id, read, amended):
                return True
        return False  # replaced by other workers each time: theirs carry receipts too

    def _hold(self, record_id: str, created: int, sends: list[list[Any]]) -> None:
        """Hold ``sends`` with the receipts already held for the record (another send's,
        held by this worker or another)."""
        for _ in range(AMEND_TRIES):
            held = self.history.held(record_id)
            merged = (merged_sends(sends, held.sends) or sends) if held else sends
            if self.history.hold(record_id, held, created, merged):
                return

    def amend_waiting(self) -> int:
        """A chore of every worker: once a second, try the late receipts held for their
        record again (whichever worker held them); how many records it amended."""
        now = time.monotonic()
        if now - self._looked < LATE_RETRY_SECONDS:
            return 0
        self._looked = now
        amended = 0
        for held in self.history.held_receipts():
            created = held.created
            found = self.history.find(held.record_id, day_of(created), day_of(created) + 1)
            if found is None and not held.over:
                continue  # its record is not written yet: again in a second
            if found is not None:
                amended += self.amend(held.record_id, created, held.sends)
            self.history.let_go(held)  # False: more came meanwhile, kept for the next look
        return amended

    def __call__(self, entries: list[OutboxEntry]) -> None:
        counts: list[Count] = []
        records: list[HistoryRecord] = []
        for entry in entries:
            found = counts_of(entry)
            counts += found
            for count in found[:1]:  # the event's own count, for Prometheus
                if count.metric.startswith("cost:"):
                    continue  # a final receipt's cost alone: no count of its own
                kind = count.sender.partition(":")[0] or "none"
                country = count.country or "unknown"
                child(ROUTE_EVENTS, kind, country, count.channel, count.metric).inc()
            record = record_of(entry, entry.checks)
            if record is not None:
                records.append(record)
        self.insights.add(counts)
        self.history.add(records)
        for entry in entries:  # after the records: a batch may hold an end and its receipt
            late = late_sends(entry)
            if late is not None:
                self.amend(*late)


Consumer = Callable[[list[OutboxEntry]], None]
