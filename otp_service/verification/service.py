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

import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import redis

from otp_service import errors, ids, metrics
from otp_service.config import Settings
from otp_service.delivery import (
    Delivery,
    DeliveryRejected,
    DeliveryUnavailable,
    DestinationRefused,
    OutgoingCode,
    RouteOrder,
    SenderInfo,
)
from otp_service.delivery.adaptive import CONFIGURED
from otp_service.delivery.templates import SAMPLE_APP_NAME, encoding, is_gsm7, segments, units
from otp_service.ids import CodeHasher, generate_code
from otp_service.phones import country_of, mask_phone
from otp_service.profiles.settings import ProfileSettings, effective
from otp_service.store import (
    CheckLimits,
    GuardCounter,
    NewVerification,
    SendOutcome,
    Store,
    StoredVerification,
)
from otp_service.store.insights import Count, InsightsStore
from otp_service.store.optouts import OptOutStore
from otp_service.verification.guard import Guard
from otp_service.verification.idempotency import IdempotencyKeys, Result
from otp_service.verification.record import (
    CHANNELS,
    CHECK_STATUSES,
    TIMEOUT_ERRORS,
    Limits,
    Record,
    api_object,
)

__all__ = ["CreateRequest", "Result", "VerificationService", "outgoing_code", "stored_because"]

log = logging.getLogger(__name__)
# What a test number's verification records as its send: no message, a sender of its own.
TEST_SEND = SendOutcome("", SenderInfo("test").encode(), "", "")

# How long the code that approved a verification is answered "approved" again: a client
# whose check answer was lost (a timeout, a 503) retries, and must not read 409 as failure.
APPROVAL_REPLAY_SECONDS = 60
# A create's Redis calls at most: the claim, round trip 1 (run again when Redis's clock
# is ahead, see Store.create) and round trip 2, each script reloaded once after a restart.
REDIS_CALLS_PER_CREATE = 6
# create.lua's per-number caps: the service's, and a profile's own
PHONE_CAPS = ("phone_hourly", "phone_daily", "profile_phone_hourly", "profile_phone_daily")


