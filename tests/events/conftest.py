"""Fixtures of the events suite: a real HTTP receiver on 127.0.0.1 that verifies nothing
itself (the tests verify its requests with the ``standardwebhooks`` library), and a
worker over the app's Redis, driven pass by pass with the test clock."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from otp_service.events.worker import Worker
from tests.conftest import ApiClient, FakeClock
from tests.support.workers import loopback_worker


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def verified(self, secret: str) -> dict[str, Any]:
        """The body, if ``secret`` signed it (raises WebhookVerificationError if not)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """Answers each request with the next of ``statuses`` (then ``default``); keeps the
    requests it answered with a 2xx in ``received``."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default: int = 200
    delays: list[float] = field(default_factory=list)  # the next requests' waits, in turn
    started: list[Received] = field(default_factory=list)  # every request, as it came
    # when set, each request waits for the barrier's other parties and fails (500) when
    # they do not all come within its timeout: only requests posted side by side pass
    barrier: threading.Barrier | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delay(self) -> float:
        with self.lock:
            return self.delays.pop(0) if self.delays else 0.0

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else self.default

    def types(self) -> list[str]:
        return [r.json["type"] for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.started.append(Received(dict(self.headers.items()), body))
            time.sleep(state.delay())
            status = state.answer()
            if state.barrier is not None:
                try:
                    state.barrier.wait()
                except threading.BrokenBarrierError:
                    status = 500
            if 200 <= status < 300:
                with state.lock:
                    state.received.append(Received(dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker(app: Any, clock: FakeClock) -> Iterator[Worker]:
    runner = loopback_worker(
        app.extensions["otp"], "test-worker", clock=clock, threads=4, timeout=2.0
    )
    yield runner
    runner.close()


def drain(worker: Worker, passes: int = 50) -> None:
    """Run the worker until a pass finds nothing to do."""
    for _ in range(passes):
        if not worker.run_once():
            return
    raise AssertionError(f"the worker still had work after {passes} passes")


@pytest.fixture
def endpoint(admin: ApiClient, receiver: Receiver) -> dict[str, Any]:
    """An endpoint of the default profile, subscribed to everything; with its secret."""
    response = admin.post("/v1/admin/profiles/default/webhooks", json={"url": receiver.url})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


Drain = Callable[[Worker], None]
