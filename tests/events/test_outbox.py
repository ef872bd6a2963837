"""Each event is written to the outbox exactly when its state change happens, by the same
script: not on a refused check, a replayed idempotent create, a check of an ended
verification, a duplicate receipt. On one Redis and on a cluster."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service.sandbox.magic import MAGIC_NUMBERS
from otp_service.services import build_worker, event_renderer
from otp_service.store.outbox import OutboxEntry, OutboxStore
from otp_service.store.scripts import TIMER_BUCKET_MS
from otp_service.telnyx.webhooks import public_key_b64
from tests.conftest import ApiClient, FakeClock, Sandbox
from tests.support.receipts import finalized, post_signed

pytestmark = pytest.mark.topologies("single", "cluster")

PHONE = "+13125550123"
KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TELNYX_PUBLIC_KEYS"] = ",".join([env["TELNYX_PUBLIC_KEYS"], public_key_b64(KEY)])
    return env


def outbox_events(app: Any, clock: FakeClock) -> list[OutboxEntry]:
    """Everything the outbox holds now (read and acknowledged: the next call sees only
    what came after)."""
    outbox = OutboxStore(app.extensions["otp"].store)
    found = []
    for shard in outbox.busy_shards(int(clock() * 1000)):
        entries = outbox.read(shard, "inspector", 1000)
        outbox.ack(shard, [e.entry_id for e in entries])
        found += entries
    return sorted(found, key=lambda e: (e.at, e.entry_id))


def types(app: Any, clock: FakeClock) -> list[str]:
    return [e.type for e in outbox_events(app, clock)]


def create(client: ApiClient, phone: str = PHONE, **body: Any):
    return client.post("/v1/verifications", json={"phone_number": phone, **body})


def check(client: ApiClient, vid: str, code: str):
    return client.post(f"/v1/verifications/{vid}/check", json={"code": code})


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def receipt(client: ApiClient, message_id: str, status: str, errors: Any = None):
    body = finalized(message_id, PHONE, status, errors=errors)
    return post_signed(client.flask, body, KEY), body


def test_a_create_is_created_then_sent_with_the_verification_as_the_api_shows_it(
    app, client, sandbox: Sandbox, clock
):
    created = create(client).get_json()
    events = outbox_events(app, clock)
    assert [e.type for e in events] == ["verification.created", "verification.sent"]
    assert {e.profile for e in events} == {"default"}
    assert event_data(app, events[1]) == created  # the object the API answered, field for field


def test_a_resend_is_sent_only_and_a_replayed_idempotent_create_is_nothing(
    app, client, sandbox, clock
):
    headers = {"Idempotency-Key": "k-1"}
    first = client.post("/v1/verifications", json={"phone_number": PHONE}, headers=headers)
    assert types(app, clock) == ["verification.created", "verification.sent"]
    again = client.post("/v1/verifications", json={"phone_number": PHONE}, headers=headers)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert types(app, clock) == []
    clock.advance(60)
    assert create(client).status_code == 200  # the resend
    assert types(app, clock) == ["verification.sent"]


def test_checks_an_approval_and_nothing_for_wrong_or_refused_codes(app, client, sandbox, clock):
    vid = create(client).get_json()["id"]
    code = sandbox.last_code(PHONE)
    outbox_events(app, clock)
    assert check(client, vid, wrong(code)).get_json()["status"] == "pending"
    assert types(app, clock) == []
    assert check(client, vid, code).get_json()["status"] == "approved"
    [approved] = outbox_events(app, clock)
    assert approved.type == "verification.approved"
    # the verification as the API shows it then, field for field
    assert event_data(app, approved) == client.get(f"/v1/verifications/{vid}").get_json()
    assert check(client, vid, code).status_code == 200  # the approval's replay: no event
    assert check(client, vid, wrong(code)).status_code == 409
    assert types(app, clock) == []


def test_the_last_attempt_used_up_is_failed_once(app, client, sandbox, clock):
    vid = create(client).get_json()["id"]
    code = sandbox.last_code(PHONE)
    outbox_events(app, clock)
    for _ in range(5):
        check(client, vid, wrong(code))
    assert types(app, clock) == ["verification.failed"]
    check(client, vid, wrong(code))
    check(client, vid, code)
    assert types(app, clock) == []


def test_a_cancel_is_canceled_once(app, client, sandbox, clock):
    vid = create(client).get_json()["id"]
    outbox_events(app, clock)
    assert client.post(f"/v1/verifications/{vid}/cancel").status_code == 200
    assert client.post(f"/v1/verifications/{vid}/cancel").status_code == 200
    assert types(app, clock) == ["verification.canceled"]


def test_receipts_are_delivered_or_delivery_failed_once(app, client, sandbox, clock):
    created = create(client).get_json()
    message_id = created["delivery"]["message_id"]
    outbox_events(app, clock)
    response, body = receipt(client, message_id, "delivered")
    assert response.status_code == 200
    [delivered] = outbox_events(app, clock)
    assert delivered.type == "verification.delivered"
    shown = client.get(f"/v1/verifications/{created['id']}").get_json()
    assert event_data(app, delivered) == shown  # field for field, the receipt's status in it
    assert shown["delivery"]["status"] == "delivered"
    # the same receipt again (Telnyx retries), and a later one: no second event
    post_signed(client.flask, body, KEY)
    receipt(client, message_id, "delivery_failed")
    assert types(app, clock) == []

    clock.advance(60)
    resent = create(client).get_json()
    outbox_events(app, clock)
    errors = [{"code": "40008", "title": "Undeliverable"}]
    receipt(client, resent["delivery"]["message_id"], "delivery_failed", errors)
    [failed] = outbox_events(app, clock)
    assert failed.type == "verification.delivery_failed"
    assert event_data(app, failed)["delivery"]["errors"] == errors


def test_expiry_comes_from_the_timer_once_and_not_after_an_approval(app, client, sandbox, clock):
    services = app.extensions["otp"]
    runner = build_worker(services, "timers", clock=clock, threads=1, sweep_every_ms=0)
    try:
        expiring = create(client).get_json()
        approved = create(client, "+13125550124").get_json()
        check(client, approved["id"], sandbox.last_code("+13125550124"))
        outbox_events(app, clock)
        runner.run_once()
        assert types(app, clock) == []  # nothing is due yet
        clock.advance(600 + TIMER_BUCKET_MS / 1000)  # expiry events go out within a bucket
        runner.run_once()
        [expired] = outbox_events(app, clock)
        assert expired.type == "verification.expired"
        assert event_data(app, expired)["id"] == expiring["id"]
        assert event_data(app, expired)["status"] == "expired"
        runner.run_once()
        assert types(app, clock) == []
    finally:
        runner.close()


def _resend(client: ApiClient, first: dict[str, Any]) -> None:
    pass  # the next create of a pending number resends it


def _cancel(client: ApiClient, first: dict[str, Any]) -> None:
    assert client.post(f"/v1/verifications/{first['id']}/cancel").status_code == 200


@pytest.mark.parametrize("between", [_resend, _cancel], ids=["resend", "new-after-cancel"])
def test_the_numbers_next_send_moves_its_expiry_timer(app, client, sandbox, clock, between):
    """Timers name the number, not the verification: the first send's timer fires into
    the number's next send (a resend, or a new verification after a cancel), which is
    not expired yet, and sends nothing; the next one's own timer expires it."""
    runner = build_worker(app.extensions["otp"], "timers", clock=clock, threads=1, sweep_every_ms=0)
    try:
        first = create(client).get_json()
        clock.advance(300)
        between(client, first)
        second = create(client).get_json()  # expires 10 minutes from now
        outbox_events(app, clock)
        clock.advance(300 + TIMER_BUCKET_MS / 1000)  # the first expiry's bucket is over
        runner.run_once()
        assert types(app, clock) == []
        clock.advance(300)
        runner.run_once()
        [expired] = outbox_events(app, clock)
        assert expired.type == "verification.expired"
        assert event_data(app, expired)["id"] == second["id"]
    finally:
        runner.close()


