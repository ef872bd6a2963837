"""Webhooks to the customer's endpoint: signed per Standard Webhooks (verified here with
the ``standardwebhooks`` library), retried on the schedule with the same webhook-id,
replayable by operators; on one Redis and on a cluster."""

from __future__ import annotations

import base64
import dataclasses
import threading
import time
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from otp_service.events.endpoints import Endpoint
from otp_service.events.worker import RETRY_SCHEDULE
from otp_service.sandbox.magic import MAGIC_NUMBERS
from otp_service.sealing import SecretBox
from tests.conftest import ApiClient, FakeClock, Sandbox
from tests.events.conftest import Receiver, drain

pytestmark = pytest.mark.topologies("single", "cluster")

PHONE = "+13125550123"
BASE = "/v1/admin/profiles/default/webhooks"


def create(client: ApiClient, phone: str = PHONE) -> dict[str, Any]:
    response = client.post("/v1/verifications", json={"phone_number": phone})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def approve(client: ApiClient, sandbox: Sandbox, phone: str = PHONE) -> dict[str, Any]:
    created = create(client, phone)
    code = sandbox.last_code(phone)
    answer = client.post(f"/v1/verifications/{created['id']}/check", json={"code": code})
    assert answer.get_json()["status"] == "approved"
    return answer.get_json()


def test_an_approval_reaches_the_endpoint_signed_with_the_verification(
    client, sandbox, worker, receiver: Receiver, endpoint
):
    approved = approve(client, sandbox)
    drain(worker)
    # in parallel: in any order (the README says so)
    assert sorted(receiver.types()) == [
        "verification.approved",
        "verification.created",
        "verification.sent",
    ]
    [last] = [r for r in receiver.received if r.json["type"] == "verification.approved"]
    body = last.verified(endpoint["secret"])  # raises unless the signature is right
    assert body["type"] == "verification.approved"
    assert body["data"]["id"] == approved["id"]
    assert body["data"]["status"] == "approved"
    assert last.headers["webhook-id"].startswith("msg_")
    assert last.headers["Content-Type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        last.verified("whsec_" + "QUJD" * 8)  # another secret does not verify
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 3


def test_an_endpoint_gets_only_the_events_it_subscribes_to_and_only_its_profile(
    admin, client, sandbox, worker, receiver: Receiver
):
    answer = admin.post(BASE, json={"url": receiver.url, "events": ["verification.approved"]})
    assert answer.status_code == 201
    profile = admin.post("/v1/admin/profiles", json={"name": "other"}).get_json()["data"]
    other = admin.post(f"/v1/admin/profiles/{profile['id']}/keys").get_json()["data"]["key"]
    other_client = ApiClient(client.flask, other)
    approve(other_client, sandbox, "+13125550199")  # another profile's approval
    approve(client, sandbox)
    drain(worker)
    assert receiver.types() == ["verification.approved"]
    assert receiver.received[0].json["data"]["phone_number"] == PHONE


def test_a_failing_endpoint_gets_the_event_again_on_schedule_with_the_same_id(
    admin, client, sandbox, worker, receiver: Receiver, clock: FakeClock
):
    admin.post(BASE, json={"url": receiver.url, "events": ["verification.approved"]})
    receiver.statuses = [500, 503]
    approve(client, sandbox)
    drain(worker)
    assert receiver.received == []
    clock.advance(RETRY_SCHEDULE[0] * 1.2)  # past the first retry, jitter included
    drain(worker)
    assert receiver.received == []  # the second attempt failed too (503)
    clock.advance(RETRY_SCHEDULE[1] * 0.8)
    drain(worker)
    assert receiver.received == []  # not due yet
    clock.advance(RETRY_SCHEDULE[1] * 0.4)
    drain(worker)
    [got] = receiver.received
    endpoint_id = admin.get(BASE).get_json()["data"][0]["id"]
    [delivery] = admin.get(f"{BASE}/{endpoint_id}/deliveries").get_json()["data"]
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"] == 3
    assert delivery["webhook_id"] == got.headers["webhook-id"]
    assert delivery["last_status_code"] == 200


def test_a_slow_receiver_gets_a_batch_posted_side_by_side(
    admin, client, worker, receiver: Receiver, clock: FakeClock
):
    """A worker posts back to back to a receiver that answers at once, and adds threads
    while one is slow: here each request is answered only once all four have arrived
    together (within 1.5 s, the poster's timeout being 2 s), so posted one after the
    other they would all fail."""
    admin.post(BASE, json={"url": receiver.url, "events": ["verification.created"]})
    receiver.statuses = [500] * 4
    for n in range(4):
        create(client, f"+1312555014{n}")
    drain(worker)
    assert receiver.received == []
    receiver.barrier = threading.Barrier(4, timeout=1.5)
    clock.advance(RETRY_SCHEDULE[0] * 1.2)  # the four retries are due: claimed in one batch
    drain(worker)
    assert len(receiver.received) == 4
    endpoint_id = admin.get(BASE).get_json()["data"][0]["id"]
    deliveries = admin.get(f"{BASE}/{endpoint_id}/deliveries").get_json()["data"]
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("succeeded", 2)] * 4


