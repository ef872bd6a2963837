"""Across processes: a key revoked through one gunicorn worker is refused by every worker
within 2 seconds (keys.REVOCATION_BOUND_SECONDS), with real gunicorn and 2 workers."""

from __future__ import annotations

import time

import httpx
import pytest
import redis

from otp_service.config import DEV_DEFAULTS
from otp_service.profiles.keys import REVOCATION_BOUND_SECONDS
from tests.support.service import start_service, stop_service

pytestmark = pytest.mark.not_on("cluster", reason="one gunicorn service on one Redis")

ADMIN = {"Authorization": f"Bearer {DEV_DEFAULTS['OTP_ADMIN_KEYS'].partition(':')[2]}"}
UNKNOWN_ID = f"/v1/verifications/{'a' * 32}"


def statuses(url: str, key: str, n: int) -> list[int]:
    """``n`` requests, each on a new connection, so that both workers take some."""
    out = []
    for _ in range(n):
        with httpx.Client(base_url=url, timeout=10) as http:
            out.append(http.get(UNKNOWN_ID, headers={"Authorization": f"Bearer {key}"}).status_code)
    return out


def ring_connections(client: redis.Redis) -> int:
    return sum(1 for c in client.client_list() if c.get("name") == "otp-profile-keys")


def test_a_revoked_key_is_refused_by_every_worker_within_2_seconds(
    tmp_path, redis_server, redis_client
):
    service = start_service(tmp_path, REDIS_URL=redis_server.url)
    try:
        admin = httpx.Client(base_url=service.url, timeout=10, headers=ADMIN)
        profile = admin.post("/v1/admin/profiles", json={"name": "Shop"}).json()["data"]
        keys_path = f"/v1/admin/profiles/{profile['id']}/keys"
        old = admin.post(keys_path).json()["data"]
        deadline = time.monotonic() + 30
        # until both workers have served the key (each has its ring's named connection)
        while ring_connections(redis_client) < 2:
            assert time.monotonic() < deadline, "one worker took every request"
            assert set(statuses(service.url, old["key"], 10)) == {404}
        new = admin.post(keys_path).json()["data"]
        time.sleep(REVOCATION_BOUND_SECONDS)
        # rotation: both keys work everywhere in between
        assert set(statuses(service.url, new["key"], 20)) == {404}
        assert set(statuses(service.url, old["key"], 20)) == {404}
        assert admin.delete(f"{keys_path}/{old['id']}").status_code == 204
        time.sleep(REVOCATION_BOUND_SECONDS)
        assert set(statuses(service.url, old["key"], 40)) == {401}
        assert set(statuses(service.url, new["key"], 40)) == {404}
        # deleting the profile revokes the new key too, everywhere
        assert admin.delete(f"/v1/admin/profiles/{profile['id']}").status_code == 204
        time.sleep(REVOCATION_BOUND_SECONDS)
        assert set(statuses(service.url, new["key"], 40)) == {401}
        admin.close()
    finally:
        stop_service(service)
