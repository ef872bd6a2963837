"""The five kinds of sender, each with its own Telnyx endpoint and request fields.

========================  =====================================  ==============================
``type``                  endpoint (``client.messages.…``)       configured fields
========================  =====================================  ==============================
``short_code``            ``/messages/short_code``               ``from`` (3–8 digits)
``long_code``             ``/messages/long_code``                ``from`` (+E.164)
``number_pool``           ``/messages/number_pool``              ``messaging_profile_id``
``alphanumeric``          ``/messages/alphanumeric_sender_id``   ``from`` + ``messaging_profile_id``
``whatsapp``              ``/messages/whatsapp``                 ``from`` (+E.164), optional
                                                                 ``messaging_profile_id``
========================  =====================================  ==============================

The first four carry SMS text; ``whatsapp`` carries an authentication template whose body
parameter and copy-code button parameter are the code (Meta's authentication template
shape, in Telnyx's ``whatsapp_message.template``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from otp_service import telnyx

__all__ = ["SENDER_TYPES", "Sender", "SenderType", "whatsapp_template_message"]


@dataclass(frozen=True)
class Sender:
    """One configured sender: a route is an ordered tuple of these."""

    type: str
    from_: str | None = None
    messaging_profile_id: str | None = None

    @property
    def channel(self) -> str:
        return SENDER_TYPES[self.type].channel

    def describe(self) -> str:
        """``short_code 22395``, ``number_pool efe9e056-…``: for logs and error details."""
        return f"{self.type} {self.from_ or self.messaging_profile_id}"


# (client, sender, to, content, webhook_url) -> Telnyx's message object
_Call = Callable[[telnyx.TelnyxClient, Sender, str, Any, str | None], dict[str, Any]]


@dataclass(frozen=True)
class SenderType:
    name: str
    channel: str  # "sms" or "whatsapp"
    required: tuple[str, ...]  # configured fields, by their JSON names
    optional: tuple[str, ...]
    call: _Call


def _short_code(
    client: telnyx.TelnyxClient, sender: Sender, to: str, text: str, webhook_url: str | None
) -> dict[str, Any]:
    return client.messages.send_short_code(
        from_=sender.from_, to=to, text=text, webhook_url=webhook_url
    )


def _long_code(
    client: telnyx.TelnyxClient, sender: Sender, to: str, text: str, webhook_url: str | None
) -> dict[str, Any]:
    return client.messages.send_long_code(
        from_=sender.from_, to=to, text=text, webhook_url=webhook_url
    )


def _number_pool(
    client: telnyx.TelnyxClient, sender: Sender, to: str, text: str, webhook_url: str | None
) -> dict[str, Any]:
    return client.messages.send_number_pool(
        messaging_profile_id=sender.messaging_profile_id, to=to, text=text, webhook_url=webhook_url
    )


def _alphanumeric(
    client: telnyx.TelnyxClient, sender: Sender, to: str, text: str, webhook_url: str | None
) -> dict[str, Any]:
    return client.messages.send_with_alphanumeric_sender(
        from_=sender.from_,
        messaging_profile_id=sender.messaging_profile_id,
        to=to,
        text=text,
        webhook_url=webhook_url,
    )


def _whatsapp(
    client: telnyx.TelnyxClient,
    sender: Sender,
    to: str,
    message: dict[str, Any],
    webhook_url: str | None,
) -> dict[str, Any]:
    return client.messages.whatsapp(
        from_=sender.from_,
        to=to,
        messaging_profile_id=sender.messaging_profile_id,
        type="WHATSAPP",
        whatsapp_message=message,
        webhook_url=webhook_url,
    )


SENDER_TYPES: Mapping[str, SenderType] = {
    t.name: t
    for t in (
        SenderType("short_code", "sms", ("from",), (), _short_code),
        SenderType("long_code", "sms", ("from",), (), _long_code),
        SenderType("number_pool", "sms", ("messaging_profile_id",), (), _number_pool),
        SenderType("alphanumeric", "sms", ("from", "messaging_profile_id"), (), _alphanumeric),
        SenderType("whatsapp", "whatsapp", ("from",), ("messaging_profile_id",), _whatsapp),
    )
}


def whatsapp_template_message(*, name: str, language: str, code: str) -> dict[str, Any]:
    """An authentication template: the code fills the body and the copy-code button."""
    parameters = [{"type": "text", "text": code}]
    return {
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [
                {"type": "body", "parameters": parameters},
                {"type": "button", "sub_type": "url", "index": 0, "parameters": parameters},
            ],
        },
    }
