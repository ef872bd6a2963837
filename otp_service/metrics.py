"""Prometheus metrics, in multiprocess mode under gunicorn.

Under gunicorn every worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR
(set up by gunicorn_conf.py before any worker starts) and ``GET /metrics`` adds up every
worker's. Outside gunicorn (tests, the CLI) the default in-process registry is used.
Labels never hold a phone number, a code, a key or an id: only bounded sets of values.

Counts and observations wait in the process and reach prometheus_client in batches,
every FLUSH_SECONDS, from a thread of their own (``Pending``), before this process
renders ``/metrics``, and when it exits. prometheus_client takes a lock, converts and
checks, and in multiprocess mode writes a memory-mapped file on every call: about 8 µs a
request on the hot paths (4 calls), a twentieth of a check's CPU under gunicorn
(measured with make bench). Another process's counts are at most FLUSH_SECONDS late; a
process killed outright (SIGKILL) loses at most its last FLUSH_SECONDS of them.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = [
    "CHECKS",
    "HTTP_LATENCY",
    "HTTP_METHODS",
    "HTTP_REQUESTS",
    "OPTOUTS",
    "RATE_LIMITED",
    "REDIS_ERRORS",
    "FALLBACKS",
    "ROUTE_EVENTS",
    "SENDS",
    "TELNYX_LATENCY",
    "TELNYX_REQUESTS",
    "TEST_VERIFICATIONS",
    "VERIFICATIONS_CREATED",
    "WEBHOOK_EVENTS",
    "FLUSH_SECONDS",
    "child",
    "flush",
    "observe_request",
    "observe_telnyx",
    "render",
]

VERIFICATIONS_CREATED = Counter(
    "otp_verifications_created",
    "Verifications created (first send), by channel, sender type and destination country",
    ["channel", "sender_type", "country"],
)
TEST_VERIFICATIONS = Counter(
    "otp_test_verifications",
    "Verifications of a profile's test numbers: nothing was sent",
    ["channel"],
)
CHECKS = Counter(
    "otp_checks",
    "Code checks by factor (sms, totp) and result",
    ["factor", "result"],
)
SENDS = Counter(
    "otp_sends",
    "Messages carrying a code, by sender type and outcome",
    ["sender_type", "outcome"],
)
ROUTE_EVENTS = Counter(
    "otp_route_events_total",
    "Route health as the worker learns it: sends, receipts, approvals (attributed to the "
    "send whose code was used) and fallbacks, by sender type, destination country, channel",
    ["sender_type", "country", "channel", "outcome"],
)
FALLBACKS = Counter(
    "otp_fallbacks_total",
    "Fallback sends the worker tried after a failed or missing delivery receipt, by what "
    "triggered them and how they ended (sent, max_fallbacks, opted_out, delivered, ...)",
    ["trigger", "outcome"],
)
TELNYX_REQUESTS = Counter(
    "otp_telnyx_requests",
    "Calls to the Telnyx API by operation and outcome (HTTP status, timeout, connection_error)",
    ["operation", "outcome"],
)
TELNYX_LATENCY = Histogram(
    "otp_telnyx_request_duration_seconds",
    "Latency of calls to the Telnyx API",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBHOOK_EVENTS = Counter(
    "otp_webhook_events",
    "Telnyx webhook events by type and result",
    ["type", "result"],
)
OPTOUTS = Counter(
    "otp_optouts",
    "Opt-outs recorded (action added) or lifted (action removed), by source",
    ["source", "action"],
)
RATE_LIMITED = Counter(
    "otp_rate_limited",
    "Requests refused (mode enforce) or that would have been (mode shadow), by reason",
    ["reason", "mode"],
)
REDIS_ERRORS = Counter(
    "otp_redis_errors",
    "Redis errors met while answering a request, by exception type",
    ["kind"],
)
HTTP_REQUESTS = Counter(
    "otp_http_requests",
    "HTTP requests by route, method and status",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "otp_http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)

_TELNYX_OUTCOMES = {"timeout", "connection_error"}
# The request methods that label series of their own (any other is "other").
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

FLUSH_SECONDS = 1.0

log = logging.getLogger(__name__)


class Pending:
    """One labelled child's counts (``inc``) or observations (``observe``) not yet
    handed to prometheus_client: a request adds to a number or a list under one lock,
    ``flush`` writes them."""

    __slots__ = ("target", "count", "samples")

    def __init__(self, target: Any) -> None:
        self.target = target  # the prometheus_client child
        self.count = 0.0
        self.samples: list[float] = []

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters only go up")  # as prometheus_client's would
        with _lock:
            self.count += amount
        if _flusher is None:
            _start_flusher()

    def observe(self, value: float) -> None:
        with _lock:
            self.samples.append(value)
        if _flusher is None:
            _start_flusher()


# Labelled children, looked up once: ``labels()`` checks and converts its values and takes
# a lock on every call, and the hot paths count with the same few label sets all day.
_children: dict[tuple[Any, ...], Pending] = {}
_lock = threading.Lock()  # the pending counts and samples of every child
_flusher: threading.Thread | None = None  # this process's; None until first used


def child(metric: Any, *labels: str) -> Pending:
    """``metric.labels(*labels)``, remembered, its counts written in batches."""
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = Pending(metric.labels(*labels))
    return found


def flush() -> None:
    """Hand every pending count and observation to prometheus_client (under gunicorn:
    this process's files)."""
    with _lock:
        due = [(p.target, p.count, p.samples) for p in _children.values() if p.count or p.samples]
        for pending in _children.values():
            pending.count = 0.0
            pending.samples = []
    for target, count, samples in due:
        if count:
            target.inc(count)
        for value in samples:
            target.observe(value)


def _start_flusher() -> None:
    global _flusher
    with _lock:
        if _flusher is not None:
            return
        _flusher = threading.Thread(
            target=_flush_every, args=(os.getpid(),), name="otp-metrics", daemon=True
        )
        _flusher.start()


def _flush_every(pid: int) -> None:
    """The flusher thread, until a fork leaves it behind (the child starts its own)."""
    me = threading.current_thread()
    while _flusher is me and os.getpid() == pid:
        time.sleep(FLUSH_SECONDS)
        try:
            flush()
        except Exception:  # never the end of counting: this pass's counts are lost, not later ones
            log.exception("metrics of the last %s s not written", FLUSH_SECONDS)


def _after_fork_in_child() -> None:
    """The parent writes its own pending counts; the child starts from none, with a
    lock no thread of the parent holds and a flusher of its own when first used."""
    global _flusher, _lock
    _lock = threading.Lock()
    _flusher = None
    for pending in _children.values():
        pending.count = 0.0
        pending.samples = []


atexit.register(flush)
os.register_at_fork(after_in_child=_after_fork_in_child)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """One answered HTTP request: its count and its latency. A method outside
    HTTP_METHODS is counted as ``other``: a client may send any token there."""
    if method not in HTTP_METHODS:
        method = "other"
    child(HTTP_REQUESTS, route, method, str(status)).inc()
    child(HTTP_LATENCY, route).observe(seconds)


def observe_telnyx(operation: str, outcome: str, seconds: float) -> None:
    """The Telnyx client's observer: one attempt of one call."""
    if outcome not in _TELNYX_OUTCOMES and not outcome.isdigit():
        outcome = "other"
    child(TELNYX_REQUESTS, operation, outcome).inc()
    child(TELNYX_LATENCY, operation).observe(seconds)


def render() -> tuple[bytes, str]:
    """The text exposition of every worker's samples (this process's pending ones
    written first)."""
    flush()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
