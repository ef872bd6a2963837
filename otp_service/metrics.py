"""Prometheus metrics, in multiprocess mode under gunicorn.

Under gunicorn every worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR
(set up by gunicorn_conf.py before any worker starts) and ``GET /metrics`` adds up every
worker's. Outside gunicorn (tests, the CLI) the default in-process registry is used.
Labels never hold a phone number, a code, a key or an id: only bounded sets of values.
"""

from __future__ import annotations

import os
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
    "child",
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

# Labelled children, looked up once: ``labels()`` checks and converts its values and takes
# a lock on every call, and the hot paths count with the same few label sets all day.
_children: dict[tuple[Any, ...], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, remembered."""
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


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
    """The text exposition of every worker's samples."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
