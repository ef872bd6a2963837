"""Shared fixtures: a real redis-server per session (flushed per test), the Telnyx sandbox
over real HTTP, and the app built from settings that point at both.

The Redis a test gets is that of its topology (``redis_topology``): ``single`` (the
session's redis-server) unless its module is marked ``topologies(...)``, which runs each
of its tests once per topology named (``test_x[single]``, ``test_x[cluster]``); ``cluster``
is a 3-master Redis Cluster, started for the session by the first test that needs it. A
test excluded from a topology says why with ``not_on("cluster", reason=...)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from otp_service import create_app
from otp_service.config import Settings
from otp_service.sandbox.config import SandboxConfig
from otp_service.sandbox.server import SandboxServer
from otp_service.store.redis_server import RedisServer
from tests.support.redis_topology import LocalCluster

CLIENT_KEY = "test-client-key"
ADMIN_KEY = "test-admin-key"
SECRET = "test-secret-that-is-at-least-32-bytes-long"


def data_keys(redis_client: Any) -> list[bytes]:
    """Every key but the insights' hourly counters: a refusal is counted there by design
    (``GET /v1/admin/insights/summary``), and is the only thing a refused request writes."""
    return [key for key in redis_client.keys("*") if b"{ins:" not in key]


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


TOPOLOGIES = ("single", "cluster")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "topologies(*names): run each test of the module once per Redis topology named "
        f"({', '.join(TOPOLOGIES)}); the test ids say which",
    )
    config.addinivalue_line(
        "markers",
        "not_on(topology, reason): this test is skipped on that topology, for that reason",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("topologies")
    if marker is None:
        return
    excluded = {
        mark.args[0]: mark.kwargs["reason"] for mark in metafunc.definition.iter_markers("not_on")
    }
    if (
        "cluster" in marker.args
        and "cluster" not in excluded
        and "redis_server" in metafunc.fixturenames
    ):
        pytest.fail(
            f"{metafunc.definition.nodeid} uses the single redis-server (redis_server): "
            'mark it not_on("cluster", reason=...)',
            pytrace=False,
        )
    params = []
    for name in marker.args:
        assert name in TOPOLOGIES, f"unknown Redis topology {name!r}"
        reason = excluded.get(name)
        marks = [pytest.mark.skip(reason=f"not on {name}: {reason}")] if reason else []
        params.append(pytest.param(name, marks=marks, id=name))
    metafunc.parametrize("redis_topology", params, indirect=True)


@pytest.fixture(autouse=True)
def redis_topology(request: pytest.FixtureRequest) -> str:
    """The Redis topology the test runs on (see the module docstring); autouse, so that
    every test of a module marked ``topologies`` runs on each, whether it uses Redis or not."""
    return getattr(request, "param", "single")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), appendonly=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, with its append-only file (as deployed): for the
    tests that stop, kill or restart it."""
    server = RedisServer(tmp_path / "redis", unix_socket=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A 3-master Redis Cluster on loopback ports, for the tests on the ``cluster``
    topology (started by the first of them)."""
    topology = LocalCluster(tmp_path_factory.mktemp("cluster"), masters=3)
    topology.start()
    yield topology
    topology.stop()


class ClusterTestClient(RedisCluster):
    """What the flow tests inspect Redis with: commands without a key (KEYS, FLUSHALL)
    cover every master, not the one node redis-py picks for them."""

    def keys(self, pattern: str = "*", **kwargs: Any) -> list[bytes]:
        return super().keys(pattern, target_nodes=RedisCluster.PRIMARIES, **kwargs)


def cluster_client(cluster: LocalCluster) -> ClusterTestClient:
    nodes = [ClusterNode("127.0.0.1", node.port) for node in cluster.nodes if node.alive]
    return ClusterTestClient(startup_nodes=nodes, socket_timeout=5)


@pytest.fixture
def redis_url(redis_topology: str, request: pytest.FixtureRequest) -> str:
    """``REDIS_URL`` of the test's topology; only that topology's servers are started."""
    if redis_topology == "cluster":
        return request.getfixturevalue("cluster").url
    return request.getfixturevalue("redis_server").url


@pytest.fixture
def redis_client(
    redis_topology: str, request: pytest.FixtureRequest
) -> Iterator[redis.Redis | ClusterTestClient]:
    """A client of the test's Redis, flushed first."""
    if redis_topology == "cluster":
        client = cluster_client(request.getfixturevalue("cluster"))
    else:
        redis_server = request.getfixturevalue("redis_server")
        if redis_server.process is None:  # a test stopped it; bring it back
            redis_server.start()
        client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(webhook_delay=0.05)) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[Sandbox]:
    helper = Sandbox(sandbox_server)
    helper.reset()
    yield helper
    helper.close()


