"""Profile keys in one process: shown once, listed without the key, kept as a digest only,
resolved to their profile (g.profile_id), revoked, rotated, revoked with their profile,
last-used times written without a round trip on requests."""

from __future__ import annotations

import hashlib
import re
import time

import pytest

from otp_service.api.auth import key_identity
from otp_service.profiles import DEFAULT_PROFILE, ProfileSettings
from tests.conftest import ADMIN_KEY, CLIENT_KEY, ApiClient
from tests.profiles.conftest import make_key, make_profile
from tests.store.test_round_trips import RoundTrips

pytestmark = pytest.mark.topologies("single", "cluster")

KEY = re.compile(r"otpk_[a-z2-7]{32}")
UNKNOWN_ID = f"/v1/verifications/{'a' * 32}"  # 404 with a good key, 401 with a bad one


def status_with(app, key: str) -> int:
    return ApiClient(app.test_client(), key).get(UNKNOWN_ID).status_code


def test_a_key_is_shown_once_and_listed_without_it(admin, profile):
    created = make_key(admin, profile["id"])
    assert KEY.fullmatch(created["key"])
    assert created["prefix"] == created["key"][:12]
    assert created["profile_id"] == profile["id"]
    listed = admin.get(f"/v1/admin/profiles/{profile['id']}/keys").get_json()["data"]
    assert listed == [{k: v for k, v in created.items() if k != "key"}]
    assert created["key"] not in str(listed)


def test_only_the_digest_of_a_key_is_in_redis(admin, profile, redis_client):
    key = make_key(admin, profile["id"])["key"]
    values = []
    for name in redis_client.keys("*"):
        kind = redis_client.type(name).decode()
        if kind == "string":
            values.append(redis_client.get(name))
        elif kind == "hash":
            values.extend(b"%s=%s" % kv for kv in redis_client.hgetall(name).items())
        elif kind == "set":
            values.extend(redis_client.smembers(name))
        elif kind == "stream":
            values.extend(str(e).encode() for e in redis_client.xrange(name))
        values.append(name)
    dump = b"\n".join(values)
    assert key.encode() not in dump
    assert key[12:].encode() not in dump  # not even the part after the shown prefix
    assert hashlib.sha256(key.encode()).hexdigest().encode() in dump


def test_a_profile_key_resolves_to_its_profile(app, admin, profile):
    key = make_key(admin, profile["id"])
    with app.test_request_context():
        digest = hashlib.sha256(key["key"].encode()).digest()
        assert key_identity(digest) == (key["id"], profile["id"])
        assert key_identity(hashlib.sha256(CLIENT_KEY.encode()).digest()) == (
            "test-client",
            DEFAULT_PROFILE,
        )
        assert key_identity(hashlib.sha256(ADMIN_KEY.encode()).digest()) == (
            "test-admin",
            DEFAULT_PROFILE,
        )
        assert key_identity(hashlib.sha256(b"otpk_" + b"a" * 32).digest()) is None
    assert status_with(app, key["key"]) == 404  # accepted: the verification is unknown
    assert status_with(app, "otpk_" + "a" * 32) == 401


def test_require_client_sets_the_key_and_profile_ids(app, admin, profile):
    from flask import g

    from otp_service.api.auth import require_client

    key = make_key(admin, profile["id"])
    for presented, expected in (
        (key["key"], (key["id"], profile["id"])),
        (CLIENT_KEY, ("test-client", DEFAULT_PROFILE)),
    ):
        with app.test_request_context(headers={"Authorization": f"Bearer {presented}"}):
            require_client()
            assert (g.key_id, g.profile_id) == expected


