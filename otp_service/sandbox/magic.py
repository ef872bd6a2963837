"""Magic destination numbers: sending to one of these makes the sandbox misbehave on purpose.

All are fictional US numbers (555-01xx) that phone-number libraries parse as valid, so a
service that validates destinations lets them through. Any other destination is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAGIC_NUMBERS", "MagicOutcome", "magic_outcome"]

MAGIC_NUMBERS: dict[str, str] = {
    "opted_out": "+14155550101",
    "delivery_failed": "+14155550102",
    "delivery_unconfirmed": "+14155550103",
    "not_routable": "+14155550104",
    "sending_failed": "+14155550105",
    "no_receipt": "+14155550106",
    "late_receipt": "+14155550107",
}


@dataclass(frozen=True)
class MagicOutcome:
    """What happens to a message to a magic number; ``refuse_*`` outcomes are synchronous."""

    name: str
    description: str
    final_status: str | None = None  # the message.finalized status, when the send is accepted
    error: tuple[str, str, str] | None = None  # (code, title, detail) reported in errors[]
    receipt: bool = True  # False: message.finalized never comes
    receipt_delay: float | None = None  # seconds from message.sent to message.finalized


OUTCOMES: dict[str, MagicOutcome] = {
    "opted_out": MagicOutcome(
        "opted_out",
        "refused at once: HTTP 409, error 40300 'Blocked due to STOP message' (every sender)",
        error=("40300", "Blocked due to STOP message", "The destination has sent a STOP message."),
    ),
    "delivery_failed": MagicOutcome(
        "delivery_failed",
        "accepted; message.sent, then message.finalized 'delivery_failed' with error 40008",
        final_status="delivery_failed",
        error=("40008", "Undeliverable", "The recipient carrier did not accept the message."),
    ),
    "delivery_unconfirmed": MagicOutcome(
        "delivery_unconfirmed",
        "accepted; message.sent, then message.finalized 'delivery_unconfirmed'",
        final_status="delivery_unconfirmed",
    ),
    "not_routable": MagicOutcome(
        "not_routable",
        "refused at once for long code and short code senders: HTTP 422, error 40001 "
        "'Not routable' (a landline); number pool, alphanumeric, WhatsApp and RCS deliver",
        error=("40001", "Not routable", "The destination number is a landline."),
    ),
    "sending_failed": MagicOutcome(
        "sending_failed",
        "accepted; no message.sent, then message.finalized 'sending_failed' with error 40006",
        final_status="sending_failed",
        error=("40006", "Recipient server unavailable", "The recipient server did not respond."),
    ),
    "no_receipt": MagicOutcome(
        "no_receipt",
        "accepted; message.sent, and no message.finalized ever (a receipt lost on the way)",
        receipt=False,
    ),
    "late_receipt": MagicOutcome(
        "late_receipt",
        "accepted; message.sent, then message.finalized 'delivered' 30 seconds later",
        receipt_delay=30.0,
    ),
}

_BY_NUMBER = {number: OUTCOMES[name] for name, number in MAGIC_NUMBERS.items()}


def magic_outcome(number: str) -> MagicOutcome | None:
    return _BY_NUMBER.get(number)


def describe() -> list[dict[str, str]]:
    """The table ``GET /_sandbox`` shows."""
    return [
        {"number": number, "name": name, "behaviour": OUTCOMES[name].description}
        for name, number in MAGIC_NUMBERS.items()
    ]
