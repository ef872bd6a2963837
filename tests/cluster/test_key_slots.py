"""Every script touches the keys of one hash slot only, so it runs unchanged on a cluster.

The flows of the service run against the cluster while every script call (alone or in a
batch) is recorded with the keys it was given; each call's keys must share one slot, and
every script in ``store.SCRIPTS`` must have been seen: a new script that no flow here
reaches fails the test until one does.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.crc import key_slot

from otp_service.sandbox.magic import MAGIC_NUMBERS
from otp_service.store import SCRIPTS, Batch, Store
from otp_service.telnyx.webhooks import public_key_b64, sign_webhook
from tests.conftest import ApiClient, FakeClock, Sandbox
from tests.support.workers import loopback_worker

PHONE = "+13125550123"
KEY = Ed25519PrivateKey.generate()

Calls = dict[str, list[list[str]]]


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TELNYX_PUBLIC_KEYS"] = ",".join([env["TELNYX_PUBLIC_KEYS"], public_key_b64(KEY)])
    return env


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """(script name -> the key lists it was called with), alone or in a batch."""
    seen: Calls = defaultdict(list)
    run, script = Store.run, Batch.script

    def recording_run(self: Store, name: str, keys: list[str], args: list[Any]) -> Any:
        seen[name].append(list(keys))
        return run(self, name, keys, args)

    def recording_script(self: Batch, name: str, keys: list[str], args: list[Any]) -> Batch:
        seen[name].append(list(keys))
        return script(self, name, keys, args)

    monkeypatch.setattr(Store, "run", recording_run)
    monkeypatch.setattr(Batch, "script", recording_script)
    yield seen


def post_event(client: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps(body).encode()
    headers = {**sign_webhook(payload, KEY, int(time.time())), "Content-Type": "application/json"}
    response = client.flask.post("/v1/webhooks/telnyx", data=payload, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _event(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "event_type": event_type,
            "id": str(uuid.uuid4()),
            "occurred_at": "2027-01-15T08:00:00.000Z",
            "record_type": "event",
            "payload": payload,
        }
    }


# -- the flows ----------------------------------------------------------------------------
def verifications(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """create, resend, check (by id, by phone), get, cancel, idempotent create."""
    created = client.post("/v1/verifications", json={"phone_number": PHONE})
    assert created.status_code == 201, created.get_json()
    vid = created.get_json()["id"]
    clock.advance(30)
    assert client.post("/v1/verifications", json={"phone_number": PHONE}).status_code == 200
    code = sandbox.last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    assert client.post(f"/v1/verifications/{vid}/check", json={"code": wrong}).status_code == 200
    by_phone = client.post("/v1/verifications/check", json={"phone_number": PHONE, "code": code})
    assert by_phone.status_code == 200
    assert client.get(f"/v1/verifications/{vid}").status_code == 200

    other = "+13125550124"
    second = client.post("/v1/verifications", json={"phone_number": other}).get_json()["id"]
    assert client.post(f"/v1/verifications/{second}/cancel").status_code == 200

    headers = {"Idempotency-Key": "slots-1"}
    body = {"phone_number": "+13125550125"}
    first = client.post("/v1/verifications", json=body, headers=headers)
    again = client.post("/v1/verifications", json=body, headers=headers)
    assert first.status_code == again.status_code == 201


def failed_sends(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """Telnyx refusing (undo, guard refund) and Telnyx's own opt-out (record + opt-out)."""
    sandbox.fault(status=500, count=5)
    assert client.post("/v1/verifications", json={"phone_number": "+13125550126"}).status_code
    sandbox.http.delete("/_sandbox/faults")
    opted_out = client.post("/v1/verifications", json={"phone_number": MAGIC_NUMBERS["opted_out"]})
    assert opted_out.status_code == 409


