"""The cluster suite's fixtures: a real 3-master Redis Cluster on loopback ports for the
whole session, and the shared fixtures (``env``, ``redis_client``) pointed at it, so the
existing flow tests imported into this directory run unchanged against the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.cluster import ClusterNode, RedisCluster

from tests.conftest import Sandbox, make_env
from tests.support.redis_topology import LocalCluster

# Tests of the imported modules that do not apply on a cluster, and why.
NOT_ON_A_CLUSTER = {
    "test_after_a_send_timeout_the_first_event_names_the_message": (
        "waits out a 2 s Telnyx timeout; nothing in it depends on where the keys live"
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reason = NOT_ON_A_CLUSTER.get(getattr(item, "originalname", item.name))
        if reason and item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.skip(reason=f"not on a cluster: {reason}"))


class ClusterTestClient(RedisCluster):
    """What the flow tests inspect Redis with: commands without a key (KEYS, FLUSHALL)
    cover every master, not the one node redis-py picks for them."""

    def keys(self, pattern: str = "*", **kwargs: Any) -> list[bytes]:
        return super().keys(pattern, target_nodes=RedisCluster.PRIMARIES, **kwargs)


def cluster_client(cluster: LocalCluster) -> ClusterTestClient:
    nodes = [ClusterNode("127.0.0.1", node.port) for node in cluster.nodes if node.alive]
    return ClusterTestClient(startup_nodes=nodes, socket_timeout=5)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    topology = LocalCluster(tmp_path_factory.mktemp("cluster"), masters=3)
    topology.start()
    yield topology
    topology.stop()


@pytest.fixture
def redis_server() -> None:
    pytest.skip("stops the single redis-server of the main suite; not a cluster test")


@pytest.fixture
def redis_client(cluster: LocalCluster) -> Iterator[ClusterTestClient]:
    client = cluster_client(cluster)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def env(cluster: LocalCluster, redis_client: ClusterTestClient, sandbox: Sandbox) -> dict[str, str]:
    return make_env(cluster.url, sandbox)
