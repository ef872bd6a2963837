"""Batches on a cluster: scripts of several slots in one round trip (one write per master,
nothing asked first), and refused commands (MOVED, NOSCRIPT) run again on their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.crc import key_slot

from otp_service.store import Store, connect
from tests.support.redis_topology import ClusterNodeInfo, LocalCluster


@pytest.fixture
def store(cluster: LocalCluster, redis_client) -> Iterator[Store]:
    store = Store(connect(cluster.url))
    yield store
    store.close()


def keys_on_two_masters(cluster: LocalCluster, store: Store) -> tuple[str, str]:
    first = store.idempotency_key("batchtest0000000")
    owner = cluster.owner(key_slot(first.encode()))
    n = 0
    while True:
        second = store.idempotency_key(f"batchtest{n:07d}")
        if cluster.owner(key_slot(second.encode())) is not owner:
            return first, second
        n += 1


def calls(node: ClusterNodeInfo, command: str) -> int:
    return int(node.client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def claim(store: Store, *keys: str) -> list[object]:
    batch = store.batch()
    for key in keys:
        batch.script("idempotency_claim", [key], ["fp", 60000])
    return batch.execute()


def test_a_batch_over_two_masters_sends_each_its_scripts_and_asks_nothing_first(
    cluster: LocalCluster, store: Store
) -> None:
    first, second = keys_on_two_masters(cluster, store)
    store.run("idempotency_claim", [store.idempotency_key("warm")], ["fp", 60000])  # loaded
    for node in cluster.nodes:
        node.client.config_resetstat()

    assert claim(store, first, second) == [[b"new"], [b"new"]]

    for key in (first, second):
        node = cluster.owner(key_slot(key.encode()))
        assert calls(node, "evalsha") == 1
        assert node.client.hget(key, "st") == b"run"
    assert sum(calls(node, "command") for node in cluster.nodes) == 0  # no COMMAND GETKEYS
    assert sum(calls(node, "script") for node in cluster.nodes) == 0


def test_scripts_a_batch_sent_to_a_master_that_no_longer_has_their_slot_run_again(
    cluster: LocalCluster, store: Store
) -> None:
    first, second = keys_on_two_masters(cluster, store)
    assert claim(store, first) == [[b"new"]]  # the client now knows where the slot is
    slot = key_slot(second.encode())
    source = cluster.owner(slot)
    target = next(node for node in cluster.masters() if node is not source)
    cluster.migrate_slot(slot, target)  # behind the client's back: its map is stale
    try:
        for node in cluster.nodes:
            node.client.script_flush()  # and no node has the scripts any more
        assert claim(store, first, second) == [[b"running"], [b"new"]]
        assert target.client.hget(second, "st") == b"run"
        assert source.client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    finally:
        cluster.migrate_slot(slot, source)