class Sandbox:
    """Test-side view of the sandbox: what it received, and faults to inject."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.public_key = server.public_key
        self.http = httpx.Client(base_url=server.url, timeout=10)

    def reset(self) -> None:
        self.http.post("/_sandbox/reset").raise_for_status()

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        params = {"to": to} if to else {}
        response = self.http.get("/_sandbox/messages", params=params)
        response.raise_for_status()
        return response.json()["data"]

    def last_code(self, to: str) -> str:
        text = self.messages(to)[0]["text"]
        match = re.search(r"\b(\d{4,10})\b", text)
        assert match, text
        return match.group(1)

    def fault(self, **fault: Any) -> None:
        self.http.post("/_sandbox/faults", json=fault).raise_for_status()

    def close(self) -> None:
        self.http.delete("/_sandbox/faults")
        self.http.close()


def make_env(redis_url: str, sandbox: Sandbox, **extra: str) -> dict[str, str]:
    env = {
        "OTP_ENV": "development",
        "REDIS_URL": redis_url,
        "OTP_SECRET": SECRET,
        "OTP_API_KEYS": f"test-client:{CLIENT_KEY}",
        "OTP_ADMIN_KEYS": f"test-admin:{ADMIN_KEY}",
        "TELNYX_API_KEY": "sandbox-key",
        "TELNYX_BASE_URL": sandbox.base_url,
        "TELNYX_PUBLIC_KEYS": sandbox.public_key,
        "TELNYX_FROM_NUMBER": "+13125550100",
        "OTP_PUBLIC_BASE_URL": "",
        "TELNYX_TIMEOUT_SECONDS": "2",
        # request lines at once: tests read stderr right after a request, and click's
        # runner swaps sys.stderr (tests/test_observability.py covers the batches)
        "OTP_ACCESS_LOG_FLUSH_MS": "0",
    }
    env.update(extra)
    return env


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def env(redis_url: str, redis_client: Any, sandbox: Sandbox) -> dict[str, str]:
    """Environment variables of the app under test; tests may change them before `app`."""
    return make_env(redis_url, sandbox)


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Iterator[Any]:
    app = create_app(settings, clock=clock)
    yield app
    app.extensions["otp"].close()


class ApiClient:
    """Flask's test client with the client key set, JSON in and out."""

    def __init__(self, flask_client: Any, key: str | None = CLIENT_KEY) -> None:
        self.flask = flask_client
        self.key = key

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        out.update(headers or {})
        return out

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any):
        return self.flask.post(path, json=json, headers=self._headers(headers), **kw)

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any):
        return self.flask.get(path, headers=self._headers(headers), **kw)

    def put(self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any):
        return self.flask.put(path, json=json, headers=self._headers(headers), **kw)

    def patch(self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any):
        return self.flask.patch(path, json=json, headers=self._headers(headers), **kw)

    def delete(self, path: str, headers: dict[str, str] | None = None, **kw: Any):
        return self.flask.delete(path, headers=self._headers(headers), **kw)


@pytest.fixture
def client(app: Any) -> ApiClient:
    return ApiClient(app.test_client())


@pytest.fixture
def admin(app: Any) -> ApiClient:
    return ApiClient(app.test_client(), ADMIN_KEY)
