"""Fallback sends: when a code Telnyx took does not arrive, the worker sends a new one
through another sender or channel, as the profile's ``fallback`` policy says.

Called with each outbox batch (``Worker.consumers``): a ``verification.delivery_failed``
event (a ``delivery_failed`` or ``sending_failed`` receipt of the latest send) or an
internal ``verification.no_receipt`` (its timer fired with no ``delivered`` receipt). A
fallback is a send like a resend: ``fallback.lua`` reserves it in one step — only while
the verification is pending, not opted out, no live code delivered, the failed send still
its latest, within ``max_fallbacks``, ``max_sends`` and the per-number caps, beside the
SMS-pumping guard's shared counters — then the message goes out and ``record.lua`` notes
it (``verification.sent`` and ``verification.fallback_sent``). A refused send is rolled
back as a create's is. The earlier codes stay valid until the verification ends.

At most once: an event handled twice (a worker died before acknowledging it) finds the
send number moved on and reserves nothing; a worker that dies between the reservation
and the send leaves the reserved code unsent (the earlier ones still work).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from otp_service import metrics
from otp_service.delivery import (
    DeliveryRejected,
    DeliveryUnavailable,
    DestinationRefused,
    Sender,
    SenderInfo,
)
from otp_service.ids import generate_code
from otp_service.phones import mask_phone
from otp_service.profiles.settings import ProfileSettings
from otp_service.store import FallbackRequest, SendOutcome
from otp_service.store.outbox import OutboxEntry
from otp_service.verification.record import TIMEOUT_ERRORS, Record
from otp_service.verification.service import VerificationService, outgoing_code

__all__ = ["Fallbacks", "fallback_senders"]

log = logging.getLogger(__name__)

# the event, and the receipt status it carries -> the trigger
TRIGGER_EVENTS = ("verification.delivery_failed", "verification.no_receipt")


def _same(sender: Sender, info: SenderInfo) -> bool:
    if sender.type != info.type:
        return False
    if sender.from_:
        return sender.from_ == info.from_
    return sender.messaging_profile_id == info.messaging_profile_id


def fallback_senders(
    to: str,
    channel: str,
    current: SenderInfo | None,
    route: Callable[[str], tuple[Sender, ...]],
    used: tuple[SenderInfo, ...] = (),
) -> tuple[str, tuple[Sender, ...]]:
    """(channel, senders) of a fallback ``to`` next_sender | whatsapp | sms, from the
    configured ones ``route(channel)`` gives; never the sender that failed.

    ``next_sender``: the route's senders after the one that failed, then those before it
    (an adaptive route may have started anywhere in its list), but none the verification
    was sent through already (``used``: its earlier sends' senders)."""
    target = channel if to == "next_sender" else to
    senders = route(target)
    if current is None:
        return target, senders
    for index, sender in enumerate(senders):
        if _same(sender, current):
            if to != "next_sender":
                return target, senders[:index] + senders[index + 1 :]
            after = senders[index + 1 :] + senders[:index]
            return target, tuple(s for s in after if not any(_same(s, u) for u in used))
    return target, senders


class Fallbacks:
    def __init__(
        self,
        verifications: VerificationService,
        profile_of: Callable[[str], ProfileSettings | None],
    ) -> None:
        self.v = verifications
        self.profile_of = profile_of

    def __call__(self, entries: list[OutboxEntry]) -> None:
        for entry in entries:
            if entry.kind != "v" or entry.type not in TRIGGER_EVENTS:
                continue
            p = self.profile_of(entry.profile)
            if p is None or p.fallback is None or not isinstance(entry.snapshot, list):
                continue
            values = [None if v is False else str(v).encode() for v in entry.snapshot]
            record = Record.from_view(values)
            trigger = "no_receipt"
            if entry.type == "verification.delivery_failed":
                trigger = record.delivery_status or ""
            if not p.fallback.fires_on(trigger) or record.status != "pending":
                continue
            if record.sender is None or record.sender.startswith("test|"):
                continue  # refused for good before anything went out, or a test number
            self.fall_back(entry.tag, record, p, trigger, _earlier_senders(entry, record))

    def fall_back(
        self,
        tag: str,
        record: Record,
        p: ProfileSettings,
        trigger: str,
        used: tuple[SenderInfo, ...] = (),
    ) -> str:
        """Send the verification's fallback code; what became of it (for logs and tests).
        ``used``: the senders of its sends before the latest."""
        v = self.v
        policy = p.fallback
        assert policy is not None
        phone = record.phone_number
        current = SenderInfo.decode(record.sender) if record.sender else None
        channel, senders = fallback_senders(
            policy.to,
            record.channel,
            current,
            lambda c: v.delivery.senders(phone, c, p.routes),
            used,
        )
        if not senders:
            return self._done(trigger, "no_sender", phone)
        now = v.now_ms()
        # as long as the code of the send it replaces (one more read: fallbacks are rare)
        code = generate_code(v.store.code_length_of(tag, p.id) or p.code_length)
        token = secrets.token_hex(8)
        try:
            country = v.delivery.check_destination(phone, channel, p.allowed_countries, p.routes)
        except DestinationRefused as exc:
            return self._done(trigger, "no_sender", phone, exc.detail)
        counters = [
            c
            for c in v.guard.counters(
                key_id="", phone=phone, country=country or "ZZ", now=now, profile=p
            )
            if "api_key" not in c.reason  # a fallback is no API key's request
        ]
        no_receipt_ms = 0
        if policy.waits_for_receipt and record.fallbacks + 1 < policy.max_fallbacks:
            no_receipt_ms = policy.no_receipt_seconds * 1000
        request = FallbackRequest(
            trigger_send=record.sends,
            digest=v.hasher.digest(tag, code),
            max_sends=p.max_sends,
            max_fallbacks=policy.max_fallbacks,
            token=token,
            caps=v.guard.phone_caps(now, p),
            no_receipt_ms=no_receipt_ms,
        )
        reserved = v.store.fallback(
            tag, record.suffix, request, now, counters, p.id, v.profile_ids()
        )
        if reserved.outcome != "reserved":
            return self._done(trigger, reserved.outcome, phone, reserved.detail)
        ttl_seconds = max(60, (record.expires_at - now) // 1000)
        # in the language and app name of the send it replaces (the latest create or
        # resend's own, else the profile's)
        message = outgoing_code(
            p,
            phone,
            code,
            channel,
            ttl_seconds,
            app_name=reserved.app_name,
            locale=reserved.locale,
        )
        if channel == "sms" and reserved.app_name and not v.app_name_fits(message):
            # a WhatsApp create's app name was never measured for SMS: one that would
            # split the fallback's SMS gives way to the profile's
            message = replace(message, app_name=p.app_name)
        del code
        because = f"fallback after {trigger}"
        try:
            sent = v.delivery.send(message, senders, because)
        except (DeliveryRejected, DestinationRefused) as exc:
            v.store.undo_create(tag, token, counters, p.id)
            if isinstance(exc, DeliveryRejected) and exc.opted_out:
                # Telnyx knew of a STOP this service had not heard: remember it, as a
                # create does (the verification stays pending: an earlier code may come)
                v.optouts.add(phone, "send_error")
                return self._done(trigger, "opted_out", phone, exc.detail, exc.sender)
            return self._done(trigger, "rejected", phone, exc.detail, exc.sender)
        except DeliveryUnavailable as exc:
            if not exc.maybe_sent:
                v.store.undo_create(tag, token, counters, p.id)
                return self._done(trigger, "unreachable", phone, exc.detail, exc.sender)
            unknown = SendOutcome(
                "", _encoded(exc.sender), "", TIMEOUT_ERRORS, because=because, fallback=trigger
            )
            v.store.record_send(tag, record.suffix, token, unknown, v.now_ms(), p.id)
            return self._done(trigger, "maybe_sent", phone, exc.detail, exc.sender)
        accepted = SendOutcome(
            sent.message_id,
            sent.sender.encode(),
            sent.status or "",
            "",
            because=because,
            fallback=trigger,
        )
        v.store.record_send(tag, record.suffix, token, accepted, v.now_ms(), p.id)
        return self._done(
            trigger, "sent", phone, f"{sent.sender.type} {sent.sender.from_}", sent.sender
        )

    @staticmethod
    def _done(
        trigger: str,
        outcome: str,
        phone: str,
        detail: Any = "",
        sender: SenderInfo | None = None,
    ) -> str:
        metrics.child(metrics.FALLBACKS, trigger, outcome).inc()
        if sender is not None:
            metrics.child(metrics.SENDS, sender.type, _SEND_OUTCOMES.get(outcome, outcome)).inc()
        log.info("fallback after %s for %s: %s %s", trigger, mask_phone(phone), outcome, detail)
        return outcome


_SEND_OUTCOMES = {"sent": "accepted"}


def _earlier_senders(entry: OutboxEntry, record: Record) -> tuple[SenderInfo, ...]:
    """The senders of the verification's sends before the latest: the 'send' entries of
    its delivery history (record.lua), read with the event."""
    used = []
    for raw in entry.history:
        try:
            item = json.loads(raw) if isinstance(raw, str | bytes) else raw
        except ValueError:
            continue
        if (
            isinstance(item, dict)
            and item.get("event_type") == "send"
            and item.get("v") == record.suffix
            and item.get("sender")
        ):
            used.append(SenderInfo.decode(str(item["sender"])))
    return tuple(used)


def _encoded(sender: SenderInfo | None) -> str:
    return sender.encode() if sender else ""