def test_after_the_last_retry_the_delivery_fails_and_replay_sends_it_again(
    admin, client, sandbox, worker, receiver: Receiver, clock: FakeClock, endpoint
):
    receiver.default = 500
    approve(client, sandbox)
    drain(worker)
    for delay in RETRY_SCHEDULE:
        clock.advance(delay * 1.2)
        drain(worker)
    deliveries = admin.get(f"{BASE}/{endpoint['id']}/deliveries").get_json()["data"]
    assert {d["status"] for d in deliveries} == {"failed"}
    assert {d["attempts"] for d in deliveries} == {len(RETRY_SCHEDULE) + 1}
    assert {d["last_error"] for d in deliveries} == {"http_500"}
    assert {d["next_attempt_at"] for d in deliveries} == {None}

    receiver.default = 200
    answer = admin.post(f"{BASE}/{endpoint['id']}/replay", json={"since": "2000-01-01T00:00:00Z"})
    assert answer.status_code == 202
    assert answer.get_json()["data"]["queued"] == 3
    drain(worker)
    assert sorted(receiver.types()) == sorted(d["event_type"] for d in deliveries)
    retried = admin.post(f"{BASE}/{endpoint['id']}/deliveries/{deliveries[0]['id']}/retry")
    assert retried.status_code == 202
    drain(worker)
    assert len(receiver.received) == 4  # the one retried once more: at least once


