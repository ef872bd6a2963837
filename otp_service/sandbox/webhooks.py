"""Signed webhook delivery in the background, like Telnyx: never blocks a request.

A ``ScheduledWebhook`` is built when it falls due (so ``message.sent`` carries the message as it is
then), signed with Ed25519 over ``"{timestamp}|{body}"``, and POSTed. Anything but a 2xx
is retried ``max_attempts`` times with doubling delays, alternating with the failover URL
when there is one; then it is dropped and logged. A delivery may chain a follow-up
(``message.finalized`` after ``message.sent``) which is scheduled once the first is done,
delivered or dropped, so a receiver sees them in order. ``log`` records every delivery for
``GET /_sandbox/webhooks``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service.telnyx.webhooks import sign_webhook

from .timestamps import now_iso

__all__ = ["ScheduledWebhook", "WebhookDispatcher"]

log = logging.getLogger("otp_service.sandbox.webhooks")

# build() answers (event data, urls) when the delivery falls due, or None to cancel it.
Builder = Callable[[], "tuple[dict[str, Any], list[str]] | None"]


@dataclass
class ScheduledWebhook:
    event_type: str
    build: Builder
    message_id: str | None = None
    then: ScheduledWebhook | None = None
    then_delay: float = 0.0
    # filled in while it is delivered
    event: dict[str, Any] | None = None
    urls: list[str] = field(default_factory=list)
    attempts: int = 0
    record: dict[str, Any] = field(default_factory=dict)
    generation: int = 0


class WebhookDispatcher:
    """A few worker threads around a due-time heap; started lazily, stopped by ``close``."""

    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        *,
        max_attempts: int = 3,
        retry_delay: float = 0.5,
        timeout: float = 5.0,
        workers: int = 4,
        log_size: int = 2000,
    ) -> None:
        self.signing_key = signing_key
        self.max_attempts = max(1, max_attempts)
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.worker_count = max(1, workers)
        self.log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._heap: list[tuple[float, int, ScheduledWebhook]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._generation = 0  # bumped by clear(): due deliveries of an older one are dropped
        self._client: httpx.Client | None = None

    # scheduling ----------------------------------------------------------------------
    def schedule(self, delivery: ScheduledWebhook, delay: float = 0.0) -> None:
        with self._cond:
            if self._closed:
                return
            self._start()
            delivery.generation = self._generation
            self._push(delivery, delay)

    def _push(self, delivery: ScheduledWebhook, delay: float) -> None:
        """Queue ``delivery``; the caller holds ``_cond``."""
        due = time.monotonic() + max(0.0, delay)
        heapq.heappush(self._heap, (due, next(self._counter), delivery))
        self._cond.notify()

    def clear(self) -> None:
        """Forget pending deliveries and the log (``POST /_sandbox/reset``)."""
        with self._cond:
            self._heap.clear()
            self._generation += 1
            self.log.clear()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def records(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(r) for r in reversed(self.log)]

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=self.timeout + 1)
        if self._client is not None:
            self._client.close()
            self._client = None

    def _start(self) -> None:
        if self._threads:
            return
        self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        for index in range(self.worker_count):
            thread = threading.Thread(
                target=self._run, name=f"sandbox-webhooks-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    # workers -------------------------------------------------------------------------
    def _next(self) -> ScheduledWebhook | None:
        with self._cond:
            while not self._closed:
                if self._heap:
                    due = self._heap[0][0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        delivery = heapq.heappop(self._heap)[2]
                        if delivery.generation != self._generation:
                            continue
                        return delivery
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        while True:
            delivery = self._next()
            if delivery is None:
                return
            try:
                self._attempt(delivery)
            except Exception:  # a bug here must not kill the worker
                log.exception("webhook delivery crashed: %s", delivery.event_type)

    def _attempt(self, delivery: ScheduledWebhook) -> None:
        if delivery.generation != self._generation:  # cleared while it was being picked up
            return
        if delivery.event is None:
            built = delivery.build()
            if built is None:  # cancelled (a scheduled message), nothing to say
                return
            delivery.event, delivery.urls = built
            delivery.record = {
                "id": delivery.event["id"],
                "event_type": delivery.event_type,
                "message_id": delivery.message_id,
                "url": delivery.urls[0] if delivery.urls else None,
                "status_code": None,
                "attempts": 0,
                "delivered": False,
                "error": None,
                "created_at": now_iso(),
                "payload": delivery.event,
            }
            with self._cond:
                self.log.append(delivery.record)
            if not delivery.urls:
                with self._cond:
                    delivery.record["error"] = "no webhook URL configured"
                self._follow_up(delivery)
                return

        url = delivery.urls[delivery.attempts % len(delivery.urls)]
        delivery.attempts += 1
        body = {
            "data": delivery.event,
            "meta": {"attempt": delivery.attempts, "delivered_to": url},
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", "user-agent": "telnyx-sandbox/1.0"}
        headers.update(sign_webhook(raw, self.signing_key))
        status, error = None, None
        client = self._client
        if client is None:  # closed meanwhile
            return
        try:
            status = client.post(url, content=raw, headers=headers).status_code
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: client closed
            error = f"{type(exc).__name__}: {exc}"
        delivered = status is not None and 200 <= status < 300
        with self._cond:
            delivery.record.update(
                url=url,
                status_code=status,
                attempts=delivery.attempts,
                error=error,
                delivered=delivered,
            )
        if delivered:
            self._follow_up(delivery)
            return
        if delivery.attempts >= self.max_attempts:
            log.warning(
                "dropping %s for %s after %d attempts (%s)",
                delivery.event_type,
                url,
                delivery.attempts,
                error or status,
            )
            self._follow_up(delivery)
            return
        self._requeue(delivery, self.retry_delay * 2 ** (delivery.attempts - 1))

    def _requeue(self, delivery: ScheduledWebhook, delay: float) -> None:
        with self._cond:
            if not self._closed and delivery.generation == self._generation:
                self._push(delivery, delay)

    def _follow_up(self, delivery: ScheduledWebhook) -> None:
        if delivery.then is not None:
            delivery.then.generation = delivery.generation
            self._requeue(delivery.then, delivery.then_delay)
