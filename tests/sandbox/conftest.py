"""One sandbox per module over real HTTP, a webhook receiver, state reset before each test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from otp_service.sandbox import SandboxConfig, SandboxServer


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Receiver:
    """A tiny webhook endpoint on 127.0.0.1 that records what it gets.

    ``fail_next`` makes it answer 500 to that many requests first (to exercise retries).
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self._cond = threading.Condition()
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/hooks"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        with self._cond:
            failing = self.fail_next > 0
            if failing:
                self.fail_next -= 1
            self.requests.append(
                {
                    "path": environ.get("PATH_INFO"),
                    "headers": headers,
                    "raw": raw,
                    "json": json.loads(raw),
                    "failed": failing,
                }
            )
            self._cond.notify_all()
        start_response("500 Internal Server Error" if failing else "200 OK", [])
        return [b""]

    def received(
        self, event_type: str | None = None, message_id: str | None = None, failed: bool = False
    ) -> list[dict[str, Any]]:
        """Recorded requests (path, headers, raw, json), oldest first, optionally filtered."""
        with self._cond:
            found = [r for r in self.requests if failed or not r["failed"]]
        if event_type:
            found = [r for r in found if r["json"]["data"].get("event_type") == event_type]
        if message_id:
            found = [r for r in found if message_id in _message_ids(r["json"]["data"])]
        return found

    def events(self, **filters: str) -> list[dict[str, Any]]:
        """Bodies of accepted deliveries."""
        return [r["json"] for r in self.received(**filters)]

    def wait_for(self, count: int, timeout: float = 5.0, **filters: Any) -> list[dict[str, Any]]:
        """At least ``count`` matching recorded requests, or what came before ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.received(**filters)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            with self._cond:
                self._cond.wait(0.05)

    def clear(self) -> None:
        with self._cond:
            self.requests.clear()
            self.fail_next = 0

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _message_ids(data: dict[str, Any]) -> set[str | None]:
    return {data.get("payload", {}).get("id"), data.get("message_id")}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def sandbox(receiver: Receiver) -> Iterator[SandboxServer]:
    config = SandboxConfig(
        webhook_url=receiver.url,
        webhook_delay=0.05,
        webhook_retry_delay=0.05,
        webhook_timeout=2.0,
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_state(request: pytest.FixtureRequest) -> None:
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset()
    if "receiver" in request.fixturenames:
        request.getfixturevalue("receiver").clear()


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """The Telnyx API with the right key."""
    with httpx.Client(
        base_url=sandbox.base_url,
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
        timeout=5.0,
    ) as client:
        yield client


@pytest.fixture
def helpers(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """The /_sandbox routes."""
    with httpx.Client(base_url=sandbox.url + "/_sandbox", timeout=5.0) as client:
        yield client