def webhooks(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """delivery status, link click, inbound STOP then START."""
    phone = "+13125550127"
    created = client.post("/v1/verifications", json={"phone_number": phone}).get_json()
    message_id = created["delivery"]["message_id"]
    to = [{"phone_number": phone, "status": "delivered"}]
    finalized = _event("message.finalized", {"id": message_id, "to": to, "errors": []})
    assert post_event(client, finalized)["result"] == "updated"
    click = {
        "data": {
            "record_type": "link_clicked",
            "message_id": message_id,
            "to": phone.lstrip("+"),
            "url": "https://example.com/verify",
            "time_clicked": "2027-01-15T08:00:00.000Z",
        }
    }
    assert post_event(client, click)["result"] == "counted"
    inbound = {"from": {"phone_number": phone}, "to": [{"phone_number": "+13125550100"}]}
    stop = _event("message.received", {**inbound, "id": str(uuid.uuid4()), "text": "STOP"})
    assert post_event(client, stop)["result"] == "added"
    start = _event("message.received", {**inbound, "id": str(uuid.uuid4()), "text": "START"})
    start["data"]["occurred_at"] = "2027-01-15T08:00:05.000Z"
    assert post_event(client, start)["result"] == "removed"


def admin_optouts(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """an operator adds, lists and removes an opt-out."""
    phone = "+13125550128"
    assert admin.put(f"/v1/admin/opt-outs/{phone}").status_code == 201
    listed = admin.get("/v1/admin/opt-outs")
    assert listed.status_code == 200
    assert admin.delete(f"/v1/admin/opt-outs/{phone}").status_code == 204


def factors(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """TOTP: enrol, verify, check, revoke."""
    enrolled = client.post("/v1/factors", json={"type": "totp", "subject": "user-42"})
    assert enrolled.status_code == 201, enrolled.get_json()
    factor = enrolled.get_json()
    totp = pyotp.parse_uri(factor["otpauth_uri"])
    verified = client.post(f"/v1/factors/{factor['id']}/verify", json={"code": totp.at(clock.now)})
    assert verified.get_json()["valid"] is True
    clock.advance(30)
    checked = client.post(f"/v1/factors/{factor['id']}/check", json={"code": totp.at(clock.now)})
    assert checked.get_json()["valid"] is True
    assert client.get("/v1/factors", query_string={"subject": "user-42"}).status_code == 200
    assert client.delete(f"/v1/factors/{factor['id']}").status_code in (200, 204)


def profiles(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """a profile: create, update, a key used and revoked, delete."""
    created = admin.post("/v1/admin/profiles", json={"name": "Shop"}).get_json()["data"]
    path = f"/v1/admin/profiles/{created['id']}"
    assert admin.patch(path, json={"code_length": 8}).status_code == 200
    key = admin.post(f"{path}/keys").get_json()["data"]
    used = ApiClient(client.flask, key["key"]).get(f"/v1/verifications/{'a' * 32}")
    assert used.status_code == 404
    client.flask.application.extensions["otp"].profiles.ring.refresh()  # writes last use
    assert admin.delete(f"{path}/keys/{key['id']}").status_code == 204
    admin.post(f"{path}/keys")
    assert admin.delete(path).status_code == 204


def events(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """webhook endpoints, their deliveries (claimed, failed, retried, replayed) and the
    expiry timer, through a worker."""
    base = "/v1/admin/profiles/default/webhooks"
    endpoint = admin.post(base, json={"url": "http://127.0.0.1:9/hooks"}).get_json()["data"]
    path = f"{base}/{endpoint['id']}"
    assert admin.post(f"{path}/test").status_code == 202
    client.post("/v1/verifications", json={"phone_number": "+13125550129"})
    services = client.flask.application.extensions["otp"]
    worker = loopback_worker(services, "slots", clock=clock, threads=2)
    try:
        worker.run_once()  # the outbox handed over, deliveries claimed: refused, failed
        clock.advance(611)
        worker.run_once()  # the expiry timer
        [delivery, *_] = admin.get(f"{path}/deliveries").get_json()["data"]
        after = admin.get(f"{path}/deliveries", query_string={"cursor": delivery["id"]})
        assert after.status_code == 200
        assert admin.post(f"{path}/deliveries/{delivery['id']}/retry").status_code == 202
        replay = admin.post(f"{path}/replay", json={"since": "2020-01-01T00:00:00Z"})
        assert replay.status_code == 202
    finally:
        worker.close()
    assert admin.delete(path).status_code == 204


def fallbacks(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """a profile that falls back: a no-receipt timer fires, the worker sends another code."""
    policy = {"on": ["no_receipt"], "no_receipt_seconds": 20, "to": "next_sender"}
    routes = {
        "*": [
            {"type": "long_code", "from": "+13125550100"},
            {"type": "long_code", "from": "+13125550120"},
        ]
    }
    body = {"name": "Fallback", "fallback": policy, "routes": routes}
    profile = admin.post("/v1/admin/profiles", json=body).get_json()["data"]
    key = admin.post(f"/v1/admin/profiles/{profile['id']}/keys").get_json()["data"]["key"]
    phone = "+13125550130"
    created = ApiClient(client.flask, key).post("/v1/verifications", json={"phone_number": phone})
    assert created.status_code == 201, created.get_json()
    services = client.flask.application.extensions["otp"]
    worker = loopback_worker(services, "fallbacks", clock=clock, threads=2)
    try:
        clock.advance(31)
        for _ in range(5):
            worker.run_once()
    finally:
        worker.close()
    assert len(sandbox.messages(phone)) == 2


def late_receipt(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """a canceled verification's history record, replaced when its receipt comes later."""
    phone = "+13125550131"
    created = client.post("/v1/verifications", json={"phone_number": phone}).get_json()
    assert client.post(f"/v1/verifications/{created['id']}/cancel").status_code == 200
    services = client.flask.application.extensions["otp"]
    worker = loopback_worker(services, "late", clock=clock, threads=2)
    try:
        worker.run_once()  # the record, without a receipt
        to = [{"phone_number": phone, "status": "delivered"}]
        payload = {"id": created["delivery"]["message_id"], "to": to, "errors": []}
        assert post_event(client, _event("message.finalized", payload))["result"] == "updated"
        worker.run_once()  # the record replaced, with it
    finally:
        worker.close()
    [send] = admin.get(f"/v1/admin/verifications/{created['id']}").get_json()["data"]["sends"]
    assert send["delivery_status"] == "delivered"


def held_receipt(client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock) -> None:
    """a late receipt held for a record another worker is still writing, and let go."""
    history = client.flask.application.extensions["otp"].history.history
    sends = [[0, "long_code", "+13125550100", "delivered", [], 1.5]]
    assert history.hold("nheld-receipt", None, int(clock() * 1000), sends)
    [held] = history.held_receipts()
    assert history.let_go(held)


FLOWS: list[Callable[[ApiClient, ApiClient, Sandbox, FakeClock], None]] = [
    verifications,
    failed_sends,
    webhooks,
    admin_optouts,
    factors,
    profiles,
    events,
    fallbacks,
    late_receipt,
    held_receipt,
]


def test_every_script_call_has_all_its_keys_in_one_slot(
    client: ApiClient, admin: ApiClient, sandbox: Sandbox, clock: FakeClock, calls: Calls
) -> None:
    for flow in FLOWS:
        flow(client, admin, sandbox, clock)

    crossing = {
        name: keys
        for name, key_lists in calls.items()
        for keys in key_lists
        if len({key_slot(key.encode()) for key in keys}) != 1
    }
    assert crossing == {}, f"scripts given keys of several slots: {crossing}"
    missing = sorted(set(SCRIPTS) - set(calls))
    assert missing == [], f"no flow in this test runs {missing}: add one to FLOWS"
    assert set(calls) <= set(SCRIPTS)
    assert sum(map(len, calls.values())) >= 2 * len(SCRIPTS)  # the recording did record
