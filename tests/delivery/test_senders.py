"""Delivery against the sandbox over real HTTP: each sender's endpoint and fields, the
fallback rules, and the refusals that happen before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from otp_service.delivery import (
    Attempt,
    Delivery,
    DeliveryRejected,
    DeliveryUnavailable,
    DestinationRefused,
    OutgoingCode,
    SenderInfo,
    load_delivery_config,
)
from otp_service.sandbox.seed import FROM_NUMBERS, PROFILE_IDS
from otp_service.store.redis_server import free_port
from otp_service.telnyx import TelnyxClient
from tests.conftest import Sandbox

PRIMARY = PROFILE_IDS["primary"]
SECONDARY = PROFILE_IDS["secondary"]
WEBHOOK = "http://127.0.0.1:9/v1/webhooks/telnyx"  # nothing listens: refused at once
DE = "+4915112345678"
US = "+13125550123"
NOT_ROUTABLE = "+14155550104"  # sandbox: 40001 for long and short codes only
OPTED_OUT = "+14155550101"  # sandbox: 40300 for every sender
CODE = "4821"


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[TelnyxClient]:
    with TelnyxClient(
        "sandbox-key", base_url=sandbox.base_url, timeout=0.5, max_retries=0
    ) as client:
        yield client


def delivery(client: TelnyxClient, routes: dict[str, Any] | None = None, **env: str) -> Delivery:
    if routes is not None:
        env["OTP_ROUTES"] = json.dumps(routes)
    return Delivery(client, load_delivery_config(env.get), webhook_url=WEBHOOK)


def code(to: str, channel: str = "sms", locale: str | None = None) -> OutgoingCode:
    return OutgoingCode(
        to=to, code=CODE, app_name="Acme", ttl_seconds=600, locale=locale, channel=channel
    )


SMS_TEXT = f"{CODE} is your Acme verification code. It expires in 10 minutes."
WHATSAPP_MESSAGE = {
    "type": "template",
    "template": {
        "name": "otp_verification",
        "language": {"code": "en_US"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": CODE}]},
            {
                "type": "button",
                "sub_type": "url",
                "index": 0,
                "parameters": [{"type": "text", "text": CODE}],
            },
        ],
    },
}


@pytest.mark.parametrize(
    ("spec", "channel", "endpoint", "body"),
    [
        (
            {"type": "short_code", "from": "22395"},
            "sms",
            "/v2/messages/short_code",
            {"from": "22395", "to": DE, "text": SMS_TEXT, "webhook_url": WEBHOOK},
        ),
        (
            {"type": "long_code", "from": "+13125550100"},
            "sms",
            "/v2/messages/long_code",
            {"from": "+13125550100", "to": DE, "text": SMS_TEXT, "webhook_url": WEBHOOK},
        ),
        (
            {"type": "number_pool", "messaging_profile_id": PRIMARY},
            "sms",
            "/v2/messages/number_pool",
            {"messaging_profile_id": PRIMARY, "to": DE, "text": SMS_TEXT, "webhook_url": WEBHOOK},
        ),
        (
            {"type": "alphanumeric", "from": "OTPSvc", "messaging_profile_id": PRIMARY},
            "sms",
            "/v2/messages/alphanumeric_sender_id",
            {
                "from": "OTPSvc",
                "messaging_profile_id": PRIMARY,
                "to": DE,
                "text": SMS_TEXT,
                "webhook_url": WEBHOOK,
            },
        ),
        (
            {"type": "whatsapp", "from": "+13125550101"},
            "whatsapp",
            "/v2/messages/whatsapp",
            {
                "from": "+13125550101",
                "to": DE,
                "type": "WHATSAPP",
                "whatsapp_message": WHATSAPP_MESSAGE,
                "webhook_url": WEBHOOK,
            },
        ),
    ],
    ids=lambda value: value["type"] if isinstance(value, dict) and "type" in value else None,
)
def test_each_sender_type_goes_out_through_its_own_endpoint_with_its_fields(
    client, sandbox, spec, channel, endpoint, body
):
    result = delivery(client, {"*": [spec]}).send(code(DE, channel))

    [message] = sandbox.messages(DE)
    assert message["endpoint"] == endpoint
    assert message["body"] == body
    assert result.message_id == message["id"]
    assert result.status == "queued"
    assert result.refused == ()
    assert result.sender.type == spec["type"]
    assert result.sender.messaging_profile_id == spec.get("messaging_profile_id")
    assert result.sender.from_ == spec.get("from", message["from"])


def test_a_pool_send_records_the_number_telnyx_picked(client, sandbox):
    result = delivery(client, {"*": [{"type": "number_pool", "messaging_profile_id": PRIMARY}]})
    sent = result.send(code(US))
    assert sent.sender.from_ in FROM_NUMBERS[PRIMARY]
    assert sent.sender.from_ == sandbox.messages(US)[0]["from"]
    assert SenderInfo.decode(sent.sender.encode()) == sent.sender


def test_not_routable_falls_back_to_the_next_sender(client, sandbox):
    routes = {
        "US": [
            {"type": "short_code", "from": "22395"},
            {"type": "number_pool", "messaging_profile_id": PRIMARY},
        ]
    }
    result = delivery(client, routes).send(code(NOT_ROUTABLE))

    [message] = sandbox.messages(NOT_ROUTABLE)
    assert message["endpoint"] == "/v2/messages/number_pool"
    assert result.sender.type == "number_pool"
    assert result.refused == (Attempt(SenderInfo("short_code", "22395"), 422, ("40001",)),)


def test_a_sender_not_provisioned_falls_back_to_the_next_sender(client, sandbox):
    routes = {
        "*": [
            {"type": "short_code", "from": "60021"},  # seeded without a messaging profile
            {"type": "long_code", "from": "+13125550100"},
        ]
    }
    result = delivery(client, routes).send(code(US))

    assert [m["endpoint"] for m in sandbox.messages(US)] == ["/v2/messages/long_code"]
    assert result.refused[0].codes == ("40305",)


def test_when_every_sender_is_refused_the_last_refusal_is_raised_with_all_attempts(client, sandbox):
    routes = {
        "US": [
            {"type": "long_code", "from": "+13125550100"},
            {"type": "short_code", "from": "22395"},
        ]
    }
    with pytest.raises(DeliveryRejected) as info:
        delivery(client, routes).send(code(NOT_ROUTABLE))

    rejected = info.value
    assert rejected.sender == SenderInfo("short_code", "22395")
    assert (rejected.status_code, rejected.codes) == (422, ("40001",))
    assert [a.sender.type for a in rejected.attempts] == ["long_code", "short_code"]
    assert "2 senders" in rejected.detail
    assert sandbox.messages(NOT_ROUTABLE) == []


TWO_SENDERS = {
    "*": [
        {"type": "long_code", "from": "+13125550100"},
        {"type": "number_pool", "messaging_profile_id": PRIMARY},
    ]
}


def test_an_opted_out_recipient_is_not_tried_on_another_sender(client, sandbox):
    with pytest.raises(DeliveryRejected) as info:
        delivery(client, TWO_SENDERS).send(code(OPTED_OUT))

    assert info.value.opted_out
    assert info.value.status_code == 409
    assert [a.sender.type for a in info.value.attempts] == ["long_code"]
    assert sandbox.messages(OPTED_OUT) == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_not_tried_on_another_sender(client, sandbox, status):
    sandbox.fault(status=status, count=1)
    with pytest.raises(DeliveryRejected) as info:
        delivery(client, TWO_SENDERS).send(code(US))

    assert info.value.status_code == status
    assert len(info.value.attempts) == 1
    assert sandbox.messages(US) == []  # the pool would have taken it


def test_a_timeout_is_not_tried_on_another_sender_and_the_message_went_out_once(client, sandbox):
    sandbox.fault(latency_ms=1500, count=1)  # the client's read timeout is 0.5 s
    with pytest.raises(DeliveryUnavailable) as info:
        delivery(client, TWO_SENDERS).send(code(US))

    assert info.value.maybe_sent is True
    assert info.value.sender == SenderInfo("long_code", "+13125550100")
    [message] = sandbox.messages(US)
    assert message["endpoint"] == "/v2/messages/long_code"


def test_unreachable_telnyx_is_not_sent_and_not_tried_on_another_sender():
    url = f"http://127.0.0.1:{free_port()}/v2"
    client = TelnyxClient("sandbox-key", base_url=url, timeout=0.5, max_retries=0)
    with client, pytest.raises(DeliveryUnavailable) as info:
        delivery(client, TWO_SENDERS).send(code(US))
    assert info.value.maybe_sent is False
    assert info.value.sender is not None and info.value.sender.type == "long_code"


def test_a_country_outside_the_allowed_list_is_refused_before_sending(client, sandbox):
    sender = delivery(client, TWO_SENDERS, OTP_ALLOWED_COUNTRIES="US,CA")
    assert sender.check_destination(US) == "US"
    with pytest.raises(DestinationRefused) as info:
        sender.check_destination(DE)
    assert (info.value.reason, info.value.country) == ("not_allowed", "DE")
    assert "OTP_ALLOWED_COUNTRIES" in info.value.detail
    with pytest.raises(DestinationRefused):
        sender.send(code(DE))
    assert sandbox.messages(DE) == []


def test_a_country_without_a_route_is_refused_before_sending(client, sandbox):
    sender = delivery(client, {"US": [{"type": "long_code", "from": "+13125550100"}]})
    with pytest.raises(DestinationRefused) as info:
        sender.check_destination(DE)
    assert (info.value.reason, info.value.country) == ("no_route", "DE")
    assert info.value.detail == "no SMS sender is configured for DE"
    with pytest.raises(DestinationRefused) as info:
        sender.check_destination(US, "whatsapp")
    assert info.value.detail == "no WhatsApp sender is configured for US"
    assert sandbox.messages() == []


def test_whatsapp_uses_the_template_language_of_the_locale(client, sandbox):
    sender = delivery(
        client,
        TWO_SENDERS,
        OTP_WHATSAPP_FROM="+13125550101",
        OTP_WHATSAPP_MESSAGING_PROFILE_ID=SECONDARY,
        OTP_WHATSAPP_TEMPLATE="acme_code",
        OTP_WHATSAPP_LANGUAGES="pt-BR:pt_BR",
    )
    result = sender.send(code(US, "whatsapp", locale="pt-BR"))

    [message] = sandbox.messages(US)
    assert message["endpoint"] == "/v2/messages/whatsapp"
    assert message["body"]["messaging_profile_id"] == SECONDARY
    template = message["body"]["whatsapp_message"]["template"]
    assert (template["name"], template["language"]) == ("acme_code", {"code": "pt_BR"})
    assert result.sender == SenderInfo("whatsapp", "+13125550101", SECONDARY)
    assert SenderInfo.decode(result.sender.encode()) == result.sender


def test_sms_text_follows_the_locale_and_ends_with_the_webotp_line(client, sandbox):
    sender = delivery(
        client,
        TWO_SENDERS,
        OTP_WEBOTP_DOMAIN="acme.example",
        OTP_ANDROID_APP_HASH="FA+9qCX9VSu",
    )
    sender.send(code(US, locale="de-AT"))

    text = sandbox.messages(US)[0]["text"]
    assert text.split("\n") == [
        f"{CODE} ist Ihr Bestätigungscode für Acme. Er ist 10 Minuten gültig.",
        "FA+9qCX9VSu",
        f"@acme.example #{CODE}",
    ]


def test_the_code_never_appears_in_a_repr():
    assert CODE not in repr(code(US))
