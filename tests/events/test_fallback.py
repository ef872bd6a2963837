"""Fallback sends: a code that Telnyx took but that did not arrive is sent again, through
another channel or sender, by the worker — once, within the verification's limits — and
the approval says which send's code was used. Real Redis (one and a cluster), the sandbox
over HTTP (its sender faults decide each message's fate; the tests pass its receipts on,
signed, as Telnyx would), the worker pass by pass with the test clock."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service.store.insights import Count
from otp_service.telnyx.webhooks import public_key_b64, sign_webhook
from tests.conftest import ApiClient, FakeClock, Sandbox
from tests.events.conftest import drain
from tests.support.receipts import finalized, post_signed

pytestmark = pytest.mark.topologies("single", "cluster")

PHONE = "+13125550123"
SMS = "+13125550100"
WHATSAPP = "+13125550101"
KEY = Ed25519PrivateKey.generate()
ROUTES = {"*": [{"type": "long_code", "from": SMS}, {"type": "whatsapp", "from": WHATSAPP}]}
FALLBACK = {
    "on": ["delivery_failed", "sending_failed", "no_receipt"],
    "no_receipt_seconds": 20,
    "to": "whatsapp",
    "max_fallbacks": 1,
}


@pytest.fixture
def env(env: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    env["TELNYX_PUBLIC_KEYS"] = ",".join([env["TELNYX_PUBLIC_KEYS"], public_key_b64(KEY)])
    env["OTP_ROUTES"] = json.dumps(ROUTES)
    env["OTP_FALLBACK"] = json.dumps(FALLBACK)
    marker = request.node.get_closest_marker("env")
    if marker is not None:
        env.update(marker.kwargs)
    return env


def create(client: ApiClient) -> dict[str, Any]:
    answer = client.post("/v1/verifications", json={"phone_number": PHONE})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def code_of(message: dict[str, Any]) -> str:
    """The code in a sandbox message: the SMS text's, or the WhatsApp template's."""
    if message["type"] == "WHATSAPP":
        template = message["body"]["whatsapp_message"]["template"]
        return template["components"][0]["parameters"][0]["text"]
    return next(word for word in message["text"].split() if word.isdigit())


def pass_receipts_on(client: ApiClient, sandbox: Sandbox) -> None:
    """Every sandbox message's final receipt, signed, to the service (as Telnyx would)."""
    for message in sandbox.messages(PHONE):
        if message["final_status"] is None:
            continue  # a dropped receipt
        errors = [{"code": "40008", "title": "Undeliverable"}]
        body = {
            "data": {
                "event_type": "message.finalized",
                "id": str(uuid.uuid4()),
                "occurred_at": "2027-01-15T08:00:00.000Z",
                "record_type": "event",
                "payload": {
                    "id": message["id"],
                    "direction": "outbound",
                    "to": [{"phone_number": PHONE, "status": message["final_status"]}],
                    "errors": [] if message["final_status"] == "delivered" else errors,
                },
            }
        }
        payload = json.dumps(body).encode()
        headers = {
            **sign_webhook(payload, KEY, int(time.time())),
            "Content-Type": "application/json",
        }
        assert (
            client.flask.post("/v1/webhooks/telnyx", data=payload, headers=headers).status_code
            == 200
        )


def sender_fault(sandbox: Sandbox, sender: str, effect: str, **more: Any) -> None:
    answer = sandbox.http.post(
        "/_sandbox/sender_faults", json={"from": sender, "effect": effect, **more}
    )
    answer.raise_for_status()


def check(client: ApiClient, vid: str, code: str) -> dict[str, Any]:
    return client.post(f"/v1/verifications/{vid}/check", json={"code": code}).get_json()