def test_a_rotated_secret_signs_beside_the_old_one_for_a_day(
    admin, client, sandbox, worker, receiver: Receiver, clock: FakeClock, endpoint
):
    rotated = admin.post(f"{BASE}/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200
    new_secret = rotated.get_json()["data"]["secret"]
    assert new_secret != endpoint["secret"]
    approve(client, sandbox)
    drain(worker)
    [got] = [r for r in receiver.received if r.json["type"] == "verification.approved"]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    got.verified(endpoint["secret"])
    got.verified(new_secret)
    clock.advance(24 * 3600 + 1)
    approve(client, sandbox, "+13125550124")
    drain(worker)
    [late] = [r for r in receiver.received[3:] if r.json["type"] == "verification.approved"]
    assert len(late.headers["webhook-signature"].split(" ")) == 1
    late.verified(new_secret)
    with pytest.raises(WebhookVerificationError):
        late.verified(endpoint["secret"])


def test_a_test_ping_and_a_disabled_endpoint(admin, worker, receiver: Receiver, endpoint):
    answer = admin.post(f"{BASE}/{endpoint['id']}/test")
    assert answer.status_code == 202
    drain(worker)
    [ping] = receiver.received
    assert ping.verified(endpoint["secret"])["type"] == "ping"
    assert ping.json["data"] == {"endpoint_id": endpoint["id"]}
    patched = admin.patch(f"{BASE}/{endpoint['id']}", json={"enabled": False})
    assert patched.get_json()["data"]["enabled"] is False
    admin.post(f"{BASE}/{endpoint['id']}/test")
    drain(worker)
    assert len(receiver.received) == 1
    deliveries = admin.get(f"{BASE}/{endpoint['id']}/deliveries").get_json()["data"]
    assert sorted((d["status"], d["last_error"] or "") for d in deliveries) == [
        ("failed", "endpoint_disabled"),
        ("succeeded", ""),
    ]


def test_an_endpoint_failing_everything_for_five_days_is_disabled_and_audited(
    admin, client, sandbox, worker, receiver: Receiver, clock: FakeClock, endpoint
):
    receiver.default = 500
    admin.post(f"{BASE}/{endpoint['id']}/test")
    drain(worker)
    for _ in range(6):
        clock.advance(86_400)
        admin.post(f"{BASE}/{endpoint['id']}/test")
        drain(worker)
    shown = admin.get(f"{BASE}/{endpoint['id']}").get_json()["data"]
    assert shown["enabled"] is False
    assert shown["disabled_reason"] == "failing"
    audit = admin.get("/v1/admin/audit", query_string={"action": "webhook.disable"})
    [entry] = audit.get_json()["data"]
    assert entry["target"] == endpoint["id"]
    assert entry["key_id"] == "worker"


def test_signatures_verify_with_the_standardwebhooks_library_as_a_receiver_would(
    client, sandbox, worker, receiver: Receiver, endpoint
):
    """The README's receiver: ``Webhook(secret).verify(body, headers)``."""
    approve(client, sandbox)
    drain(worker)
    hook = Webhook(endpoint["secret"])
    for got in receiver.received:
        payload = hook.verify(got.body, got.headers)
        assert set(payload) == {"type", "timestamp", "data"}


def test_attempts_never_made_do_not_count_toward_disabling_an_endpoint(
    admin, app, worker, receiver: Receiver, clock: FakeClock, endpoint
):
    """A delivery to a disabled or deleted endpoint fails without an attempt: that is not
    the endpoint failing, so turned back on days later, one failed attempt does not disable
    it again at once, and a deleted endpoint leaves nothing behind in Redis."""
    here = f"{BASE}/{endpoint['id']}"
    admin.patch(here, json={"enabled": False})
    admin.post(f"{here}/test")  # fails at once: endpoint_disabled
    drain(worker)
    clock.advance(6 * 86_400)
    assert admin.patch(here, json={"enabled": True}).status_code == 200
    receiver.statuses = [500]
    admin.post(f"{here}/test")
    drain(worker)
    shown = admin.get(here).get_json()["data"]
    assert (shown["enabled"], shown["disabled_reason"]) == (True, None)
    clock.advance(RETRY_SCHEDULE[0] * 1.2)
    drain(worker)
    assert [r.json["type"] for r in receiver.received] == ["ping"]

    gone = admin.post(BASE, json={"url": receiver.url}).get_json()["data"]
    admin.post(f"{BASE}/{gone['id']}/test")
    receiver.statuses = [500]
    drain(worker)  # the first attempt fails: a retry is due in 5 s
    assert admin.delete(f"{BASE}/{gone['id']}").status_code == 204
    clock.advance(RETRY_SCHEDULE[0] * 1.2)
    drain(worker)  # the retry finds the endpoint gone
    webhooks = app.extensions["otp"].endpoints.store
    assert webhooks.redis.hget(webhooks.failing_key, gone["id"]) is None


def test_deleting_a_profile_deletes_its_endpoints_and_their_events_stop(
    admin, app, client, worker, receiver: Receiver, clock: FakeClock
):
    """Deleted with its profile, an endpoint no one could see, change or delete any more
    (every route of a deleted profile is 404) gets nothing: not even the expiry of a
    verification sent before."""
    profile = admin.post("/v1/admin/profiles", json={"name": "gone"}).get_json()["data"]
    base = f"/v1/admin/profiles/{profile['id']}/webhooks"
    made = admin.post(base, json={"url": receiver.url}).get_json()["data"]
    key = admin.post(f"/v1/admin/profiles/{profile['id']}/keys").get_json()["data"]["key"]
    create(ApiClient(client.flask, key))
    drain(worker)
    assert sorted(receiver.types()) == ["verification.created", "verification.sent"]
    assert admin.delete(f"/v1/admin/profiles/{profile['id']}").status_code == 204
    assert app.extensions["otp"].endpoints.store.endpoint(made["id"]) is None
    [entry, *_] = admin.get("/v1/admin/audit").get_json()["data"]
    assert (entry["action"], entry["detail"]) == ("profile.delete", {"webhook_endpoints": 1})
    clock.advance(700)  # the verification expires
    drain(worker)
    assert sorted(receiver.types()) == ["verification.created", "verification.sent"]


@pytest.mark.parametrize("change", ["enable", "url"])
def test_an_endpoint_turned_back_on_or_moved_starts_its_failing_clock_afresh(
    admin, worker, receiver: Receiver, clock: FakeClock, endpoint, change
):
    """Failing, then disabled by its operator while they fix it (or pointed at another
    URL): days later its first failed attempt does not disable it as if it had been
    failing all along."""
    here = f"{BASE}/{endpoint['id']}"
    receiver.default = 500
    admin.post(f"{here}/test")
    drain(worker)  # failing since now
    clock.advance(3600)
    if change == "enable":
        admin.patch(here, json={"enabled": False})
        clock.advance(6 * 86_400)
        admin.patch(here, json={"enabled": True})
    else:
        clock.advance(6 * 86_400)
        admin.patch(here, json={"url": receiver.url.replace("/hooks", "/v2/hooks")})
    admin.post(f"{here}/test")
    drain(worker)
    shown = admin.get(here).get_json()["data"]
    assert (shown["enabled"], shown["disabled_reason"]) == (True, None)


def test_a_secret_sealed_under_another_otp_secret_fails_its_deliveries_not_the_worker(
    admin, client, sandbox: Sandbox, worker, receiver: Receiver, endpoint
):
    """OTP_SECRET changed under a stored endpoint: its secret cannot be opened. The worker
    goes on (the other endpoint's delivery is made), and the delivery is a failed attempt
    that says why, retried on schedule, with nothing sent."""
    made = admin.post(BASE, json={"url": receiver.url}).get_json()["data"]
    store = worker.endpoints.store
    stored = store.endpoint(made["id"])
    before = Endpoint.from_json(stored)
    elsewhere = SecretBox(b"another OTP_SECRET", b"otp-service webhook secret v1")
    blob = base64.b64encode(elsewhere.seal(made["id"], b"k" * 24)).decode()
    resealed = dataclasses.replace(before.secrets[0], sealed=blob)
    changed = dataclasses.replace(before, secrets=(resealed,))
    assert store.save_endpoint(made["id"], changed.to_json(), "update", stored)
    approve(client, sandbox)
    drain(worker)
    assert receiver.types().count("verification.approved") == 1  # the readable endpoint's
    rows = admin.get(f"{BASE}/{made['id']}/deliveries").get_json()["data"]
    assert sorted((r["event_type"], r["status"], r["last_error"], r["attempts"]) for r in rows) == [
        (f"verification.{kind}", "pending", "secret_unreadable", 1)
        for kind in ("approved", "created", "sent")
    ]
    assert all(r["next_attempt_at"] is not None for r in rows)


@pytest.mark.parametrize("api_behind_s", [0, 600], ids=["same-clock", "api-10-min-behind"])
def test_a_retry_asked_while_an_attempt_is_under_way_is_not_lost_when_it_fails(
    admin,
    client,
    sandbox,
    worker,
    receiver: Receiver,
    clock: FakeClock,
    endpoint,
    api_behind_s: int,
):
    """The operator asks for a retry while the worker is posting that delivery; the post
    fails: the delivery goes again at once, not at the schedule's next step (5 min) —
    also when the API host's clock is behind the worker's (Redis's order of the claim
    and the retry decides, not two hosts' clocks)."""
    receiver.default = 500
    approve(client, sandbox)
    drain(worker)  # the first attempts fail: due again in ~5 s
    path = f"{BASE}/{endpoint['id']}/deliveries"
    deliveries = admin.get(path).get_json()["data"]
    assert {d["attempts"] for d in deliveries} == {1}
    clock.advance(RETRY_SCHEDULE[0] * 1.2)
    receiver.default = 200
    receiver.statuses = [500] * len(deliveries)  # the second attempts fail too ...
    receiver.delays = [2.0] * len(deliveries)  # ... after 2 s each
    passes = threading.Thread(target=drain, args=(worker,))
    passes.start()
    deadline = time.monotonic() + 10
    while len(receiver.started) < 2 * len(deliveries) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(receiver.started) == 2 * len(deliveries)  # the second attempts are under way
    clock.advance(1)
    wanted = deliveries[0]
    if api_behind_s:
        asked_at = int((clock() - api_behind_s) * 1000)
        assert worker.endpoints.store.retry(endpoint["id"], wanted["id"], asked_at) == 1
    else:
        assert admin.post(f"{path}/{wanted['id']}/retry").status_code == 202
    passes.join(30)
    assert not passes.is_alive()

    after = {d["id"]: d for d in admin.get(path).get_json()["data"]}
    assert (after[wanted["id"]]["status"], after[wanted["id"]]["attempts"]) == ("succeeded", 3)
    [got] = receiver.received
    assert got.headers["webhook-id"] == wanted["webhook_id"]
    others = [d for i, d in after.items() if i != wanted["id"]]
    assert {(d["status"], d["attempts"]) for d in others} == {("pending", 2)}


def test_a_create_refused_for_good_sends_created_and_delivery_failed_only(
    client, sandbox, worker, receiver: Receiver, endpoint
):
    """The internal event that ends it (verification.send_refused) is not the customer's."""
    refused = client.post("/v1/verifications", json={"phone_number": MAGIC_NUMBERS["opted_out"]})
    assert refused.status_code == 409
    drain(worker)
    assert sorted(receiver.types()) == ["verification.created", "verification.delivery_failed"]
