"""``otp-service worker``: hands the outbox's events over to deliveries, fires timers, and
delivers webhooks with retries.

One pass (``run_once``), repeated while there is work and every ``IDLE_SECONDS`` when
there is none:

1. **Outbox.** New entries of each busy shard are read through the workers' consumer
   group; each becomes one delivery per endpoint of its profile that wants its type,
   posted at once and stored with how that first attempt went (one write each,
   ``webhook_first.lua``; one per endpoint and event: a second hand-over stores nothing),
   then the entry is acknowledged. Entries another worker read and held for
   ``LEASE_MS`` without acknowledging (it died) are claimed and handed over by this one.
2. **Timers** that are due fire once each: expiry events (``timer_fire.lua``), and the
   no-receipt timers of profiles that fall back (``receipt_timer.lua``: an internal event,
   ``verification.no_receipt``, that the fallback consumer acts on).
3. **Deliveries** that are due (retries, an operator's retry or replay, a test ping)
   are claimed with a lease (a dead worker's come back when it ends), and posted from a
   thread pool that grows while receivers are slow (``_post_all``), none begun too late
   to end inside the lease (``_last_start``): signed (``signing.py``), with
   ``http.py``'s limits.
   A 2xx within the timeout is success; otherwise the next attempt is due after
   ``RETRY_SCHEDULE`` (with ±10 % jitter), and after the last one the delivery is failed.
   An endpoint whose attempts have all failed for ``DISABLE_AFTER_MS`` is disabled, and
   its profile's audit log says so.

Delivery is at least once (a worker can die after the receiver's 2xx and before it is
recorded) and unordered: receivers deduplicate on ``webhook-id``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from queue import Empty, SimpleQueue
from typing import Any, Protocol

import redis

from otp_service.events.catalog import (
    HISTORY_TYPES,
    INTERNAL_TYPES,
    Event,
    Renderer,
    body_of,
    webhook_id_of,
)
from otp_service.events.endpoints import Endpoint, EndpointService, delivery_id_of
from otp_service.events.http import EndpointPoster, PostResult
from otp_service.events.signing import signed_headers
from otp_service.sealing import InvalidTag
from otp_service.store.outbox import OutboxEntry, OutboxStore
from otp_service.store.webhooks import Attempt, Claimed, NewDelivery, WebhookStore

__all__ = ["DISABLE_AFTER_MS", "RETRY_SCHEDULE", "Worker", "next_attempt_at"]

log = logging.getLogger(__name__)

# seconds from one failed attempt to the next: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400)
DISABLE_AFTER_MS = 5 * 86_400_000
LEASE_MS = 60_000  # a claimed delivery's, and an unacknowledged outbox entry's: well past 10 s
RECLAIM_EVERY_MS = 10_000
BUSY_SHARDS_EVERY_MS = 2_000  # a cluster's pass over every slot (~0.16 s of CPU)
BATCH = 100
IDLE_SECONDS = 0.05
RAMP_SECONDS = 0.025  # posts of a batch still waiting after this: one more thread posts them


class Auditor(Protocol):
    def record(
        self,
        *,
        key_id: str,
        action: str,
        target: str,
        result: str,
        status: int,
        detail: dict[str, Any] | None = None,
    ) -> str: ...


def next_attempt_at(attempts: int, now: int, rng: random.Random) -> int:
    """When attempt ``attempts + 1`` is due (0: none left), ``attempts`` made so far."""
    if attempts > len(RETRY_SCHEDULE):
        return 0
    delay = RETRY_SCHEDULE[min(attempts, len(RETRY_SCHEDULE)) - 1] * 1000
    return now + int(delay * rng.uniform(0.9, 1.1))


class Worker:
    def __init__(
        self,
        *,
        outbox: OutboxStore,
        webhooks: WebhookStore,
        endpoints: EndpointService,
        render: Renderer,
        poster: EndpointPoster,
        audit: Auditor,
        name: str,
        clock: Callable[[], float] = time.time,
        threads: int = 16,
        rng: random.Random | None = None,
        consumers: tuple[Callable[[list[OutboxEntry]], None], ...] = (),
        chores: tuple[Callable[[], int], ...] = (),
        sweep_every_ms: int = BUSY_SHARDS_EVERY_MS,
        lease_ms: int = LEASE_MS,
    ) -> None:
        self.outbox = outbox
        self.webhooks = webhooks
        self.endpoints = endpoints
        self.render = render
        self.poster = poster
        self.audit = audit
        self.name = name
        self.clock = clock
        self.rng = rng or random.Random()
        # what else learns from every batch (history, insights, fallback sends)
        self.consumers = consumers
        # other background work, a bounded piece a pass (a deleted profile's data)
        self.chores = chores
        self.sweep_every_ms = sweep_every_ms
        # how long a delivery or an outbox entry stays with a worker before another takes
        # it over: longer than one attempt (the poster's timeout), or two would send it
        self.lease_ms = lease_ms
        self.threads = threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook")
        self._endpoints: dict[str, Endpoint] = {}
        self._endpoints_version = -1
        # when each was last done, on time.monotonic (ms): not the clock, which tests move
        self._busy: list[str] = []
        self._opened: dict[tuple[Any, ...], list[bytes]] = {}
        self._busy_checked = -float("inf")
        self._reclaimed = -float("inf")

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        log.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                done = self.run_once()
            except redis.exceptions.RedisError as exc:
                # unreachable, restarting, failing over, a slot moving: nothing is lost (what
                # this worker held is leased), so wait and go on
                log.warning(
                    "worker %s: Redis unavailable (%s); retrying", self.name, type(exc).__name__
                )
                stop.wait(1.0)
                continue
            if not done:
                stop.wait(IDLE_SECONDS)
        log.info("worker %s stopped", self.name)

    def run_once(self) -> int:
        """One pass; how much it did (0: idle)."""
        now = self.now_ms()
        done = 0
        shards = self._busy_shards(now)
        tick = time.monotonic() * 1000
        reclaim = tick - self._reclaimed >= RECLAIM_EVERY_MS
        if reclaim:
            self._reclaimed = tick
        for shard in shards:
            if reclaim:
                done += self._hand_over(
                    shard, self.outbox.claim_stale(shard, self.name, self.lease_ms, BATCH)
                )
            done += self._hand_over(shard, self.outbox.read(shard, self.name, BATCH))
            done += self._fire_timers(shard, now)
        done += self.deliver_due()
        for chore in self.chores:
            done += chore()
        return done

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.poster.close()

    # -- 1. the outbox ------------------------------------------------------------------------
    def _hand_over(self, shard: str, entries: list[OutboxEntry]) -> int:
        if not entries:
            return 0
        leased = time.monotonic()  # the entries were just read: their lease runs from now
        endpoints = self._current_endpoints()
        wanted = {
            entry.entry_id: [
                e for e in endpoints if e.profile == entry.profile and e.wants(entry.type)
            ]
            for entry in entries
            if entry.type not in INTERNAL_TYPES
        }
        # the delivery history: for the API object of a delivered event, and the sends
        # of a verification's history record when it ends
        needs_history = {
            entry.entry_id
            for entry in entries
            if wanted.get(entry.entry_id) or entry.type in HISTORY_TYPES
        }
        entries = self.outbox.with_history(entries, needs_history)
        deliveries: list[NewDelivery] = []
        for entry in entries:
            if wanted.get(entry.entry_id):
                deliveries += self._deliveries_of(entry, wanted[entry.entry_id])
        self._first_attempts(deliveries, leased)
        for consumer in self.consumers:
            consumer(entries)
        self.outbox.ack(shard, [entry.entry_id for entry in entries])
        return len(entries)

    def _deliveries_of(self, entry: OutboxEntry, wanted: list[Endpoint]) -> list[NewDelivery]:
        data = self.render(entry)
        if data is None:
            log.error("event %s of kind %r could not be rendered: dropped", entry.type, entry.kind)
            return []
        webhook_id = webhook_id_of(entry.shard, entry.entry_id)
        body = body_of(Event(webhook_id, entry.type, entry.profile, entry.at, data))
        return [
            NewDelivery(
                delivery_id_of(e.id, webhook_id), e.id, entry.profile, webhook_id, entry.type, body
            )
            for e in wanted
        ]

    # -- 2. timers ----------------------------------------------------------------------------
    def _fire_timers(self, shard: str, now: int) -> int:
        done = 0
        for name in self.outbox.due_buckets(shard, now, BATCH):
            self.outbox.fire_bucket(shard, name, now)
            done += 1
        return done

    # -- 3. deliveries ------------------------------------------------------------------------
    def _first_attempts(self, deliveries: list[NewDelivery], leased: float) -> None:
        """Post new deliveries at once, then store each with how its attempt went (one
        round trip): a delivery that succeeds first time costs one write, not a store, a
        claim and a finish. The events stay unacknowledged until this is done, so a
        worker that dies here leaves them to another (at least once). Those there was no
        time to post (slow receivers) are stored due now, for a claim with a lease."""
        if not deliveries:
            return
        endpoints = self._current_endpoints_by_id()
        claimed = [
            Claimed(d.id, d.endpoint_id, d.webhook_id, d.type, d.body, 0) for d in deliveries
        ]
        attempts, left = self._attempts(claimed, endpoints, leased)
        unposted = {item.id for item in left}
        self.webhooks.enqueue([d for d in deliveries if d.id in unposted], self.now_ms())
        posted = [d for d in deliveries if d.id not in unposted]
        answers = self.webhooks.first_attempts(
            list(zip(posted, attempts, strict=True)), self.now_ms(), DISABLE_AFTER_MS
        )
        for attempt, (state, disabled) in zip(attempts, answers, strict=True):
            if state != "exists":
                self._after(attempt, state, disabled, endpoints.get(attempt.claimed.endpoint_id))

    def _attempts(
        self, claimed: list[Claimed], endpoints: dict[str, Endpoint], leased: float
    ) -> tuple[list[Attempt], list[Claimed]]:
        """Post each from the thread pool while there is time (``leased``: when their
        lease began, on time.monotonic); how each posted one went and when the next is
        due, and those left unposted."""
        results = self._post_all(claimed, endpoints, self._last_start(leased))
        now = self.now_ms()
        out, left = [], []
        for item, posted in zip(claimed, results, strict=True):
            if posted is None:
                left.append(item)
                continue
            result, error = posted
            ok = result is not None and result.ok
            next_at = 0
            if not ok and error is None:
                next_at = next_attempt_at(item.attempts + 1, now, self.rng)
            out.append(
                Attempt(
                    item,
                    ok=ok,
                    status_code=None if result is None else result.status,
                    error=error or (None if result is None else result.error),
                    next_at=next_at,
                )
            )
        return out, left

    def _last_start(self, leased: float) -> float:
        """The last moment (time.monotonic) a post of a batch leased at ``leased`` may
        begin: it ends within the poster's timeout, and the batch is recorded, well before
        the lease does. A batch still posting when its lease ends would be taken over and
        sent again by another worker, all of it (a batch is recorded when it is done)."""
        lease = self.lease_ms / 1000
        return leased + lease - self.poster.timeout - lease / 4

    def _post_all(
        self, claimed: list[Claimed], endpoints: dict[str, Endpoint], last_start: float
    ) -> list[tuple[PostResult | None, str | None] | None]:
        """Post every one, in order of the list, from the pool: one thread at first, and
        one more every ``RAMP_SECONDS`` while some are still waiting. Receivers that answer
        at once get one thread posting back to back (threads contending for the GIL would
        cost more than they overlap); slow ones get up to ``threads`` posting at once.
        None is begun past ``last_start`` but the first (a pass always gets somewhere):
        those are left None."""
        results: list[tuple[PostResult | None, str | None] | None] = [None] * len(claimed)
        waiting: SimpleQueue[int] = SimpleQueue()
        for index in range(len(claimed)):
            waiting.put(index)

        def post_waiting() -> None:
            while True:
                try:
                    index = waiting.get_nowait()
                except Empty:
                    return
                if index and time.monotonic() > last_start:
                    continue  # no time left to post it inside the lease
                item = claimed[index]
                results[index] = self._post(item, endpoints.get(item.endpoint_id))

        running = [self.pool.submit(post_waiting)]
        while True:
            _, busy = wait(running, timeout=RAMP_SECONDS)
            if not busy:
                break
            if not waiting.empty() and len(running) < self.threads:
                running.append(self.pool.submit(post_waiting))
        for future in running:
            future.result()  # a bug in a post is raised here, not lost
        return results

    def deliver_due(self) -> int:
        """Claim what is due, post it from the thread pool, then record every attempt in
        one round trip. What there was no time to post is given back, due now."""
        leased = time.monotonic()
        claimed = self.webhooks.claim(self.now_ms(), self.lease_ms, BATCH)
        if not claimed:
            return 0
        endpoints = self._current_endpoints_by_id()
        outcomes, left = self._attempts(claimed, endpoints, leased)
        self.webhooks.release([item.id for item in left], self.now_ms())
        answers = self.webhooks.finish_many(outcomes, self.now_ms(), DISABLE_AFTER_MS)
        for attempt, (state, disabled) in zip(outcomes, answers, strict=True):
            self._after(attempt, state, disabled, endpoints.get(attempt.claimed.endpoint_id))
        return len(claimed)

    def _post(
        self, claimed: Claimed, endpoint: Endpoint | None
    ) -> tuple[PostResult | None, str | None]:
        """One attempt (in a pool thread): the answer, or why none was tried."""
        if endpoint is None:
            return None, "endpoint_deleted"
        if not endpoint.enabled:
            return None, "endpoint_disabled"
        sent_at = int(time.time())  # the signature's time: the receiver's clock is real
        try:
            secrets = self._secrets(endpoint)
        except InvalidTag:
            # sealed under another OTP_SECRET: nothing can be signed, but the other
            # endpoints' deliveries go on, and this one is retried on schedule (the
            # operator may put the secret back, or rotate the endpoint's)
            log.error(
                "endpoint %s: its signing secret cannot be opened (was OTP_SECRET changed?)",
                endpoint.id,
            )
            return PostResult(None, "secret_unreadable", b"", 0), None
        headers = signed_headers(secrets, claimed.webhook_id, sent_at, claimed.body)
        return self.poster.post(endpoint.url, claimed.body, headers), None

    def _after(
        self, attempt: Attempt, state: str, disabled: bool, endpoint: Endpoint | None
    ) -> None:
        claimed = attempt.claimed
        if attempt.ok:
            log.debug(
                "webhook %s %s delivered to %s",
                claimed.type,
                claimed.webhook_id,
                claimed.endpoint_id,
            )
        else:
            log.info(
                "webhook %s %s to %s: attempt %d failed (%s), %s",
                claimed.type,
                claimed.webhook_id,
                claimed.endpoint_id,
                claimed.attempts + 1,
                attempt.error or attempt.status_code,
                "failed for good" if state == "failed" else "will be retried",
            )
        if disabled and endpoint is not None:
            log.warning("endpoint %s disabled: every attempt failed for 5 days", endpoint.id)
            self.audit.record(
                key_id="worker",
                action="webhook.disable",
                target=endpoint.id,
                result="disabled",
                status=200,
                detail={"profile": endpoint.profile, "reason": "every attempt failed for 5 days"},
            )
            self._endpoints_version = -1  # read them again

    def _secrets(self, endpoint: Endpoint) -> list[bytes]:
        """The endpoint's signing secrets now, opened once per sealed set (kept while the
        endpoint's secrets stay the same)."""
        now = self.now_ms()
        key = (endpoint.id, endpoint.secrets, now // 60_000)
        cached = self._opened.get(key)
        if cached is None:
            cached = self.endpoints.signing_secrets(endpoint, now)
            if len(self._opened) > 1000:
                self._opened.clear()
            self._opened[key] = cached
        return cached

    # -- caches -------------------------------------------------------------------------------
    def _current_endpoints(self) -> list[Endpoint]:
        return list(self._current_endpoints_by_id().values())

    def _current_endpoints_by_id(self) -> dict[str, Endpoint]:
        """The endpoints as of this pass: their version is one GET, read again only when
        it moved (an operator's change is seen at the worker's next pass)."""
        version = self.webhooks.version()
        if version != self._endpoints_version:
            self._endpoints = {e.id: e for e in self.endpoints.all_endpoints()}
            self._endpoints_version = version
        return self._endpoints

    def _busy_shards(self, now: int) -> list[str]:
        if not self.outbox.store.cluster:
            return self.outbox.busy_shards(now)
        tick = time.monotonic() * 1000
        if tick - self._busy_checked >= self.sweep_every_ms:
            self._busy_checked = tick
            self._busy = self.outbox.busy_shards(now)
        return self._busy