@pytest.mark.parametrize(("effect", "which"), [("delivery_failed", 0), ("sending_failed", 1)])
def test_a_failed_sms_falls_back_to_whatsapp_and_either_code_approves(
    client, admin, sandbox, worker, endpoint, receiver, clock: FakeClock, effect, which
):
    sender_fault(sandbox, SMS, effect)
    created = create(client)
    pass_receipts_on(client, sandbox)
    drain(worker)

    sms, whatsapp = reversed(sandbox.messages(PHONE))
    assert (sms["from"], whatsapp["from"], whatsapp["type"]) == (SMS, WHATSAPP, "WHATSAPP")
    assert code_of(sms) != code_of(whatsapp)
    now = client.get(f"/v1/verifications/{created['id']}").get_json()
    assert (now["sends"], now["fallbacks"], now["channel"]) == (2, 1, "sms")
    assert now["sender"]["type"] == "whatsapp"
    assert now["sender"]["chosen_because"] == f"fallback after {effect}"
    assert "verification.fallback_sent" in [r.json["type"] for r in receiver.wait_for(4)]

    approved = check(client, created["id"], code_of([sms, whatsapp][which]))
    assert approved["status"] == "approved" and approved["valid"] is True
    assert client.get(f"/v1/verifications/{created['id']}").get_json()["approved_send"] == which + 1
    drain(worker)
    # the approval counts for the route of the send whose code was used
    routes = admin.get("/v1/admin/insights/routes").get_json()["data"]
    approvals = {r["sender"]["type"]: r["windows"]["1h"]["approved"] for r in routes}
    assert approvals == {"long_code": 1 - which, "whatsapp": which}
    # route health's fallbacks: the fallback sends that went through the route
    fallbacks = {r["sender"]["type"]: r["windows"]["24h"]["fallbacks"] for r in routes}
    assert fallbacks == {"long_code": 0, "whatsapp": 1}
    [record] = admin.get(
        "/v1/admin/verifications", query_string={"phone_number": PHONE}
    ).get_json()["data"]
    assert [s["sender"]["type"] for s in record["sends"]] == ["long_code", "whatsapp"]
    assert record["approved_send"] == which + 1


def test_wrong_codes_count_per_verification_whichever_code_they_aim_at(
    client, sandbox, worker, clock: FakeClock
):
    sender_fault(sandbox, SMS, "delivery_failed")
    created = create(client)
    pass_receipts_on(client, sandbox)
    drain(worker)
    codes = {code_of(m) for m in sandbox.messages(PHONE)}
    wrong = next(c for c in (f"{n:06d}" for n in range(1000)) if c not in codes)
    assert check(client, created["id"], wrong)["attempts_remaining"] == 4
    assert check(client, created["id"], wrong)["attempts_remaining"] == 3


def test_no_receipt_within_the_window_falls_back(client, sandbox, worker, clock: FakeClock):
    sender_fault(sandbox, SMS, "dropped")
    created = create(client)
    clock.advance(10)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 1  # not yet
    clock.advance(21)  # past 20 s, and the end of the timer's bucket
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 2
    now = client.get(f"/v1/verifications/{created['id']}").get_json()
    assert now["sender"]["chosen_because"] == "fallback after no_receipt"
    clock.advance(60)
    drain(worker)  # a fallback's own send starts no timer past max_fallbacks
    assert len(sandbox.messages(PHONE)) == 2


def test_an_ended_verifications_no_receipt_timer_leaves_the_next_one_alone(
    client, sandbox, worker, clock: FakeClock
):
    """The no-receipt timers name the number: the canceled verification's fires while the
    number's next one is 16 s into its 20 s, and must not fall back early."""
    sender_fault(sandbox, SMS, "dropped")
    first = create(client)
    clock.advance(15)
    assert client.post(f"/v1/verifications/{first['id']}/cancel").status_code == 200
    second = create(client)  # its timer ends 35 s after the first send
    clock.advance(16)  # 31 s: the first timer's bucket (ends by 30 s) is over
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 2  # the two sends, no fallback
    clock.advance(15)  # 46 s: past the second's bucket
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 3
    now = client.get(f"/v1/verifications/{second['id']}").get_json()
    assert now["sender"]["chosen_because"] == "fallback after no_receipt"


def test_a_delivered_code_gets_no_fallback(client, sandbox, worker, clock: FakeClock):
    created = create(client)
    pass_receipts_on(client, sandbox)  # delivered
    clock.advance(31)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 1
    assert client.get(f"/v1/verifications/{created['id']}").get_json()["fallbacks"] == 0


def test_at_most_max_fallbacks(client, sandbox, worker, clock: FakeClock):
    sender_fault(sandbox, SMS, "delivery_failed")
    sender_fault(sandbox, WHATSAPP, "delivery_failed")
    create(client)
    for _ in range(3):
        pass_receipts_on(client, sandbox)
        drain(worker)
        clock.advance(31)
    assert len(sandbox.messages(PHONE)) == 2


def _opt_out(client: ApiClient, admin: ApiClient, vid: str) -> None:
    assert admin.put(f"/v1/admin/opt-outs/{PHONE}").status_code == 201


def _cancel(client: ApiClient, admin: ApiClient, vid: str) -> None:
    assert client.post(f"/v1/verifications/{vid}/cancel").status_code == 200


