"""Insights: counters kept as events happen, by the hour, never computed from history.

    otp:{ins:<hour>}:c   hash, one per hour (UTC): '<metric>|<profile>|<country>|<sender>|
                         <channel>' -> count (cost: a decimal sum); expires after
                         OTP_HISTORY_DAYS

Metrics: created, sent, delivered, delivery_failed (for the send the receipt is about: an
earlier send's, after a fallback, for its own route), fallback_sent, approved (counted for
the send whose code was used: a fallback's earlier code counts for its own route), failed,
canceled, expired,
``refused:<reason>`` (the SMS-pumping guard), ``cost:<currency>``, and two histograms:
``ttd:<bucket>`` (seconds from a send to its delivery receipt) and ``tta:<bucket>``
(seconds from creation to approval), whose buckets are ``BUCKETS``' upper bounds. The
footprint of one route (profile × country × sender × channel) is at most one field per
metric and bucket per hour: ~40 fields × ~60 bytes × 24 × HISTORY_DAYS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from otp_service.store.scripts import Store

__all__ = ["BUCKETS", "HOUR_MS", "Count", "InsightsStore", "bucket_of"]

HOUR_MS = 3_600_000
# upper bounds (seconds) of the latency histograms' buckets; the last one is open-ended
BUCKETS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597)


def bucket_of(seconds: float) -> int:
    for bound in BUCKETS:
        if seconds <= bound:
            return bound
    return BUCKETS[-1] + 1


@dataclass(frozen=True)
class Count:
    """One counter to add to, in the hour of ``at``."""

    at: int  # ms
    metric: str
    profile: str
    country: str = ""
    sender: str = ""
    channel: str = ""
    amount: float = 1

    @property
    def field(self) -> str:
        return "|".join((self.metric, self.profile, self.country, self.sender, self.channel))


class InsightsStore:
    def __init__(self, store: Store, days: int) -> None:
        self.store = store
        self.redis = store.redis
        self.keep_seconds = (days + 1) * 86_400

    def hour_key(self, hour: int) -> str:
        return f"{self.store.prefix}:{{ins:{hour}}}:c"

    def add(self, counts: Iterable[Count]) -> None:
        """Add every count (one pipeline; the same field in one hour added once)."""
        totals: Counter[tuple[int, str]] = Counter()
        for count in counts:
            totals[(count.at // HOUR_MS, count.field)] += count.amount
        if not totals:
            return
        pipe = self.store.pipeline()
        hours = set()
        for (hour, name), amount in totals.items():
            if float(amount).is_integer():
                pipe.hincrby(self.hour_key(hour), name, int(amount))
            else:
                pipe.hincrbyfloat(self.hour_key(hour), name, amount)
            hours.add(hour)
        for hour in hours:
            pipe.expire(self.hour_key(hour), self.keep_seconds)
        pipe.execute()

    def route_totals(
        self, now_ms: int, hours: int = 24
    ) -> dict[tuple[str, str, str], dict[str, tuple[float, float]]]:
        """(sent, approved) per (profile, country, channel) and sender over the last
        ``hours``: what adaptive routes are ranked by (``delivery/adaptive.py``)."""
        last = now_ms // HOUR_MS
        totals: dict[tuple[str, str, str], dict[str, list[float]]] = {}
        for fields in self.hours(last - hours + 1, last).values():
            for name, value in fields.items():
                metric, *route = name.split("|")
                if metric not in ("sent", "approved") or len(route) != 4 or not route[2]:
                    continue
                profile, country, sender, channel = route
                pair = totals.setdefault((profile, country, channel), {}).setdefault(
                    sender, [0.0, 0.0]
                )
                pair[0 if metric == "sent" else 1] += value
        return {
            route: {sender: (pair[0], pair[1]) for sender, pair in senders.items()}
            for route, senders in totals.items()
        }

    def hours(self, first: int, last: int) -> dict[int, dict[str, float]]:
        """The counters of hours ``first`` to ``last`` (inclusive): hour -> field -> value."""
        hours = list(range(first, last + 1))
        pipe = self.store.pipeline()
        for hour in hours:
            pipe.hgetall(self.hour_key(hour))
        out = {}
        for hour, raw in zip(hours, pipe.execute(), strict=True):
            if raw:
                out[hour] = {k.decode(): float(v) for k, v in raw.items()}
        return out
