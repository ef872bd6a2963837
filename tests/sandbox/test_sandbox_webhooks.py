"""Webhooks from the sandbox: signed, in order, shaped like the spec, retried, observable."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from jsonschema import Draft202012Validator

from otp_service.sandbox import FROM_NUMBERS, MAGIC_NUMBERS, PROFILE_IDS, SandboxServer
from otp_service.sandbox.spec import registry, schema_ref
from otp_service.sandbox.validation import format_checker
from otp_service.telnyx.webhooks import (
    WebhookVerificationError,
    generate_signing_key,
    public_key_b64,
    verify_webhook,
)

from .conftest import Receiver

PRIMARY = PROFILE_IDS["primary"]
FROM = FROM_NUMBERS[PRIMARY][0]
TO = "+13125559876"


def send(api: httpx.Client, to: str = TO, **extra: object) -> str:
    response = api.post("/messages/long_code", json={"from": FROM, "to": to, "text": "x", **extra})
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def conforms(body: dict, schema_name: str) -> None:
    validator = Draft202012Validator(
        schema_ref(f"/components/schemas/{schema_name}"),
        registry=registry(),
        format_checker=format_checker(),
    )
    errors = [e.message for e in validator.iter_errors(body)]
    assert errors == []


def test_accepted_message_gets_signed_sent_then_delivered_events(
    api: httpx.Client, receiver: Receiver, sandbox: SandboxServer
) -> None:
    message_id = send(api)
    requests = receiver.wait_for(2, message_id=message_id)
    assert [r["json"]["data"]["event_type"] for r in requests] == [
        "message.sent",
        "message.finalized",
    ]
    for request in requests:
        verify_webhook(request["raw"], request["headers"], [sandbox.public_key])
        body = request["json"]
        conforms(body, "OutboundMessageEvent")
        assert body["data"]["record_type"] == "event"
        assert body["meta"] == {"attempt": 1, "delivered_to": receiver.url}
    sent, final = (r["json"]["data"]["payload"] for r in requests)
    assert sent["to"][0]["status"] == "sent"
    assert final["to"][0]["status"] == "delivered"
    assert final["errors"] == []
    assert requests[0]["json"]["data"]["id"] != requests[1]["json"]["data"]["id"]
    stored = api.get(f"/messages/{message_id}").json()["data"]
    assert stored["to"][0]["status"] == "delivered"


def test_signature_does_not_verify_with_another_key(
    api: httpx.Client, receiver: Receiver, helpers: httpx.Client, sandbox: SandboxServer
) -> None:
    assert helpers.get("/public_key").json() == {"public_key": sandbox.public_key}
    [request] = receiver.wait_for(1, message_id=send(api), event_type="message.sent")
    other = public_key_b64(generate_signing_key())
    with pytest.raises(WebhookVerificationError):
        verify_webhook(request["raw"], request["headers"], [other])


@pytest.mark.parametrize(
    ("magic", "events", "status", "error_code"),
    [
        ("delivery_failed", 2, "delivery_failed", "40008"),
        ("delivery_unconfirmed", 2, "delivery_unconfirmed", None),
        ("sending_failed", 1, "sending_failed", "40006"),
    ],
)
def test_magic_numbers_finalize_with_their_status_and_error(
    api: httpx.Client, receiver: Receiver, magic: str, events: int, status: str, error_code: str
) -> None:
    message_id = send(api, to=MAGIC_NUMBERS[magic])
    [final] = receiver.wait_for(1, message_id=message_id, event_type="message.finalized")
    payload = final["json"]["data"]["payload"]
    assert payload["to"][0]["status"] == status
    assert [e["code"] for e in payload["errors"]] == ([error_code] if error_code else [])
    assert len(receiver.events(message_id=message_id)) == events


def test_message_webhook_url_wins_over_the_configured_one(
    api: httpx.Client, receiver: Receiver
) -> None:
    message_id = send(api, webhook_url=receiver.url + "/per-message")
    [request] = receiver.wait_for(1, message_id=message_id, event_type="message.sent")
    assert request["path"] == "/hooks/per-message"


def test_failed_delivery_is_retried_and_logged(
    api: httpx.Client, receiver: Receiver, helpers: httpx.Client
) -> None:
    receiver.fail_next = 1
    message_id = send(api)
    receiver.wait_for(2, message_id=message_id)
    attempts = receiver.received(message_id=message_id, event_type="message.sent", failed=True)
    assert [r["json"]["meta"]["attempt"] for r in attempts] == [1, 2]
    log = helpers.get("/webhooks", params={"message_id": message_id}).json()["data"]
    sent = next(r for r in log if r["event_type"] == "message.sent")
    assert (sent["attempts"], sent["status_code"], sent["delivered"]) == (2, 200, True)


def test_unreachable_receiver_is_given_up_without_breaking_the_sandbox(
    api: httpx.Client, helpers: httpx.Client
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/hooks"
    message_id = send(api, webhook_url=dead)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log = helpers.get("/webhooks", params={"message_id": message_id}).json()["data"]
        finals = [r for r in log if r["event_type"] == "message.finalized" and r["attempts"] == 3]
        if finals:
            break
        time.sleep(0.05)
    assert finals and not finals[0]["delivered"] and finals[0]["error"]
    assert send(api)  # still serving


def test_inbound_helper_delivers_a_signed_message_received(
    api: httpx.Client, receiver: Receiver, helpers: httpx.Client, sandbox: SandboxServer
) -> None:
    response = helpers.post("/inbound", json={"from": TO, "to": FROM, "text": "hello"})
    assert response.status_code == 201
    message_id = response.json()["data"]["id"]
    [request] = receiver.wait_for(1, message_id=message_id)
    verify_webhook(request["raw"], request["headers"], [sandbox.public_key])
    body = request["json"]
    conforms(body, "InboundMessageEvent")
    assert body["data"]["event_type"] == "message.received"
    payload = body["data"]["payload"]
    assert (payload["from"]["phone_number"], payload["to"][0]["phone_number"]) == (TO, FROM)
    assert payload["messaging_profile_id"] == PRIMARY
    assert api.get(f"/messages/{message_id}").json()["data"]["direction"] == "inbound"


def test_inbound_stop_opts_out_and_start_opts_back_in(
    api: httpx.Client, helpers: httpx.Client
) -> None:
    helpers.post("/inbound", json={"from": TO, "to": FROM, "text": " stop "})
    optouts = api.get("/messaging_optouts", params={"filter[messaging_profile_id]": PRIMARY})
    assert any(o["to"] == TO for o in optouts.json()["data"])
    refused = api.post("/messages/long_code", json={"from": FROM, "to": TO, "text": "x"})
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "40300"
    helpers.post("/inbound", json={"from": TO, "to": FROM, "text": "START"})
    assert send(api)


def test_link_click_helper_delivers_a_signed_link_click(
    api: httpx.Client, receiver: Receiver, helpers: httpx.Client, sandbox: SandboxServer
) -> None:
    message_id = send(api, text="Sign in: https://acme.link/abc")
    response = helpers.post("/link_click", json={"message_id": message_id})
    assert response.status_code == 201
    [request] = receiver.wait_for(1, message_id=message_id, event_type="message.link_click")
    verify_webhook(request["raw"], request["headers"], [sandbox.public_key])
    conforms(request["json"], "ReplacedLinkClickEvent")
    data = request["json"]["data"]
    assert (data["message_id"], data["url"], data["to"]) == (
        message_id,
        "https://acme.link/abc",
        TO,
    )


def test_link_click_for_unknown_message_is_404(helpers: httpx.Client) -> None:
    response = helpers.post("/link_click", json={"message_id": "nope"})
    assert response.status_code == 404