def _nothing(client: ApiClient, admin: ApiClient, vid: str) -> None:
    pass


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(_opt_out, id="opt-out"),
        pytest.param(_cancel, id="cancel"),
        pytest.param(_nothing, id="max_sends", marks=pytest.mark.env(OTP_MAX_SENDS="1")),
        pytest.param(_nothing, id="guard", marks=pytest.mark.env(OTP_LIMIT_PHONE_HOUR="1")),
    ],
)
def test_what_stops_a_fallback(client, admin, sandbox, worker, clock: FakeClock, stop):
    sender_fault(sandbox, SMS, "delivery_failed")
    created = create(client)
    stop(client, admin, created["id"])
    pass_receipts_on(client, sandbox)
    clock.advance(31)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 1
    assert client.get(f"/v1/verifications/{created['id']}").get_json()["fallbacks"] == 0


def test_a_fallback_telnyx_refuses_for_an_opt_out_records_the_opt_out(
    client, admin, sandbox, worker, clock: FakeClock
):
    sender_fault(sandbox, SMS, "delivery_failed")
    created = create(client)
    # the recipient texted STOP to the WhatsApp number, and the service never heard of it
    stop = {"from": PHONE, "to": WHATSAPP, "text": "STOP", "webhook_url": "http://127.0.0.1:9/"}
    sandbox.http.post("/_sandbox/inbound", json=stop).raise_for_status()
    assert admin.get(f"/v1/admin/opt-outs/{PHONE}").status_code == 404
    pass_receipts_on(client, sandbox)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 1  # WhatsApp refused it with 40300
    assert client.get(f"/v1/verifications/{created['id']}").get_json()["fallbacks"] == 0
    opt_out = admin.get(f"/v1/admin/opt-outs/{PHONE}")
    assert opt_out.status_code == 200, opt_out.get_json()
    assert opt_out.get_json()["source"] == "send_error"


def test_a_profile_without_fallback_sends_none(client, admin, sandbox, worker, clock: FakeClock):
    answer = admin.post("/v1/admin/profiles", json={"name": "Quiet", "fallback": {"on": []}})
    assert answer.status_code == 201, answer.get_json()
    profile = answer.get_json()["data"]
    assert profile["settings"]["fallback"]["on"] == []
    key = admin.post(f"/v1/admin/profiles/{profile['id']}/keys").get_json()["data"]["key"]
    sender_fault(sandbox, SMS, "delivery_failed")
    created = ApiClient(client.flask, key).post("/v1/verifications", json={"phone_number": PHONE})
    assert created.status_code == 201
    pass_receipts_on(client, sandbox)
    clock.advance(31)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 1


def test_a_bad_fallback_policy_is_refused(admin):
    answer = admin.post("/v1/admin/profiles", json={"name": "Bad", "fallback": {"to": "pigeon"}})
    assert answer.status_code == 422
    assert "to" in answer.get_json()["errors"]["fallback"][0]


THREE_SMS = {
    "*": [
        {"type": "long_code", "from": SMS},
        {"type": "long_code", "from": "+13125550102"},
        {"type": "long_code", "from": "+13125550103"},
    ]
}
TWO_NEXT = {"on": ["no_receipt"], "no_receipt_seconds": 20, "to": "next_sender", "max_fallbacks": 2}


@pytest.mark.env(OTP_ROUTES=json.dumps(THREE_SMS), OTP_FALLBACK=json.dumps(TWO_NEXT))
@pytest.mark.parametrize(("first_receipt", "sends"), [("delivered", 2), ("delivery_failed", 3)])
def test_no_fallback_once_an_earlier_send_is_delivered(
    client, sandbox, worker, clock: FakeClock, first_receipt, sends
):
    """The first SMS's receipt comes late, after the first fallback went out: when it
    says delivered, its code (still valid) has arrived, so the fallback's missing receipt
    sends no third code; when it says failed, the second fallback goes out."""
    for sender in (SMS, "+13125550102", "+13125550103"):
        sender_fault(sandbox, sender, "dropped")
    created = create(client)
    clock.advance(31)
    drain(worker)
    assert [m["from"] for m in reversed(sandbox.messages(PHONE))] == [SMS, "+13125550102"]
    first = created["delivery"]["message_id"]
    answer = post_signed(client.flask, finalized(first, PHONE, first_receipt), KEY)
    assert answer.status_code == 200
    clock.advance(31)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == sends
    now = client.get(f"/v1/verifications/{created['id']}").get_json()
    assert (now["sends"], now["fallbacks"]) == (sends, sends - 1)


