"""A deleted profile's data leaves Redis: its keys are revoked at once, and the worker
then removes its verifications and TOTP factors (a factor never expires by itself and
keeps its subject's name), and nothing of another profile; on one Redis and a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from otp_service.store.profiles import ProfileStore
from tests.conftest import ApiClient, FakeClock
from tests.profiles.conftest import make_key
from tests.support.workers import loopback_worker

pytestmark = pytest.mark.topologies("single", "cluster")

PHONE = "+13125550123"


def keys_of(redis_client: Any, profile_id: str) -> list[bytes]:
    return list(redis_client.scan_iter(match=f"*{profile_id}*", count=1000))


def test_the_worker_removes_a_deleted_profiles_verifications_and_factors(
    app: Any, admin: ApiClient, client: ApiClient, profile, redis_client, clock: FakeClock
):
    own = ApiClient(app.test_client(), make_key(admin, profile["id"])["key"])
    factor = {"type": "totp", "subject": "alice@example.com"}
    made = [own.post("/v1/factors", json=factor), client.post("/v1/factors", json=factor)]
    made += [c.post("/v1/verifications", json={"phone_number": PHONE}) for c in (own, client)]
    assert [m.status_code for m in made] == [201] * 4
    mine = made[1].get_json()
    before = keys_of(redis_client, profile["id"])
    assert {key.decode().split(":")[2][0] for key in before} >= {"f", "s", "v"}
    services = app.extensions["otp"]
    worker = loopback_worker(services, "purge", clock=clock)
    try:
        assert admin.delete(f"/v1/admin/profiles/{profile['id']}").status_code == 204
        assert ProfileStore(services.store).to_purge() == [profile["id"]]
        for _ in range(50):
            if not worker.run_once():
                break
    finally:
        worker.close()
    assert keys_of(redis_client, profile["id"]) == []
    assert ProfileStore(services.store).to_purge() == []
    # the default profile's, of the same subject and number, are all there
    assert client.get(f"/v1/factors/{mine['id']}").status_code == 200
    listed = client.get("/v1/factors", query_string={"subject": "alice@example.com"})
    assert [f["id"] for f in listed.get_json()["data"]] == [mine["id"]]
    pending = client.get(f"/v1/verifications/{made[3].get_json()['id']}")
    assert pending.get_json()["status"] == "pending"
