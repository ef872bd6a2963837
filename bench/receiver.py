"""A webhook receiver for `make bench`: answers every POST with 204 at once, and keeps
how many it got and, for the service's own events, how long after the state change each
arrived (its body's ``timestamp`` to now). One process (the counts live in it)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

SYNTHETIC = "bench.synthetic"  # deliveries the bench stores itself: counted, not timed


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.latencies_ms: list[float] = []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if method == "POST" and path == "/hooks":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            arrived = time.time() * 1000
            latency = None
            try:
                event = json.loads(body)
                if event.get("type") != SYNTHETIC:
                    at = datetime.fromisoformat(event["timestamp"]).timestamp() * 1000
                    latency = arrived - at
            except (ValueError, KeyError, TypeError):
                pass
            with self.lock:
                self.count += 1
                if latency is not None:
                    self.latencies_ms.append(latency)
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        if path == "/stats":
            with self.lock:
                body = json.dumps({"count": self.count, "latencies_ms": self.latencies_ms})
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body.encode()]
        if method == "POST" and path == "/reset":
            with self.lock:
                self.count = 0
                self.latencies_ms = []
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]


def create_app() -> Receiver:
    return Receiver()
