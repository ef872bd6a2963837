"""NIST SP 800-63B throttling: at most 100 consecutive failed checks for one number,
across all its verifications; then checks and creates are refused until a cool-off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from otp_service import create_app
from tests.conftest import ApiClient, FakeClock, Sandbox

PHONE = "+13125550161"


@pytest.fixture
def client(env: dict[str, str], clock: FakeClock) -> Iterator[ApiClient]:
    env.update(OTP_GUARD_MODE="off", OTP_RESEND_COOLDOWN_SECONDS="0")
    app = create_app(env, clock=clock)
    yield ApiClient(app.test_client())
    app.extensions["otp"].close()


def fail_checks(client: ApiClient, sandbox: Sandbox, count: int) -> dict[str, Any]:
    """``count`` wrong checks, on as many verifications as that takes (5 per one)."""
    last: dict[str, Any] = {}
    while count:
        vid = client.post("/v1/verifications", json={"phone_number": PHONE}).get_json()["id"]
        code = sandbox.last_code(PHONE)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(min(5, count)):
            response = client.post(f"/v1/verifications/{vid}/check", json={"code": wrong})
            last = {"status": response.status_code, "body": response.get_json(), "id": vid}
            count -= 1
        if last["body"].get("status") == "pending":
            client.post(f"/v1/verifications/{vid}/cancel")
    return last


def test_100_consecutive_failures_lock_the_number_out(client, sandbox, clock: FakeClock):
    last = fail_checks(client, sandbox, 100)
    assert last["status"] == 200  # the 100th failure is still an answer
    refused = client.post("/v1/verifications", json={"phone_number": PHONE})
    assert refused.status_code == 429
    assert refused.get_json()["reason"] == "too_many_failures"
    assert refused.headers["Retry-After"] == "3600"

    clock.advance(3599)
    assert client.post("/v1/verifications", json={"phone_number": PHONE}).status_code == 429
    clock.advance(1)
    assert client.post("/v1/verifications", json={"phone_number": PHONE}).status_code == 201


def test_a_locked_out_number_cannot_even_check_a_pending_code(client, sandbox):
    fail_checks(client, sandbox, 97)
    vid = client.post("/v1/verifications", json={"phone_number": PHONE}).get_json()["id"]
    code = sandbox.last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        client.post(f"/v1/verifications/{vid}/check", json={"code": wrong})
    response = client.post(f"/v1/verifications/{vid}/check", json={"code": code})
    assert response.status_code == 429
    assert response.get_json()["reason"] == "too_many_failures"


def test_success_resets_the_count(client, sandbox):
    fail_checks(client, sandbox, 99)
    vid = client.post("/v1/verifications", json={"phone_number": PHONE}).get_json()["id"]
    code = sandbox.last_code(PHONE)
    assert client.post(f"/v1/verifications/{vid}/check", json={"code": code}).status_code == 200
    fail_checks(client, sandbox, 99)
    assert client.post("/v1/verifications", json={"phone_number": PHONE}).status_code == 201


def test_other_numbers_are_not_affected(client, sandbox):
    fail_checks(client, sandbox, 100)
    other = client.post("/v1/verifications", json={"phone_number": "+13125550162"})
    assert other.status_code == 201