def test_a_send_telnyx_refused_leaves_no_event_and_no_timer(app, client, sandbox, clock):
    sandbox.fault(status=500, count=5)
    assert create(client).status_code in (502, 503)
    assert types(app, clock) == []
    outbox = OutboxStore(app.extensions["otp"].store)
    assert all(not outbox.due_buckets(s, 10**15, 10) for s in outbox.busy_shards(10**15))


def test_a_send_refused_for_good_ends_the_verification_with_an_internal_event(
    app, client, sandbox, clock
):
    """40300 (the recipient sent STOP): created, delivery_failed for the customer, and the
    internal send_refused (never sent out) that has the worker write its history."""
    assert create(client, MAGIC_NUMBERS["opted_out"]).status_code == 409
    assert types(app, clock) == [
        "verification.created",
        "verification.delivery_failed",
        "verification.send_refused",
    ]


def test_factors_verified_and_deleted(app, client, clock):
    factor = client.post("/v1/factors", json={"type": "totp", "subject": "user-1"}).get_json()
    code = pyotp.parse_uri(factor["otpauth_uri"]).at(clock.now)
    assert client.post(f"/v1/factors/{factor['id']}/verify", json={"code": code}).status_code == 200
    [verified] = outbox_events(app, clock)
    assert verified.type == "factor.verified"
    assert event_data(app, verified)["id"] == factor["id"]
    assert event_data(app, verified)["status"] == "active"
    assert client.delete(f"/v1/factors/{factor['id']}").status_code == 204
    assert client.delete(f"/v1/factors/{factor['id']}").status_code == 404
    assert types(app, clock) == ["factor.deleted"]


def event_data(app: Any, entry: OutboxEntry) -> dict[str, Any]:
    """The event's data as the worker renders it (with the delivery history it reads)."""
    [entry] = OutboxStore(app.extensions["otp"].store).with_history([entry], {entry.entry_id})
    data = event_renderer(app.extensions["otp"])(entry)
    assert data is not None
    return data
