"""Send one code through the configured senders and say, precisely, whether it may have
gone out.

The caller rolls a verification back only when Telnyx provably did not accept the
message (``DeliveryRejected``, or ``DeliveryUnavailable`` with ``maybe_sent=False``);
after a read timeout the message may be on its way, so the new code is kept.

Exceptions::

    DeliveryError
     ├── DestinationRefused    not sent, nothing to roll back: the destination's country is
     │                         not in OTP_ALLOWED_COUNTRIES (reason "not_allowed") or has
     │                         no sender for the channel (reason "no_route")
     ├── DeliveryRejected      Telnyx answered 4xx/5xx for the last sender tried
     └── DeliveryUnavailable   no answer; ``maybe_sent`` is False only if the request never left

Fallback: the senders of a route are tried in order, and the next one only after Telnyx
refused the previous one with nothing but codes another sender can avoid
(``FALLBACK_CODES``):

- ``40001`` Not routable — the destination cannot be reached from this kind of sender
  (e.g. a landline for a long or short code; other sender types may route it).
  https://developers.telnyx.com/docs/messaging/messages/error-codes
- ``40305`` Invalid 'from' address — this sender is not a messaging-enabled number, short
  code or alphanumeric sender ID of the account/profile.
- ``40319`` Incompatible message type for the 'to' address — "not possible to send
  messages to the requested destination using the given sender".
  https://developers.telnyx.com/api/errors/40319

Never on anything else: not on ``40300`` (opted out: the same for every sender of the
account and handled by the caller), ``40310`` (invalid 'to': no sender can fix it),
``10xxx`` request errors, 401/403, 429 or 5xx, and never after a timeout or a broken
connection — Telnyx may have accepted the message, and a second sender would send a
second code.

Time: a send, its retries, waits and fallbacks included, ends within
``longest_send_seconds`` (two attempts' worth, ``SEND_ATTEMPTS``): no retry or fallback
starts that could not end by then, and a Telnyx ``Retry-After`` longer than what is left
is not waited out (the 429 is the answer: nothing was sent). Callers that hold something
for the length of a send (an Idempotency-Key's claim) can rely on that bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from otp_service import telnyx
from otp_service.delivery.adaptive import CONFIGURED, AdaptiveRanker, RouteOrder
from otp_service.delivery.routing import (
    DeliveryConfig,
    WhatsAppTemplate,
    route_key,
    senders_for,
)
from otp_service.delivery.senders import SENDER_TYPES, Sender, whatsapp_template_message
from otp_service.delivery.templates import render_text
from otp_service.ids import DEFAULT_PROFILE
from otp_service.phones import country_of

__all__ = [
    "FALLBACK_CODES",
    "Attempt",
    "Delivery",
    "DeliveryError",
    "DeliveryRejected",
    "DeliveryUnavailable",
    "DestinationRefused",
    "OutgoingCode",
    "SendResult",
    "SenderInfo",
]

log = logging.getLogger(__name__)

OPTED_OUT_CODE = "40300"
FALLBACK_CODES = frozenset({"40001", "40305", "40319"})
CHANNELS = ("sms", "whatsapp")
SEND_ATTEMPTS = 2  # a send's time bound, in attempts of the longest one Telnyx call may take


@dataclass(frozen=True)
class SenderInfo:
    """The sender a message went out through, as the verification records it."""

    type: str
    from_: str | None = None
    messaging_profile_id: str | None = None

    def encode(self) -> str:
        return f"{self.type}|{self.from_ or ''}|{self.messaging_profile_id or ''}"

    @classmethod
    def decode(cls, value: str) -> SenderInfo:
        kind, from_, profile = (value.split("|") + ["", ""])[:3]
        return cls(kind, from_ or None, profile or None)

    def to_dict(self) -> dict[str, str | None]:
        return {
            "type": self.type,
            "from": self.from_,
            "messaging_profile_id": self.messaging_profile_id,
        }

    @classmethod
    def of(cls, sender: Sender, data: dict[str, Any] | None = None) -> SenderInfo:
        """A configured sender; with Telnyx's answer, the number a pool picked as ``from``."""
        from_ = sender.from_
        if data and not from_:
            from_ = (data.get("from") or {}).get("phone_number") or None
        return cls(sender.type, from_, sender.messaging_profile_id)


@dataclass(frozen=True)
class OutgoingCode:
    """What the service asks to send; the code never appears in a repr."""

    to: str
    code: str = field(repr=False)
    app_name: str
    ttl_seconds: int
    locale: str | None = None
    channel: str = "sms"
    # the asking profile's: its receipts come back to it; its own texts and lines (the
    # delivery config's lines when it has none)
    profile_id: str = DEFAULT_PROFILE
    templates: Mapping[str, str] = field(default_factory=dict)
    webotp_domain: str | None = None
    android_app_hash: str | None = None
    routes: Mapping[str, tuple[Sender, ...]] | None = None  # the profile's; None: the config's
    whatsapp: WhatsAppTemplate | None = None  # the profile's; None: the config's
    # the profile's adaptive routes when it has routes of its own (None: the config's)
    orders: Mapping[str, RouteOrder] | None = None