def test_a_late_receipt_of_an_earlier_send_counts_for_its_route(
    client, admin, sandbox, worker, clock: FakeClock
):
    """The SMS's receipt comes after the WhatsApp fallback went out: route health counts
    it for the SMS route (sent 1, delivered 1), as it would have without the fallback."""
    sender_fault(sandbox, SMS, "dropped")
    created = create(client)
    clock.advance(31)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 2
    first = created["delivery"]["message_id"]
    assert post_signed(client.flask, finalized(first, PHONE, "delivered"), KEY).status_code == 200
    drain(worker)
    routes = admin.get("/v1/admin/insights/routes").get_json()["data"]
    by_type = {r["sender"]["type"]: r["windows"]["1h"] for r in routes}
    assert (by_type["long_code"]["sends"], by_type["long_code"]["delivered"]) == (1, 1)
    assert by_type["whatsapp"]["delivered"] == 0


BETTER = "+13125550120"
ADAPTIVE = {
    "US": {
        "order": "adaptive",
        "min_sends": 10,
        "exploration": 0,
        "senders": [{"type": "long_code", "from": SMS}, {"type": "long_code", "from": BETTER}],
    }
}
NEXT = {"on": ["delivery_failed"], "to": "next_sender", "max_fallbacks": 2}


@pytest.mark.env(OTP_ROUTES=json.dumps(ADAPTIVE), OTP_FALLBACK=json.dumps(NEXT))
def test_an_adaptive_routes_first_choice_falls_back_to_its_other_sender(
    app, client, sandbox, worker, clock: FakeClock
):
    """The adaptive route sends through its second sender, which converts better; when
    that one fails, next_sender is the route's other sender, not none — and never one
    this verification was sent through already."""
    services = app.extensions["otp"]
    at = int(clock() * 1000)
    services.history.insights.add(
        Count(at, metric, "default", "US", f"long_code:{sender}", "sms", amount)
        for sender, approved in ((SMS, 10), (BETTER, 90))
        for metric, amount in (("sent", 100), ("approved", approved))
    )
    services.verifications.delivery.ranker.refresh()
    sender_fault(sandbox, SMS, "delivery_failed")
    sender_fault(sandbox, BETTER, "delivery_failed")
    created = create(client)
    assert created["sender"]["from"] == BETTER
    for _ in range(2):
        pass_receipts_on(client, sandbox)
        drain(worker)
    assert [m["from"] for m in reversed(sandbox.messages(PHONE))] == [BETTER, SMS]
    now = client.get(f"/v1/verifications/{created['id']}").get_json()
    assert (now["fallbacks"], now["sender"]["chosen_because"]) == (
        1,
        "fallback after delivery_failed",
    )


TWO_SMS = {"*": [{"type": "long_code", "from": SMS}, {"type": "long_code", "from": BETTER}]}
ONE_NEXT = {"on": ["delivery_failed"], "to": "next_sender", "max_fallbacks": 1}
ENGLISH = "{code} is your otp-service verification code. It expires in 10 minutes."
PORTUGUESE = "Código Loja: {code}. Expira em 10 min."


def text_of(message: dict[str, Any]) -> str:
    """An SMS's text with its code (4 to 10 digits) put back as ``{code}``."""
    return re.sub(r"\b\d{4,10}\b", "{code}", message["text"])


def fallback_text(sandbox: Sandbox) -> str:
    """The text of the fallback SMS: the latest message, from the route's other sender."""
    latest = sandbox.messages(PHONE)[0]
    assert latest["from"] == BETTER
    return text_of(latest)


@pytest.mark.env(OTP_ROUTES=json.dumps(TWO_SMS), OTP_FALLBACK=json.dumps(ONE_NEXT))
@pytest.mark.parametrize(("body", "digits"), [({"code_length": 8}, 8), ({}, 6)])
def test_a_fallback_code_is_as_long_as_the_code_it_replaces(client, sandbox, worker, body, digits):
    sender_fault(sandbox, SMS, "delivery_failed")
    answer = client.post("/v1/verifications", json={"phone_number": PHONE, **body})
    assert answer.status_code == 201, answer.get_json()
    pass_receipts_on(client, sandbox)
    drain(worker)
    fallback, first = sandbox.messages(PHONE)
    assert fallback["from"] == BETTER
    for message in (first, fallback):
        [code] = re.findall(r"\b\d{4,10}\b", message["text"])
        assert len(code) == digits
    verification = f"/v1/verifications/{answer.get_json()['id']}/check"
    fallback_code = re.findall(r"\b\d{4,10}\b", fallback["text"])[0]
    assert client.post(verification, json={"code": fallback_code}).get_json()["status"] == (
        "approved"
    )


