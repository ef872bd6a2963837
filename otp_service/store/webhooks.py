"""Webhook endpoints and their deliveries in Redis: every key in the ``{webhooks}`` slot.

    otp:{webhooks}:endpoints      hash: endpoint id -> JSON (profile, url, events, secrets
                                  sealed, enabled, times)
    otp:{webhooks}:version        moved with every endpoint change, to Redis's clock (ms) or
                                  one more (lua/include/version.lua): workers poll it
    otp:{webhooks}:failing        hash: endpoint id -> since when all its attempts fail (ms)
    otp:{webhooks}:due            zset: delivery id -> next attempt (ms); a claimed
                                  delivery's score is the end of its lease
    otp:{webhooks}:d:<delivery>   hash: one event to one endpoint (below), kept KEEP_MS
    otp:{webhooks}:ep:<endpoint>  zset: the endpoint's deliveries by time, the last
                                  INDEX_MAX, for listing and replay

A delivery's hash: ep (endpoint id), pf (profile), msg (webhook-id), t (event type), body
(the JSON sent, byte for byte the same at every attempt), ca (created ms), n (attempts),
st (pending | succeeded | failed), na (next attempt ms, '' when none), la (last attempt
ms), sc (last status code), er (last error), rt (1 once an operator retried it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from otp_service.store.scripts import Store

__all__ = ["Attempt", "Claimed", "DeliveryRecord", "NewDelivery", "WebhookStore"]

KEEP_MS = 8 * 86_400_000  # a delivery's record: past the last retry (~32 h), for a week of history
INDEX_MAX = 10_000  # deliveries listed per endpoint


@dataclass(frozen=True)
class NewDelivery:
    id: str
    endpoint_id: str
    profile: str
    webhook_id: str
    type: str
    body: bytes


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds the lease of."""

    id: str
    endpoint_id: str
    webhook_id: str
    type: str
    body: bytes
    attempts: int  # made before this one


@dataclass(frozen=True)
class Attempt:
    """How one attempt of a claimed delivery ended."""

    claimed: Claimed
    ok: bool
    status_code: int | None
    error: str | None
    next_at: int  # the next attempt (ms); 0: none (delivered, or failed for good)


