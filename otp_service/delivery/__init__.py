"""Getting a code to a phone: routes, senders, message text, and the Telnyx calls.

``routing.py`` reads which senders serve which destination countries, ``senders.py``
maps each sender type to its Telnyx endpoint, ``templates.py`` renders the SMS text per
locale, and ``pipeline.py`` sends through the route with its fallback rules.
"""

from otp_service.delivery.adaptive import (
    AdaptiveRanker,
    RouteOrder,
    RouteStats,
    parse_sender_key,
    sender_key,
)
from otp_service.delivery.fallback import FallbackPolicy, fallback_from
from otp_service.delivery.pipeline import (
    FALLBACK_CODES,
    Attempt,
    Delivery,
    DeliveryError,
    DeliveryRejected,
    DeliveryUnavailable,
    DestinationRefused,
    OutgoingCode,
    SenderInfo,
    SendResult,
)
from otp_service.delivery.routing import (
    DeliveryConfig,
    WhatsAppTemplate,
    load_delivery_config,
)
from otp_service.delivery.senders import SENDER_TYPES, Sender
from otp_service.delivery.templates import render_text, segments

__all__ = [
    "FALLBACK_CODES",
    "AdaptiveRanker",
    "FallbackPolicy",
    "RouteOrder",
    "RouteStats",
    "fallback_from",
    "parse_sender_key",
    "sender_key",
    "SENDER_TYPES",
    "Attempt",
    "Delivery",
    "DeliveryConfig",
    "DeliveryError",
    "DeliveryRejected",
    "DeliveryUnavailable",
    "DestinationRefused",
    "OutgoingCode",
    "SendResult",
    "Sender",
    "SenderInfo",
    "WhatsAppTemplate",
    "load_delivery_config",
    "render_text",
    "segments",
]