@dataclass(frozen=True)
class Attempt:
    """A sender Telnyx refused before the message went out (or, last, did not)."""

    sender: SenderInfo
    status_code: int
    codes: tuple[str, ...]


@dataclass(frozen=True)
class SendResult:
    message_id: str
    status: str | None
    sender: SenderInfo
    refused: tuple[Attempt, ...] = ()  # senders tried and refused before this one
    because: str = CONFIGURED  # why this sender (``sender.chosen_because``)


class DeliveryError(Exception):
    def __init__(self, detail: str, sender: SenderInfo | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.sender = sender


class DestinationRefused(DeliveryError):
    """Not sent: the destination is not allowed, or no sender serves it on this channel."""

    def __init__(self, detail: str, *, reason: str, country: str | None) -> None:
        super().__init__(detail)
        self.reason = reason  # "not_allowed" | "no_route"
        self.country = country


class DeliveryRejected(DeliveryError):
    """Telnyx answered and did not take the message: nothing was sent."""

    def __init__(
        self,
        detail: str,
        *,
        status_code: int,
        codes: tuple[str, ...] = (),
        sender: SenderInfo | None = None,
        attempts: tuple[Attempt, ...] = (),
    ) -> None:
        super().__init__(detail, sender)
        self.status_code = status_code
        self.codes = codes
        self.attempts = attempts  # every sender tried, in order, this one last

    @property
    def opted_out(self) -> bool:
        return OPTED_OUT_CODE in self.codes


class DeliveryUnavailable(DeliveryError):
    """No answer from Telnyx; ``maybe_sent`` is False only if the request never left."""

    def __init__(
        self,
        detail: str,
        *,
        maybe_sent: bool,
        sender: SenderInfo | None = None,
        refused: tuple[Attempt, ...] = (),
    ) -> None:
        super().__init__(detail, sender)
        self.maybe_sent = maybe_sent
        self.refused = refused  # senders refused before this one


def can_fall_back(exc: telnyx.APIStatusError) -> bool:
    """Whether another sender may succeed where this one was refused."""
    codes = set(exc.codes)
    return 400 <= exc.status_code < 500 and bool(codes) and codes <= FALLBACK_CODES


def _never_left(exc: telnyx.APIConnectionError) -> bool:
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class Delivery:
    """Routes a code to its senders, renders it for the channel, and sends it."""

    def __init__(
        self,
        client: telnyx.TelnyxClient,
        config: DeliveryConfig,
        *,
        webhook_url: str | None = None,
        ranker: AdaptiveRanker | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.webhook_url = webhook_url
        self.ranker = ranker  # orders the adaptive routes; None: configured order always
        self.attempt_seconds = attempt_seconds(client.timeout)
        self.longest_send_seconds = SEND_ATTEMPTS * self.attempt_seconds

    def check_destination(
        self,
        phone: str,
        channel: str = "sms",
        allowed: frozenset[str] = frozenset(),
        routes: Mapping[str, tuple[Sender, ...]] | None = None,
    ) -> str | None:
        """The destination's country (None if unknown) when a code may be sent to it;
        ``DestinationRefused`` otherwise. ``allowed``: a profile's own countries, on top
        of the service-wide rule; ``routes``: a profile's own, in place of the config's.
        Call it before storing anything."""
        country = self._route(phone, channel, routes)[0]
        if allowed and country not in allowed:
            raise DestinationRefused(
                f"sending to {country or 'this destination'} is not allowed for this profile",
                reason="not_allowed",
                country=country,
            )
        return country

    def senders(
        self, phone: str, channel: str, routes: Mapping[str, tuple[Sender, ...]] | None = None
    ) -> tuple[Sender, ...]:
        """The configured senders of ``channel`` to ``phone`` (() when none or not allowed)."""
        try:
            return self._route(phone, channel, routes)[1]
        except DestinationRefused:
            return ()

    def send(
        self,
        message: OutgoingCode,
        senders: tuple[Sender, ...] | None = None,
        because: str = "",
    ) -> SendResult:
        """Send ``message`` through its route, falling back as the module docstring says;
        through ``senders`` (for ``because``) instead when given: a fallback send's."""
        country, routed = self._route(message.to, message.channel, message.routes)
        if senders is None:
            senders, because = self._ordered(message, country, routed)
        content: dict[str, Any] = {}
        if message.channel == "whatsapp":
            template = message.whatsapp or self.config.whatsapp
            content["whatsapp"] = whatsapp_template_message(
                name=template.name,
                language=template.language_for(message.locale),
                code=message.code,
            )
        else:
            content["sms"] = self.sms_text(message)
        sent = self._deliver(message.to, senders, content, self._webhook_url(message.profile_id))
        if sent.refused:
            codes = ",".join(sent.refused[-1].codes)
            return replace(
                sent, because=f"next sender: {sent.refused[-1].sender.type} refused ({codes})"
            )
        return replace(sent, because=because or CONFIGURED)

    def sms_text(self, message: OutgoingCode) -> str:
        """The text an SMS of ``message`` carries: what ``send`` sends, and what a create
        measures a request's own app name with before anything is stored."""
        return render_text(
            code=message.code,
            app_name=message.app_name,
            ttl_seconds=message.ttl_seconds,
            locale=message.locale,
            # a profile's own ('' for none), else the environment's
            webotp_domain=_given(message.webotp_domain, self.config.webotp_domain),
            app_hash=_given(message.android_app_hash, self.config.android_app_hash),
            custom=message.templates,
        )

    def _ordered(
        self, message: OutgoingCode, country: str | None, senders: tuple[Sender, ...]
    ) -> tuple[tuple[Sender, ...], str]:
        """The route's senders in the order to try them (adaptive where the route says)."""
        routes = self.config.routes if message.routes is None else message.routes
        orders = self.config.orders if message.routes is None else (message.orders or {})
        key = route_key(routes, country, message.channel)
        rule = orders.get(key or "")
        if rule is None or self.ranker is None:
            return senders, CONFIGURED
        return self.ranker.order(message.profile_id, country or "", message.channel, senders, rule)

    def _webhook_url(self, profile_id: str) -> str | None:
        """Where Telnyx sends this message's receipts: a profile's carry its id, so the
        receipt finds the verification among that profile's."""
        if self.webhook_url is None or profile_id == DEFAULT_PROFILE:
            return self.webhook_url
        return f"{self.webhook_url}?profile={profile_id}"

    def _route(
        self,
        phone: str,
        channel: str,
        routes: Mapping[str, tuple[Sender, ...]] | None = None,
    ) -> tuple[str | None, tuple[Sender, ...]]:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        country = country_of(phone)
        where = country or "this destination"
        if not self.config.allows(country):
            raise DestinationRefused(
                f"sending to {where} is not allowed (OTP_ALLOWED_COUNTRIES)",
                reason="not_allowed",
                country=country,
            )
        senders = senders_for(self.config.routes if routes is None else routes, country, channel)
        if not senders:
            kind = "WhatsApp" if channel == "whatsapp" else "SMS"
            raise DestinationRefused(
                f"no {kind} sender is configured for {where}", reason="no_route", country=country
            )
        return country, senders

    def _deliver(
        self,
        to: str,
        senders: tuple[Sender, ...],
        content: dict[str, Any],
        webhook_url: str | None,
    ) -> SendResult:
        refused: list[Attempt] = []
        ends = time.monotonic() + self.longest_send_seconds
        for index, sender in enumerate(senders):
            kind = SENDER_TYPES[sender.type]
            info = SenderInfo.of(sender)
            try:
                data = kind.call(self._until(ends), sender, to, content[kind.channel], webhook_url)
            except telnyx.APIStatusError as exc:
                refused.append(Attempt(info, exc.status_code, tuple(exc.codes)))
                time_left = ends - time.monotonic() >= self.attempt_seconds
                if index + 1 < len(senders) and can_fall_back(exc) and time_left:
                    log.warning(
                        "telnyx refused %s (HTTP %d, codes %s); trying the next sender",
                        sender.describe(),
                        exc.status_code,
                        ",".join(exc.codes),
                    )
                    continue
                raise DeliveryRejected(
                    _refusal(exc.status_code, len(refused)),
                    status_code=exc.status_code,
                    codes=tuple(exc.codes),
                    sender=info,
                    attempts=tuple(refused),
                ) from exc
            except telnyx.APIConnectionError as exc:
                maybe_sent = not _never_left(exc)
                raise DeliveryUnavailable(
                    "Telnyx did not answer" if maybe_sent else "Telnyx is not reachable",
                    maybe_sent=maybe_sent,
                    sender=info,
                    refused=tuple(refused),
                ) from exc
            recipients = data.get("to") or [{}]
            return SendResult(
                message_id=data["id"],
                status=recipients[0].get("status"),
                sender=SenderInfo.of(sender, data),
                refused=tuple(refused),
            )
        raise AssertionError("a route has at least one sender")  # pragma: no cover

    def _until(self, ends: float) -> telnyx.TelnyxClient:
        """The client, retrying only where the retry can end before ``ends``."""
        policy = self.client.retry_policy
        last_start = ends - time.monotonic() - self.attempt_seconds
        return self.client.with_options(
            retry_policy=replace(policy, max_total=min(policy.max_total, max(0.0, last_start)))
        )


def attempt_seconds(timeout: httpx.Timeout) -> float:
    """The longest one Telnyx call may take: every phase's timeout (a pooled connection,
    connect, write, read), each of which may run out in turn."""
    phases = [timeout.pool, timeout.connect, timeout.write, timeout.read]
    if None in phases:
        raise ValueError("a Telnyx client for sends needs a timeout on every phase")
    return sum(float(phase) for phase in phases if phase is not None)


def _refusal(status_code: int, tried: int) -> str:
    if tried == 1:
        return f"Telnyx refused the message (HTTP {status_code})"
    return f"Telnyx refused the message from all {tried} senders (last: HTTP {status_code})"


def _given(value: str | None, default: str | None) -> str | None:
    return default if value is None else value
