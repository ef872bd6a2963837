"""The WebOTP and SMS Retriever lines are the app's: a profile of another app can have its
own, or none ("") where the environment sets them for the default profile."""

from __future__ import annotations

import json
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


# the lines the environment adds: "\n" + the hash (12) and "\n@bank.example.com #" + the
# 10-digit code (30); the longest code and app name take 10 + 30
LINES = 12 + 30
FITS = "{code} {app_name} " + "x" * (160 - LINES - 10 - 30 - 2)


def test_a_template_must_fit_one_segment_with_the_lines_its_messages_end_with(
    admin: ApiClient, redis_client
):
    profiles_before = redis_client.hgetall("otp:{profiles}:all")
    refused = admin.post("/v1/admin/profiles", json={"templates": {"en": FITS + "x"}})
    assert refused.status_code == 422, refused.get_json()
    [why] = refused.get_json()["errors"]["templates"]["en"]
    assert "2 SMS segments in GSM-7" in why and "161 septets" in why
    assert "app hash" in why and "@bank.example.com" in why
    assert redis_client.hgetall("otp:{profiles}:all") == profiles_before  # nothing stored
    # the same text without the lines, or one character shorter, is taken
    alone = {"templates": {"en": FITS + "x"}, "webotp_domain": "", "android_app_hash": ""}
    assert admin.post("/v1/admin/profiles", json=alone).status_code == 201
    shop = make_profile(admin, name="Shop", templates={"en": FITS})
    preview = admin.post(f"/v1/admin/profiles/{shop['id']}/preview", json={"code_length": 10})
    assert preview.get_json()["data"]["segments"] == 1


def test_an_update_whose_longer_domain_would_split_the_message_is_refused(admin: ApiClient):
    shop = make_profile(admin, name="Shop", templates={"en": FITS})
    path = f"/v1/admin/profiles/{shop['id']}"
    longer = admin.patch(path, json={"webotp_domain": "www.bank.example.com"})
    assert longer.status_code == 422, longer.get_json()
    assert "@www.bank.example.com" in longer.get_json()["errors"]["templates"]["en"][0]
    assert admin.get(path).get_json()["data"] == shop  # unchanged
    # a shorter domain makes room
    shorter = admin.patch(path, json={"webotp_domain": "bank.example"})
    assert shorter.status_code == 200, shorter.get_json()


def test_an_update_of_another_field_is_not_refused_for_a_template_it_left_as_it_was(
    admin: ApiClient, redis_client
):
    """A profile saved before its templates were measured with the lines (or whose lines
    the environment lengthened since) still takes a change that does not touch them: a
    guard tightened, a rename. A change that leaves a template split otherwise is refused."""
    alone = {"templates": {"en": FITS + "x"}, "webotp_domain": "", "android_app_hash": ""}
    created = admin.post("/v1/admin/profiles", json={"name": "Shop", **alone})
    assert created.status_code == 201, created.get_json()
    path = f"/v1/admin/profiles/{created.get_json()['data']['id']}"
    # as an older version stored it: the environment's lines, the same text
    key, field = "otp:{profiles}:all", created.get_json()["data"]["id"]
    stored = json.loads(redis_client.hget(key, field))
    del stored["webotp_domain"], stored["android_app_hash"]
    redis_client.hset(key, field, json.dumps(stored))

    renamed = admin.patch(path, json={"name": "Shop 2"})
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["data"]["name"] == "Shop 2"
    # a template changed and still split, or a longer domain, is refused
    longer = admin.patch(path, json={"templates": {"en": FITS + "xx"}})
    assert longer.status_code == 422, longer.get_json()
    assert "162 septets" in longer.get_json()["errors"]["templates"]["en"][0]
    domain = admin.patch(path, json={"webotp_domain": "www.bank.example.com"})
    assert domain.status_code == 422, domain.get_json()
    other = admin.patch(path, json={"templates": {"en": "{code} " + FITS[7:] + "y"}})
    assert other.status_code == 422, other.get_json()  # another text, as long
