"""Getting a code to a phone: message text, sender choice, and the Telnyx call."""

from otp_service.delivery.sender import (
    Delivery,
    DeliveryError,
    DeliveryRejected,
    DeliveryUnavailable,
    SenderInfo,
    SendResult,
)
from otp_service.delivery.templates import render_text

__all__ = [
    "Delivery",
    "DeliveryError",
    "DeliveryRejected",
    "DeliveryUnavailable",
    "SendResult",
    "SenderInfo",
    "render_text",
]
