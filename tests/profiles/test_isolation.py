"""A verification and a factor belong to their profile: another profile sees nothing of
them, and each profile's settings shape its own codes. (Keys are resolved to profiles by
api/auth.py; here the services are called with the profile a key would give.)"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service import create_app, errors
from otp_service.config import Settings
from otp_service.profiles import effective
from otp_service.telnyx.webhooks import public_key_b64, sign_webhook
from otp_service.timefmt import parse_iso
from otp_service.verification import CreateRequest
from tests.conftest import ADMIN_KEY, ApiClient
from tests.profiles.conftest import make_key, make_profile

pytestmark = pytest.mark.topologies("single", "cluster")

PHONE = "+13125550123"
A, B = "pf_aaaaaaaaaaaaaaaa", "pf_bbbbbbbbbbbbbbbb"
KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TELNYX_PUBLIC_KEYS"] = ",".join([env["TELNYX_PUBLIC_KEYS"], public_key_b64(KEY)])
    env["OTP_PUBLIC_BASE_URL"] = "http://127.0.0.1:9"  # receipts' URL; never called here
    return env


@pytest.fixture
def svc(app: Any) -> Any:
    return app.extensions["otp"]


@pytest.fixture
def profiles(svc: Any) -> dict[str, Any]:
    s = svc.settings
    return {
        "default": svc.verifications.default_profile,
        A: effective(s, A, {"code_length": 8, "ttl_seconds": 120, "app_name": "Alpha"}),
        B: effective(s, B, {"max_attempts": 2}),
    }


def create(svc: Any, profile: Any, phone: str = PHONE) -> Any:
    return svc.verifications.create(CreateRequest(phone), client_id="t", profile=profile)


def snapshot(redis_client: Any) -> dict[bytes, Any]:
    """Every key and its value, to show that a refused call changed nothing."""
    out = {}
    for key in redis_client.keys("*"):
        kind = redis_client.type(key)
        out[key] = redis_client.hgetall(key) if kind == b"hash" else redis_client.dump(key)
    return out


def test_a_profiles_settings_shape_its_codes(svc, profiles, sandbox):
    created = create(svc, profiles[A]).body
    [message] = sandbox.messages(PHONE)
    assert len(sandbox.last_code(PHONE)) == 8
    assert "Alpha" in message["text"] and "2 minutes" in message["text"]
    seconds = _ms(created["expires_at"]) - _ms(created["created_at"])
    assert seconds == 120_000
    assert svc.verifications.get(created["id"], profiles[A])["attempts_remaining"] == 5
    created_b = create(svc, profiles[B], "+13125550124").body
    assert created_b["attempts_remaining"] == 2


def test_a_profiles_own_template_is_the_text_sent(svc, sandbox):
    own = effective(svc.settings, A, {"templates": {"en": "Alpha: {code} ({minutes} min)"}})
    create(svc, own)
    code = sandbox.last_code(PHONE)
    assert sandbox.messages(PHONE)[0]["text"] == f"Alpha: {code} (10 min)"


def test_a_raised_code_length_floor_holds_for_a_profile_saved_below_it(app, env, clock, sandbox):
    """OTP_MIN_CODE_LENGTH raised after a profile saved a shorter code_length: its codes
    get the floor's length, and the profile shows the length it sends with."""
    admin = ApiClient(app.test_client(), ADMIN_KEY)
    profile = make_profile(admin, name="Shop", code_length=6)
    key = make_key(admin, profile["id"])["key"]
    raised = create_app(Settings.from_env({**env, "OTP_MIN_CODE_LENGTH": "8"}), clock=clock)
    try:
        shop = ApiClient(raised.test_client(), key)
        assert shop.post("/v1/verifications", json={"phone_number": PHONE}).status_code == 201
        assert len(sandbox.last_code(PHONE)) == 8
        shown = ApiClient(raised.test_client(), ADMIN_KEY).get(
            f"/v1/admin/profiles/{profile['id']}"
        )
        assert shown.get_json()["data"]["settings"]["code_length"] == 8
    finally:
        raised.extensions["otp"].close()


