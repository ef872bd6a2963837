"""Idempotency-Key: the same key and body give the same answer, and never a second SMS.

The first request claims the key (``idempotency_claim.lua``) for longer than a create
can take (``claim_seconds``, from the send's time bound: see ``delivery/pipeline.py``), so
no retry runs a second create while the first may still send. A retry meanwhile waits
for the first (up to ``wait_seconds``, then 409 ``request_in_progress``), then replays
its stored answer (``Result.replayed``). The same key with another body is refused. The
key is scoped to the client key that sent it, and kept for OTP_IDEMPOTENCY_TTL_SECONDS.

Which answers are stored: every answer that leaves a verification behind — a
verification (201/200), and the errors that name one in ``verification_id`` (503
``provider_unavailable`` after a Telnyx timeout, 503 ``storage_unavailable`` after the
send, 404 when the verification ended during its send, 409 ``recipient_opted_out`` when
Telnyx refused the send with 40300: that verification is failed for good, so a retry
gets the same answer and id). Errors that provably changed nothing (502
``provider_error`` after a rollback, 503 without ``verification_id``, the other 4xx
refusals) release the key: a retry asks again, and may succeed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otp_service import errors, ids
from otp_service.config import Settings
from otp_service.store import Store

__all__ = ["IdempotencyKeys", "Result"]

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Result:
    """An HTTP-agnostic answer: status code and body, and whether it was replayed."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class IdempotencyKeys:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        claim_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.settings = settings
        self.claim_seconds = claim_seconds
        self.sleep = sleep

    def once(self, client_id: str, key: str, fingerprint: str, run: Callable[[], Result]) -> Result:
        """``run()``'s answer for the first request with ``key``; the same answer again
        for every retry with the same body."""
        digest = hashlib.sha256(f"{client_id}\0{key}".encode()).digest()
        tag = ids.b32(digest[:10])
        deadline = time.monotonic() + self.wait_seconds()
        while True:
            claim = self.store.claim_idempotency_key(
                tag, fingerprint, int(self.claim_seconds * 1000)
            )
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
        except errors.ServiceError as exc:
            if "verification_id" in exc.extra:  # a verification was left behind
                self._keep(tag, exc.status, exc.to_dict())
            else:
                self._release(tag)
            raise
        except BaseException:
            self._release(tag)
            raise
        self._keep(tag, result.status, result.body)
        return result

    def wait_seconds(self) -> float:
        """How long a retry waits for the first request's answer before 409."""
        return self.settings.telnyx_timeout * 3 + 5

    def _keep(self, tag: str, status: int, body: dict[str, Any]) -> None:
        """Store the answer for the retries. With Redis out of reach the answer still
        goes out; the claim stays, and retries get 409 until it runs out."""
        try:
            self.store.finish_idempotency_key(
                tag, status, body, self.settings.idempotency_ttl_seconds
            )
        except errors.REDIS_UNAVAILABLE:
            log.warning("an Idempotency-Key's answer could not be stored: Redis unavailable")

    def _release(self, tag: str) -> None:
        """Let a retry try again; with Redis out of reach, the claim runs out by itself."""
        try:
            self.store.release_idempotency_key(tag)
        except errors.REDIS_UNAVAILABLE:
            log.warning("an Idempotency-Key could not be released: Redis unavailable")
