"""Injected failures: a queue of faults set through ``POST /_sandbox/faults``, and per-request
``X-Sandbox-Fault`` / ``X-Sandbox-Latency-Ms`` headers.

A fault with a ``status`` answers that error instead of running the operation (nothing is
stored). A fault with only ``latency_ms`` (or ``X-Sandbox-Fault: timeout``) runs the
operation, so a message is stored and its webhooks go out, and holds the answer back:
longer than the client's read timeout, that is a timeout after Telnyx accepted the message.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ApiError, error_object

__all__ = ["Fault", "Faults", "SenderFault", "SenderFaults", "fault_from_headers"]

# what a sender fault does to a message it takes: its final status, receipt and error
SENDER_FAULTS = {
    "delivery_failed": (
        "delivery_failed",
        ("40008", "Undeliverable", "Injected: the carrier did not accept the message."),
    ),
    "sending_failed": (
        "sending_failed",
        ("40006", "Recipient server unavailable", "Injected: not sent."),
    ),
    "delayed": ("delivered", None),
    "dropped": ("delivered", None),
}

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


@dataclass
class SenderFault:
    """What happens to the messages of one sender (by its ``from``: a number, short code,
    sender ID): ``delivery_failed``, ``sending_failed``, ``delayed`` (the receipt comes
    ``delay_seconds`` after message.sent) or ``dropped`` (no message.finalized), for a
    share ``rate`` of them, drawn from a generator seeded with ``seed``."""

    sender: str
    effect: str
    rate: float = 1.0
    delay_seconds: float = 30.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def applies(self) -> bool:
        return self.rate >= 1 or self._rng.random() < self.rate

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> SenderFault:
        """From the JSON body of ``POST /_sandbox/sender_faults``; ``ValueError`` if bad."""
        if not isinstance(spec, Mapping):
            raise ValueError("the body must be a JSON object")
        unknown = set(spec) - {"from", "effect", "rate", "delay_seconds", "seed"}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        sender = spec.get("from")
        if not isinstance(sender, str) or not sender:
            raise ValueError("from must name a sender: a number, short code or sender ID")
        effect = spec.get("effect")
        if effect not in SENDER_FAULTS:
            raise ValueError(f"effect must be one of {', '.join(SENDER_FAULTS)}")
        rate = spec.get("rate", 1.0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ValueError("rate must be a number from 0 to 1")
        delay = spec.get("delay_seconds", 30.0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ValueError("delay_seconds must be a number >= 0")
        seed = spec.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("seed must be an integer")
        return cls(sender, effect, float(rate), float(delay), seed)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.sender,
            "effect": self.effect,
            "rate": self.rate,
            "delay_seconds": self.delay_seconds,
            "seed": self.seed,
        }


class SenderFaults:
    """One fault per sender at most (a new one replaces it); cleared by reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, SenderFault] = {}

    def set(self, fault: SenderFault) -> None:
        with self._lock:
            self._faults[fault.sender] = fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults.values()]

    def effect_for(self, sender: str) -> str | None:
        """The effect on this sender's next message, or None."""
        with self._lock:
            fault = self._faults.get(sender)
            return fault.effect if fault is not None and fault.applies() else None

    def delay_for(self, sender: str) -> float:
        with self._lock:
            fault = self._faults.get(sender)
            return fault.delay_seconds if fault is not None else 0.0
