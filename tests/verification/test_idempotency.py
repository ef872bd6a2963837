"""Idempotency-Key: one key, one send, whatever the timing and whatever the answer."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.conftest import ApiClient, FakeClock, Sandbox

PHONE = "+13125550123"
KEY = {"Idempotency-Key": "login-42"}
# The app's Telnyx timeout is 2 s for each phase of a request (pool, connect, write, read).
LONGEST_ATTEMPT = 4 * 2


def create(client: ApiClient):
    return client.post("/v1/verifications", json={"phone_number": PHONE}, headers=KEY)


def age_claims(redis_client: Any, seconds: float) -> None:
    """Idempotency-Key claims as they will be ``seconds`` from now."""
    for key in redis_client.keys("*:i"):
        left = redis_client.pttl(key) - int(seconds * 1000)
        if left > 0:
            redis_client.pexpire(key, left)
        else:
            redis_client.delete(key)


def test_a_create_that_may_have_sent_is_replayed_and_never_sent_again(
    client, sandbox: Sandbox, clock: FakeClock
):
    """Telnyx took the message but answered too late: that 503 is the key's answer."""
    sandbox.fault(latency_ms=3000, count=1)  # the app's Telnyx timeout is 2 s
    first = create(client)
    assert first.status_code == 503
    assert first.get_json()["code"] == "provider_unavailable"
    assert first.get_json()["verification_id"]

    again = create(client)
    assert again.status_code == 503
    assert again.mimetype == "application/problem+json"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    clock.advance(30)  # past the resend cooldown
    later = create(client)
    assert later.headers["Idempotent-Replayed"] == "true"
    assert later.get_json() == first.get_json()
    assert len(sandbox.messages(PHONE)) == 1


def test_a_create_that_provably_sent_nothing_can_be_retried_with_its_key(client, sandbox):
    sandbox.fault(status=500, count=1)  # refused: rolled back, nothing sent
    first = create(client)
    assert first.status_code == 502
    retry = create(client)
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers
    assert len(sandbox.messages(PHONE)) == 1


def test_a_create_telnyx_refused_for_good_is_replayed_with_its_failed_verification(
    client, sandbox: Sandbox
):
    """Telnyx refused the send with 40300 (the recipient sent STOP): the verification is
    failed for good, so a retry with the key gets the same answer and id, not a new one."""
    from otp_service.sandbox.magic import MAGIC_NUMBERS

    body = {"phone_number": MAGIC_NUMBERS["opted_out"]}
    first = client.post("/v1/verifications", json=body, headers=KEY)
    assert (first.status_code, first.get_json()["code"]) == (409, "recipient_opted_out")
    assert first.get_json()["verification_id"]
    again = client.post("/v1/verifications", json=body, headers=KEY)
    assert again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert len(sandbox.messages(MAGIC_NUMBERS["opted_out"])) == 0


def test_a_40300_for_a_verification_replaced_meanwhile_names_none(
    client, sandbox: Sandbox, redis_client: Any
):
    """While Telnyx took its time refusing the first send (40300), that verification was
    canceled and another made for the number: the late 409 must not name the first (it
    was not failed here: it had ended) nor be kept under the key."""
    from otp_service.sandbox.magic import MAGIC_NUMBERS

    body = {"phone_number": MAGIC_NUMBERS["opted_out"]}
    # Telnyx answers the first send late (the app's Telnyx timeout is 2 s a phase)
    sandbox.fault(latency_ms=1800, count=1)
    answers: list[Any] = []
    slow = threading.Thread(
        target=lambda: answers.append(client.post("/v1/verifications", json=body, headers=KEY))
    )
    slow.start()
    deadline = time.monotonic() + 5
    while not redis_client.keys("*:v") and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # its send is with the sandbox, held
    [key] = redis_client.keys("*:v")
    tag = key.decode().split("{")[1].split("}")[0]
    first_id = tag + redis_client.hget(key, "id").decode()
    assert client.post(f"/v1/verifications/{first_id}/cancel").status_code == 200
    second = client.post("/v1/verifications", json=body)  # refused at once: 40300
    assert second.get_json()["verification_id"] != first_id
    slow.join(10)
    [late] = answers
    assert (late.status_code, late.get_json()["code"]) == (409, "recipient_opted_out")
    assert "verification_id" not in late.get_json()
    again = client.post("/v1/verifications", json=body, headers=KEY)
    assert "Idempotent-Replayed" not in again.headers  # not kept: asked again


def test_a_refused_create_can_be_retried_with_its_key_once_allowed(client, sandbox, clock):
    client.post("/v1/verifications", json={"phone_number": PHONE})
    refused = create(client)
    assert refused.status_code == 429
    clock.advance(30)
    resent = create(client)
    assert resent.status_code == 200
    assert "Idempotent-Replayed" not in resent.headers
    assert len(sandbox.messages(PHONE)) == 2


def test_a_telnyx_retry_after_beyond_the_send_bound_is_not_waited_out(
    app, client, sandbox, clock, redis_client
):
    """Telnyx answers 429 with a Retry-After longer than a send may take: the send ends
    there (nothing sent, 502, key released) instead of outliving its key's claim, when a
    retry with the same key would send a second code and the first its dead one last."""
    retries = []

    def sleep(seconds: float) -> None:  # meanwhile the client retries with the same key
        clock.advance(seconds)
        age_claims(redis_client, seconds)
        retries.append(create(client))

    app.extensions["otp"].telnyx._sleep = sleep
    sandbox.fault(status=429, retry_after=30, count=1)
    first = create(client)
    if not retries:
        retries.append(create(client))

    assert first.status_code == 502
    assert first.get_json()["provider_status"] == 429
    assert retries[0].status_code == 201
    [message] = sandbox.messages(PHONE)
    vid = retries[0].get_json()["id"]
    check = client.post(f"/v1/verifications/{vid}/check", json={"code": sandbox.last_code(PHONE)})
    assert check.get_json()["valid"] is True


def test_a_key_is_held_while_its_send_waits_out_telnyx_retry_after(
    app, client, sandbox, clock, redis_client
):
    """A Retry-After the send may wait out: the key's claim outlives the wait and the
    attempt after it, so a retry meanwhile gets the first request's answer."""
    retries: list[Any] = []
    waiter = ApiClient(app.test_client())

    def retry() -> None:
        retries.append(create(waiter))

    def sleep(seconds: float) -> None:  # the wait, then an attempt that takes its all
        clock.advance(seconds)
        age_claims(redis_client, seconds + LONGEST_ATTEMPT)
        threading.Thread(target=retry).start()
        time.sleep(0.3)

    app.extensions["otp"].telnyx._sleep = sleep
    sandbox.fault(status=429, retry_after=5, count=1)
    first = create(client)
    deadline = time.monotonic() + 10
    while not retries and time.monotonic() < deadline:
        time.sleep(0.05)

    assert first.status_code == 201
    [replayed] = retries
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_json() == first.get_json()
    assert len(sandbox.messages(PHONE)) == 1
