"""Signed Telnyx webhooks: authenticity first, then delivery status, STOP, link clicks."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.serving import make_server

from otp_service import create_app
from otp_service.inbound import _cost
from otp_service.store import HISTORY_MAX
from otp_service.telnyx.webhooks import public_key_b64, sign_webhook
from tests.conftest import CLIENT_KEY, ApiClient, FakeClock, Sandbox
from tests.support.metrics import sample

pytestmark = pytest.mark.topologies("single", "cluster")

PHONE = "+13125550123"
KEY = Ed25519PrivateKey.generate()
ROTATED_KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TELNYX_PUBLIC_KEYS"] = ",".join(
        [env["TELNYX_PUBLIC_KEYS"], public_key_b64(KEY), public_key_b64(ROTATED_KEY)]
    )
    return env


def post_event(
    client: ApiClient,
    body: Any,
    *,
    key: Ed25519PrivateKey = KEY,
    timestamp: float | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
):
    payload = raw if raw is not None else json.dumps(body).encode()
    signed = sign_webhook(payload, key, int(timestamp or time.time()))
    signed.update(headers or {})
    signed["Content-Type"] = "application/json"
    return client.flask.post("/v1/webhooks/telnyx", data=payload, headers=signed)


def delivery_event(
    message_id: str,
    status: str,
    event_type: str = "message.finalized",
    *,
    event_id: str | None = None,
    errors: list[dict[str, str]] | None = None,
    occurred_at: str = "2027-01-15T08:00:00.000Z",
) -> dict[str, Any]:
    return {
        "data": {
            "event_type": event_type,
            "id": event_id or str(uuid.uuid4()),
            "occurred_at": occurred_at,
            "record_type": "event",
            "payload": {
                "id": message_id,
                "direction": "outbound",
                "to": [{"phone_number": PHONE, "status": status}],
                "errors": errors or [],
            },
        },
        "meta": {"attempt": 1, "delivered_to": "http://127.0.0.1/v1/webhooks/telnyx"},
    }


def inbound_event(text: str, sender: str = PHONE, event_id: str | None = None) -> dict[str, Any]:
    return {
        "data": {
            "event_type": "message.received",
            "id": event_id or str(uuid.uuid4()),
            "occurred_at": "2027-01-15T08:00:00.000Z",
            "record_type": "event",
            "payload": {
                "id": str(uuid.uuid4()),
                "direction": "inbound",
                "from": {"phone_number": sender},
                "to": [{"phone_number": "+13125550100"}],
                "text": text,
            },
        }
    }


def create(client: ApiClient, phone: str = PHONE):
    return client.post("/v1/verifications", json={"phone_number": phone})


@pytest.fixture
def verification(client: ApiClient, sandbox: Sandbox) -> dict[str, Any]:
    return create(client).get_json()


def test_finalized_event_updates_the_verification(client, verification):
    message_id = verification["delivery"]["message_id"]
    response = post_event(client, delivery_event(message_id, "delivered"))
    assert response.status_code == 200
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    assert body["delivery"]["status"] == "delivered"
    assert body["delivery"]["updated_at"] == "2027-01-15T08:00:00.000Z"
    assert body["delivery"]["history"] == [
        {
            "event_type": "message.finalized",
            "status": "delivered",
            "occurred_at": "2027-01-15T08:00:00.000Z",
            "message_id": message_id,
        }
    ]


def test_delivery_failure_keeps_telnyx_error_codes(client, verification):
    message_id = verification["delivery"]["message_id"]
    error = {"code": "40008", "title": "Undeliverable", "detail": "carrier refused"}
    post_event(client, delivery_event(message_id, "delivery_failed", errors=[error]))
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    assert body["delivery"]["status"] == "delivery_failed"
    assert body["delivery"]["errors"] == [error]
    assert body["delivery"]["history"][0]["errors"] == [error]


def test_rotated_key_is_trusted(client, verification):
    message_id = verification["delivery"]["message_id"]
    response = post_event(client, delivery_event(message_id, "delivered"), key=ROTATED_KEY)
    assert response.status_code == 200
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    assert body["delivery"]["status"] == "delivered"


def _unsigned(client: ApiClient, payload: bytes, headers: dict[str, str]):
    headers = {"Content-Type": "application/json", **headers}
    return client.flask.post("/v1/webhooks/telnyx", data=payload, headers=headers)


@pytest.mark.parametrize(
    "case",
    ["missing", "no_timestamp", "malformed", "wrong_key", "tampered", "stale", "future"],
)
def test_unauthentic_events_are_401_and_change_nothing(client, verification, redis_client, case):
    event = delivery_event(verification["delivery"]["message_id"], "delivered")
    payload = json.dumps(event).encode()
    now = int(time.time())
    if case == "missing":
        response = _unsigned(client, payload, {})
    elif case == "no_timestamp":
        headers = sign_webhook(payload, KEY)
        del headers["telnyx-timestamp"]
        response = _unsigned(client, payload, headers)
    elif case == "malformed":
        response = _unsigned(
            client,
            payload,
            {"telnyx-timestamp": str(now), "telnyx-signature-ed25519": "not base64!"},
        )
    elif case == "wrong_key":
        response = post_event(client, event, key=Ed25519PrivateKey.generate())
    elif case == "tampered":
        headers = sign_webhook(payload, KEY, now)
        response = _unsigned(client, payload.replace(b"delivered", b"delivery_failed"), headers)
    elif case == "stale":
        response = post_event(client, event, timestamp=now - 301)
    else:
        response = post_event(client, event, timestamp=now + 301)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "invalid_signature"
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    assert body["delivery"]["status"] == "queued"
    assert body["delivery"]["history"] == []
    assert redis_client.keys("*:e:*") == []


def test_a_body_over_the_limit_is_413(client):
    response = post_event(client, None, raw=b'{"data": "' + b"x" * 70000 + b'"}')
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"


def test_bad_json_with_a_good_signature_is_400(client):
    response = post_event(client, None, raw=b"{not json")
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"event_type": "call.initiated", "id": "x", "payload": {}}},
        {"data": {"event_type": "message.finalized", "id": "x", "payload": {"to": []}}},
        {"data": "nothing"},
        [1, 2, 3],
    ],
)
def test_authentic_events_we_do_not_use_are_acknowledged(client, body, redis_client):
    response = post_event(client, body)
    assert response.status_code == 200
    assert response.get_json()["result"] == "ignored"
    assert redis_client.keys("*") == []


def test_duplicate_event_is_acknowledged_and_changes_nothing(client, verification):
    message_id = verification["delivery"]["message_id"]
    event = delivery_event(message_id, "delivered", event_id=str(uuid.uuid4()))
    assert post_event(client, event).get_json()["result"] == "updated"
    again = post_event(client, event)
    assert again.status_code == 200
    assert again.get_json()["result"] == "duplicate"
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    assert len(body["delivery"]["history"]) == 1


def test_the_history_keeps_the_latest_events(client, verification, redis_client):
    message_id = verification["delivery"]["message_id"]
    stamps = [f"2027-01-15T08:{minute:02d}:00.000Z" for minute in range(HISTORY_MAX + 3)]
    for stamp in stamps:
        event = delivery_event(message_id, "sent", "message.sent", occurred_at=stamp)
        assert post_event(client, event).status_code == 200
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    history = body["delivery"]["history"]
    assert [h["occurred_at"] for h in history] == stamps[3:]
    key = f"otp:{{{verification['id'][:16]}}}:h"
    assert redis_client.llen(key) == HISTORY_MAX
    verification_ttl = redis_client.pttl(key.replace(":h", ":v"))
    assert 0 < redis_client.pttl(key) <= verification_ttl  # it goes with the verification


def test_late_event_never_moves_a_final_status_back(client, verification):
    message_id = verification["delivery"]["message_id"]
    post_event(client, delivery_event(message_id, "delivered", occurred_at="2027-01-15T08:00:02Z"))
    late = delivery_event(message_id, "sent", "message.sent", occurred_at="2027-01-15T08:00:01Z")
    assert post_event(client, late).get_json()["result"] == "kept"
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    assert body["delivery"]["status"] == "delivered"
    assert [h["status"] for h in body["delivery"]["history"]] == ["delivered", "sent"]


def test_events_of_an_earlier_send_only_add_to_history(client, sandbox, clock: FakeClock):
    first = create(client).get_json()
    clock.advance(30)
    second = create(client).get_json()
    assert second["delivery"]["message_id"] != first["delivery"]["message_id"]
    result = post_event(client, delivery_event(first["delivery"]["message_id"], "delivered"))
    assert result.get_json()["result"] == "kept"
    body = client.get(f"/v1/verifications/{second['id']}").get_json()
    assert body["delivery"]["status"] == "queued"
    assert body["delivery"]["history"][0]["message_id"] == first["delivery"]["message_id"]


def test_event_for_an_unknown_message_is_ignored(client, verification):
    result = post_event(client, delivery_event(str(uuid.uuid4()), "delivered"))
    assert result.status_code == 200
    assert result.get_json()["result"] == "unknown"


@pytest.mark.parametrize(
    "word",
    [
        *["STOP", "stop", "  Stop  ", "STOPALL", "unsubscribe", "CANCEL", "end", "QUIT"],
        # the FCC's 2025 revocation rule names REVOKE and OPT OUT as reasonable means
        *["REVOKE", "revoke", "OPTOUT", "OPT OUT", "opt  out", "Opt-Out", "opt out!"],
        # full-width, trailing punctuation, symbols: compared after NFKC and trimming
        *["ＳＴＯＰ", "ｓｔｏｐ", "STOP.", "Stop!", '"stop"', "STOP 🛑", "Stop\n"],
        # French, Spanish, Portuguese, German
        *["ARRET", "ARRÊT", "arrêt", "ARRE\u0302T", "PARAR", "Parar.", "ALTO", "¡Alto!", "HALT"],
    ],
)
def test_stop_words_opt_the_number_out(client, sandbox, redis_client, word):
    assert post_event(client, inbound_event(word)).get_json()["result"] == "added"
    response = create(client)
    assert response.status_code == 409
    assert response.get_json()["code"] == "recipient_opted_out"
    assert sandbox.messages(PHONE) == []
    assert redis_client.keys("*:v") == []
    optout = client.flask.application.extensions["otp"].optouts.get(PHONE)
    assert optout.source == "inbound_stop"


@pytest.mark.parametrize("word", ["START", "yes", " unstop ", "Yes!", "ＳＴＡＲＴ"])
def test_start_words_opt_the_number_back_in(client, sandbox, word):
    post_event(client, inbound_event("STOP"))
    later = inbound_event(word)
    later["data"]["occurred_at"] = "2027-01-15T08:00:05.000Z"
    assert post_event(client, later).get_json()["result"] == "removed"
    assert create(client).status_code == 201


@pytest.mark.parametrize(
    "text", ["HELP", "hello", "STOP please", "", "S T O P", "stopp", "stop stop", "STOP 2"]
)
def test_other_inbound_texts_change_nothing(client, sandbox, text):
    assert post_event(client, inbound_event(text)).get_json()["result"] == "ignored"
    assert create(client).status_code == 201


@pytest.fixture
def keyword_env(env: dict[str, str]) -> dict[str, str]:
    env["OTP_OPTOUT_KEYWORDS"] = "PARE, Stop"
    env["OTP_OPTIN_KEYWORDS"] = "VOLTAR"
    return env


def test_configured_keywords_replace_the_defaults(keyword_env, client, sandbox):
    def send(text: str, second: int) -> str:
        event = inbound_event(text)
        event["data"]["occurred_at"] = f"2027-01-15T08:00:{second:02d}.000Z"
        return post_event(client, event).get_json()["result"]

    assert send("END", 1) == "ignored"  # a default no longer in the list
    assert send("pare.", 2) == "added"
    assert send("START", 3) == "ignored"
    assert create(client).status_code == 409
    assert send("Voltar", 4) == "removed"
    assert create(client).status_code == 201
    assert send("STOP", 5) == "added"


# -- every number is normalised before it is tagged or stored -----------------------------

UK = "+447911123457"


@pytest.mark.parametrize(
    "sender", ["+44 0 7911123457", "+4407911123457", "+44 (0)7911 123-457", "+44.7911.123.457"]
)
def test_a_stop_from_a_formatted_number_opts_out_its_e164_form(client, admin, sandbox, sender):
    assert post_event(client, inbound_event("STOP", sender=sender)).get_json()["result"] == "added"
    found = admin.get(f"/v1/admin/opt-outs/{UK}")
    assert found.status_code == 200
    assert found.get_json()["phone_number"] == UK
    refused = create(client, UK)
    assert (refused.status_code, refused.get_json()["code"]) == (409, "recipient_opted_out")
    assert sandbox.messages(UK) == []
    # and the opt-in from yet another form of the same number finds it
    start = inbound_event("START", sender="+44 7911 123457")
    start["data"]["occurred_at"] = "2027-01-15T08:00:05.000Z"
    assert post_event(client, start).get_json()["result"] == "removed"
    assert admin.get(f"/v1/admin/opt-outs/{UK}").status_code == 404


def test_a_delivery_receipt_to_a_formatted_number_finds_its_verification(client, verification):
    event = delivery_event(verification["delivery"]["message_id"], "delivered")
    event["data"]["payload"]["to"][0]["phone_number"] = "+1 (312) 555-0123"
    assert post_event(client, event).get_json()["result"] == "updated"
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    assert body["delivery"]["status"] == "delivered"


@pytest.mark.parametrize("to", ["13125550123", "+1 312 555 0123", "+1-312-555-0123"])
def test_a_link_click_to_any_form_of_the_number_is_counted(client, verification, to):
    click = {
        "data": {
            "record_type": "link_clicked",
            "message_id": verification["delivery"]["message_id"],
            "to": to,
            "url": "https://example.com/verify",
            "time_clicked": "2027-01-15T08:00:00.000Z",
        }
    }
    assert post_event(client, click).get_json()["result"] == "counted"
    assert client.get(f"/v1/verifications/{verification['id']}").get_json()["link_clicks"] == 1


def _webhook_count(event_type: str, result: str) -> float:
    return sample("otp_webhook_events_total", type=event_type, result=result)


@pytest.mark.parametrize(
    ("sender", "masked"),
    [
        ("+1312", "+13*2"),  # too short
        ("22395", "2**95"),  # a short code: no +
        ("+15551234567", "+1555****567"),  # not a valid number
        ("+447766****", "+447**6"),  # redacted
        ("+1 312 555 0123 ext 9", "+1312*****239"),
    ],
)
def test_a_webhook_number_that_cannot_be_normalised_is_counted_and_logged_masked(
    client, redis_client, caplog, sender, masked
):
    before = _webhook_count("message.received", "invalid_number")
    with caplog.at_level(logging.WARNING, logger="otp_service.inbound"):
        response = post_event(client, inbound_event("STOP", sender=sender))
    assert response.status_code == 200  # acknowledged: Telnyx must not retry it
    assert response.get_json()["result"] == "invalid_number"
    assert _webhook_count("message.received", "invalid_number") == before + 1
    assert redis_client.keys("*") == []  # nothing stored, raw or otherwise
    [record] = [r for r in caplog.records if "is not a phone number" in r.getMessage()]
    assert masked in record.getMessage()
    assert sender not in caplog.text


def test_a_receipt_to_an_unusable_number_is_counted_too(client, verification, redis_client):
    before = _webhook_count("message.finalized", "invalid_number")
    event = delivery_event(verification["delivery"]["message_id"], "delivered")
    event["data"]["payload"]["to"][0]["phone_number"] = "3125550123"
    assert post_event(client, event).get_json()["result"] == "invalid_number"
    assert _webhook_count("message.finalized", "invalid_number") == before + 1
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    assert body["delivery"]["status"] == "queued"


def test_a_message_that_is_no_keyword_is_ignored_whatever_its_sender(client):
    event = inbound_event("hello", sender="22395")
    assert post_event(client, event).get_json()["result"] == "ignored"


def test_a_late_start_does_not_undo_a_newer_stop(client, sandbox):
    stop = inbound_event("STOP")
    stop["data"]["occurred_at"] = "2027-01-15T08:00:10.000Z"
    post_event(client, stop)
    start = inbound_event("START")
    start["data"]["occurred_at"] = "2027-01-15T08:00:05.000Z"
    assert post_event(client, start).get_json()["result"] == "newer"
    assert create(client).status_code == 409


def test_link_clicks_are_counted_once_per_event(client, verification):
    message_id = verification["delivery"]["message_id"]
    click = {
        "data": {
            "record_type": "link_clicked",
            "message_id": message_id,
            "to": PHONE.lstrip("+"),
            "url": "https://example.com/verify",
            "time_clicked": "2027-01-15T08:00:00.000Z",
        }
    }
    assert post_event(client, click).get_json()["result"] == "counted"
    assert post_event(client, click).get_json()["result"] == "duplicate"
    click["data"]["time_clicked"] = "2027-01-15T08:01:00.000Z"
    post_event(client, click)
    body = client.get(f"/v1/verifications/{verification['id']}").get_json()
    assert body["link_clicks"] == 2


def test_telnyx_opt_out_refusal_records_the_opt_out(client, sandbox, redis_client):
    from otp_service.sandbox.magic import MAGIC_NUMBERS

    phone = MAGIC_NUMBERS["opted_out"]
    response = create(client, phone)
    assert response.status_code == 409
    assert response.get_json()["code"] == "recipient_opted_out"
    assert response.get_json()["provider_codes"] == ["40300"]
    optout = client.flask.application.extensions["otp"].optouts.get(phone)
    assert optout.source == "send_error"
    # the verification it tried to create is failed, not pending, and the answer names it
    [key] = redis_client.keys("*:v")
    assert redis_client.hget(key, "st") == b"f"
    failed = client.get(f"/v1/verifications/{response.get_json()['verification_id']}")
    assert failed.status_code == 200
    assert (failed.get_json()["status"], failed.get_json()["phone_number"]) == ("failed", phone)
    # and the next create is refused before reaching Telnyx
    calls_before = len(sandbox.http.get("/_sandbox/messages").json()["data"])
    assert create(client, phone).status_code == 409
    assert len(sandbox.http.get("/_sandbox/messages").json()["data"]) == calls_before


# -- the full loop over real HTTP --------------------------------------------------------


@pytest.fixture
def served_app(env: dict[str, str]) -> Iterator[tuple[str, Any]]:
    """The app behind a real HTTP server the sandbox can post its webhooks to."""
    server = make_server("127.0.0.1", 0, None, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    env["OTP_PUBLIC_BASE_URL"] = url
    app = create_app(env)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url, app
    server.shutdown()
    thread.join()
    server.server_close()
    app.extensions["otp"].close()


def test_sandbox_delivery_webhook_reaches_the_verification(served_app, sandbox):
    url, app = served_app
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    try:
        created = http.post("/v1/verifications", json={"phone_number": PHONE}).json()
        deadline = time.monotonic() + 10
        body = created
        while time.monotonic() < deadline and body["delivery"]["status"] != "delivered":
            time.sleep(0.05)
            body = http.get(f"/v1/verifications/{created['id']}").json()
        assert body["delivery"]["status"] == "delivered"
        assert [h["status"] for h in body["delivery"]["history"]] == ["sent", "delivered"]

        # texting STOP through the sandbox opts the number out
        sandbox.http.post(
            "/_sandbox/inbound",
            json={
                "from": PHONE,
                "to": "+13125550100",
                "text": "STOP",
                "webhook_url": f"{url}/v1/webhooks/telnyx",
            },
        ).raise_for_status()
        deadline = time.monotonic() + 10
        optouts = app.extensions["otp"].optouts
        while time.monotonic() < deadline and optouts.get(PHONE) is None:
            time.sleep(0.05)
        assert optouts.get(PHONE).source == "inbound_stop"
        assert http.post("/v1/verifications", json={"phone_number": PHONE}).status_code == 409
    finally:
        http.close()


def test_an_event_that_overtakes_the_send_answer_is_applied_when_the_send_is_recorded(
    app, client, sandbox, redis_client
):
    """Telnyx may post message.sent before our HTTP call to it has returned."""
    from otp_service.delivery import Delivery

    message_ids: list[str] = []
    original = Delivery.send

    def send_then_event_arrives(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        message_ids.append(result.message_id)
        event = delivery_event(result.message_id, "sent", "message.sent")
        assert post_event(client, event).get_json()["result"] == "parked"
        return result

    Delivery.send = send_then_event_arrives
    try:
        body = create(client).get_json()
    finally:
        Delivery.send = original
    assert body["delivery"]["message_id"] == message_ids[0]
    assert body["delivery"]["status"] == "sent"
    assert [h["status"] for h in body["delivery"]["history"]] == ["sent"]
    [key] = redis_client.keys("*:v")
    assert redis_client.hget(key, "pe") is None


@pytest.mark.not_on(
    "cluster", reason="waits out a 2 s Telnyx timeout; nothing in it depends on where the keys live"
)
def test_after_a_send_timeout_the_first_event_names_the_message(client, sandbox):
    sandbox.fault(latency_ms=3000, count=1)
    problem = create(client).get_json()
    vid = problem["verification_id"]
    [message] = sandbox.messages(PHONE)
    result = post_event(client, delivery_event(message["id"], "delivered"))
    assert result.get_json()["result"] == "updated"
    body = client.get(f"/v1/verifications/{vid}").get_json()
    assert body["delivery"]["message_id"] == message["id"]
    assert body["delivery"]["status"] == "delivered"


@pytest.mark.parametrize(
    "cost",
    [
        {"amount": "0.0041", "currency": "usd"},
        {"amount": 1e-07, "currency": "EUR"},
        {"amount": "5", "currency": ""},
        {"amount": "2", "currency": '"x'},
        {"amount": "1", "currency": "é"},
    ],
)
def test_a_receipts_cost_is_kept_as_json_would_write_it(cost):
    amount = str(float(str(cost["amount"])))
    currency = str(cost["currency"])[:3].upper()
    kept = _cost(cost)
    assert kept == json.dumps({"amount": amount, "currency": currency})
    assert json.loads(kept) == {"amount": amount, "currency": currency}
