"""Test numbers (app-store review, end-to-end tests of the customer's app): a create for
one sends nothing, is marked test, counts in its own metric; its fixed code is kept only
as a digest; production uses them only where the profile enables it."""

from __future__ import annotations

from typing import Any

import pytest

from otp_service.ids import CodeHasher, PhoneTagger
from otp_service.profiles import effective
from otp_service.verification import CreateRequest
from tests.conftest import ApiClient
from tests.profiles.conftest import make_key, make_profile
from tests.support.metrics import sample

pytestmark = pytest.mark.topologies("single", "cluster")

TEST_NUMBER, FIXED = "+13125550199", "424242"


def _count() -> float:
    return sample("otp_test_verifications_total", channel="sms")


@pytest.fixture
def shop(app: Any, admin: ApiClient) -> ApiClient:
    profile = make_profile(
        admin, name="Shop", test_numbers=[{"phone_number": TEST_NUMBER, "code": FIXED}]
    )
    return ApiClient(app.test_client(), make_key(admin, profile["id"])["key"])


def test_a_test_number_sends_nothing_and_its_fixed_code_approves(shop, sandbox):
    before = _count()
    created = shop.post("/v1/verifications", json={"phone_number": TEST_NUMBER})
    assert created.status_code == 201
    body = created.get_json()
    assert body["test"] is True and body["sender"]["type"] == "test"
    assert sandbox.messages() == []  # nothing reached Telnyx
    assert _count() == before + 1
    wrong = shop.post(f"/v1/verifications/{body['id']}/check", json={"code": "000000"})
    assert wrong.get_json()["valid"] is False
    right = shop.post(f"/v1/verifications/{body['id']}/check", json={"code": FIXED})
    assert right.get_json()["valid"] is True


def test_other_numbers_and_other_profiles_are_sent_as_usual(shop, client, sandbox):
    other = shop.post("/v1/verifications", json={"phone_number": "+13125550123"})
    assert other.get_json()["test"] is False
    assert len(sandbox.messages("+13125550123")) == 1
    # the environment's profile has no test numbers: a real code goes out
    real = client.post("/v1/verifications", json={"phone_number": TEST_NUMBER})
    assert real.get_json()["test"] is False
    assert len(sandbox.messages(TEST_NUMBER)) == 1


def test_the_fixed_code_is_kept_only_as_a_digest(admin, shop, redis_client):
    for key in redis_client.keys("*"):
        kind = redis_client.type(key)
        values = redis_client.hvals(key) if kind == b"hash" else [redis_client.dump(key)]
        assert not any(FIXED.encode() in (v or b"") for v in values), key
    listed = admin.get("/v1/admin/profiles?page[size]=50").get_json()["data"]
    [profile] = [p for p in listed if p["name"] == "Shop"]
    assert profile["settings"]["test_numbers"] == [TEST_NUMBER]
    assert profile["overrides"]["test_numbers"] == [TEST_NUMBER]
    assert FIXED not in str(profile)


@pytest.mark.parametrize(
    ("numbers", "field_says"),
    [
        ([{"phone_number": "3125550199", "code": FIXED}], "E.164"),
        ([{"phone_number": TEST_NUMBER, "code": "12"}], "digits"),
        ([{"phone_number": TEST_NUMBER}], "phone_number, code"),
        ([{"phone_number": f"+1312555{n:04d}", "code": FIXED} for n in range(21)], "20"),
        # listed twice, with two codes: one of them would be dropped without a word
        (
            [
                {"phone_number": TEST_NUMBER, "code": FIXED},
                {"phone_number": TEST_NUMBER, "code": "111111"},
            ],
            "once",
        ),
    ],
)
def test_bad_test_numbers_are_refused_naming_the_field(admin, numbers, field_says):
    response = admin.post("/v1/admin/profiles", json={"test_numbers": numbers})
    assert response.status_code == 422
    assert field_says in str(response.get_json()["errors"]["test_numbers"])


@pytest.mark.parametrize(("enabled", "sends"), [(False, 1), (True, 0)])
def test_production_uses_test_numbers_only_where_the_profile_enables_them(
    app, sandbox, enabled, sends
):
    svc = app.extensions["otp"]
    production = svc.settings.replace(env="production")
    svc.verifications.settings = production  # the same service, as production runs it
    digest = _digest(svc, TEST_NUMBER, FIXED)
    profile = effective(
        production,
        "pf_aaaaaaaaaaaaaaaa",
        {"test_numbers": {TEST_NUMBER: digest}, "test_numbers_in_production": enabled},
    )
    result = svc.verifications.create(CreateRequest(TEST_NUMBER), client_id="t", profile=profile)
    assert result.body["test"] is enabled
    assert len(sandbox.messages(TEST_NUMBER)) == sends


def _digest(svc: Any, phone: str, code: str) -> str:
    secret = svc.settings.secret
    return CodeHasher(secret).digest(PhoneTagger(secret).tag(phone), code).hex()