@dataclass(frozen=True)
class CreateRequest:
    phone_number: str
    channel: str = "sms"
    locale: str | None = None
    code_length: int | None = None
    ttl_seconds: int | None = None
    app_name: str | None = None
    # the end user's signals (the body's "signals"): only the guard's caps use them
    ip: str | None = field(default=None, repr=False)
    device_id: str | None = field(default=None, repr=False)


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
        profile_ids: Callable[[], Sequence[str]] = lambda: (),
        insights: InsightsStore | None = None,
    ) -> None:
        self.settings = settings
        self.insights = insights  # where refusals are counted (the others come as events)
        self.store = store
        self.delivery = delivery
        self.optouts = optouts
        self.clock = clock
        self.sleep = sleep
        # every profile's id (profiles.KeyRing, cached): the service's per-number caps
        # count the number's sends in each
        self.profile_ids = profile_ids
        self.tagger = ids.PhoneTagger(settings.secret)
        self.hasher = CodeHasher(settings.secret)
        self.guard = Guard(settings, store)
        self.idempotency = IdempotencyKeys(
            store, settings, claim_seconds=self.longest_create_seconds(), sleep=sleep
        )
        self.default_profile = effective(settings)
        # the default profile's limits, made once: most requests are its
        self._default_limits = self._limits(self.default_profile)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def longest_create_seconds(self) -> float:
        """An upper bound on a create's time: its send's bound, its Redis calls (each
        within the client's timeout; 2 s when it has none) and 5 s for the rest."""
        redis_seconds = (self.store.timeout_ms or 2000) / 1000
        return self.delivery.longest_send_seconds + REDIS_CALLS_PER_CREATE * redis_seconds + 5

    # -- create / resend ----------------------------------------------------------------
    def create(
        self,
        request: CreateRequest,
        *,
        client_id: str,
        profile: ProfileSettings | None = None,
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> Result:
        """Create a verification for ``request``, or resend a code for the number's pending
        one, in ``profile`` (the asking key's; the default profile when None)."""
        s = self.settings
        p = profile or self.default_profile
        if request.code_length is not None and request.code_length < s.min_code_length:
            raise errors.InvalidRequest(
                "the body does not match the schema",
                errors={"code_length": [f"must be at least {s.min_code_length}"]},
            )
        if request.app_name is not None and request.channel == "sms":
            self._check_app_name(request, p)
        try:
            country = self.delivery.check_destination(
                request.phone_number, request.channel, p.allowed_countries, p.routes
            )
        except DestinationRefused as exc:
            self._count_refusal(p, country_of(request.phone_number) or "", exc.reason)
            raise errors.DestinationNotAllowed(exc.detail, reason=exc.reason) from exc
        try:
            if idempotency_key is None:
                return self._create(request, client_id, country, p)
            return self.idempotency.once(
                client_id,
                idempotency_key,
                fingerprint,
                lambda: self._create(request, client_id, country, p),
            )
        except errors.RateLimited as exc:
            self._count_refusal(p, country or "", str(exc.extra.get("reason") or "rate_limited"))
            raise

    def _check_app_name(self, request: CreateRequest, p: ProfileSettings) -> None:
        """422 for a request's own app name that makes its SMS take more segments than the
        30-character GSM-7 name the templates are measured with (one, unless the profile's
        lines split it anyway): one outside GSM-7 makes a GSM-7 message UCS-2. Measured on
        the text that would be sent, with a code of the length it would have."""
        message = outgoing_code(
            p,
            request.phone_number,
            "9" * (request.code_length or p.code_length),
            "sms",
            request.ttl_seconds or p.ttl_seconds,
            app_name=request.app_name,
            locale=request.locale,
        )
        if self.app_name_fits(message):
            return
        text = self.delivery.sms_text(message)
        parts = segments(text)
        most = segments(self.delivery.sms_text(replace(message, app_name=SAMPLE_APP_NAME)))
        gsm7 = is_gsm7(text)
        counted = f"{units(text)} {'septets' if gsm7 else 'UCS-2 code units'}"
        if not is_gsm7(request.app_name):
            counted += ": the app name is not GSM-7"
        limit = (
            "one SMS segment (160 GSM-7 septets, or 70 UCS-2 code units)"
            if most == 1
            else f"the {most} segments a 30-character GSM-7 app name makes"
        )
        raise errors.InvalidRequest(
            "the body does not match the schema",
            errors={
                "app_name": [
                    f"makes the message {encoding(text)} in {parts} SMS segments ({counted}); "
                    f"a code's message must fit {limit}: use a shorter app_name, or GSM-7 "
                    "characters only"
                ]
            },
        )

    def app_name_fits(self, message: OutgoingCode) -> bool:
        """Whether the SMS of ``message`` takes no more segments than with the 30-character
        GSM-7 app name the templates are measured with (a split with any name is not
        this one's doing)."""
        parts = segments(self.delivery.sms_text(message))
        if parts == 1:
            return True
        return parts <= segments(self.delivery.sms_text(replace(message, app_name=SAMPLE_APP_NAME)))

    def _count_refusal(self, p: ProfileSettings, country: str, reason: str) -> None:
        """A refusal in the insights (``refused:<reason>``); an insight lost to a Redis
        error is not worth failing the answer for."""
        if self.insights is None:
            return
        try:
            self.insights.add([Count(self.now_ms(), f"refused:{reason}", p.id, country)])
        except redis.exceptions.RedisError as exc:
            log.warning("a refusal was not counted: %s", type(exc).__name__)

    def _create(
        self, request: CreateRequest, client_id: str, country: str | None, p: ProfileSettings
    ) -> Result:
        s = self.settings
        phone = request.phone_number
        tag = self.tagger.tag(phone)
        ttl = request.ttl_seconds or p.ttl_seconds
        code = generate_code(request.code_length or p.code_length)
        fixed = self._test_code(phone, p)
        token = secrets.token_hex(8)
        now = self.now_ms()
        counters = self.guard.counters(
            key_id=client_id,
            phone=phone,
            country=country or "ZZ",
            now=now,
            profile=p,
            ip=request.ip,
            device_id=request.device_id,
        )
        new = NewVerification(
            phone=phone,
            suffix=ids.new_suffix(),
            digest=fixed if fixed is not None else self.hasher.digest(tag, code),
            ttl_ms=ttl * 1000,
            max_sends=p.max_sends,
            cooldown_ms=p.resend_cooldown_seconds * 1000,
            channel=CHANNELS[request.channel],
            keep_ms=s.retention_seconds * 1000,
            token=token,
            caps=self.guard.phone_caps(now, p),
            locale=request.locale,
            app_name=request.app_name,
            code_length=request.code_length,
        )
        # round trip 1: the guard's shared counters and the create itself
        no_receipt_ms = 0
        if fixed is None and p.fallback is not None and p.fallback.waits_for_receipt:
            no_receipt_ms = p.fallback.no_receipt_seconds * 1000
        created = self.store.create(
            tag, new, now, counters, p.id, self.profile_ids(), no_receipt_ms=no_receipt_ms
        )
        if created.outcome not in ("created", "resent"):
            if created.guard != "refused":
                self.store.refund_guard(counters)
            raise self._create_refusal(created.outcome, int(created.detail or 0), now)
        if created.guard == "refused" and created.counter is not None:
            self.store.undo_create(tag, token, profile=p.id, due=now + ttl * 1000)
            counter = created.counter
            raise self._guard_refusal(counter.reason, counter.window_end, now)
        if created.guard == "shadow" or created.detail:
            shadowed = created.counter if created.guard == "shadow" else None
            reason = shadowed.reason if shadowed is not None else created.detail
            log.warning("guard (shadow mode) would refuse %s: %s", mask_phone(phone), reason)
            metrics.child(metrics.RATE_LIMITED, reason, "shadow").inc()

        suffix = created.suffix
        if fixed is not None:  # a test number: its fixed code, nothing sent
            del code
            metrics.child(metrics.TEST_VERIFICATIONS, request.channel).inc()
            stored = self._record(tag, suffix, token, TEST_SEND, p)
            return Result(201 if created.outcome == "created" else 200, self._view(tag, stored, p))
        message = outgoing_code(
            p,
            phone,
            code,
            request.channel,
            ttl,
            app_name=request.app_name,
            locale=request.locale,
            orders=p.route_orders,
        )
        del code
        # the message, then round trip 2: record it, or roll back what round trip 1 did
        try:
            sent = self.delivery.send(message)
        except DeliveryRejected as exc:
            sender_type = exc.sender.type if exc.sender else "none"
            if exc.opted_out:
                metrics.child(metrics.SENDS, sender_type, "opted_out").inc()
                self._recipient_opted_out(tag, suffix, token, phone, exc, counters, p)
            metrics.child(metrics.SENDS, sender_type, "rejected").inc()
            self.store.undo_create(tag, token, counters, p.id, due=now + ttl * 1000)
            raise errors.ProviderError(
                exc.detail, provider_status=exc.status_code, provider_codes=list(exc.codes)
            ) from exc
        except DeliveryUnavailable as exc:
            sender_type = exc.sender.type if exc.sender else "none"
            outcome_label = "maybe_sent" if exc.maybe_sent else "unreachable"
            metrics.child(metrics.SENDS, sender_type, outcome_label).inc()
            if not exc.maybe_sent:
                self.store.undo_create(tag, token, counters, p.id, due=now + ttl * 1000)
                raise errors.ProviderUnavailable(exc.detail) from exc
            unknown = SendOutcome("", _encoded(exc.sender), "", TIMEOUT_ERRORS)
            self._record(tag, suffix, token, unknown, p)
            raise errors.ProviderUnavailable(
                "Telnyx did not answer in time; the message may still arrive",
                verification_id=tag + suffix,
            ) from exc
        except Exception:
            self.store.undo_create(tag, token, counters, p.id, due=now + ttl * 1000)
            raise
        metrics.child(metrics.SENDS, sent.sender.type, "accepted").inc()
        try:
            accepted = SendOutcome(
                sent.message_id,
                sent.sender.encode(),
                sent.status or "",
                "",
                because=stored_because(sent.because),
            )
            stored = self._record(tag, suffix, token, accepted, p)
        except errors.REDIS_UNAVAILABLE as exc:
            # The code is on its way and stands; only its message id could not be noted.
            raise errors.StorageUnavailable(
                "the code was sent, but Redis became unreachable before the send was recorded",
                verification_id=tag + suffix,
            ) from exc
        if created.outcome == "created":
            metrics.child(
                metrics.VERIFICATIONS_CREATED,
                request.channel,
                sent.sender.type,
                country or "unknown",
            ).inc()
        status = 201 if created.outcome == "created" else 200
        return Result(status, self._view(tag, stored, p))

    def _test_code(self, phone: str, p: ProfileSettings) -> bytes | None:
        """The stored HMAC of a test number's fixed code, where the profile has one for
        ``phone`` and may use it here (production only if the profile says so)."""
        digest = p.test_numbers.get(phone)
        if digest is None or (self.settings.is_production and not p.test_numbers_in_production):
            return None
        return bytes.fromhex(digest)

    def _record(
        self, tag: str, suffix: str, token: str, send: SendOutcome, p: ProfileSettings
    ) -> StoredVerification:
        """The verification once the send is recorded."""
        recorded = self.store.record_send(tag, suffix, token, send, self.now_ms(), p.id)
        if not recorded.recorded:
            raise errors.VerificationNotFound(
                "the verification ended while its code was sent", verification_id=tag + suffix
            )
        return recorded.verification

    def _recipient_opted_out(
        self,
        tag: str,
        suffix: str,
        token: str,
        phone: str,
        exc: DeliveryRejected,
        counters: list[GuardCounter],
        p: ProfileSettings,
    ) -> None:
        """Telnyx refused the send because the recipient opted out (40300): remember the
        opt-out, fail the verification, answer 409 naming it — in one round trip. The
        client can read the failed verification (and its send's error) by that id."""
        errors_json = json.dumps(
            [{"code": code, "title": "Blocked due to STOP message"} for code in exc.codes]
        )
        send = SendOutcome("", _encoded(exc.sender), "", errors_json, failed=True)
        failed, (marked, _indexed) = self.store.record_failed_send(
            tag,
            suffix,
            token,
            send,
            self.now_ms(),
            counters,
            self.optouts.add_calls(phone, "send_error"),
            p.id,
        )
        self.optouts.record("send_error", marked.decode())
        # the verification named only where it was failed here (not one that ended, or
        # was replaced, while Telnyx answered): an Idempotency-Key keeps such an answer
        named = {"verification_id": tag + suffix} if failed else {}
        raise errors.RecipientOptedOut(
            "the recipient has opted out of messages (Telnyx error 40300)",
            provider_codes=list(exc.codes),
            **named,
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
        if outcome in PHONE_CAPS:
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

    # -- check --------------------------------------------------------------------------
    def check(
        self, verification_id: str, code: str, profile: ProfileSettings | None = None
    ) -> Result:
        tag, suffix = self._split(verification_id)
        return self._check(tag, suffix, code, profile or self.default_profile)

    def check_phone(
        self, phone_number: str, code: str, profile: ProfileSettings | None = None
    ) -> Result:
        return self._check(self.tagger.tag(phone_number), "", code, profile or self.default_profile)

    def _check(self, tag: str, suffix: str, code: str, p: ProfileSettings) -> Result:
        """The check's answer; the approving code checked again within
        APPROVAL_REPLAY_SECONDS gets the approval's answer, marked replayed."""
        now = self.now_ms()
        limits = (self._default_limits if p is self.default_profile else self._limits(p))[0]
        checked = self.store.check(tag, suffix, self.hasher.digest(tag, code), now, limits, p.id)
        outcome = checked.outcome
        replayed = outcome == "approved" and checked.detail == "again"
        metrics.child(metrics.CHECKS, "sms", "approved_again" if replayed else outcome).inc()
        if outcome == "not_found":
            raise errors.VerificationNotFound()
        if outcome == "already_approved":
            raise errors.AlreadyApproved("this verification was already approved")
        if outcome == "max_attempts":
            raise errors.MaxAttemptsReached("this verification has no check attempts left")
        if outcome == "locked":
            raise self._create_refusal("locked", int(checked.detail), now)
        body = {
            "id": tag + checked.suffix,
            "status": CHECK_STATUSES[checked.status],
            "valid": outcome == "approved",
            "attempts_remaining": max(0, p.max_attempts - checked.attempts),
        }
        return Result(200, body, replayed=replayed)

    # -- get / cancel -------------------------------------------------------------------
    def get(self, verification_id: str, profile: ProfileSettings | None = None) -> dict[str, Any]:
        p = profile or self.default_profile
        tag, suffix = self._split(verification_id)
        found = self.store.get(tag, suffix, p.id)
        if found is None:
            raise errors.VerificationNotFound()
        return self._view(tag, found, p)

    def cancel(
        self, verification_id: str, profile: ProfileSettings | None = None
    ) -> dict[str, Any]:
        p = profile or self.default_profile
        tag, suffix = self._split(verification_id)
        canceled = self.store.cancel(tag, suffix, self.now_ms(), p.id)
        if canceled.verification is None:
            if canceled.outcome == "already_approved":
                raise errors.AlreadyApproved("an approved verification cannot be canceled")
            raise errors.VerificationNotFound()
        return self._view(tag, canceled.verification, p)

    @staticmethod
    def _split(verification_id: str) -> tuple[str, str]:
        parts = ids.split_id(verification_id)
        if parts is None:
            raise errors.VerificationNotFound()
        return parts

    # -- the verification object --------------------------------------------------------
    def _view(self, tag: str, stored: StoredVerification, p: ProfileSettings) -> dict[str, Any]:
        record = Record.from_view(stored.values)
        limits = (self._default_limits if p is self.default_profile else self._limits(p))[1]
        return api_object(tag, record, stored.history, limits, self.now_ms())

    def event_object(
        self,
        tag: str,
        values: list[bytes | None],
        history: list[Any],
        profile: ProfileSettings | None,
        at: int,
    ) -> dict[str, Any]:
        """The verification as the API returned it at ``at``, from an outbox snapshot."""
        limits = self._limits(profile)[1] if profile is not None else self._default_limits[1]
        return api_object(tag, Record.from_view(values), history, limits, at)

    def _limits(self, p: ProfileSettings) -> tuple[CheckLimits, Limits]:
        """A check's limits and the API object's, for profile ``p``."""
        check = CheckLimits(
            p.max_attempts,
            self.settings.failure_limit,
            self.settings.lockout_seconds * 1000,
            APPROVAL_REPLAY_SECONDS * 1000,
        )
        return check, Limits(p.max_attempts, p.max_sends, p.resend_cooldown_seconds * 1000)


def stored_because(because: str) -> str:
    """Why a sender was chosen, as the hash keeps it: nothing for the configured order."""
    return "" if because == CONFIGURED else because


def _encoded(sender: SenderInfo | None) -> str:
    return sender.encode() if sender else ""


def outgoing_code(
    p: ProfileSettings,
    phone: str,
    code: str,
    channel: str,
    ttl_seconds: int,
    *,
    app_name: str | None = None,
    locale: str | None = None,
    orders: Mapping[str, RouteOrder] | None = None,
) -> OutgoingCode:
    """The message of a code in profile ``p`` (a create's, a resend's or a fallback's);
    ``app_name`` and ``locale`` are a request's own, else the profile's."""
    return OutgoingCode(
        to=phone,
        code=code,
        app_name=app_name or p.app_name,
        ttl_seconds=ttl_seconds,
        locale=locale or p.default_locale,
        channel=channel,
        profile_id=p.id,
        templates=p.templates,
        webotp_domain=p.webotp_domain,
        android_app_hash=p.android_app_hash,
        routes=p.routes,
        whatsapp=p.whatsapp,
        orders=orders,
    )
