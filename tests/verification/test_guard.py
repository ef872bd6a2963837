"""The SMS-pumping guard: every cap refuses with 429, a reason and Retry-After; shadow
mode only logs; counts are given back when nothing was sent."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from otp_service import create_app
from tests.conftest import ApiClient, FakeClock, Sandbox

US = ["+13125550121", "+13125550122", "+13125550123", "+13125550124"]
OTHER_PREFIX = "+13125560121"
CA = "+16135550123"
# FakeClock starts on the hour, 8 hours into a (UTC) day
DAY_LEFT = 86400 - 1_800_000_000 % 86400


@pytest.fixture
def make_client(env: dict[str, str], clock: FakeClock) -> Iterator[Any]:
    apps = []

    def build(**settings: str) -> ApiClient:
        app = create_app({**env, **settings}, clock=clock)
        apps.append(app)
        return ApiClient(app.test_client())

    yield build
    for app in apps:
        app.extensions["otp"].close()


def create(client: ApiClient, phone: str):
    return client.post("/v1/verifications", json={"phone_number": phone})


def assert_refused(response, reason: str, retry_after: int) -> None:
    assert response.status_code == 429
    problem = response.get_json()
    assert problem["code"] == "rate_limited"
    assert problem["reason"] == reason
    assert response.headers["Retry-After"] == str(retry_after)


@pytest.mark.parametrize(
    ("setting", "phones", "reason", "retry_after"),
    [
        ("OTP_LIMIT_KEY_MINUTE", [US[0], US[1], US[2]], "api_key_minute", 60),
        ("OTP_LIMIT_PREFIX_HOUR", [US[0], US[1], US[2]], "prefix_hourly", 3600),
        ("OTP_LIMIT_COUNTRY_HOUR", [US[0], OTHER_PREFIX, US[2]], "country_hourly", 3600),
        ("OTP_LIMIT_GLOBAL_DAY", [US[0], CA, US[2]], "global_daily", DAY_LEFT),
    ],
)
def test_shared_caps_refuse_the_next_create_and_store_nothing(
    make_client, sandbox: Sandbox, redis_client, setting, phones, reason, retry_after
):
    client = make_client(**{setting: "2"})
    for phone in phones[:2]:
        assert create(client, phone).status_code == 201
    refused = create(client, phones[2])
    assert_refused(refused, reason, retry_after)
    assert sandbox.messages(phones[2]) == []
    assert len(redis_client.keys("*:v")) == 2


def test_a_cap_does_not_touch_other_prefixes_or_countries(make_client, sandbox):
    client = make_client(OTP_LIMIT_PREFIX_HOUR="1", OTP_LIMIT_COUNTRY_HOUR="2")
    assert create(client, US[0]).status_code == 201
    assert_refused(create(client, US[1]), "prefix_hourly", 3600)
    assert create(client, OTHER_PREFIX).status_code == 201
    assert_refused(create(client, "+13129870121"), "country_hourly", 3600)
    assert create(client, CA).status_code == 201


def test_windows_reset_when_they_end(make_client, sandbox, clock: FakeClock):
    client = make_client(OTP_LIMIT_KEY_MINUTE="1")
    assert create(client, US[0]).status_code == 201
    assert create(client, US[1]).status_code == 429
    clock.advance(60)
    assert create(client, US[1]).status_code == 201


def test_per_number_hourly_and_daily_caps(make_client, sandbox, clock: FakeClock):
    client = make_client(OTP_LIMIT_PHONE_HOUR="2", OTP_LIMIT_PHONE_DAY="3", OTP_MAX_SENDS="10")
    assert create(client, US[0]).status_code == 201
    clock.advance(30)
    assert create(client, US[0]).status_code == 200
    clock.advance(30)
    assert_refused(create(client, US[0]), "phone_hourly", 3600 - 60)
    clock.advance(3600)
    assert create(client, US[0]).status_code in (200, 201)
    clock.advance(30)
    assert_refused(create(client, US[0]), "phone_daily", DAY_LEFT - 3600 - 90)
    assert len(sandbox.messages(US[0])) == 3


def test_a_refused_resend_keeps_the_code_already_sent(make_client, sandbox, clock):
    client = make_client(OTP_LIMIT_GLOBAL_DAY="1")
    vid = create(client, US[0]).get_json()["id"]
    code = sandbox.last_code(US[0])
    clock.advance(30)
    assert_refused(create(client, US[0]), "global_daily", DAY_LEFT - 30)
    body = client.get(f"/v1/verifications/{vid}").get_json()
    assert body["sends"] == 1
    check = client.post(f"/v1/verifications/{vid}/check", json={"code": code})
    assert check.get_json()["valid"] is True


def test_a_create_refused_for_its_own_reasons_is_not_counted(make_client, sandbox, clock):
    client = make_client(OTP_LIMIT_KEY_MINUTE="2")
    assert create(client, US[0]).status_code == 201
    assert create(client, US[0]).get_json()["reason"] == "resend_cooldown"
    assert create(client, US[1]).status_code == 201
    assert_refused(create(client, US[2]), "api_key_minute", 60)


def test_a_send_telnyx_refused_is_not_counted(make_client, sandbox):
    client = make_client(OTP_LIMIT_GLOBAL_DAY="1")
    sandbox.fault(status=500, count=5)
    assert create(client, US[0]).status_code == 502
    sandbox.http.delete("/_sandbox/faults")
    assert create(client, US[0]).status_code == 201


def test_shadow_mode_logs_and_lets_everything_through(make_client, sandbox, caplog):
    client = make_client(
        OTP_GUARD_MODE="shadow", OTP_LIMIT_KEY_MINUTE="1", OTP_LIMIT_PHONE_HOUR="1"
    )
    with caplog.at_level(logging.WARNING, logger="otp_service.verification"):
        assert create(client, US[0]).status_code == 201
        assert create(client, US[1]).status_code == 201
    [record] = [r for r in caplog.records if "shadow" in r.getMessage()]
    message = record.getMessage()
    assert "api_key_minute" in message
    assert "+1312****122" in message
    assert US[1] not in message


def test_guard_off_counts_nothing(make_client, sandbox, redis_client):
    client = make_client(OTP_GUARD_MODE="off", OTP_LIMIT_KEY_MINUTE="1")
    for phone in US:
        assert create(client, phone).status_code == 201
    assert redis_client.keys("*{guard}*") == []


def test_a_shorter_code_than_the_minimum_is_refused(make_client, sandbox):
    client = make_client()
    response = client.post("/v1/verifications", json={"phone_number": US[0], "code_length": 4})
    assert response.status_code == 422
    assert "code_length" in response.get_json()["errors"]
    lowered = make_client(OTP_MIN_CODE_LENGTH="4")
    assert (
        lowered.post(
            "/v1/verifications", json={"phone_number": US[0], "code_length": 4}
        ).status_code
        == 201
    )
    assert len(sandbox.last_code(US[0])) == 4
