"""The verification service: create/resend, check, get, cancel. No Flask, no HTTP.

A create is at most two Redis round trips around the Telnyx call: ``create.lua`` decides
and writes (keeping an undo record), the message goes out, then ``record.lua`` stores
the message id — or ``undo.lua`` restores the previous state when Telnyx provably did
not take the message. A check is one round trip (``check.lua``), a get one HGETALL.

What a failed send leaves behind (documented in the README):
- Telnyx refused (4xx/5xx answer) or was unreachable before the request left: the
  verification is rolled back — a new one disappears, a resend's previous code works
  again — and the answer is 502 ``provider_error`` / 503 ``provider_unavailable``.
- Telnyx did not answer in time after the request left: the message may arrive, so the
  new code stands; the verification keeps ``delivery.status: null`` with an error
  ``provider_timeout`` and the answer is 503 ``provider_unavailable`` with its id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otp_service import errors, ids, metrics
from otp_service.config import Settings
from otp_service.delivery import (
    Delivery,
    DeliveryRejected,
    DeliveryUnavailable,
    DestinationRefused,
    OutgoingCode,
    SenderInfo,
)
from otp_service.phones import mask_phone
from otp_service.store import HISTORY_MAX, Store
from otp_service.store.optouts import OptOutStore
from otp_service.verification.codes import CodeHasher, generate_code
from otp_service.verification.guard import Guard
from otp_service.verification.record import (
    CHANNELS,
    CHECK_STATUSES,
    TIMEOUT_ERRORS,
    Limits,
    Record,
    api_object,
)

__all__ = ["CreateRequest", "Result", "VerificationService"]

log = logging.getLogger(__name__)
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class CreateRequest:
    phone_number: str
    channel: str = "sms"
    locale: str | None = None
    code_length: int | None = None
    ttl_seconds: int | None = None
    app_name: str | None = None


@dataclass(frozen=True)
class Result:
    """An HTTP-agnostic answer: status code and body, and whether it was replayed."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class VerificationService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        delivery: Delivery,
        optouts: OptOutStore,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.store = store
        self.delivery = delivery
        self.optouts = optouts
        self.clock = clock
        self.sleep = sleep
        self.tagger = ids.PhoneTagger(settings.secret)
        self.hasher = CodeHasher(settings.secret)
        self.guard = Guard(settings, store)
        self.limits = Limits(
            settings.max_attempts, settings.max_sends, settings.resend_cooldown_seconds * 1000
        )

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- create / resend ----------------------------------------------------------------
    def create(
        self,
        request: CreateRequest,
        *,
        client_id: str,
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> Result:
        s = self.settings
        if request.code_length is not None and request.code_length < s.min_code_length:
            raise errors.InvalidRequest(
                "the body does not match the schema",
                errors={"code_length": [f"must be at least {s.min_code_length}"]},
            )
        try:
            country = self.delivery.check_destination(request.phone_number, request.channel)
        except DestinationRefused as exc:
            raise errors.DestinationNotAllowed(exc.detail, reason=exc.reason) from exc
        if idempotency_key is None:
            return self._create(request, client_id, country)
        return self._idempotent(client_id, idempotency_key, fingerprint, request, country)

    def _create(self, request: CreateRequest, client_id: str, country: str | None) -> Result:
        s = self.settings
        phone = request.phone_number
        tag = self.tagger.tag(phone)
        key = self.store.phone_key(tag)
        ttl = request.ttl_seconds or s.ttl_seconds
        code = generate_code(request.code_length or s.code_length)
        token = secrets.token_hex(8)
        now = self.now_ms()
        counters = self.guard.counters(
            key_id=client_id, phone=phone, country=country or "ZZ", now=now
        )
        counter_keys = [c.key for c in counters]

        # round trip 1: the guard's shared counters and the create itself, side by side
        batch = self.store.batch()
        if counters:
            batch.script("guard", counter_keys, self.guard.guard_args(s.guard_mode, counters, now))
        batch.script(
            "create",
            [key, self.store.optout_key(tag), self.store.undo_key(tag)],
            [
                now,
                phone,
                ids.new_suffix(),
                self.hasher.digest(tag, code),
                ttl * 1000,
                s.max_sends,
                s.resend_cooldown_seconds * 1000,
                CHANNELS[request.channel],
                s.retention_seconds * 1000,
                token,
                *self.guard.phone_args(now),
            ],
        )
        *guarded, (outcome, detail, *created) = batch.execute()
        verdict = guarded[0][0].decode() if guarded else "ok"
        outcome, detail = outcome.decode(), detail.decode()
        if outcome not in ("created", "resent"):
            if verdict != "refused" and counters:
                self.store.run("guard_refund", counter_keys, [])
            raise self._create_refusal(outcome, int(detail or 0), now)
        if verdict == "refused":
            self.store.run("undo", [key, self.store.undo_key(tag)], [token])
            counter = counters[int(guarded[0][1]) - 1]
            raise self._guard_refusal(counter.reason, counter.window_end, now)
        if verdict == "shadow" or detail:
            reason = counters[int(guarded[0][1]) - 1].reason if verdict == "shadow" else detail
            log.warning("guard (shadow mode) would refuse %s: %s", mask_phone(phone), reason)
            metrics.child(metrics.RATE_LIMITED, reason, "shadow").inc()

        suffix = created[0].decode()
        message = OutgoingCode(
            to=phone,
            code=code,
            app_name=request.app_name or s.app_name,
            ttl_seconds=ttl,
            locale=request.locale,
            channel=request.channel,
        )
        del code
        # the message, then round trip 2: record it, or roll back what round trip 1 did
        rollback = self.store.batch().script("undo", [key, self.store.undo_key(tag)], [token])
        if counters:
            rollback.script("guard_refund", counter_keys, [])
        try:
            sent = self.delivery.send(message)
        except DeliveryRejected as exc:
            sender_type = exc.sender.type if exc.sender else "none"
            if exc.opted_out:
                metrics.child(metrics.SENDS, sender_type, "opted_out").inc()
                self._recipient_opted_out(tag, suffix, token, phone, exc, counter_keys)
            metrics.child(metrics.SENDS, sender_type, "rejected").inc()
            rollback.execute()
            raise errors.ProviderError(
                exc.detail, provider_status=exc.status_code, provider_codes=list(exc.codes)
            ) from exc
        except DeliveryUnavailable as exc:
            sender_type = exc.sender.type if exc.sender else "none"
            outcome_label = "maybe_sent" if exc.maybe_sent else "unreachable"
            metrics.child(metrics.SENDS, sender_type, outcome_label).inc()
            if not exc.maybe_sent:
                rollback.execute()
                raise errors.ProviderUnavailable(exc.detail) from exc
            self._record(tag, suffix, token, "", exc.sender, "", TIMEOUT_ERRORS)
            raise errors.ProviderUnavailable(
                "Telnyx did not answer in time; the message may still arrive",
                verification_id=tag + suffix,
            ) from exc
        except Exception:
            rollback.execute()
            raise
        metrics.child(metrics.SENDS, sent.sender.type, "accepted").inc()
        try:
            fields, history = self._record(
                tag, suffix, token, sent.message_id, sent.sender, sent.status, ""
            )
        except errors.REDIS_UNAVAILABLE as exc:
            # The code is on its way and stands; only its message id could not be noted.
            raise errors.StorageUnavailable(
                "the code was sent, but Redis became unreachable before the send was recorded",
                verification_id=tag + suffix,
            ) from exc
        if outcome == "created":
            metrics.child(
                metrics.VERIFICATIONS_CREATED,
                request.channel,
                sent.sender.type,
                country or "unknown",
            ).inc()
        status = 201 if outcome == "created" else 200
        return Result(status, self._view(tag, fields, history))

    def _record_keys(self, tag: str) -> list[str]:
        s = self.store
        return [s.phone_key(tag), s.undo_key(tag), s.history_key(tag), s.parked_key(tag)]

    def _record(
        self,
        tag: str,
        suffix: str,
        token: str,
        message_id: str,
        sender: SenderInfo | None,
        status: str | None,
        errors_json: str,
    ) -> tuple[list[bytes | None], list[bytes]]:
        """The verification's fields and history once the send is recorded."""
        outcome, _detail, history, values = self.store.run(
            "record",
            self._record_keys(tag),
            [
                suffix,
                token,
                message_id,
                sender.encode() if sender else "",
                status or "",
                self.now_ms(),
                errors_json,
                "",
                HISTORY_MAX,
            ],
        )
        if outcome == b"gone":
            raise errors.VerificationNotFound("the verification ended while its code was sent")
        return values, history

    def _recipient_opted_out(
        self,
        tag: str,
        suffix: str,
        token: str,
        phone: str,
        exc: DeliveryRejected,
        counter_keys: list[str],
    ) -> None:
        """Telnyx refused the send because the recipient opted out (40300): remember the
        opt-out, fail the verification, answer 409 — in one round trip."""
        errors_json = json.dumps(
            [{"code": code, "title": "Blocked due to STOP message"} for code in exc.codes]
        )
        sender = exc.sender.encode() if exc.sender else ""
        batch = self.store.batch()
        batch.script(
            "record",
            self._record_keys(tag),
            [suffix, token, "", sender, "", self.now_ms(), errors_json, "f", HISTORY_MAX],
        )
        self.optouts.add(phone, "send_error", batch=batch)
        if counter_keys:
            batch.script("guard_refund", counter_keys, [])
        self.optouts.record("send_error", batch.execute()[1].decode())
        raise errors.RecipientOptedOut(
            "the recipient has opted out of messages (Telnyx error 40300)",
            provider_codes=list(exc.codes),
        ) from exc

    @staticmethod
    def _guard_refusal(reason: str, window_end: int, now: int) -> errors.ServiceError:
        metrics.child(metrics.RATE_LIMITED, reason, "enforce").inc()
        return errors.RateLimited(
            f"too many codes requested ({reason.replace('_', ' ')} cap); try again later",
            reason=reason,
            retry_after=max(0.0, (window_end - now) / 1000),
        )

    def _create_refusal(self, outcome: str, detail: int, now: int) -> errors.ServiceError:
        if outcome in ("phone_hourly", "phone_daily"):
            return self._guard_refusal(outcome, detail, now)
        wait = max(0.0, (detail - now) / 1000)
        reasons = {
            "cooldown": "resend_cooldown",
            "max_sends": "max_sends",
            "locked": "too_many_failures",
        }
        if outcome in reasons:
            metrics.child(metrics.RATE_LIMITED, reasons[outcome], "enforce").inc()
        if outcome == "opted_out":
            return errors.RecipientOptedOut("this number has opted out of messages")
        if outcome == "cooldown":
            return errors.RateLimited(
                "a code was sent moments ago; wait before asking for another",
                reason="resend_cooldown",
                retry_after=wait,
            )
        if outcome == "max_sends":
            return errors.RateLimited(
                "this verification has sent all the codes it may send",
                reason="max_sends",
                retry_after=wait,
            )
        if outcome == "locked":
            return errors.RateLimited(
                "too many failed checks for this number; try again later",
                reason="too_many_failures",
                retry_after=wait,
            )
        return errors.InternalError()

    # -- idempotency --------------------------------------------------------------------
    def _idempotent(
        self,
        client_id: str,
        idempotency_key: str,
        fingerprint: str,
        request: CreateRequest,
        country: str | None,
    ) -> Result:
        digest = hashlib.sha256(f"{client_id}\0{idempotency_key}".encode()).digest()
        key = self.store.idempotency_key(ids.b32(digest[:10]))
        running_ttl = self._running_seconds()
        deadline = time.monotonic() + running_ttl
        while True:
            state, *rest = self.store.run(
                "idempotency_claim", [key], [fingerprint, int(running_ttl * 1000)]
            )
            state = state.decode()
            if state == "new":
                break
            if state == "conflict":
                raise errors.InvalidRequest(
                    "this Idempotency-Key was used with a different request",
                    reason="idempotency_key_reused",
                )
            if state == "done":
                return Result(int(rest[0]), json.loads(rest[1]), replayed=True)
            if time.monotonic() > deadline:
                raise errors.RequestInProgress(
                    "a request with this Idempotency-Key is still being processed"
                )
            self.sleep(_POLL_SECONDS)
        try:
            result = self._create(request, client_id, country)
        except BaseException:
            self.store.redis.delete(key)
            raise
        pipe = self.store.pipeline()
        pipe.hset(
            key, mapping={"st": "done", "status": result.status, "body": json.dumps(result.body)}
        )
        pipe.expire(key, self.settings.idempotency_ttl_seconds)
        pipe.execute()
        return result

    def _running_seconds(self) -> float:
        """How long a first request may hold its Idempotency-Key before others give up."""
        return self.settings.telnyx_timeout * 3 + 5

    # -- check --------------------------------------------------------------------------
    def check(self, verification_id: str, code: str) -> dict[str, Any]:
        parts = ids.split_id(verification_id)
        if parts is None:
            raise errors.VerificationNotFound()
        tag, suffix = parts
        return self._check(tag, suffix, code)

    def check_phone(self, phone_number: str, code: str) -> dict[str, Any]:
        return self._check(self.tagger.tag(phone_number), "", code)

    def _check(self, tag: str, suffix: str, code: str) -> dict[str, Any]:
        s = self.settings
        now = self.now_ms()
        outcome, detail, *flat = self.store.run(
            "check",
            [self.store.phone_key(tag)],
            [
                now,
                suffix,
                self.hasher.digest(tag, code),
                s.max_attempts,
                s.failure_limit,
                s.lockout_seconds * 1000,
            ],
        )
        outcome = outcome.decode()
        metrics.child(metrics.CHECKS, "sms", outcome).inc()
        if outcome == "not_found":
            raise errors.VerificationNotFound()
        if outcome == "already_approved":
            raise errors.AlreadyApproved("this verification was already approved")
        if outcome == "max_attempts":
            raise errors.MaxAttemptsReached("this verification has no check attempts left")
        if outcome == "locked":
            raise self._create_refusal("locked", int(detail), now)
        suffix, status, attempts = flat
        return {
            "id": tag + suffix.decode(),
            "status": CHECK_STATUSES[status],
            "valid": outcome == "approved",
            "attempts_remaining": max(0, s.max_attempts - int(attempts)),
        }

    # -- get / cancel -------------------------------------------------------------------
    def get(self, verification_id: str) -> dict[str, Any]:
        tag, suffix = self._split(verification_id)
        found = self.store.run(
            "get", [self.store.phone_key(tag), self.store.history_key(tag)], [suffix]
        )
        if found is None:
            raise errors.VerificationNotFound()
        values, history = found
        return self._view(tag, values, history)

    def cancel(self, verification_id: str) -> dict[str, Any]:
        tag, suffix = self._split(verification_id)
        outcome, _detail, *rest = self.store.run(
            "cancel",
            [self.store.phone_key(tag), self.store.history_key(tag)],
            [suffix, self.now_ms()],
        )
        if outcome == b"not_found":
            raise errors.VerificationNotFound()
        if outcome == b"already_approved":
            raise errors.AlreadyApproved("an approved verification cannot be canceled")
        history, values = rest
        return self._view(tag, values, history)

    @staticmethod
    def _split(verification_id: str) -> tuple[str, str]:
        parts = ids.split_id(verification_id)
        if parts is None:
            raise errors.VerificationNotFound()
        return parts

    # -- the verification object --------------------------------------------------------
    def _view(self, tag: str, values: list[bytes | None], history: list[bytes]) -> dict[str, Any]:
        return api_object(tag, Record.from_view(values), history, self.limits, self.now_ms())
