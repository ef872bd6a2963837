"""Throw-away Redis Cluster and Sentinel setups on loopback, from the same redis-server
binary as ``RedisServer``: for the tests of the cluster/Sentinel suite and for trying
the service against a topology by hand.

    LocalCluster(dir, masters=3, replicas_per_master=1)   nodes on free ports, slots
        split evenly, cluster_state:ok; ``url`` is a ``redis+cluster://`` URL
    LocalSentinel(dir, replicas=1, sentinels=3)          one master ``mymaster``; ``url``
        is a ``redis+sentinel://`` URL

Each node is a ``RedisServer`` (no AOF, told to die with its parent). Works with Redis
6.2 (CLUSTER ADDSLOTS, not ADDSLOTSRANGE) and later.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from otp_service.store.redis_server import RedisServer, die_with_parent, find_redis_server

__all__ = ["SLOTS", "ClusterNodeInfo", "LocalCluster", "LocalSentinel", "free_cluster_port"]

SLOTS = 16384
_BUS_OFFSET = 10000  # Redis < 7 puts the cluster bus on port + 10000


def free_cluster_port() -> int:
    """A loopback port that is free, and whose cluster-bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randrange(20000, 30000)  # noqa: S311 - not a secret
        try:
            for candidate in (port, port + _BUS_OFFSET):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except redis.exceptions.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class ClusterNodeInfo:
    """One redis-server of a LocalCluster, with a direct (non-cluster) client."""

    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
        self.id = ""

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    @property
    def alive(self) -> bool:
        return self.server.process is not None

    def info(self, section: str) -> dict[str, str]:
        return {k: str(v) for k, v in self.client.info(section).items()}

    def cluster_info(self) -> dict[str, str]:
        text = self.client.execute_command("CLUSTER", "INFO").decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def nodes(self) -> list[dict[str, str]]:
        """CLUSTER NODES, one dict per line: id, addr, flags, master, slots."""
        text = self.client.execute_command("CLUSTER", "NODES").decode()
        out = []
        for line in text.splitlines():
            parts = line.split()
            out.append(
                {
                    "id": parts[0],
                    "addr": parts[1].split("@")[0],
                    "flags": parts[2],
                    "master": parts[3],
                    "slots": " ".join(parts[8:]),
                }
            )
        return out

    def close(self) -> None:
        self.client.close()