@pytest.mark.parametrize("other", ["default", B])
def test_another_profile_finds_nothing_and_changes_nothing(
    svc, profiles, sandbox, redis_client, other
):
    verification = create(svc, profiles[A]).body
    code = sandbox.last_code(PHONE)
    before = snapshot(redis_client)
    theirs = profiles[other]
    with pytest.raises(errors.VerificationNotFound):
        svc.verifications.get(verification["id"], theirs)
    with pytest.raises(errors.VerificationNotFound):
        svc.verifications.check(verification["id"], code, theirs)
    with pytest.raises(errors.VerificationNotFound):
        svc.verifications.check_phone(PHONE, code, theirs)
    with pytest.raises(errors.VerificationNotFound):
        svc.verifications.cancel(verification["id"], theirs)
    assert snapshot(redis_client) == before
    assert svc.verifications.check(verification["id"], code, profiles[A]).body["valid"] is True


def test_one_number_can_be_pending_in_two_profiles_at_once(svc, profiles, sandbox):
    first = create(svc, profiles["default"])
    first_code = sandbox.last_code(PHONE)
    second = create(svc, profiles[A])
    second_code = sandbox.last_code(PHONE)
    assert (first.status, second.status) == (201, 201)  # two verifications, not a resend
    assert first.body["id"] != second.body["id"]
    assert len(sandbox.messages(PHONE)) == 2
    wrong_profile = svc.verifications.check_phone(PHONE, first_code, profiles[A]).body
    assert wrong_profile["valid"] is False
    assert svc.verifications.check_phone(PHONE, second_code, profiles[A]).body["valid"]
    assert svc.verifications.check_phone(PHONE, first_code, profiles["default"]).body["valid"]


def test_a_profiles_allowed_countries_refuse_other_destinations(svc, sandbox):
    us_only = effective(svc.settings, A, {"allowed_countries": ["US"]})
    with pytest.raises(errors.DestinationNotAllowed):
        create(svc, us_only, "+447911123456")
    assert sandbox.messages() == []
    assert create(svc, us_only).status == 201


def test_a_profiles_receipt_names_it_and_updates_only_its_verification(app, svc, profiles, sandbox):
    mine = create(svc, profiles[A]).body
    [message] = sandbox.messages(PHONE)
    assert message["webhook_url"].endswith(f"/v1/webhooks/telnyx?profile={A}")
    event = _receipt(mine["delivery"]["message_id"])
    unknown = _post(app, event, "")  # without the profile it is looked up in default's
    assert unknown.get_json()["result"] == "unknown"
    applied = _post(app, _receipt(mine["delivery"]["message_id"]), f"?profile={A}")
    assert applied.status_code == 200, applied.get_json()
    assert svc.verifications.get(mine["id"], profiles[A])["delivery"]["status"] == "delivered"


def test_a_webhook_naming_no_profile_id_is_refused(app):
    response = _post(app, _receipt("m"), "?profile=..%2Fx")
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_request"


def test_a_factor_belongs_to_its_profile(svc):
    factor = svc.factors.create("user-1", profile=A)
    assert svc.factors.get(factor["id"], A)["id"] == factor["id"]
    for other in ("default", B):
        with pytest.raises(errors.FactorNotFound):
            svc.factors.get(factor["id"], other)
        with pytest.raises(errors.FactorNotFound):
            svc.factors.check(factor["id"], "123456", other)
        with pytest.raises(errors.FactorNotFound):
            svc.factors.delete(factor["id"], other)
        assert svc.factors.for_subject("user-1", other) == []
    # the same subject has factors of its own in another profile
    assert svc.factors.create("user-1", profile=B)["id"] != factor["id"]
    assert [f["id"] for f in svc.factors.for_subject("user-1", A)] == [factor["id"]]


def _receipt(message_id: str) -> dict[str, Any]:
    return {
        "data": {
            "event_type": "message.finalized",
            "id": f"ev-{message_id}-{time.monotonic_ns()}",
            "occurred_at": "2027-01-15T08:00:00.000Z",
            "record_type": "event",
            "payload": {
                "id": message_id,
                "to": [{"phone_number": PHONE, "status": "delivered"}],
                "errors": [],
            },
        }
    }


def _post(app: Any, event: dict[str, Any], query: str) -> Any:
    payload = json.dumps(event).encode()
    headers = {**sign_webhook(payload, KEY, int(time.time())), "Content-Type": "application/json"}
    return app.test_client().post(f"/v1/webhooks/telnyx{query}", data=payload, headers=headers)


def _ms(iso: str) -> int:
    at = parse_iso(iso)
    assert at is not None
    return at
