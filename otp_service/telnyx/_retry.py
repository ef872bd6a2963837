"""When the client retries a request, and how long it waits.

A retry must never send a message twice, so the decision depends on whether the
request is idempotent:

* Idempotent requests (GET, PUT, DELETE, PATCH of settings, and the few POSTs that only
  read, flagged in ``_endpoints.py``) retry on 429, 500/502/503/504, connection
  errors and every timeout.
* Everything else, and always every POST under ``/messages`` (Telnyx sends a message
  on it), retries only when Telnyx provably did not accept the request: a 429, or a
  failure before the request left (``httpx.ConnectError``, ``ConnectTimeout``,
  ``PoolTimeout``). Never after a read or write timeout, a dropped connection
  (``ReadError``, ``RemoteProtocolError``) or a 5xx: the message may be on its way.

Waits: ``Retry-After`` (seconds or HTTP date) when the server sends one, capped at
``max_retry_after`` (60 s); otherwise ``min(0.5 * 2**n, 8 s)`` with up to 25 % jitter
below. At most ``max_retries`` retries (default 2; 0 disables retries) and no retry
whose wait would end more than ``max_total`` seconds (90) after the first attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

__all__ = ["DEFAULT_MAX_RETRIES", "RetryPolicy", "is_idempotent", "should_retry"]

DEFAULT_MAX_RETRIES = 2
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# Raised before any byte of the request reached Telnyx: safe to retry anything.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have reached Telnyx: retry only idempotent requests.
_MAYBE_SENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries and how long to wait; a small value object like ``httpx.Timeout``."""

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    max_total: float = 90.0  # room for one full Retry-After wait

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (0-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base = min(self.initial_delay * 2**retry_number, self.max_delay)
        return base * (1 - 0.25 * random.random())


def is_idempotent(method: str, path: str, declared: bool | None = None) -> bool:
    """Whether resending the request cannot cause a second side effect."""
    method = method.upper()
    if method == "POST" and (path == "/messages" or path.startswith("/messages/")):
        return False  # a message send, whatever the caller says
    if declared is not None:
        return declared
    return method in {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"}


def should_retry(
    *,
    idempotent: bool,
    response: httpx.Response | None = None,
    error: Exception | None = None,
) -> bool:
    """Whether one failed attempt (an error response or a transport error) may be retried."""
    if error is not None:
        if isinstance(error, _NOT_SENT):
            return True
        return idempotent and isinstance(error, _MAYBE_SENT)
    if response is None:
        return False
    if response.status_code == 429:  # rejected before processing
        return True
    return idempotent and response.status_code in RETRYABLE_STATUSES
