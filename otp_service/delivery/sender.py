"""Send one message through Telnyx and say, precisely, whether it may have gone out.

The caller rolls a verification back only when Telnyx provably did not accept the
message (``DeliveryRejected``, or ``DeliveryUnavailable`` with ``maybe_sent=False``);
after a read timeout the message may be on its way, so the new code is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from otp_service import telnyx

__all__ = [
    "Delivery",
    "DeliveryError",
    "DeliveryRejected",
    "DeliveryUnavailable",
    "SendResult",
    "SenderInfo",
]

OPTED_OUT_CODE = "40300"


@dataclass(frozen=True)
class SenderInfo:
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


@dataclass(frozen=True)
class SendResult:
    message_id: str
    status: str | None
    sender: SenderInfo


class DeliveryError(Exception):
    def __init__(self, detail: str, sender: SenderInfo | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.sender = sender


class DeliveryRejected(DeliveryError):
    """Telnyx answered and did not take the message: nothing was sent."""

    def __init__(
        self,
        detail: str,
        *,
        status_code: int,
        codes: tuple[str, ...] = (),
        sender: SenderInfo | None = None,
    ) -> None:
        super().__init__(detail, sender)
        self.status_code = status_code
        self.codes = codes

    @property
    def opted_out(self) -> bool:
        return OPTED_OUT_CODE in self.codes


class DeliveryUnavailable(DeliveryError):
    """No answer from Telnyx; ``maybe_sent`` is False only if the request never left."""

    def __init__(self, detail: str, *, maybe_sent: bool, sender: SenderInfo | None = None):
        super().__init__(detail, sender)
        self.maybe_sent = maybe_sent


def _never_left(exc: telnyx.APIConnectionError) -> bool:
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class Delivery:
    """First cut: every SMS goes out through ``POST /messages`` from one sender."""

    def __init__(
        self,
        client: telnyx.TelnyxClient,
        *,
        from_number: str | None,
        messaging_profile_id: str | None,
        webhook_url: str | None,
    ) -> None:
        self.client = client
        self.webhook_url = webhook_url
        if from_number:
            self.sender = SenderInfo("long_code", from_number, messaging_profile_id)
        else:
            self.sender = SenderInfo("number_pool", None, messaging_profile_id)

    def send(self, *, to: str, text: str, channel: str = "sms") -> SendResult:
        sender = self.sender
        try:
            data = self.client.messages.send(
                to=to,
                text=text,
                from_=sender.from_,
                messaging_profile_id=sender.messaging_profile_id,
                webhook_url=self.webhook_url,
            )
        except telnyx.APIStatusError as exc:
            raise DeliveryRejected(
                f"Telnyx refused the message (HTTP {exc.status_code})",
                status_code=exc.status_code,
                codes=tuple(exc.codes),
                sender=sender,
            ) from exc
        except telnyx.APIConnectionError as exc:
            maybe_sent = not _never_left(exc)
            raise DeliveryUnavailable(
                "Telnyx did not answer" if maybe_sent else "Telnyx is not reachable",
                maybe_sent=maybe_sent,
                sender=sender,
            ) from exc
        recipients = data.get("to") or [{}]
        return SendResult(message_id=data["id"], status=recipients[0].get("status"), sender=sender)
