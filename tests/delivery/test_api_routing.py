"""Routing end to end through the API: which endpoint the sandbox saw, the sender the
verification records, fallback, WhatsApp, and OTP_ALLOWED_COUNTRIES.

Skipped until verification.py calls ``Delivery.check_destination`` and
``Delivery.send(OutgoingCode(...))`` (see the delivery hand-over notes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from otp_service import create_app
from otp_service.sandbox.seed import PROFILE_IDS
from tests.conftest import ApiClient, FakeClock, Sandbox, data_keys

PRIMARY = PROFILE_IDS["primary"]
SECONDARY = PROFILE_IDS["secondary"]
ROUTES = {
    "US": [
        {"type": "short_code", "from": "22395"},
        {"type": "number_pool", "messaging_profile_id": PRIMARY},
    ],
    "CA": [{"type": "long_code", "from": "+13125550120"}],
    "*": [{"type": "number_pool", "messaging_profile_id": SECONDARY}],
}
US, CA, DE = "+13125550123", "+16135550123", "+4915112345678"
NOT_ROUTABLE = "+14155550104"


@contextmanager
def api(env: dict[str, str], clock: FakeClock, **extra: Any) -> Iterator[ApiClient]:
    app = create_app({**env, "OTP_ROUTES": json.dumps(ROUTES), **extra}, clock=clock)
    try:
        yield ApiClient(app.test_client())
    finally:
        app.extensions["otp"].close()


def create(client: ApiClient, phone: str, **body: object):
    return client.post("/v1/verifications", json={"phone_number": phone, **body})


@pytest.mark.parametrize(
    ("phone", "endpoint", "sender_type"),
    [
        (US, "/v2/messages/short_code", "short_code"),
        (CA, "/v2/messages/long_code", "long_code"),
        (DE, "/v2/messages/number_pool", "number_pool"),
    ],
)
def test_each_destination_goes_out_through_its_route_and_records_the_sender(
    env, clock, sandbox: Sandbox, phone, endpoint, sender_type
):
    with api(env, clock) as client:
        created = create(client, phone)
        assert created.status_code == 201
        [message] = sandbox.messages(phone)
        assert message["endpoint"] == endpoint
        body = client.get(f"/v1/verifications/{created.get_json()['id']}").get_json()
        assert body["sender"]["type"] == sender_type
        assert body["sender"]["from"] == message["from"]


def test_a_not_routable_number_falls_back_to_the_pool(env, clock, sandbox):
    with api(env, clock) as client:
        created = create(client, NOT_ROUTABLE)
        assert created.status_code == 201
        [message] = sandbox.messages(NOT_ROUTABLE)
        assert message["endpoint"] == "/v2/messages/number_pool"
        assert created.get_json()["sender"] == {
            "type": "number_pool",
            "from": message["from"],
            "messaging_profile_id": PRIMARY,
            "chosen_because": "next sender: short_code refused (40001)",
        }


def test_a_timeout_does_not_fall_back_and_sends_once(env, clock, sandbox):
    sandbox.fault(latency_ms=3000, count=1)  # the app's Telnyx timeout is 2 s
    with api(env, clock) as client:
        response = create(client, US)
        assert response.status_code == 503
        assert response.get_json()["code"] == "provider_unavailable"
        [message] = sandbox.messages(US)
        assert message["endpoint"] == "/v2/messages/short_code"


def test_whatsapp_goes_out_through_the_whatsapp_endpoint(env, clock, sandbox):
    with api(env, clock, OTP_WHATSAPP_FROM="+13125550101") as client:
        created = create(client, US, channel="whatsapp")
        assert created.status_code == 201
        [message] = sandbox.messages(US)
        assert message["endpoint"] == "/v2/messages/whatsapp"
        template = message["body"]["whatsapp_message"]["template"]
        assert template["components"][0]["parameters"][0]["text"].isdigit()
        assert created.get_json()["sender"]["type"] == "whatsapp"


def test_whatsapp_without_a_whatsapp_sender_is_403_and_nothing_is_stored(
    env, clock, sandbox, redis_client
):
    with api(env, clock) as client:
        response = create(client, US, channel="whatsapp")
        assert response.status_code == 403
        assert response.get_json()["code"] == "destination_not_allowed"
    assert data_keys(redis_client) == []
    assert sandbox.messages(US) == []


def test_a_country_outside_the_allowed_list_is_403_and_nothing_is_stored_or_sent(
    env, clock, sandbox, redis_client
):
    with api(env, clock, OTP_ALLOWED_COUNTRIES="US,CA") as client:
        response = create(client, DE)
        assert response.status_code == 403
        problem = response.get_json()
        assert problem["code"] == "destination_not_allowed"
        assert "DE" in problem["detail"]
        assert create(client, US).status_code == 201
    assert sandbox.messages(DE) == []
    assert len(redis_client.keys("*:v")) == 1  # only the US verification


def test_a_country_without_a_route_is_403(env, clock, sandbox, redis_client):
    routes = {"US": ROUTES["US"]}
    with api(env, clock, OTP_ROUTES=json.dumps(routes)) as client:
        response = create(client, DE)
        assert response.status_code == 403
        assert response.get_json()["code"] == "destination_not_allowed"
    assert data_keys(redis_client) == []


def test_the_sms_text_follows_the_requested_locale(env, clock, sandbox):
    with api(env, clock) as client:
        assert create(client, US, locale="es-MX", app_name="Acme").status_code == 201
        assert sandbox.messages(US)[0]["text"].startswith("Código Acme: ")
