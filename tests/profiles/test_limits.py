"""Limits per profile and per end user: a profile's own guard caps and mode, its caps per
IP (IPv6 by /64) and per device from the create's signals, counted apart from other
profiles' while the service's caps still bound every profile; a refusal leaves nothing
half-written, and neither the IP nor the device id is kept or logged in plain."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from otp_service import create_app
from tests.conftest import ApiClient, FakeClock, data_keys
from tests.profiles.conftest import make_key, make_profile

pytestmark = pytest.mark.topologies("single", "cluster")

PHONES = [f"+1312555012{n}" for n in range(1, 10)]
DAY_LEFT = 86400 - 1_800_000_000 % 86400  # FakeClock starts on the hour


def keyed(app: Any, admin: ApiClient, **fields: Any) -> ApiClient:
    """A client with the key of a new profile of ``fields``."""
    profile = make_profile(admin, **fields)
    return ApiClient(app.test_client(), make_key(admin, profile["id"])["key"])


def send(client: ApiClient, phone: str, **signals: str):
    body: dict[str, Any] = {"phone_number": phone}
    if signals:
        body["signals"] = signals
    return client.post("/v1/verifications", json=body)


def assert_refused(response, reason: str, retry_after: int) -> None:
    assert response.status_code == 429, response.get_json()
    problem = response.get_json()
    assert (problem["code"], problem["reason"]) == ("rate_limited", reason)
    assert response.headers["Retry-After"] == str(retry_after)


def snapshot(redis_client: Any) -> dict[bytes, Any]:
    out = {}
    for key in data_keys(redis_client):
        kind = redis_client.type(key)
        out[key] = redis_client.hgetall(key) if kind == b"hash" else redis_client.dump(key)
    return out


@pytest.mark.parametrize(
    ("first", "same", "other"),
    [
        ("203.0.113.7", "203.0.113.7", "203.0.113.8"),
        ("2001:db8:1:2::10", "2001:db8:1:2:ffff:ffff:ffff:1", "2001:db8:1:3::10"),
        ("::ffff:203.0.113.7", "203.0.113.7", "203.0.113.8"),
    ],
)
def test_a_profiles_ip_cap_refuses_the_next_send_from_that_ip_or_its_64(
    app, admin, sandbox, redis_client, first, same, other
):
    shop = keyed(app, admin, guard={"ip_hourly": 2})
    assert send(shop, PHONES[0], ip=first).status_code == 201
    assert send(shop, PHONES[1], ip=same).status_code == 201
    before = snapshot(redis_client)
    assert_refused(send(shop, PHONES[2], ip=same), "profile_ip_hourly", 3600)
    assert snapshot(redis_client) == before  # nothing half-written
    assert sandbox.messages(PHONES[2]) == []
    assert send(shop, PHONES[2], ip=other).status_code == 201
    assert send(shop, PHONES[3]).status_code == 201  # no signals: no IP to count


def test_a_profiles_device_cap_refuses_the_next_send_from_that_device(app, admin, sandbox):
    shop = keyed(app, admin, guard={"device_hourly": 1})
    assert send(shop, PHONES[0], device_id="device-a").status_code == 201
    assert_refused(send(shop, PHONES[1], device_id="device-a"), "profile_device_hourly", 3600)
    assert send(shop, PHONES[1], device_id="device-b").status_code == 201
    assert len(sandbox.messages()) == 2


def test_the_ip_window_ends_on_the_hour(app, admin, sandbox, clock: FakeClock):
    shop = keyed(app, admin, guard={"ip_hourly": 1})
    assert send(shop, PHONES[0], ip="198.51.100.1").status_code == 201
    clock.advance(600)
    assert_refused(send(shop, PHONES[1], ip="198.51.100.1"), "profile_ip_hourly", 3000)
    clock.advance(3000)
    assert send(shop, PHONES[1], ip="198.51.100.1").status_code == 201


def test_a_profiles_cap_refuses_in_that_profile_while_another_still_sends(
    app, admin, client, sandbox
):
    capped = keyed(app, admin, name="capped", guard={"global_daily": 1})
    other = keyed(app, admin, name="other")
    assert send(capped, PHONES[0]).status_code == 201
    assert_refused(send(capped, PHONES[1]), "profile_global_daily", DAY_LEFT)
    assert send(other, PHONES[1]).status_code == 201
    assert send(client, PHONES[2]).status_code == 201  # the default profile too
    assert len(sandbox.messages()) == 3


def test_a_profiles_per_number_cap_counts_its_own_sends(app, admin, client, sandbox, clock):
    shop = keyed(app, admin, guard={"phone_hourly": 1}, resend_cooldown_seconds=0)
    assert send(shop, PHONES[0]).status_code == 201
    assert_refused(send(shop, PHONES[0]), "profile_phone_hourly", 3600)
    # the same number from the default profile: the service's cap (10) is far off
    assert send(client, PHONES[0]).status_code == 201
    assert len(sandbox.messages(PHONES[0])) == 2


@pytest.mark.parametrize(
    ("cap", "signals"),
    [
        ("api_key_minute", {}),
        ("prefix_hourly", {}),
        ("country_hourly", {}),
        ("ip_hourly", {"ip": "192.0.2.1"}),
        ("device_hourly", {"device_id": "d-1"}),
    ],
)
def test_every_cap_of_a_profile_refuses_with_its_own_reason(app, admin, sandbox, cap, signals):
    shop = keyed(app, admin, guard={cap: 1})
    assert send(shop, PHONES[0], **signals).status_code == 201
    refused = send(shop, PHONES[1], **signals)
    assert refused.status_code == 429
    assert refused.get_json()["reason"] == f"profile_{cap}"


def test_a_profile_in_shadow_mode_counts_and_logs_and_refuses_nothing(app, admin, sandbox, caplog):
    shop = keyed(app, admin, guard={"mode": "shadow", "ip_hourly": 1, "device_hourly": 1})
    with caplog.at_level(logging.WARNING, logger="otp_service.verification"):
        for phone in PHONES[:3]:
            assert send(shop, phone, ip="192.0.2.1", device_id="d-1").status_code == 201
    shadowed = [r.getMessage() for r in caplog.records if "shadow" in r.getMessage()]
    assert len(shadowed) == 2
    assert all("profile_ip_hourly" in message for message in shadowed)
    assert "192.0.2.1" not in caplog.text and "d-1" not in caplog.text
    assert len(sandbox.messages()) == 3


def test_a_profile_with_its_guard_off_counts_nothing_of_its_own(app, admin, redis_client):
    shop = keyed(app, admin, guard={"mode": "off", "global_daily": 1})
    assert send(shop, PHONES[0]).status_code == 201
    assert send(shop, PHONES[1]).status_code == 201
    assert not [k for k in redis_client.keys("*{guard}*") if b":pf_" in k]


def test_nothing_of_the_ip_or_device_is_kept_or_logged_in_plain(
    app, admin, sandbox, redis_client, caplog, capsys
):
    ip, device = "2001:db8:abcd:12::99", "iPhone-of-alice-7731"
    shop = keyed(app, admin, guard={"ip_hourly": 1, "device_hourly": 1})
    with caplog.at_level(logging.DEBUG):
        assert send(shop, PHONES[0], ip=ip, device_id=device).status_code == 201
        assert send(shop, PHONES[1], ip=ip, device_id=device).status_code == 429
    logged = caplog.text + capsys.readouterr().err
    for plain in (ip, device, "2001:db8:abcd:12", "2001:0db8:abcd:0012"):
        assert plain not in logged
        for key in redis_client.keys("*"):
            assert plain.encode() not in key
            kind = redis_client.type(key)
            values = redis_client.hvals(key) if kind == b"hash" else [redis_client.dump(key)]
            assert not any(plain.encode() in (v or b"") for v in values), key
    guard_keys = [k for k in redis_client.keys("*{guard}*") if b":i:" in k or b":d:" in k]
    assert len(guard_keys) == 2  # one per signal, each named by a keyed digest


@pytest.fixture
def capped_app(env: dict[str, str], clock: FakeClock) -> Any:
    app = create_app({**env, "OTP_LIMIT_PHONE_HOUR": "2", "OTP_LIMIT_IP_HOUR": "3"}, clock=clock)
    yield app
    app.extensions["otp"].close()


def test_the_services_caps_bound_every_profile_together(capped_app, sandbox, redis_client):
    admin = ApiClient(capped_app.test_client(), "test-admin-key")
    default = ApiClient(capped_app.test_client())
    first, second = keyed(capped_app, admin, name="one"), keyed(capped_app, admin, name="two")
    assert send(default, PHONES[0]).status_code == 201
    assert send(first, PHONES[0]).status_code == 201
    before = snapshot(redis_client)
    assert_refused(send(second, PHONES[0]), "phone_hourly", 3600)
    assert snapshot(redis_client) == before
    assert len(sandbox.messages(PHONES[0])) == 2
    # the service's per-IP cap, over the signals of every profile's creates
    for client, phone in ((default, PHONES[1]), (first, PHONES[2]), (second, PHONES[3])):
        assert send(client, phone, ip="192.0.2.1").status_code == 201
    assert_refused(send(first, PHONES[4], ip="192.0.2.1"), "ip_hourly", 3600)


def test_a_send_telnyx_refused_gives_every_count_back(app, admin, sandbox, redis_client):
    shop = keyed(app, admin, guard={"ip_hourly": 1, "phone_hourly": 1})
    before = snapshot(redis_client)
    sandbox.fault(status=500, count=5)
    assert send(shop, PHONES[0], ip="192.0.2.1").status_code == 502
    assert snapshot(redis_client) == before
    sandbox.http.delete("/_sandbox/faults")
    assert send(shop, PHONES[0], ip="192.0.2.1").status_code == 201


@pytest.mark.parametrize(
    ("guard", "field_says"),
    [
        ("strict", "must be an object"),
        ({"mode": "loud"}, "mode"),
        ({"ip_hourly": -1}, "ip_hourly"),
        ({"ip_hourly": "5"}, "ip_hourly"),
        ({"ip_hourly": True}, "ip_hourly"),
        ({"per_planet": 3}, "per_planet"),
    ],
)
def test_a_bad_guard_is_refused_naming_what_is_wrong(admin, guard, field_says):
    response = admin.post("/v1/admin/profiles", json={"guard": guard})
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "invalid_request"
    assert field_says in str(problem["errors"]["guard"])


def test_the_guard_is_shown_updated_and_removed(admin):
    created = make_profile(admin, guard={"ip_hourly": 5})
    assert created["overrides"]["guard"] == {"mode": "enforce", "ip_hourly": 5}
    shown = created["settings"]["guard"]
    assert shown["mode"] == "enforce" and shown["ip_hourly"] == 5 and shown["global_daily"] == 0
    path = f"/v1/admin/profiles/{created['id']}"
    changed = admin.patch(path, json={"guard": {"mode": "shadow", "device_hourly": 2}})
    assert changed.get_json()["data"]["settings"]["guard"]["ip_hourly"] == 0  # replaced
    removed = admin.patch(path, json={"guard": None}).get_json()["data"]
    assert removed["settings"]["guard"] is None and "guard" not in removed["overrides"]
