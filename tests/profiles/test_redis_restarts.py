"""Profiles across a Redis outage: while Redis is down a profile key still
authenticates (the ring is in memory) and its requests answer 503; once Redis is back, a
key revoked through one instance is refused by every other within the documented bound,
also when Redis came back with older data (a failover to a replica that was behind, a
restored backup), which takes the ring's version back; and a profile delete that Redis's
loss cut short is finished by the worker."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otp_service import create_app
from otp_service.profiles.keys import REVOCATION_BOUND_SECONDS
from otp_service.store.profiles import ProfileStore
from otp_service.store.redis_server import RedisServer
from tests.conftest import ADMIN_KEY, ApiClient, Sandbox, make_env
from tests.profiles.conftest import make_key, make_profile
from tests.support.workers import loopback_worker

pytestmark = pytest.mark.not_on("cluster", reason="restarts one redis-server of its own")

UNKNOWN_ID = f"/v1/verifications/{'a' * 32}"  # 404 with a good key, 401 with a bad one


@pytest.fixture
def two_instances(aof_redis: RedisServer, sandbox: Sandbox) -> Iterator[tuple[Any, Any]]:
    """Two apps on that Redis, each with its own ring: the one operators change profiles
    through, and another instance of the service."""
    env = make_env(aof_redis.url, sandbox)
    apps = (create_app(env), create_app(env))
    yield apps
    for app in apps:
        app.extensions["otp"].close()


def answer_with(app: Any, key: str) -> tuple[int, str | None]:
    response = ApiClient(app.test_client(), key).get(UNKNOWN_ID)
    return response.status_code, (response.get_json(silent=True) or {}).get("code")


def test_a_key_works_while_redis_is_down_and_its_revocation_after_the_restart_holds(
    aof_redis: RedisServer, two_instances: tuple[Any, Any]
):
    operator, other = two_instances
    admin = ApiClient(operator.test_client(), ADMIN_KEY)
    profile = make_profile(admin, name="Shop")
    key = make_key(admin, profile["id"])
    assert answer_with(other, key["key"]) == (404, "verification_not_found")

    aof_redis.stop()
    try:
        # the key is known without Redis; what it asks for needs Redis
        assert answer_with(other, key["key"]) == (503, "storage_unavailable")
        time.sleep(1.0)  # the other instance's refresher fails a poll or two meanwhile
    finally:
        aof_redis.start()

    path = f"/v1/admin/profiles/{profile['id']}/keys/{key['id']}"
    assert admin.delete(path).status_code == 204
    assert answer_with(operator, key["key"])[0] == 401
    time.sleep(REVOCATION_BOUND_SECONDS)
    assert answer_with(other, key["key"])[0] == 401


@pytest.mark.parametrize("changes_lost", [1, 3])
def test_a_key_revoked_after_redis_came_back_with_older_data_is_refused(
    tmp_path: Path, aof_redis: RedisServer, two_instances: tuple[Any, Any], changes_lost: int
):
    """Redis comes back without its last ``changes_lost`` changes of profiles (restored
    from a copy of its data taken before them), and a key is revoked at once, before the
    other instance's next poll: that poll must see the revocation."""
    operator, other = two_instances
    ring = other.extensions["otp"].profiles.ring
    ring.interval = 3600.0  # its refresher never polls on its own: the test says when
    admin = ApiClient(operator.test_client(), ADMIN_KEY)
    profile = make_profile(admin, name="Shop")
    key = make_key(admin, profile["id"])

    aof_redis.stop()
    shutil.copytree(aof_redis.data_dir, tmp_path / "copy")
    aof_redis.start()
    for n in range(changes_lost):
        renamed = admin.patch(f"/v1/admin/profiles/{profile['id']}", json={"name": f"Shop {n}"})
        assert renamed.status_code == 200
    assert answer_with(other, key["key"]) == (404, "verification_not_found")  # ring loaded
    ring.refresh()

    aof_redis.stop()
    shutil.rmtree(aof_redis.data_dir)
    shutil.copytree(tmp_path / "copy", aof_redis.data_dir)
    aof_redis.start()
    path = f"/v1/admin/profiles/{profile['id']}/keys/{key['id']}"
    assert admin.delete(path).status_code == 204
    assert answer_with(operator, key["key"])[0] == 401  # the instance that revoked it
    ring.refresh()  # the other's next poll
    assert answer_with(other, key["key"])[0] == 401


def test_a_profile_delete_cut_short_by_redis_is_finished_by_the_worker(
    aof_redis: RedisServer, two_instances: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
):
    """Redis is lost right after the profile was deleted, before its webhook endpoints
    were (503): once it is back the API cannot finish it (the profile is gone: 404), so
    the worker does, and nothing is posted to those endpoints any more."""
    app, _ = two_instances
    services = app.extensions["otp"]
    admin = ApiClient(app.test_client(), ADMIN_KEY)
    profile = make_profile(admin, name="Shop")
    hooks = f"/v1/admin/profiles/{profile['id']}/webhooks"
    for port in (9, 10):
        made = admin.post(hooks, json={"url": f"http://127.0.0.1:{port}/hooks"})
        assert made.status_code == 201
    kept = admin.post(
        "/v1/admin/profiles/default/webhooks", json={"url": "http://127.0.0.1:11/hooks"}
    ).get_json()["data"]
    delete = ProfileStore.delete

    def deleted_then_redis_lost(store: ProfileStore, profile_id: str) -> bool:
        done = delete(store, profile_id)
        aof_redis.stop()
        return done

    monkeypatch.setattr(ProfileStore, "delete", deleted_then_redis_lost)
    try:
        cut = admin.delete(f"/v1/admin/profiles/{profile['id']}")
    finally:
        monkeypatch.undo()
        aof_redis.start()
    assert cut.status_code == 503
    assert cut.get_json()["code"] == "storage_unavailable"
    again = admin.delete(f"/v1/admin/profiles/{profile['id']}")
    assert again.get_json()["code"] == "profile_not_found"
    assert len(services.endpoints.all_endpoints()) == 3

    worker = loopback_worker(services, "purge")
    try:
        for _ in range(10):
            if not worker.run_once():
                break
    finally:
        worker.close()
    assert [e.id for e in services.endpoints.all_endpoints()] == [kept["id"]]
    assert ProfileStore(services.store).to_purge() == []