def test_settings_for_gives_each_profile_its_settings(app, admin, settings):
    profiles = app.extensions["otp"].profiles
    created = make_profile(admin, code_length=8, allowed_countries=["US"])
    found = profiles.settings_for(created["id"])
    assert isinstance(found, ProfileSettings)
    assert (found.id, found.code_length, found.allowed_countries) == (
        created["id"],
        8,
        frozenset({"US"}),
    )
    assert found.ttl_seconds == settings.ttl_seconds
    default = profiles.settings_for(DEFAULT_PROFILE)
    assert (default.id, default.code_length) == (DEFAULT_PROFILE, settings.code_length)
    admin.patch(f"/v1/admin/profiles/{created['id']}", json={"code_length": 9})
    assert profiles.settings_for(created["id"]).code_length == 9
    admin.delete(f"/v1/admin/profiles/{created['id']}")
    assert profiles.settings_for(created["id"]) is None
    assert profiles.settings_for("pf_aaaaaaaaaaaaaaaa") is None


def test_a_revoked_key_is_refused(app, admin, profile):
    key = make_key(admin, profile["id"])
    assert status_with(app, key["key"]) == 404
    path = f"/v1/admin/profiles/{profile['id']}/keys/{key['id']}"
    assert admin.delete(path).status_code == 204
    assert status_with(app, key["key"]) == 401
    assert admin.delete(path).status_code == 404
    assert admin.get(f"/v1/admin/profiles/{profile['id']}/keys").get_json()["data"] == []


def test_a_key_is_revoked_only_through_its_own_profile(app, admin, profile):
    other = make_profile(admin, name="Other")
    key = make_key(admin, profile["id"])
    wrong = admin.delete(f"/v1/admin/profiles/{other['id']}/keys/{key['id']}")
    assert wrong.status_code == 404
    assert admin.delete(f"/v1/admin/profiles/{other['id']}/keys/nonsense").status_code == 404
    assert status_with(app, key["key"]) == 404


def test_rotation_both_keys_work_until_the_old_is_revoked(app, admin, profile):
    old = make_key(admin, profile["id"])
    new = make_key(admin, profile["id"])
    assert status_with(app, old["key"]) == status_with(app, new["key"]) == 404
    admin.delete(f"/v1/admin/profiles/{profile['id']}/keys/{old['id']}")
    assert status_with(app, old["key"]) == 401
    assert status_with(app, new["key"]) == 404


def test_deleting_a_profile_revokes_its_keys(app, admin, profile, redis_client):
    keys = [make_key(admin, profile["id"]) for _ in range(2)]
    assert admin.delete(f"/v1/admin/profiles/{profile['id']}").status_code == 204
    for key in keys:
        assert status_with(app, key["key"]) == 401
    assert not any(b"keys:" + profile["id"].encode() in name for name in redis_client.keys("*"))


def test_a_profile_key_is_not_an_admin_key(app, admin, profile):
    key = make_key(admin, profile["id"])
    response = ApiClient(app.test_client(), key["key"]).get("/v1/admin/profiles")
    assert response.status_code == 403


@pytest.mark.not_on("cluster", reason="the round-trip counter wraps one Redis's pool")
def test_last_used_is_written_by_the_refresher_without_a_round_trip_per_request(
    app, admin, profile, clock
):
    key = make_key(admin, profile["id"])
    assert key["last_used_at"] is None
    api = ApiClient(app.test_client(), key["key"])
    env_api = ApiClient(app.test_client(), CLIENT_KEY)
    api.get(UNKNOWN_ID)  # the ring is loaded
    counter = RoundTrips(app.extensions["otp"].store.redis)
    env_api.get(UNKNOWN_ID)  # a new connection's handshake is not counted below
    with_profile_key = counter.during(lambda: [api.get(UNKNOWN_ID) for _ in range(20)])
    with_env_key = counter.during(lambda: [env_api.get(UNKNOWN_ID) for _ in range(20)])
    assert with_profile_key == with_env_key  # no round trip added by the key's use
    ring = app.extensions["otp"].profiles.ring
    deadline = time.monotonic() + 3
    listed = None
    while time.monotonic() < deadline:
        listed = admin.get(f"/v1/admin/profiles/{profile['id']}/keys").get_json()["data"][0]
        if listed["last_used_at"]:
            break
        time.sleep(0.1)
    assert listed["last_used_at"] == "2027-01-15T08:00:00.000Z"  # the app's clock
    assert ring._used == {}