@dataclass(frozen=True)
class DeliveryRecord:
    id: str
    endpoint_id: str
    profile: str
    webhook_id: str
    type: str
    created_at: int
    attempts: int
    status: str
    next_attempt_at: int | None
    last_attempt_at: int | None
    last_status_code: int | None
    last_error: str | None
    body: bytes

    @classmethod
    def from_hash(cls, delivery_id: str, raw: dict[bytes, bytes]) -> DeliveryRecord:
        def text(name: str) -> str:
            return raw.get(name.encode(), b"").decode()

        def number(name: str) -> int | None:
            value = text(name)
            return int(value) if value else None

        return cls(
            id=delivery_id,
            endpoint_id=text("ep"),
            profile=text("pf"),
            webhook_id=text("msg"),
            type=text("t"),
            created_at=int(text("ca") or 0),
            attempts=int(text("n") or 0),
            status=text("st"),
            next_attempt_at=number("na"),
            last_attempt_at=number("la"),
            last_status_code=number("sc"),
            last_error=text("er") or None,
            body=raw.get(b"body", b""),
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class WebhookStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.redis = store.redis
        self.base = f"{store.prefix}:{{webhooks}}"
        self.endpoints_key = f"{self.base}:endpoints"
        self.version_key = f"{self.base}:version"
        self.failing_key = f"{self.base}:failing"
        self.due_key = f"{self.base}:due"

    def delivery_key(self, delivery_id: str) -> str:
        return f"{self.base}:d:{delivery_id}"

    def index_key(self, endpoint_id: str) -> str:
        return f"{self.base}:ep:{endpoint_id}"

    # -- endpoints ------------------------------------------------------------------------
    def version(self) -> int:
        value = self.redis.get(self.version_key)
        return int(value) if value is not None else 0

    def endpoints(self) -> dict[str, str]:
        """Every endpoint: id -> its stored JSON."""
        raw = self.redis.hgetall(self.endpoints_key)
        return {_text(k): _text(v) for k, v in raw.items()}

    def endpoint(self, endpoint_id: str) -> str | None:
        raw = self.redis.hget(self.endpoints_key, endpoint_id)
        return None if raw is None else _text(raw)

    def save_endpoint(
        self,
        endpoint_id: str,
        record: str,
        mode: str,
        made_from: str = "",
        *,
        fresh_start: bool = False,
    ) -> bool:
        """mode create | update | delete; False when it exists (create) or not (else), or
        when an update's ``made_from`` (the JSON it changed) is no longer what is stored.
        ``fresh_start``: the update forgets since when the endpoint's attempts fail."""
        keys = [self.endpoints_key, self.version_key, self.failing_key]
        args = [endpoint_id, record, mode, made_from, "1" if fresh_start else ""]
        return bool(self.store.run_in_time("webhook_endpoint_save", keys, args))

    def delete_profile_endpoints(self, profile_id: str) -> int:
        """Delete every endpoint of a deleted profile; how many there were."""
        gone = 0
        for endpoint_id, record in self.endpoints().items():
            if json.loads(record).get("profile") == profile_id:
                gone += self.save_endpoint(endpoint_id, "", "delete")
        return gone

    # -- deliveries -----------------------------------------------------------------------
    def enqueue(self, deliveries: list[NewDelivery], now: int) -> int:
        if not deliveries:
            return 0
        args: list[Any] = [self.base, now, KEEP_MS, INDEX_MAX]
        for d in deliveries:
            args += [d.id, d.endpoint_id, d.profile, d.webhook_id, d.type, d.body]
        return int(self.store.run_in_time("webhook_enqueue", [self.due_key], args))

    def release(self, ids: list[str], now: int) -> None:
        """Claimed deliveries given back unposted: due now again (XX: one finished or
        gone meanwhile is not brought back)."""
        if ids:
            self.store.redis.zadd(self.due_key, dict.fromkeys(ids, now), xx=True)

    def claim(self, now: int, lease_ms: int, count: int) -> list[Claimed]:
        flat = self.store.run("webhook_claim", [self.due_key], [self.base, now, lease_ms, count])
        return [
            Claimed(
                id=_text(flat[i]),
                endpoint_id=_text(flat[i + 1]),
                webhook_id=_text(flat[i + 2]),
                type=_text(flat[i + 3]),
                body=bytes(flat[i + 4]),
                attempts=int(flat[i + 5]),
            )
            for i in range(0, len(flat), 6)
        ]

    def finish_many(
        self, attempts: list[Attempt], now: int, disable_after_ms: int
    ) -> list[tuple[str, bool]]:
        """``finish`` for each attempt, in one round trip."""
        batch = self.store.batch()
        for a in attempts:
            batch.script(
                "webhook_finish",
                [
                    self.due_key,
                    self.delivery_key(a.claimed.id),
                    self.failing_key,
                    self.endpoints_key,
                    self.version_key,
                ],
                [
                    a.claimed.id,
                    now,
                    1 if a.ok else 0,
                    "" if a.status_code is None else a.status_code,
                    a.error or "",
                    a.next_at,
                    a.claimed.endpoint_id,
                    disable_after_ms,
                ],
            )
        return [(_text(state), bool(disabled)) for state, disabled in batch.execute()]

    def first_attempts(
        self, made: list[tuple[NewDelivery, Attempt]], now: int, disable_after_ms: int
    ) -> list[tuple[str, bool]]:
        """Store deliveries whose first attempt the worker made as it handed their events
        over, with how it went, in one round trip (``webhook_first.lua``)."""
        batch = self.store.batch()
        for new, a in made:
            batch.script(
                "webhook_first",
                [
                    self.due_key,
                    self.delivery_key(new.id),
                    self.failing_key,
                    self.endpoints_key,
                    self.version_key,
                    self.index_key(new.endpoint_id),
                ],
                [
                    new.id,
                    now,
                    1 if a.ok else 0,
                    "" if a.status_code is None else a.status_code,
                    a.error or "",
                    a.next_at,
                    new.endpoint_id,
                    disable_after_ms,
                    new.profile,
                    new.webhook_id,
                    new.type,
                    new.body,
                    KEEP_MS,
                    INDEX_MAX,
                ],
            )
        return [(_text(state), bool(disabled)) for state, disabled in batch.execute()]

    def delivery(self, delivery_id: str) -> DeliveryRecord | None:
        raw = self.redis.hgetall(self.delivery_key(delivery_id))
        return DeliveryRecord.from_hash(delivery_id, raw) if raw else None

    def deliveries(
        self, endpoint_id: str, *, before: int | None, limit: int, after: str | None = None
    ) -> tuple[list[DeliveryRecord], str | None]:
        """The endpoint's deliveries, newest first: created before ``before`` (ms), or
        listed after the delivery ``after`` (a page's cursor); and the cursor of the next
        page (None: this is the last)."""
        index = self.index_key(endpoint_id)
        if after is not None:
            ids = self.store.run("webhook_page", [index], [after, limit + 1])
        else:
            high = "+inf" if before is None else f"({before}"
            ids = self.redis.zrevrangebyscore(index, high, "-inf", start=0, num=limit + 1)
        ids = [_text(delivery_id) for delivery_id in ids]
        next_cursor = ids[limit - 1] if len(ids) > limit else None
        ids = ids[:limit]
        pipe = self.store.pipeline()
        for delivery_id in ids:
            pipe.hgetall(self.delivery_key(delivery_id))
        found = []
        for delivery_id, raw in zip(ids, pipe.execute() if ids else [], strict=True):
            if raw:
                found.append(DeliveryRecord.from_hash(delivery_id, raw))
        return found, next_cursor

    def retry(self, endpoint_id: str, delivery_id: str, now: int) -> int:
        return int(
            self.store.run_in_time(
                "webhook_retry",
                [self.due_key, self.index_key(endpoint_id)],
                [self.base, now, "one", delivery_id],
            )
        )

    def replay_failed(self, endpoint_id: str, since: int, now: int) -> int:
        return int(
            self.store.run_in_time(
                "webhook_retry",
                [self.due_key, self.index_key(endpoint_id)],
                [self.base, now, "failed_since", since],
            )
        )

    def due_count(self, now: int) -> int:
        return int(self.redis.zcount(self.due_key, "-inf", now))
