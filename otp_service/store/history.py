"""The history of ended verifications, kept compactly for OTP_HISTORY_DAYS.

    otp:{hist:<day>}:r        stream: one entry per verification that ended that day (UTC
                              days since the epoch), field r = the compact record
    otp:{hist:<day>}:x:<c>    hash: the day's index by number: the number's tag (but its
                              first character, which is <c>) -> its entries' ids there

    otp:{hist:<day>}:u        hash: the day's amended records: stream entry id -> the record
                              that replaces the entry's (history_replace.lua), written when a
                              final delivery receipt comes after its verification ended; the
                              entry keeps its id, so its place in the browse and its cursors

    otp:{hist:late}:w         hash: late receipts held for a record not written yet (record
                              id -> '<until ms> <JSON: creation ms, sends>'), each for
                              ``LATE_WAIT_MS`` from the first (history_late_hold.lua)

All expire HISTORY_DAYS after their day ends. A day lives in one slot of its own (on a
cluster, 30 days spread over 30 slots). An exact-number search reads the number's field
in each day's index (the tag is a keyed digest: no number is kept) and then only those
entries; browsing reads the streams newest first. Budget: at most 250 bytes of Redis per
ended verification (~230 measured by tests/history, ~240 by `make bench`, whose records
carry delivery receipts; 32 small hashes a day keep the index compact).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from otp_service.store.scripts import Store

__all__ = ["DAY_MS", "HeldReceipts", "HistoryRecord", "HistoryStore", "day_of"]

DAY_MS = 86_400_000
# how long late receipts wait for their verification's record (another worker's batch
# being written), from the first held
LATE_WAIT_MS = 30_000
LATE_LOOK_MAX = 100  # held receipts a worker's look takes at most (each: a record's lookup)

# short forms in a stored record
_SENDERS = {
    "long_code": "l",
    "short_code": "s",
    "number_pool": "p",
    "alphanumeric": "a",
    "whatsapp": "w",
    "test": "t",
}
_STATUSES = {
    "delivered": "d",
    "delivery_failed": "f",
    "sending_failed": "sf",
    "delivery_unconfirmed": "u",
    "sent": "s",
    "queued": "q",
    "sending": "g",
    "expired": "e",
}
_OUTCOMES = {"approved": "a", "failed": "f", "canceled": "c", "expired": "e"}


def _unshort(table: dict[str, str]) -> dict[str, str]:
    return {v: k for k, v in table.items()}


_SENDER_NAMES, _STATUS_NAMES, _OUTCOME_NAMES = map(_unshort, (_SENDERS, _STATUSES, _OUTCOMES))


@dataclass(frozen=True)
class HistoryRecord:
    """One ended verification."""

    id: str  # the verification id (its first 16 characters are the number's tag)
    profile: str
    masked: str  # the number, masked (phones.mask_phone)
    country: str  # of the number, ISO 3166 alpha-2 ('' unknown)
    channel: str  # sms | whatsapp
    created_at: int  # ms
    ended_at: int  # ms
    outcome: str  # approved | failed | canceled | expired
    attempts: int  # checks that failed
    # each send: [seconds after created_at, sender type, sender from, delivery status
    #             (None: none), error codes, seconds to delivery (None: no receipt)]
    sends: list[list[Any]]
    # each check: [seconds after created_at, 1 valid | 0 not]
    checks: list[list[int]]
    test: bool = False
    approved_send: int | None = None  # which send's code approved it (1 = the first)

    def to_json(self) -> str:
        packed: dict[str, Any] = {
            "i": self.id,
            "m": self.masked,
            "n": self.country,
            "c": self.channel[0],
            "a": self.created_at,
            "e": round((self.ended_at - self.created_at) / 1000),
            "o": _OUTCOMES.get(self.outcome, self.outcome),
            "s": [_pack_send(send) for send in self.sends],
        }
        if self.profile != "default":
            packed["p"] = self.profile
        if self.attempts:
            packed["t"] = self.attempts
        if self.checks:
            packed["k"] = self.checks
        if self.test:
            packed["x"] = 1
        if self.approved_send is not None:
            packed["v"] = self.approved_send
        return json.dumps(packed, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> HistoryRecord:
        d = json.loads(raw)
        return cls(
            id=d["i"],
            profile=d.get("p", "default"),
            masked=d["m"],
            country=d.get("n", ""),
            channel={"s": "sms", "w": "whatsapp"}.get(d["c"], d["c"]),
            created_at=int(d["a"]),
            ended_at=int(d["a"]) + int(d["e"]) * 1000,
            outcome=_OUTCOME_NAMES.get(d["o"], d["o"]),
            attempts=int(d.get("t", 0)),
            sends=[_unpack_send(send) for send in d.get("s", [])],
            checks=d.get("k", []),
            test=bool(d.get("x")),
            approved_send=d.get("v"),
        )


def _pack_send(send: list[Any]) -> list[Any]:
    at, kind, from_, status, codes, to_delivery = send
    packed = [
        at,
        _SENDERS.get(kind, kind),
        from_,
        _STATUSES.get(status or "", status),
        codes,
        to_delivery,
    ]
    while packed and packed[-1] in (None, [], ""):
        packed.pop()  # what a send did not have costs nothing
    return packed


def _unpack_send(packed: list[Any]) -> list[Any]:
    at, kind, from_, status, codes, to_delivery = (packed + [None] * 6)[:6]
    return [
        at,
        _SENDER_NAMES.get(kind or "", kind or ""),
        from_ or "",
        _STATUS_NAMES.get(status or "", status),
        codes or [],
        to_delivery,
    ]


def day_of(ms: int) -> int:
    return ms // DAY_MS


@dataclass(frozen=True)
class HeldReceipts:
    """The final receipts held for one record not written yet (``HistoryStore.hold``)."""

    record_id: str
    created: int  # ms
    sends: list[list[Any]]  # HistoryRecord.sends, with the receipts held
    over: bool  # its wait is over: no record came
    stored: bytes  # as read: what a compare-and-set compares


class HistoryStore:
    def __init__(self, store: Store, days: int) -> None:
        self.store = store
        self.redis = store.redis
        self.days = days

    def stream_key(self, day: int) -> str:
        return f"{self.store.prefix}:{{hist:{day}}}:r"

    def amended_key(self, day: int) -> str:
        return f"{self.store.prefix}:{{hist:{day}}}:u"

    def index_key(self, day: int, tag: str) -> str:
        return f"{self.store.prefix}:{{hist:{day}}}:x:{tag[:1]}"

    def _expire_at(self, day: int) -> int:
        return (day + 1 + self.days) * DAY_MS // 1000

    def add(self, records: list[HistoryRecord]) -> None:
        """Append ended verifications and index them by number (two round trips)."""
        if not records:
            return
        pipe = self.store.pipeline()
        for record in records:
            pipe.xadd(self.stream_key(day_of(record.ended_at)), {"r": record.to_json()})
        entry_ids = [_text(entry_id) for entry_id in pipe.execute()]
        batch = self.store.batch()
        days = set()
        for record, entry_id in zip(records, entry_ids, strict=True):
            day, tag = day_of(record.ended_at), record.id[:16]
            batch.script(
                "history_index",
                [self.index_key(day, tag)],
                [tag[1:], entry_id, self._expire_at(day)],
            )
            days.add(day)
        for day in days:
            batch.command("expireat", self.stream_key(day), self._expire_at(day))
        batch.execute()

    def of_number(self, tag: str, first_day: int, last_day: int) -> list[HistoryRecord]:
        """The number's records from ``first_day`` to ``last_day``."""
        return [
            HistoryRecord.from_json(raw)
            for _day, _entry, raw in self._of_number(tag, first_day, last_day)
        ]

    def find(
        self, record_id: str, first_day: int, last_day: int
    ) -> tuple[int, str, HistoryRecord, bytes] | None:
        """(day, stream entry id, record, its stored form) of the verification
        ``record_id``, ended between ``first_day`` and ``last_day``; None when it has no
        record there."""
        for day, entry_id, raw in self._of_number(record_id[:16], first_day, last_day):
            record = HistoryRecord.from_json(raw)
            if record.id == record_id:
                return day, entry_id, record, raw
        return None

    def replace(self, day: int, entry_id: str, read: bytes, record: HistoryRecord) -> bool:
        """Put ``record`` in place of the entry ``entry_id`` of ``day``, read as ``read``
        (one round trip); False when it is no longer that (another worker replaced it
        first) or gone. The entry keeps its id: its place in the browse and its cursors."""
        done = self.store.run(
            "history_replace",
            [self.stream_key(day), self.amended_key(day)],
            [entry_id, read, record.to_json(), self._expire_at(day)],
        )
        return bool(done)

    def late_key(self) -> str:
        return f"{self.store.prefix}:{{hist:late}}:w"

    def held(self, record_id: str) -> HeldReceipts | None:
        raw = self.redis.hget(self.late_key(), record_id)
        return _held(record_id, raw, over=False) if raw else None

    def held_receipts(self, limit: int = LATE_LOOK_MAX) -> list[HeldReceipts]:
        """Up to ``limit`` records' held receipts (one round trip; a few, usually: a
        receipt waits only while another worker writes its record)."""
        flat = self.store.run("history_late_list", [self.late_key()], [limit])
        return [
            _held(_text(flat[i]), flat[i + 1], over=bool(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    def hold(
        self, record_id: str, read: HeldReceipts | None, created: int, sends: list[list[Any]]
    ) -> bool:
        """Hold ``sends`` for ``record_id`` in place of ``read`` (None: nothing held);
        False when another worker changed what is held meanwhile."""
        value = json.dumps([created, sends], separators=(",", ":"))
        return self._late(record_id, read, value)

    def let_go(self, held: HeldReceipts) -> bool:
        """Drop ``held``; False when another worker held more meanwhile."""
        return self._late(held.record_id, held, "")

    def _late(self, record_id: str, read: HeldReceipts | None, value: str) -> bool:
        done = self.store.run(
            "history_late_hold",
            [self.late_key()],
            [record_id, read.stored if read else "", value, LATE_WAIT_MS],
        )
        return bool(done)

    def _of_number(self, tag: str, first_day: int, last_day: int) -> list[tuple[int, str, bytes]]:
        days = list(range(first_day, last_day + 1))
        pipe = self.store.pipeline()
        for day in days:
            pipe.hget(self.index_key(day, tag), tag[1:])
        wanted = [
            (day, entry_id)
            for day, refs in zip(days, pipe.execute(), strict=True)
            if refs
            for entry_id in _text(refs).split(",")
        ]
        if not wanted:
            return []
        pipe = self.store.pipeline()
        for day, entry_id in wanted:
            pipe.xrange(self.stream_key(day), entry_id, entry_id)
            pipe.hget(self.amended_key(day), entry_id)
        answers = pipe.execute()
        return [
            (day, _text(found_id), amended or fields[b"r"])
            for (day, _entry_id), entries, amended in zip(
                wanted, answers[::2], answers[1::2], strict=True
            )
            for found_id, fields in entries
        ]

    def newest(
        self, *, before_day: int, after_day: int, cursor: str | None, budget: int
    ) -> tuple[list[tuple[str, HistoryRecord]], str | None]:
        """Up to ``budget`` records newest first, from day ``before_day`` back to
        ``after_day``, starting after ``cursor`` ('<day>/<entry id>'); and the cursor
        to go on from (None: nothing older)."""
        out: list[tuple[str, HistoryRecord]] = []
        day, start = before_day, "+"
        if cursor:
            day_text, entry_id = cursor.split("/", 1)
            day, start = int(day_text), "(" + entry_id
        while day >= after_day and len(out) < budget:
            want = budget - len(out)
            entries = self.redis.xrevrange(self.stream_key(day), start, "-", count=want)
            amended = (
                self.redis.hmget(self.amended_key(day), [entry_id for entry_id, _ in entries])
                if entries
                else []
            )
            for (entry_id, fields), raw in zip(entries, amended, strict=True):
                record = HistoryRecord.from_json(raw or fields[b"r"])
                out.append((f"{day}/{_text(entry_id)}", record))
            if len(entries) < want:  # the day is done: the one before
                day, start = day - 1, "+"
        next_cursor = out[-1][0] if len(out) >= budget else None
        return out, next_cursor


def _held(record_id: str, raw: bytes, *, over: bool) -> HeldReceipts:
    created, sends = json.loads(raw.split(b" ", 1)[1])
    return HeldReceipts(record_id, int(created), sends, over, raw)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
