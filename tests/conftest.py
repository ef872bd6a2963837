"""Shared fixtures: a real redis-server per session (flushed per test), the Telnyx sandbox
over real HTTP, and the app built from settings that point at both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from otp_service import create_app
from otp_service.config import Settings
from otp_service.sandbox.config import SandboxConfig
from otp_service.sandbox.server import SandboxServer
from otp_service.store.redis_server import RedisServer

CLIENT_KEY = "test-client-key"
ADMIN_KEY = "test-admin-key"
SECRET = "test-secret-that-is-at-least-32-bytes-long"


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), appendonly=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
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
def env(redis_server: RedisServer, redis_client: redis.Redis, sandbox: Sandbox) -> dict[str, str]:
    """Environment variables of the app under test; tests may change them before `app`."""
    return make_env(redis_server.url, sandbox)


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