class LocalCluster:
    """A Redis Cluster of ``masters`` masters (and replicas) on loopback ports."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        masters: int = 3,
        replicas_per_master: int = 0,
        node_timeout_ms: int = 500,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.n_masters = masters
        self.replicas_per_master = replicas_per_master
        self.node_timeout_ms = node_timeout_ms
        self.nodes: list[ClusterNodeInfo] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"redis+cluster://{hosts}"

    def _server(self, index: int) -> RedisServer:
        directory = self.data_dir / f"node{index}"
        port = free_cluster_port()
        return RedisServer(
            directory,
            port=port,
            appendonly=False,
            extra_args=[
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(directory / "nodes.conf"),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--repl-diskless-sync", "yes",
                "--repl-diskless-sync-delay", "0",
                "--repl-ping-replica-period", "1",
            ],
        )  # fmt: skip

    def start(self, timeout: float = 20.0) -> str:
        total = self.n_masters * (1 + self.replicas_per_master)
        self.nodes = [ClusterNodeInfo(self._server(i)) for i in range(total)]
        try:
            for node in self.nodes:
                node.server.start()
                node.id = node.client.execute_command("CLUSTER", "MYID").decode()
            masters = self.nodes[: self.n_masters]
            for epoch, node in enumerate(masters, start=1):
                node.client.execute_command("CLUSTER SET-CONFIG-EPOCH", epoch)
            per_master = SLOTS // self.n_masters
            for i, node in enumerate(masters):
                first = i * per_master
                last = SLOTS - 1 if i == self.n_masters - 1 else first + per_master - 1
                node.client.execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
            for node in self.nodes[1:]:
                node.client.execute_command("CLUSTER MEET", "127.0.0.1", self.nodes[0].port)
            wait_for(
                lambda: all(len(n.nodes()) == total for n in self.nodes),
                timeout,
                "every node to know every other",
            )
            for i, replica in enumerate(self.nodes[self.n_masters :]):
                master = masters[i % self.n_masters]
                replica.client.execute_command("CLUSTER REPLICATE", master.id)
            self.wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def wait_ok(self, timeout: float = 20.0) -> None:
        """Until every live node says cluster_state:ok, every replica is in sync, and they
        all agree on which node serves each slot."""

        def settled() -> bool:
            live = [n for n in self.nodes if n.alive]
            if any(n.cluster_info().get("cluster_state") != "ok" for n in live):
                return False
            for node in live:
                role = node.info("replication")
                if role.get("role") == "slave" and role.get("master_link_status") != "up":
                    return False
            views = {self._slot_view(n) for n in live}
            return len(views) == 1

        wait_for(settled, timeout, "cluster_state:ok on every node")

    @staticmethod
    def _slot_view(node: ClusterNodeInfo) -> tuple[tuple[str, str], ...]:
        return tuple(
            sorted(
                (n["id"], n["slots"])
                for n in node.nodes()
                if "master" in n["flags"] and "fail" not in n["flags"] and n["slots"]
            )
        )

    def live(self) -> ClusterNodeInfo:
        return next(n for n in self.nodes if n.alive)

    def owner(self, slot: int) -> ClusterNodeInfo:
        """The master serving ``slot``, as the cluster sees it now."""
        reply = self.live().client.execute_command("CLUSTER SLOTS")
        for first, last, master, *_replicas in reply:
            if first <= slot <= last:
                return next(n for n in self.nodes if n.port == int(master[1]))
        raise LookupError(f"slot {slot} is not served")

    def masters(self) -> list[ClusterNodeInfo]:
        return [n for n in self.nodes if n.alive and n.info("replication").get("role") == "master"]

    def replicas_of(self, master: ClusterNodeInfo) -> list[ClusterNodeInfo]:
        return [
            n
            for n in self.nodes
            if n.alive
            and n is not master
            and any(row["id"] == n.id and row["master"] == master.id for row in n.nodes())
        ]

    def flushall(self) -> None:
        for node in self.masters():
            node.client.flushall()

    def migrate_slot(
        self,
        slot: int,
        target: ClusterNodeInfo,
        *,
        batch: int = 100,
        between: Callable[[], None] | None = None,
    ) -> int:
        """Move ``slot`` to ``target`` the way redis-cli --cluster reshard does: IMPORTING
        and MIGRATING, MIGRATE the keys, then SETSLOT NODE on every master. ``between``
        runs once both sides are marked and before any key moves. Returns keys moved."""
        source = self.owner(slot)
        if source is target:
            return 0
        target.client.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source.id)
        source.client.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target.id)
        if between is not None:
            between()
        moved = 0
        while True:
            keys = source.client.execute_command("CLUSTER GETKEYSINSLOT", slot, batch)
            if not keys:
                break
            source.client.execute_command(
                "MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys
            )
            moved += len(keys)
        for node in [target, source, *(n for n in self.masters() if n not in (source, target))]:
            node.client.execute_command("CLUSTER SETSLOT", slot, "NODE", target.id)
        return moved

    def failover(self, replica: ClusterNodeInfo, timeout: float = 10.0) -> None:
        """A manual failover, on the replica: the master stops taking writes, the replica
        catches up with it, then takes over (no acknowledged write is lost)."""
        replica.client.execute_command("CLUSTER FAILOVER")
        wait_for(
            lambda: replica.info("replication").get("role") == "master",
            timeout,
            "the replica to become master",
        )
        self.wait_ok(timeout)

    def stop(self) -> None:
        for node in self.nodes:
            node.close()
            node.server.kill()  # no AOF to flush: throw-away data


class LocalSentinel:
    """One master (``service``), its replicas, and ``sentinels`` sentinels watching it."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        replicas: int = 1,
        sentinels: int = 3,
        service: str = "mymaster",
        down_after_ms: int = 1000,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.n_replicas = replicas
        self.n_sentinels = sentinels
        self.service = service
        self.down_after_ms = down_after_ms
        self.servers: list[RedisServer] = []
        self.sentinel_ports: list[int] = []
        self._sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.service}"

    def start(self, timeout: float = 20.0) -> str:
        try:
            repl = [
                "--repl-diskless-sync", "yes",
                "--repl-diskless-sync-delay", "0",
                "--repl-ping-replica-period", "1",
            ]  # fmt: skip
            master = RedisServer(
                self.data_dir / "master", unix_socket=False, appendonly=False, extra_args=repl
            )
            master.start()
            self.servers = [master]
            for i in range(self.n_replicas):
                replica = RedisServer(
                    self.data_dir / f"replica{i}",
                    unix_socket=False,
                    appendonly=False,
                    extra_args=[*repl, "--replicaof", "127.0.0.1", str(master.port)],
                )
                replica.start()
                self.servers.append(replica)
            for i in range(self.n_sentinels):
                self._start_sentinel(i, master.port or 0)
            wait_for(self._ready, timeout, "sentinels to see the master and its replicas")
        except BaseException:
            self.stop()
            raise
        return self.url

    def _start_sentinel(self, index: int, master_port: int) -> None:
        directory = self.data_dir / f"sentinel{index}"
        directory.mkdir(parents=True, exist_ok=True)
        port = free_cluster_port()
        conf = directory / "sentinel.conf"
        conf.write_text(
            "\n".join(
                [
                    f"port {port}",
                    "bind 127.0.0.1",
                    f"dir {directory}",
                    f"logfile {directory / 'sentinel.log'}",
                    f"sentinel monitor {self.service} 127.0.0.1 {master_port} 2",
                    f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}",
                    f"sentinel failover-timeout {self.service} 5000",
                    f"sentinel parallel-syncs {self.service} 1",
                    "",
                ]
            )
        )
        process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [find_redis_server(), str(conf), "--sentinel"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
        self._sentinels.append(process)
        self.sentinel_ports.append(port)

    def sentinel(self, index: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.sentinel_ports[index], socket_timeout=5)

    def master_address(self, index: int = 0) -> tuple[str, int]:
        client = self.sentinel(index)
        try:
            host, port = client.execute_command("SENTINEL GET-MASTER-ADDR-BY-NAME", self.service)
        finally:
            client.close()
        return host.decode() if isinstance(host, bytes) else host, int(port)

    def _ready(self) -> bool:
        replicas_needed = self.n_replicas
        for index in range(self.n_sentinels):
            client = self.sentinel(index)
            try:
                state = client.execute_command("SENTINEL MASTER", self.service)
                if isinstance(state, list):
                    state = dict(zip(state[::2], state[1::2], strict=True))
                state = {
                    (k.decode() if isinstance(k, bytes) else k): (
                        v.decode() if isinstance(v, bytes) else v
                    )
                    for k, v in state.items()
                }
                if int(state.get("num-slaves", 0)) < replicas_needed:
                    return False
                if int(state.get("num-other-sentinels", 0)) < self.n_sentinels - 1:
                    return False
            finally:
                client.close()
        return True

    def failover(self, timeout: float = 15.0) -> tuple[str, int]:
        """SENTINEL FAILOVER: a replica is promoted; returns once every sentinel names it
        (Sentinel turns the old master into its replica some 10 s later)."""
        before = self.master_address()
        client = self.sentinel()
        try:
            client.execute_command("SENTINEL FAILOVER", self.service)
        finally:
            client.close()

        def switched() -> bool:
            named = {self.master_address(i) for i in range(self.n_sentinels)}
            if len(named) != 1 or before in named:
                return False
            [after] = named
            promoted = redis.Redis(host=after[0], port=after[1], socket_timeout=2)
            try:
                return promoted.info("replication")["role"] == "master"
            finally:
                promoted.close()

        wait_for(switched, timeout, "every sentinel to name the promoted replica")
        return self.master_address()

    def stop(self) -> None:
        for process in self._sentinels:
            if process.poll() is None:
                process.kill()
                process.wait()
        self._sentinels = []
        for server in self.servers:
            server.kill()
