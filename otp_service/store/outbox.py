"""The outbox and the timers, as the worker reads them.

The scripts that change a verification or a factor append its event to the outbox stream
of their shard (``lua/include/outbox.lua``) and put its expiry in one of the shard's timer
buckets (``create.lua``). Workers share each stream through one consumer group: an entry read by
a worker that dies stays pending, and another worker claims it once it has been idle for
longer than any delivery takes (``claim_stale``). An entry is acknowledged and deleted
once its deliveries are stored, so a stream holds only what is not handed over yet.

On a cluster there is a stream and a timer zset per hash slot; ``busy_shards`` finds the
ones with work in one pipelined pass over every slot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import redis
from redis.cluster import RedisCluster

from otp_service.ids import DEFAULT_PROFILE, TAG_LENGTH
from otp_service.store.scripts import TIMER_BUCKET_MS, Store

__all__ = ["GROUP", "OutboxEntry", "OutboxStore"]

GROUP = "otp-workers"


@dataclass(frozen=True)
class OutboxEntry:
    """One event as a script wrote it (see lua/include/outbox.lua)."""

    shard: str
    entry_id: str  # the stream's id: unique within its shard
    type: str
    kind: str  # v: a verification, f: a factor
    tag: str  # the number's or subject's tag
    profile: str
    at: int  # ms
    snapshot: Any  # v: view.lua's fields (a list), f: the factor's fields (a dict)
    history: list[Any] = field(default_factory=list)
    checks: str = ""  # a verification's checks (check.lua's 'ck')
    message_id: str = ""  # verification.earlier_receipt: the message the receipt is about

    @classmethod
    def parse(cls, shard: str, entry_id: bytes, fields: dict[bytes, bytes]) -> OutboxEntry:
        def text(name: bytes) -> str:
            return fields.get(name, b"").decode()

        history = json.loads(fields.get(b"h") or b"[]")
        return cls(
            shard=shard,
            entry_id=entry_id.decode(),
            type=text(b"t"),
            kind=text(b"k"),
            tag=text(b"g"),
            profile=text(b"p"),
            at=int(text(b"at") or 0),
            snapshot=json.loads(fields.get(b"s") or b"null"),
            history=history if isinstance(history, list) else [],  # Lua's {} is an object
            checks=text(b"c"),
            message_id=text(b"m"),
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class OutboxStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.redis = store.redis
        self._grouped: set[str] = set()
        self._by_node: dict[str, list[str]] | None = None  # a cluster's shards by master

    # -- the outbox ---------------------------------------------------------------------
    def ensure_group(self, shard: str) -> None:
        """The workers' consumer group on the shard's stream, from its first entry."""
        if shard in self._grouped:
            return
        try:
            self.redis.xgroup_create(self.store.outbox_key(shard), GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._grouped.add(shard)

    def read(
        self, shard: str, consumer: str, count: int, block_ms: int | None = None
    ) -> list[OutboxEntry]:
        """Entries no worker has read yet, now handed to ``consumer``."""
        self.ensure_group(shard)
        key = self.store.outbox_key(shard)
        try:
            answer = self.redis.xreadgroup(GROUP, consumer, {key: ">"}, count=count, block=block_ms)
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):  # the stream was lost (e.g. a Redis without AOF)
                raise
            self._grouped.discard(shard)
            self.ensure_group(shard)
            return []
        return [
            OutboxEntry.parse(shard, entry_id, fields)
            for _key, entries in answer or []
            for entry_id, fields in entries
            if fields  # an entry deleted while pending comes back empty
        ]

    def claim_stale(
        self, shard: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[OutboxEntry]:
        """Entries another worker read but did not acknowledge for ``min_idle_ms``: it
        died or lost Redis mid-way. They are ``consumer``'s now."""
        self.ensure_group(shard)
        key = self.store.outbox_key(shard)
        answer = self.redis.xautoclaim(key, GROUP, consumer, min_idle_ms, "0-0", count=count)
        entries = answer[1] if len(answer) > 1 else []
        return [
            OutboxEntry.parse(shard, entry_id, fields) for entry_id, fields in entries if fields
        ]

    def with_history(self, entries: list[OutboxEntry], wanted: set[str]) -> list[OutboxEntry]:
        """``entries`` with the delivery history of their verifications read (one pipeline)
        for those whose id is in ``wanted``; the others as they are. Read now, not when
        the event was written: a receipt that came since is in it too."""
        need = [e for e in entries if e.entry_id in wanted and e.kind == "v"]
        if not need:
            return entries
        pipe = self.store.pipeline()
        for e in need:
            pipe.lrange(self.store.history_key(e.tag, e.profile), 0, -1)
        read = {e.entry_id: h for e, h in zip(need, pipe.execute(), strict=True)}
        return [
            replace(e, history=[_text(item) for item in read[e.entry_id]])
            if e.entry_id in read
            else e
            for e in entries
        ]

    def ack(self, shard: str, entry_ids: list[str]) -> None:
        """Handed over: acknowledged and deleted (the stream keeps only what is due)."""
        if not entry_ids:
            return
        key = self.store.outbox_key(shard)
        pipe = self.store.pipeline()
        pipe.xack(key, GROUP, *entry_ids)
        pipe.xdel(key, *entry_ids)
        pipe.execute()

    def pending(self, shard: str) -> int:
        """Entries not acknowledged yet (read or not)."""
        return int(self.redis.xlen(self.store.outbox_key(shard)))

    # -- timers ---------------------------------------------------------------------------
    def due_buckets(self, shard: str, now: int, count: int) -> list[str]:
        """The shard's timer buckets that have ended (no new timer falls in them)."""
        raw = self.redis.zrangebyscore(
            self.store.timers_key(shard), "-inf", now, start=0, num=count
        )
        return [name.decode() for name in raw]

    def fire_bucket(self, shard: str, name: str, now: int) -> int:
        """Fire every timer of an ended bucket (one batch), then drop the bucket. Two
        workers on one bucket, or one that dies half-way, fire nothing twice
        (timer_fire.lua marks what it fired). How many events went out."""
        store = self.store
        bucket_key = f"{store.timers_key(shard)}:{name}"
        # '<bucket>:<profile>' (expiries) or '<bucket>:<profile>:r<window ms>' (no-receipt
        # timers); each holds the tags of numbers
        bucket, _, rest = name.partition(":")
        profile, _, kind = rest.partition(":")
        profile = profile or DEFAULT_PROFILE
        bucket_end = (int(bucket) + 1) * TIMER_BUCKET_MS
        window_ms = int(kind[1:] or 0)
        tags = [_text(v)[:TAG_LENGTH] for v in self.redis.lrange(bucket_key, 0, -1)]
        fired = 0
        for start in range(0, len(tags), 200):
            batch = store.batch()
            for tag in tags[start : start + 200]:
                if kind.startswith("r"):
                    call = store.fire_receipt_timer(tag, bucket_end, window_ms, now, profile)
                    batch.call(call)
                    continue
                batch.script(
                    "timer_fire",
                    [
                        store.phone_key(tag, profile),
                        store.history_key(tag, profile),
                        store.outbox_key(shard),
                    ],
                    [now],
                )
            fired += sum(answer == b"fired" for answer in batch.execute())
        pipe = store.pipeline()
        pipe.delete(bucket_key)
        pipe.zrem(store.timers_key(shard), name)
        pipe.execute()
        return fired

    # -- which shards have work -------------------------------------------------------------
    def busy_shards(self, now: int) -> list[str]:
        """The shards whose outbox holds entries or whose timers are due: on one Redis its
        one shard; on a cluster one pipelined pass over every slot's keys."""
        shards = self.store.shards()
        if not isinstance(self.redis, RedisCluster):
            return list(shards)
        try:
            return self._busy_on_nodes(now)
        except (redis.exceptions.ResponseError, redis.exceptions.ConnectionError):
            self._by_node = None  # a slot moved, or a node went: map them again next time
            raise

    def _busy_on_nodes(self, now: int) -> list[str]:
        """One plain pipeline per master over the shards it serves (redis-py's cluster
        pipeline costs three times the CPU for 32 768 commands): ~0.16 s of CPU a pass
        on a 3-master cluster."""
        assert isinstance(self.redis, RedisCluster)
        if self._by_node is None:
            by_node: dict[str, list[str]] = {}
            for shard in self.store.shards():
                node = self.redis.get_node_from_key(self.store.outbox_key(shard))
                by_node.setdefault(node.name, []).append(shard)
            self._by_node = by_node
        busy = []
        for name, shards in self._by_node.items():
            node = self.redis.get_node(node_name=name)
            if node is None:
                raise redis.exceptions.ConnectionError(f"node {name} is gone")
            pipe = self.redis.get_redis_connection(node).pipeline(transaction=False)
            for shard in shards:
                pipe.xlen(self.store.outbox_key(shard))
                pipe.zcount(self.store.timers_key(shard), "-inf", now)
            counts = pipe.execute()
            busy += [s for i, s in enumerate(shards) if counts[2 * i] or counts[2 * i + 1]]
        return busy
