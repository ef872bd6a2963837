"""The create's optional signals about the end user: checked like the rest of the body,
grouped (IPv6 by /64), counted by the service's per-IP and per-device caps
(OTP_LIMIT_IP_HOUR, OTP_LIMIT_DEVICE_HOUR) as keyed digests only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from otp_service import create_app
from otp_service.verification.guard import ip_group
from tests.conftest import ApiClient, FakeClock

US = ["+13125550121", "+13125550122", "+13125550123"]


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


def create(client: ApiClient, phone: str, signals: Any):
    return client.post("/v1/verifications", json={"phone_number": phone, "signals": signals})


@pytest.mark.parametrize(
    ("signals", "field", "message"),
    [
        ({"ip": "300.1.2.3"}, "ip", "IPv4 or IPv6"),
        ({"ip": "2001:db8::/64"}, "ip", "IPv4 or IPv6"),
        ({"ip": "01.2.3.4"}, "ip", "IPv4 or IPv6"),
        ({"ip": 16909060}, "ip", "IPv4 or IPv6"),
        ({"ip": ""}, "ip", "IPv4 or IPv6"),
        ({"ip": "1" * 65}, "ip", "IPv4 or IPv6"),
        ({"device_id": ""}, "device_id", "between 1 and 128"),
        ({"device_id": "d" * 129}, "device_id", "between 1 and 128"),
        ({"device_id": "a\nb"}, "device_id", "control characters"),
        ({"device_id": 7}, "device_id", "string"),
        ({"user_agent": "curl"}, "user_agent", "Unknown field"),
    ],
)
def test_bad_signals_are_422_naming_the_field_without_echoing_it(
    make_client, sandbox, redis_client, signals, field, message
):
    response = create(make_client(), US[0], signals)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "invalid_request"
    said = str(problem["errors"]["signals"][field])
    assert message in said
    if field != "user_agent" and signals[field]:
        assert str(signals[field]) not in said
    assert redis_client.keys("*") == [] and sandbox.messages() == []


@pytest.mark.parametrize("signals", ["192.0.2.1", ["192.0.2.1"], None])
def test_signals_that_are_not_an_object_are_422(make_client, sandbox, signals):
    response = create(make_client(), US[0], signals)
    assert response.status_code == 422
    assert "signals" in response.get_json()["errors"]


def test_empty_signals_are_no_signals(make_client, sandbox):
    assert create(make_client(OTP_LIMIT_IP_HOUR="1"), US[0], {}).status_code == 201


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("192.0.2.1", "4:192.0.2.1"),
        ("::ffff:192.0.2.1", "4:192.0.2.1"),
        ("2001:db8:1:2::1", "6:20010db800010002"),
        ("2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "6:20010db800010002"),
        ("fe80::1%eth0", "6:fe80000000000000"),
    ],
)
def test_an_ip_counts_as_its_address_or_its_ipv6_64(address, group):
    assert ip_group(address) == group


def test_the_services_ip_and_device_caps_refuse_with_their_reasons(make_client, sandbox):
    client = make_client(OTP_LIMIT_IP_HOUR="1", OTP_LIMIT_DEVICE_HOUR="1")
    assert create(client, US[0], {"ip": "2001:db8::1", "device_id": "a"}).status_code == 201
    by_ip = create(client, US[1], {"ip": "2001:db8::2", "device_id": "b"})
    assert (by_ip.status_code, by_ip.get_json()["reason"]) == (429, "ip_hourly")
    assert by_ip.headers["Retry-After"] == "3600"
    by_device = create(client, US[1], {"ip": "2001:db8:0:1::2", "device_id": "a"})
    assert (by_device.status_code, by_device.get_json()["reason"]) == (429, "device_hourly")
    assert create(client, US[1], {"ip": "2001:db8:0:1::2", "device_id": "b"}).status_code == 201
    assert len(sandbox.messages()) == 2


def test_without_caps_signals_count_nothing(make_client, sandbox, redis_client):
    client = make_client()
    for phone in US:
        assert create(client, phone, {"ip": "192.0.2.1", "device_id": "a"}).status_code == 201
    guard_keys = redis_client.keys("*{guard}*")
    assert guard_keys and not [k for k in guard_keys if b":i:" in k or b":d:" in k]
