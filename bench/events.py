"""`make bench`'s events part (issue 19): endpoints subscribed while everything else is
measured, then

- delivery rate: one `otp-service worker` delivering stored deliveries to the receiver,
  against a bare loop of pooled httpx POSTs of the same body to the same receiver
  (target: the worker ≥ 0.7× the loop);
- latency: from a state change (the event's ``timestamp``, written by the script that
  made the change) to the receiver's answer, over every event of the rounds run with
  the worker delivering beside the calls (p50, p99; no target);
- history: Redis bytes per ended verification (target ≤ 250, issue 21).
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.receiver import SYNTHETIC
from otp_service.config import Settings
from otp_service.events.endpoints import delivery_id_of
from otp_service.services import Services, build_services, build_worker
from otp_service.store.outbox import OutboxStore
from otp_service.store.webhooks import NewDelivery, WebhookStore

__all__ = [
    "DELIVERY_RATE_TARGET",
    "OutboxStore",
    "Settings",
    "WebhookStore",
    "build_services",
    "latency",
    "receiver_stats",
    "HISTORY_TARGET",
    "bare_loop_rate",
    "drain",
    "history_bytes",
    "subscribe",
    "worker_rate",
]

DELIVERY_RATE_TARGET = 0.7
HISTORY_TARGET = 250  # bytes per ended verification
BARE_SECONDS = 3.0


def subscribe(service_url: str, admin_key: str, profiles: Sequence[str], url: str) -> list[str]:
    """An endpoint for every event of each profile, at ``url``; their ids."""
    ids = []
    with httpx.Client(base_url=service_url, timeout=10) as http:
        for profile in profiles:
            answer = http.post(
                f"/v1/admin/profiles/{profile}/webhooks",
                json={"url": url, "description": "make bench"},
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            answer.raise_for_status()
            ids.append(answer.json()["data"]["id"])
    return ids


def sample_body() -> bytes:
    """About the size of a verification event."""
    data = {"id": "a" * 32, "status": "approved", "padding": "x" * 900}
    return json.dumps(
        {"type": SYNTHETIC, "timestamp": "2026-01-01T00:00:00.000Z", "data": data}
    ).encode()


def bare_loop_rate(receiver_url: str, seconds: float = BARE_SECONDS) -> float:
    """POSTs a second of one loop on one pooled httpx client."""
    body = sample_body()
    headers = {"Content-Type": "application/json"}
    done = 0
    with httpx.Client(timeout=10) as http:
        http.post(receiver_url, content=body, headers=headers)  # connected, warm
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            http.post(receiver_url, content=body, headers=headers).raise_for_status()
            done += 1
        return done / (time.perf_counter() - started)


def receiver_stats(stats_url: str) -> dict[str, Any]:
    return httpx.get(stats_url, timeout=10).json()


def worker_rate(
    services: Services, endpoint: str, profile: str, receiver: str, count: int
) -> float:
    """Deliveries a second of the stack's running worker: ``count`` stored at once (as a
    burst of events would store them), timed until the receiver has them all."""
    base = receiver.rsplit("/", 1)[0]
    httpx.post(base + "/reset", timeout=10).raise_for_status()
    store = WebhookStore(services.store)
    body = sample_body()
    deliveries = []
    for _ in range(count):
        webhook_id = "msg_bench" + secrets.token_hex(10)
        deliveries.append(
            NewDelivery(
                delivery_id_of(endpoint, webhook_id), endpoint, profile, webhook_id, SYNTHETIC, body
            )
        )
    started = time.perf_counter()
    now = int(time.time() * 1000)
    for i in range(0, count, 500):
        store.enqueue(deliveries[i : i + 500], now)
    deadline = started + 120
    # one client for the polls: a new one each time (httpx.get) costs ~15 ms of CPU for
    # its TLS context, taken from the worker and receiver being measured
    with httpx.Client(timeout=10) as http:
        while time.perf_counter() < deadline:
            if http.get(base + "/stats").json()["count"] >= count:
                return count / (time.perf_counter() - started)
            time.sleep(0.02)
    raise RuntimeError(f"the worker did not deliver {count} webhooks within 120 s")


def latency(stats: dict[str, Any]) -> dict[str, float | None]:
    values = sorted(stats["latencies_ms"])
    if not values:
        return {"events": 0, "p50_ms": None, "p99_ms": None}

    def pct(p: float) -> float:
        return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 1)

    return {
        "events": len(values),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "mean_ms": round(statistics.fmean(values), 1),
    }


def drain(services: Services, name: str) -> None:
    """Hand every outbox entry over (history, counters, deliveries) in this process."""
    worker = build_worker(services, name, threads=4, sweep_every_ms=0)
    try:
        for _ in range(10_000):
            if not worker.run_once():
                return
    finally:
        worker.close()


def history_bytes(env: dict[str, str], verifications: Sequence[Any]) -> dict[str, Any]:
    """End ``verifications`` (cancel), let a worker write their history, and weigh it."""
    services = build_services(Settings.from_env(env))
    try:
        drain(services, "bench-before-history")
        for seed in verifications:
            profile = services.profiles.settings_for(seed.profile)
            services.verifications.cancel(seed.id, profile)
        drain(services, "bench-history")
        client = services.store.redis
        keys = [k for k in client.scan_iter(match="*{hist:*", count=1000)]
        total = sum(client.memory_usage(k, samples=0) or 0 for k in keys)
        ended = len(verifications)
        return {
            "verifications": ended,
            "keys": len(keys),
            "bytes": total,
            "bytes_per_verification": round(total / ended, 1),
            "target": HISTORY_TARGET,
            "passed": total / ended <= HISTORY_TARGET,
        }
    finally:
        services.close()
