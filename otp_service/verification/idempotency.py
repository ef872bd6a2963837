"""Idempotency-Key: the same key and body give the same answer, and never a second SMS.

The first request claims the key (``idempotency_claim.lua``) for as long as a create can
take; a retry meanwhile waits for it, then replays the stored answer (``Result.replayed``).
The same key with another body is refused. The key is scoped to the client key that sent
it, and kept for OTP_IDEMPOTENCY_TTL_SECONDS.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otp_service import errors, ids
from otp_service.config import Settings
from otp_service.store import Store

__all__ = ["IdempotencyKeys", "Result"]

_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Result:
    """An HTTP-agnostic answer: status code and body, and whether it was replayed."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class IdempotencyKeys:
    def __init__(
        self, store: Store, settings: Settings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.store = store
        self.settings = settings
        self.sleep = sleep

    def once(self, client_id: str, key: str, fingerprint: str, run: Callable[[], Result]) -> Result:
        """``run()``'s answer for the first request with ``key``; the same answer again
        for every retry with the same body."""
        digest = hashlib.sha256(f"{client_id}\0{key}".encode()).digest()
        tag = ids.b32(digest[:10])
        running_seconds = self.running_seconds()
        deadline = time.monotonic() + running_seconds
        while True:
            claim = self.store.claim_idempotency_key(tag, fingerprint, int(running_seconds * 1000))
            if claim.state == "new":
                break
            if claim.state == "conflict":
                raise errors.InvalidRequest(
                    "this Idempotency-Key was used with a different request",
                    reason="idempotency_key_reused",
                )
            if claim.state == "done":
                return Result(claim.status, json.loads(claim.body), replayed=True)
            if time.monotonic() > deadline:
                raise errors.RequestInProgress(
                    "a request with this Idempotency-Key is still being processed"
                )
            self.sleep(_POLL_SECONDS)
        try:
            result = run()
        except BaseException:
            self.store.release_idempotency_key(tag)
            raise
        self.store.finish_idempotency_key(
            tag, result.status, result.body, self.settings.idempotency_ttl_seconds
        )
        return result

    def running_seconds(self) -> float:
        """How long a first request may hold its Idempotency-Key before others give up."""
        return self.settings.telnyx_timeout * 3 + 5