@pytest.mark.env(OTP_ROUTES=json.dumps(TWO_SMS), OTP_FALLBACK=json.dumps(ONE_NEXT))
@pytest.mark.parametrize(
    ("body", "text"),
    [({"locale": "pt-BR", "app_name": "Loja"}, PORTUGUESE), ({}, ENGLISH)],
    ids=["own", "profile's"],
)
def test_a_fallback_sms_speaks_the_language_and_app_name_of_the_create(
    client, sandbox, worker, clock: FakeClock, body, text
):
    sender_fault(sandbox, SMS, "delivery_failed")
    answer = client.post("/v1/verifications", json={"phone_number": PHONE, **body})
    assert answer.status_code == 201, answer.get_json()
    assert text_of(sandbox.messages(PHONE)[0]) == text
    pass_receipts_on(client, sandbox)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 2
    assert fallback_text(sandbox) == text


@pytest.mark.env(OTP_ROUTES=json.dumps(TWO_SMS), OTP_FALLBACK=json.dumps(ONE_NEXT))
@pytest.mark.parametrize(
    ("create_body", "resend_body", "text"),
    [
        ({"locale": "pt-BR", "app_name": "Loja"}, {}, ENGLISH),
        ({}, {"locale": "pt-BR", "app_name": "Loja"}, PORTUGUESE),
    ],
    ids=["resend-without", "resend-with"],
)
def test_a_fallback_after_a_resend_speaks_as_the_resend_did(
    client, sandbox, worker, clock: FakeClock, create_body, resend_body, text
):
    """A resend's own locale and app name (or the profile's, when it gives none) are the
    ones its fallback uses: the user reads the language of the code they asked for last."""
    sender_fault(sandbox, SMS, "delivery_failed")
    body = {"phone_number": PHONE}
    assert client.post("/v1/verifications", json={**body, **create_body}).status_code == 201
    clock.advance(31)  # past the resend cooldown
    assert client.post("/v1/verifications", json={**body, **resend_body}).status_code == 200
    pass_receipts_on(client, sandbox)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 3
    assert fallback_text(sandbox) == text


@pytest.mark.env(OTP_ROUTES=json.dumps(TWO_SMS), OTP_FALLBACK=json.dumps(ONE_NEXT))
def test_a_resend_that_never_went_out_leaves_the_fallback_speaking_as_the_create(
    client, sandbox, worker, clock: FakeClock
):
    """A resend Telnyx could not take is rolled back: its (absent) locale and app name too."""
    sender_fault(sandbox, SMS, "delivery_failed")
    body = {"phone_number": PHONE}
    created = client.post("/v1/verifications", json={**body, "locale": "pt-BR", "app_name": "Loja"})
    assert created.status_code == 201
    clock.advance(31)
    sandbox.http.post("/_sandbox/faults", json={"status": 503, "count": 0}).raise_for_status()
    refused = client.post("/v1/verifications", json=body)
    assert refused.get_json()["code"] == "provider_error"  # neither sender took it
    sandbox.http.delete("/_sandbox/faults").raise_for_status()
    assert len(sandbox.messages(PHONE)) == 1
    pass_receipts_on(client, sandbox)
    drain(worker)
    assert len(sandbox.messages(PHONE)) == 2
    assert fallback_text(sandbox) == "Código Loja: {code}. Expira em 9 min."  # 569 s left


TO_SMS = {"on": ["delivery_failed"], "to": "sms", "max_fallbacks": 1}


@pytest.mark.env(OTP_FALLBACK=json.dumps(TO_SMS))
@pytest.mark.parametrize(
    ("app_name", "text"),
    [
        ("Loja", "{code} is your Loja verification code. It expires in 10 minutes."),
        # not GSM-7: the SMS would be UCS-2 in 2 segments (WhatsApp's create took it)
        ("Shop 🛒🛒🛒", ENGLISH),
    ],
)
def test_a_whatsapp_creates_app_name_names_the_sms_fallback_unless_it_splits_it(
    client, sandbox, worker, clock: FakeClock, app_name, text
):
    sender_fault(sandbox, WHATSAPP, "delivery_failed")
    body = {"phone_number": PHONE, "channel": "whatsapp", "app_name": app_name}
    assert client.post("/v1/verifications", json=body).status_code == 201
    pass_receipts_on(client, sandbox)
    drain(worker)
    sms, whatsapp = sandbox.messages(PHONE)
    assert (whatsapp["type"], sms["from"]) == ("WHATSAPP", SMS)
    assert text_of(sms) == text
