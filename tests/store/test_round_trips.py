"""Redis round trips per call, counted (never timed): one per check and per get, at most
two per create and per webhook event (DESIGN.md; `make bench` counts the same on the
running service).

A round trip is one ``send_packed_command`` on a connection of the app's pool: a command,
or a whole pipeline. Each test makes the same kind of call once before counting, so the
connection exists and the scripts are loaded (the NOSCRIPT reload happens once per Redis).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from otp_service.telnyx.webhooks import sign_webhook

PHONES = ["+14155550123", "+14155550124", "+14155550125", "+14155550126"]


class RoundTrips:
    """Counts what the app's Redis client sends: one per command or pipeline."""

    def __init__(self, client: redis.Redis) -> None:
        self.count = 0
        pool = client.connection_pool
        counter = self

        class Counting(pool.connection_class):  # type: ignore[name-defined,misc]
            def send_packed_command(self, command: Any, *args: Any, **kwargs: Any) -> None:
                counter.count += 1
                super().send_packed_command(command, *args, **kwargs)

        pool.disconnect()
        pool.reset()
        pool.connection_class = Counting

    def during(self, call: Callable[[], Any]) -> int:
        self.count = 0
        call()
        return self.count


@pytest.fixture
def round_trips(app: Any) -> Iterator[RoundTrips]:
    yield RoundTrips(app.extensions["otp"].store.redis)


def _create(client: Any, phone: str) -> dict[str, Any]:
    response = client.post("/v1/verifications", json={"phone_number": phone})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _wrong(code: str) -> str:
    return "".join(str((int(c) + 1) % 10) for c in code)


@pytest.mark.parametrize("right", [False, True], ids=["wrong_code", "right_code"])
def test_a_check_is_one_round_trip(client, sandbox, round_trips, right):
    warm, measured = (_create(client, phone) for phone in PHONES[:2])
    client.post(f"/v1/verifications/{warm['id']}/check", json={"code": "000000"})
    code = sandbox.last_code(PHONES[1])

    def check() -> None:
        body = {"code": code if right else _wrong(code)}
        response = client.post(f"/v1/verifications/{measured['id']}/check", json=body)
        assert response.status_code == 200
        assert response.get_json()["valid"] is right

    assert round_trips.during(check) == 1


def test_a_check_by_phone_number_is_one_round_trip(client, sandbox, round_trips):
    for phone in PHONES[:2]:
        _create(client, phone)
    client.post("/v1/verifications/check", json={"phone_number": PHONES[0], "code": "000000"})
    code = sandbox.last_code(PHONES[1])

    def check() -> None:
        body = {"phone_number": PHONES[1], "code": code}
        response = client.post("/v1/verifications/check", json=body)
        assert response.get_json()["valid"] is True

    assert round_trips.during(check) == 1


def test_a_get_is_one_round_trip(client, round_trips):
    warm, measured = (_create(client, phone) for phone in PHONES[:2])
    assert client.get(f"/v1/verifications/{warm['id']}").status_code == 200

    def get() -> None:
        assert client.get(f"/v1/verifications/{measured['id']}").status_code == 200

    assert round_trips.during(get) == 1


def test_a_create_is_at_most_two_round_trips(client, round_trips):
    _create(client, PHONES[0])
    trips = round_trips.during(lambda: _create(client, PHONES[1]))
    assert 1 <= trips <= 2


def test_a_resend_is_at_most_two_round_trips(client, clock, round_trips):
    _create(client, PHONES[0])
    _create(client, PHONES[1])
    clock.advance(31)  # past the resend cooldown

    def resend(phone: str) -> None:
        response = client.post("/v1/verifications", json={"phone_number": phone})
        assert response.status_code == 200, response.get_json()

    resend(PHONES[0])
    assert 1 <= round_trips.during(lambda: resend(PHONES[1])) <= 2


def _delivery_event(verification: dict[str, Any], status: str) -> bytes:
    event = {
        "data": {
            "record_type": "event",
            "id": str(uuid.uuid4()),
            "event_type": "message.finalized" if status == "delivered" else "message.sent",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "payload": {
                "record_type": "message",
                "id": verification["delivery"]["message_id"],
                "direction": "outbound",
                "type": "SMS",
                "to": [{"phone_number": verification["phone_number"], "status": status}],
                "errors": [],
            },
        },
        "meta": {"attempt": 1, "delivered_to": "http://127.0.0.1/v1/webhooks/telnyx"},
    }
    return json.dumps(event).encode()


def test_a_webhook_event_is_at_most_two_round_trips(client, sandbox, round_trips):
    key = sandbox.server.config.signing_key
    warm, measured = (_create(client, phone) for phone in PHONES[:2])

    def deliver(verification: dict[str, Any]) -> Any:
        raw = _delivery_event(verification, "delivered")
        headers = {"Content-Type": "application/json", **sign_webhook(raw, key)}
        return client.flask.post("/v1/webhooks/telnyx", data=raw, headers=headers)

    if deliver(warm).status_code == 404:
        pytest.skip("POST /v1/webhooks/telnyx is not there yet")

    def ingest() -> None:
        response = deliver(measured)
        assert response.status_code == 200

    assert 1 <= round_trips.during(ingest) <= 2
    delivered = client.get(f"/v1/verifications/{measured['id']}").get_json()
    assert delivered["delivery"]["status"] == "delivered"
