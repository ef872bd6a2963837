"""Opt-outs: numbers that must not be texted, kept durably and checked before any send.

The truth is one marker per number (``otp:{P}:o``, no TTL) in the number's own hash slot,
which ``create.lua`` checks in the same atomic step that creates a verification. An index
in one slot of its own lists them by time and by source for operators. Both are written
in one round trip (a pipeline of two scripts, each atomic); both follow the same time
rules (``optout_mark.lua``, ``optout_index.lua``), so a replayed or late event cannot
make them disagree. An operator's change has a deadline (``in_time``): run by Redis
after the caller gave up (503), neither script writes (both get the same deadline), so
the 503 is true. One Redis paused between the two (the first in time, the second past
the deadline) leaves one of them written: so an add writes the marker first and a
removal the index first, and either way the number is left opted out but not listed,
which the operator's retry of the 503 puts right (a removal's retry still finds the
marker). On a cluster the two are on two nodes, which need not both have been paused
(README, "Redis paused or slow"): a removal that reached only the marker's node leaves
the number listed and not opted out, and its retry removes it from the list
(``listed``). An opt-out a recipient or Telnyx asked for has no
deadline, and is never dropped.

Numbers are keys here only in ``phones.normalize``'s form: a number that is not (a
formatted or trunk-prefixed one, ``+4407911…``) is refused with ``ValueError`` rather
than stored under a key no lookup would find.

Sources: ``inbound_stop`` (the recipient texted STOP), ``admin`` (an operator),
``telnyx_sync`` (Telnyx's opt-out list), ``send_error`` (Telnyx refused a send: 40300).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from otp_service.ids import PhoneTagger
from otp_service.metrics import OPTOUTS, child
from otp_service.phones import Phone, normalize
from otp_service.store.scripts import ScriptCall, Store

__all__ = ["SOURCES", "OptOut", "OptOutStore"]

SOURCES = ("inbound_stop", "admin", "telnyx_sync", "send_error")
EVENT_TTL_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class OptOut:
    phone_number: str
    source: str
    created_at: int  # ms


class OptOutStore:
    def __init__(
        self, store: Store, tagger: PhoneTagger, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.tagger = tagger
        self.clock = clock
        self.index_keys = store.optout_index_keys(SOURCES)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def add(
        self,
        phone: str,
        source: str,
        *,
        at_ms: int | None = None,
        event_id: str | None = None,
        in_time: bool = False,
    ) -> str:
        """Opt ``phone`` out; 'added', 'exists' or 'duplicate' (event already seen).

        ``in_time``: an operator's change, which writes nothing if Redis runs it after
        this call timed out (``Store.run_all``); never for a recipient's or Telnyx's."""
        outcome = self._apply("add", phone, source, at_ms, event_id, in_time)
        self.record(source, outcome)
        return outcome

    def remove(
        self,
        phone: str,
        *,
        by: str = "admin",
        at_ms: int | None = None,
        event_id: str | None = None,
        in_time: bool = False,
    ) -> str:
        """Opt ``phone`` back in (``by`` whom: a source, for metrics); 'removed', 'absent',
        'newer' or 'duplicate'. ``in_time``: as for ``add``."""
        outcome = self._apply("remove", phone, "", at_ms, event_id, in_time)
        self.record(by, outcome)
        return outcome

    def add_many(
        self,
        rows: Iterable[tuple[str, int]],
        source: str,
        *,
        chunk: int = 500,
        in_time: bool = False,
    ) -> Iterator[str]:
        """Opt out every (phone, at_ms) of ``rows``, ``chunk`` per round trip; yields each
        one's outcome ('added' or 'exists'). ``in_time``: as for ``add``, a chunk at a
        time (the chunks before a late one stand)."""
        rows = list(rows)
        for start in range(0, len(rows), chunk):
            calls: list[ScriptCall] = []
            for phone, at in rows[start : start + chunk]:
                calls += self._calls("add", phone, source, at, None)
            answers = self.store.run_all(calls, in_time=in_time)
            for outcome in answers[0::2]:  # (marker, index) per number
                text = outcome.decode()
                self.record(source, text)
                yield text

    @staticmethod
    def record(source: str, outcome: str) -> None:
        """Count an opt-out that was added or lifted (anything else changed nothing)."""
        if outcome in ("added", "removed"):
            child(OPTOUTS, source, outcome).inc()

    def add_calls(self, phone: str, source: str) -> list[ScriptCall]:
        """The two writes of an opt-out, to send in another round trip (the marker's
        outcome is the first reply: pass it to ``record``); never late."""
        return [
            ScriptCall(call.name, call.keys, [*call.args, 0])  # deadline.lua: none
            for call in self._calls("add", phone, source, None, None)
        ]

    def _calls(
        self, action: str, phone: str, source: str, at_ms: int | None, event_id: str | None
    ) -> list[ScriptCall]:
        """The two scripts of a change, but for their last argument: the deadline
        (``Store.run_all``). An add's marker goes first, a removal's index: cut short
        between them, either leaves the number opted out but not listed, which a retry
        puts right (a removal left listed but not opted out would be 404 to its retry)."""
        if source and source not in SOURCES:
            raise ValueError(f"unknown opt-out source {source!r}")
        tag = self.tagger.tag(_normalised(phone))
        marker = self.store.optout_key(tag)
        dedupe = self.store.event_key(tag, event_id) if event_id else marker
        at = self._now_ms() if at_ms is None else at_ms
        source_index = SOURCES.index(source) + 1 if source else 0
        calls = [
            ScriptCall("optout_mark", [marker, dedupe], [action, phone, source, at, EVENT_TTL_MS]),
            ScriptCall("optout_index", self.index_keys, [action, phone, source_index, at]),
        ]
        return calls if action == "add" else calls[::-1]

    def _apply(
        self,
        action: str,
        phone: str,
        source: str,
        at_ms: int | None,
        event_id: str | None,
        in_time: bool,
    ) -> str:
        calls = self._calls(action, phone, source, at_ms, event_id)
        answers = self.store.run_all(calls, in_time=in_time)
        if action == "add":
            return answers[0].decode()  # the marker's
        outcome = answers[1].decode()
        if outcome == "absent" and answers[0] == 1:
            return "removed"  # it was only listed: a removal cut short on a cluster
        return outcome

    def get(self, phone: str) -> OptOut | None:
        raw = self.store.redis.hgetall(self.store.optout_key(self.tagger.tag(_normalised(phone))))
        if not raw:
            return None
        return OptOut(phone, raw[b"src"].decode(), int(raw[b"at"]))

    def listed(self, phone: str) -> OptOut | None:
        """The number as the list's index has it (one round trip), whatever its marker
        says: on a cluster a removal cut short on the index's node leaves the number
        listed with no marker, which the operator's retry removes."""
        pipe = self.store.pipeline()
        pipe.zscore(self.index_keys[0], phone)
        pipe.hget(self.index_keys[1], phone)
        score, src = pipe.execute()
        if score is None:
            return None
        return OptOut(phone, SOURCES[int(src) - 1] if src else "admin", int(score))

    def list(
        self,
        *,
        source: str | None = None,
        created_after: int | None = None,
        created_before: int | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[OptOut], int]:
        """One page of opt-outs, oldest first, and how many match in all."""
        keys = self.index_keys
        zset = keys[2 + SOURCES.index(source)] if source else keys[0]
        low = "-inf" if created_after is None else created_after
        high = "+inf" if created_before is None else created_before
        pipe = self.store.pipeline()
        pipe.zcount(zset, low, high)
        pipe.zrangebyscore(zset, low, high, start=offset, num=limit, withscores=True)
        total, rows = pipe.execute()
        if not rows:
            return [], total
        phones = [member for member, _score in rows]
        sources = self.store.redis.hmget(keys[1], phones)
        items = [
            OptOut(member.decode(), SOURCES[int(src) - 1] if src else "admin", int(score))
            for (member, score), src in zip(rows, sources, strict=True)
        ]
        return items, total

    def counts(self, windows: Iterable[tuple[int, int]]) -> list[int]:
        """How many opt-outs (of any source) each (from, to) ms window holds, both ends
        inclusive, in one round trip."""
        pipe = self.store.pipeline()
        for low, high in windows:
            pipe.zcount(self.index_keys[0], low, high)
        return [int(n) for n in pipe.execute()]


def _normalised(phone: str) -> str:
    """``phone``, which must already be in ``phones.normalize``'s form (a ``Phone`` is)."""
    if type(phone) is not Phone and normalize(phone) != phone:
        raise ValueError("opt-outs take numbers as phones.normalize gives them")
    return phone
