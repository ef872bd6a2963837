"""Isolation through the API, with real keys of two profiles: every client route answers
another profile's verification or factor as it answers an id that does not exist (404),
and nothing in Redis changes."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from tests.conftest import ApiClient
from tests.profiles.conftest import make_key, make_profile
from tests.profiles.test_isolation import snapshot

pytestmark = pytest.mark.topologies("single", "cluster")

PHONE = "+13125550123"


@pytest.fixture
def two(app: Any, admin: ApiClient) -> tuple[ApiClient, ApiClient]:
    """A client of each of two profiles, with keys issued through the admin API."""
    clients = []
    for name in ("Shop", "Bank"):
        profile = make_profile(admin, name=name, app_name=name)
        clients.append(ApiClient(app.test_client(), make_key(admin, profile["id"])["key"]))
    return clients[0], clients[1]


def test_every_verification_route_answers_another_profile_404_and_changes_nothing(
    two, sandbox, redis_client
):
    shop, bank = two
    created = shop.post("/v1/verifications", json={"phone_number": PHONE})
    assert created.status_code == 201
    vid = created.get_json()["id"]
    code = sandbox.last_code(PHONE)
    before = snapshot(redis_client)
    calls = [
        bank.get(f"/v1/verifications/{vid}"),
        bank.post(f"/v1/verifications/{vid}/check", json={"code": code}),
        bank.post("/v1/verifications/check", json={"phone_number": PHONE, "code": code}),
        bank.post(f"/v1/verifications/{vid}/cancel"),
    ]
    assert [(r.status_code, r.get_json()["code"]) for r in calls] == [
        (404, "verification_not_found")
    ] * 4
    assert snapshot(redis_client) == before
    approved = shop.post(f"/v1/verifications/{vid}/check", json={"code": code})
    assert approved.get_json()["valid"] is True


def test_one_number_is_pending_in_two_profiles_and_each_text_names_its_app(two, sandbox):
    shop, bank = two
    assert shop.post("/v1/verifications", json={"phone_number": PHONE}).status_code == 201
    assert bank.post("/v1/verifications", json={"phone_number": PHONE}).status_code == 201
    texts = [m["text"] for m in sandbox.messages(PHONE)]
    assert sorted("Bank" if "Bank" in t else "Shop" if "Shop" in t else t for t in texts) == [
        "Bank",
        "Shop",
    ]


def test_every_factor_route_answers_another_profile_404_and_changes_nothing(
    two, redis_client, clock
):
    shop, bank = two
    created = shop.post("/v1/factors", json={"type": "totp", "subject": "user-1"})
    assert created.status_code == 201
    factor = created.get_json()
    secret = pyotp.parse_uri(factor["otpauth_uri"]).secret
    code = pyotp.TOTP(secret).at(clock.now)  # the app's clock
    before = snapshot(redis_client)
    fid = factor["id"]
    calls = [
        bank.get(f"/v1/factors/{fid}"),
        bank.get(f"/v1/factors/{fid}/qr.png"),
        bank.post(f"/v1/factors/{fid}/verify", json={"code": code}),
        bank.post(f"/v1/factors/{fid}/check", json={"code": code}),
        bank.delete(f"/v1/factors/{fid}"),
    ]
    assert [r.status_code for r in calls] == [404] * 5
    assert {r.get_json()["code"] for r in calls} == {"factor_not_found"}
    assert bank.get("/v1/factors?subject=user-1").get_json() == {"data": []}
    assert snapshot(redis_client) == before
    verified = shop.post(f"/v1/factors/{fid}/verify", json={"code": code})
    assert verified.get_json()["valid"] is True


def test_the_environments_keys_are_the_default_profile_and_see_none_of_a_profiles(
    two, client, sandbox
):
    shop, _bank = two
    vid = shop.post("/v1/verifications", json={"phone_number": PHONE}).get_json()["id"]
    assert client.get(f"/v1/verifications/{vid}").status_code == 404
    mine = client.post("/v1/verifications", json={"phone_number": PHONE})
    assert mine.status_code == 201
    assert shop.get(f"/v1/verifications/{mine.get_json()['id']}").status_code == 404
