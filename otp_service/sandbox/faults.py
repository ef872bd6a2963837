"""Injected failures: a queue of faults set through ``POST /_sandbox/faults``, and per-request
``X-Sandbox-Fault`` / ``X-Sandbox-Latency-Ms`` headers.

A fault with a ``status`` answers that error instead of running the operation (nothing is
stored). A fault with only ``latency_ms`` (or ``X-Sandbox-Fault: timeout``) runs the
operation, so a message is stored and its webhooks go out, and holds the answer back:
longer than the client's read timeout, that is a timeout after Telnyx accepted the message.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ApiError, error_object

__all__ = ["Fault", "Faults", "fault_from_headers"]

_DEFAULT_ERRORS = {
    429: (
        "10011",
        "Too many requests",
        "You have exceeded the maximum number of allowed requests.",
    ),
    500: ("10007", "Unexpected error", "An unexpected error occured."),
    502: ("10007", "Unexpected error", "Bad gateway."),
    503: ("10007", "Unexpected error", "The service is temporarily unavailable."),
    504: ("10008", "Request timeout", "The request timed out."),
}


@dataclass
class Fault:
    status: int | None = None
    retry_after: float | None = None
    latency_ms: int = 0
    count: int = 1  # how many matching requests it still applies to; 0 = until cleared
    path_prefix: str = "/v2"
    errors: list[dict[str, Any]] | None = None

    def matches(self, path: str) -> bool:
        prefix = self.path_prefix.rstrip("/")
        return path == prefix or path.startswith(prefix + "/")

    def error(self) -> ApiError:
        assert self.status is not None
        errors = self.errors
        if not errors:
            code, title, detail = _DEFAULT_ERRORS.get(
                self.status, ("10015", "Bad Request", "Injected fault.")
            )
            errors = [error_object(code, title, detail)]
        headers = {}
        retry_after = self.retry_after
        if retry_after is None and self.status == 429:
            retry_after = 1
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        return ApiError(self.status, errors, headers)

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> Fault:
        """A fault from the JSON body of ``POST /_sandbox/faults``; ``ValueError`` if bad."""
        if not isinstance(spec, Mapping):
            raise ValueError("the body must be a JSON object")
        unknown = set(spec) - {
            "status",
            "retry_after",
            "latency_ms",
            "count",
            "path_prefix",
            "errors",
        }
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        status = spec.get("status")
        if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status (400-599)")
        latency = spec.get("latency_ms", 0)
        if not isinstance(latency, int | float) or latency < 0:
            raise ValueError("latency_ms must be a number >= 0")
        if status is None and not latency:
            raise ValueError("give a status, a latency_ms, or both")
        count = spec.get("count", 1)
        if not isinstance(count, int) or count < 0:
            raise ValueError("count must be an integer >= 0 (0: until DELETE /_sandbox/faults)")
        retry_after = spec.get("retry_after")
        if retry_after is not None and (
            not isinstance(retry_after, int | float) or retry_after < 0
        ):
            raise ValueError("retry_after must be a number of seconds")
        prefix = spec.get("path_prefix") or "/v2"
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ValueError("path_prefix must be a path such as /v2/messages")
        if not prefix.startswith("/v2"):
            prefix = "/v2" + prefix
        errors = spec.get("errors")
        if errors is not None and not (
            isinstance(errors, list) and all(isinstance(e, dict) and "code" in e for e in errors)
        ):
            raise ValueError("errors must be a list of Telnyx error objects with a code")
        return cls(status, retry_after, int(latency), count, prefix, errors)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The fault queue; the first fault matching a request's path applies to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    if fault.count:
                        fault.count -= 1
                        if fault.count == 0:
                            self._faults.remove(fault)
                    return fault
        return None


def fault_from_headers(headers: Mapping[str, str], timeout_seconds: float) -> Fault | None:
    """``X-Sandbox-Fault: 429|500|503|timeout`` and ``X-Sandbox-Latency-Ms: n``."""
    kind = (headers.get("X-Sandbox-Fault") or "").strip().lower()
    latency_raw = (headers.get("X-Sandbox-Latency-Ms") or "").strip()
    latency = int(latency_raw) if latency_raw.isdigit() else 0
    if kind == "timeout":
        return Fault(latency_ms=latency or int(timeout_seconds * 1000))
    if kind.isdigit() and 400 <= int(kind) <= 599:
        return Fault(status=int(kind), latency_ms=latency)
    if latency:
        return Fault(latency_ms=latency)
    return None
