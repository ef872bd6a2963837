"""A master watched by Sentinel: the service follows a failover (SENTINEL FAILOVER).

One master, one replica, three sentinels, on loopback ports; ``REDIS_URL`` is
``redis+sentinel://…/mymaster``. What was written before the failover is served by the
promoted replica, and the service writes there from the next request on (it asks the
sentinels which node is master at most once a second, see ``redis_url.FollowMasterPool``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from otp_service.store import Store, connect
from otp_service.store.redis_url import FollowMasterPool
from tests.conftest import ApiClient, Sandbox, make_env
from tests.support.redis_topology import LocalSentinel

PHONE = "+13125550123"
LATER = "+13125550124"


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSentinel]:
    topology = LocalSentinel(tmp_path_factory.mktemp("sentinel"))
    topology.start()
    yield topology
    topology.stop()


@pytest.fixture
def redis_client(sentinel: LocalSentinel) -> Iterator[Any]:
    client = connect(sentinel.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def env(sentinel: LocalSentinel, redis_client: Any, sandbox: Sandbox) -> dict[str, str]:
    return make_env(sentinel.url, sandbox)


def test_a_script_refused_by_a_demoted_master_runs_again_on_the_master(
    sentinel: LocalSentinel, redis_client: Any
) -> None:
    """A pooled connection can outlive its node's demotion (before Sentinel cuts it):
    the write inside the script is refused READONLY, the connection is dropped, and the
    one retry reconnects to the node the sentinels name."""
    master = sentinel.master_address()
    [replica] = [
        ("127.0.0.1", server.port)
        for server in sentinel.servers
        if redis.Redis(port=server.port).info("replication")["role"] == "slave"
    ]
    store = Store(connect(sentinel.url))
    proxy = store.redis.connection_pool.proxy
    answers = [replica, replica]  # the first connect, and the pool's first check

    def sentinels_answer() -> tuple[str, int]:
        proxy.master_address = answers.pop(0) if answers else master
        return proxy.master_address

    proxy.get_master_address = sentinels_answer
    redis.Redis(host=master[0], port=master[1]).script_flush()  # NOSCRIPT there, too
    try:
        key = store.idempotency_key("readonlytest0000")
        assert store.run("idempotency_claim", [key], ["fp", 60000]) == [b"new"]
        assert answers == []  # it did go to the replica first
        assert redis.Redis(host=master[0], port=master[1]).hget(key, "st") == b"run"
    finally:
        store.close()


def test_the_flow_goes_on_on_the_promoted_replica_after_a_sentinel_failover(
    client: ApiClient, sandbox: Sandbox, sentinel: LocalSentinel
) -> None:
    before = sentinel.master_address()
    first = client.post("/v1/verifications", json={"phone_number": PHONE})
    assert first.status_code == 201
    vid = first.get_json()["id"]
    code = sandbox.last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    assert client.post(f"/v1/verifications/{vid}/check", json={"code": wrong}).status_code == 200
    assert client.flask.get("/readyz").status_code == 200

    after = sentinel.failover()
    assert after != before
    time.sleep(FollowMasterPool.recheck_seconds)  # the service asks the sentinels again

    # written before the failover: on the promoted replica
    check = client.post(f"/v1/verifications/{vid}/check", json={"code": code})
    assert check.get_json() == {
        "id": vid,
        "status": "approved",
        "valid": True,
        "attempts_remaining": 4,
    }
    # and the writes from then on go to it, not to the old master (still a master for a
    # while: Sentinel reconfigures it some 10 s later)
    second = client.post("/v1/verifications", json={"phone_number": LATER})
    assert second.status_code == 201
    new_master = redis.Redis(host=after[0], port=after[1])
    old_master = redis.Redis(host=before[0], port=before[1])
    try:
        assert new_master.info("replication")["role"] == "master"
        approved, created = f"otp:{{{vid[:16]}}}:v", f"otp:{{{second.get_json()['id'][:16]}}}:v"
        assert (new_master.hget(approved, "st"), new_master.hget(created, "st")) == (b"a", b"p")
        assert (old_master.hget(approved, "st"), old_master.exists(created)) == (b"p", 0)
    finally:
        new_master.close()
        old_master.close()
    later = client.post(
        "/v1/verifications/check", json={"phone_number": LATER, "code": sandbox.last_code(LATER)}
    )
    assert later.get_json()["valid"] is True
    assert [len(sandbox.messages(p)) for p in (PHONE, LATER)] == [1, 1]
    assert client.flask.get("/readyz").status_code == 200
