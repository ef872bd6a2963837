"""The WebOTP and SMS Retriever lines are the app's: a profile of another app can have its
own, or none ("") where the environment sets them for the default profile."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.profiles.conftest import make_key, make_profile

pytestmark = pytest.mark.topologies("single", "cluster")

HASH = "FA+9qCX9VSu"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["OTP_WEBOTP_DOMAIN"] = "bank.example.com"
    env["OTP_ANDROID_APP_HASH"] = HASH
    return env


def test_a_profile_can_send_without_the_environments_webotp_and_app_hash_lines(
    app: Any, admin: ApiClient, client: ApiClient, sandbox
):
    shop = make_profile(admin, name="Shop", webotp_domain="", android_app_hash="")
    assert shop["settings"]["webotp_domain"] == ""
    own = ApiClient(app.test_client(), make_key(admin, shop["id"])["key"])
    assert own.post("/v1/verifications", json={"phone_number": "+13125550123"}).status_code == 201
    assert (
        client.post("/v1/verifications", json={"phone_number": "+13125550124"}).status_code == 201
    )
    [mine] = sandbox.messages("+13125550123")
    [default] = sandbox.messages("+13125550124")
    assert "@bank.example.com" not in mine["text"] and HASH not in mine["text"]
    assert "@bank.example.com #" in default["text"] and HASH in default["text"]
    preview = admin.post(f"/v1/admin/profiles/{shop['id']}/preview", json={"locale": "en"})
    assert "@" not in preview.get_json()["data"]["text"]
    # null gives the environment's back
    patched = admin.patch(f"/v1/admin/profiles/{shop['id']}", json={"webotp_domain": None})
    assert patched.get_json()["data"]["settings"]["webotp_domain"] == "bank.example.com"
