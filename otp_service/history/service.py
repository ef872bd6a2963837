"""History and insights for operators: search ended verifications, read one's timeline,
and the summary and route numbers computed from the hourly counters. No Flask.

The search by number is exact: the number is normalised and tagged as the service tags
it (``ids.PhoneTagger``), and the number's own index is read, so no number is kept in
plain; ``next_cursor`` is then the id of the page's last record. A search without a number
reads the days' records newest first, at most ``SCAN_BUDGET`` a page, and says where to
go on (``next_cursor``).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from otp_service import errors, ids
from otp_service.delivery import parse_sender_key
from otp_service.phones import normalize
from otp_service.store.history import DAY_MS, HistoryRecord, HistoryStore
from otp_service.store.insights import BUCKETS, HOUR_MS, InsightsStore
from otp_service.timefmt import iso_time

# parse_sender_key: the insights' sender names as the console reads them (it does not
# import delivery/)
__all__ = ["GROUPS", "STATUSES", "WINDOWS", "HistoryService", "parse_sender_key"]

STATUSES = ("approved", "failed", "canceled", "expired")
GROUPS = ("country", "sender", "channel", "profile")
SCAN_BUDGET = 2000
# route health's windows, in hours: each also takes the clock hour under way (the
# counters are hourly), so "1h" holds 60 to 120 minutes, never just the minutes of an
# hour that has barely begun
WINDOWS = {"1h": 1, "24h": 24, "7d": 168}
_GROUP_INDEX = {"profile": 1, "country": 2, "sender": 3, "channel": 4}


class HistoryService:
    def __init__(
        self,
        history: HistoryStore,
        insights: InsightsStore,
        tagger: ids.PhoneTagger,
        days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.history = history
        self.insights = insights
        self.tagger = tagger
        self.days = days
        self.clock = clock

    def _now(self) -> int:
        return int(self.clock() * 1000)

    def _days(self, now: int) -> tuple[int, int]:
        """The first and last days whose records the history may still hold."""
        return (now - self.days * DAY_MS) // DAY_MS, now // DAY_MS + 1

    # -- history --------------------------------------------------------------------------
    def search(
        self,
        *,
        phone_number: str | None = None,
        profile: str | None = None,
        status: str | None = None,
        created_after: int | None = None,
        created_before: int | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        def keep(r: HistoryRecord) -> bool:
            return (
                (profile is None or r.profile == profile)
                and (status is None or r.outcome == status)
                and (created_after is None or r.created_at >= created_after)
                and (created_before is None or r.created_at < created_before)
            )

        if phone_number is not None:
            try:
                phone = normalize(phone_number)
            except ValueError as exc:
                raise errors.InvalidRequest(
                    "phone_number is not a phone number",
                    errors={"phone_number": ["must be a phone number, e.g. +13125550123"]},
                ) from exc
            now = self._now()
            first, last = self._days(now)
            tag = self.tagger.tag(phone)
            found = [r for r in self.history.of_number(tag, first, last) if keep(r)]
            found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            if cursor is not None:  # the id of the last record of the page before
                if not ids.ID_PATTERN.fullmatch(cursor):
                    raise errors.InvalidRequest(
                        "cursor is not valid",
                        errors={"cursor": ["use a next_cursor of an answer"]},
                    )
                after = (n + 1 for n, r in enumerate(found) if r.id == cursor)
                found = found[next(after, len(found)) :]  # gone since: nothing older either
            more = len(found) > limit
            return {
                "data": [record_view(r) for r in found[:limit]],
                "meta": {"next_cursor": found[limit - 1].id if more else None},
            }

        now = self._now()
        # only the days the history can still hold: a date far out reads no more days
        first_day, last_day = self._days(now)
        newest = (created_before if created_before is not None else now) + DAY_MS
        before_day = min(newest // DAY_MS, last_day)  # ended up to a day after creation
        after_day = max(created_after // DAY_MS if created_after is not None else 0, first_day)
        if cursor is not None and not _valid_cursor(cursor, before_day):
            raise errors.InvalidRequest(
                "cursor is not valid", errors={"cursor": ["use a next_cursor of an answer"]}
            )
        rows: list[HistoryRecord] = []
        scanned, next_cursor = 0, cursor
        while len(rows) < limit and scanned < SCAN_BUDGET:
            page, next_cursor = self.history.newest(
                before_day=before_day,
                after_day=after_day,
                cursor=next_cursor,
                budget=min(500, SCAN_BUDGET - scanned),
            )
            scanned += len(page)
            for ref, record in page:
                if keep(record):
                    rows.append(record)
                    if len(rows) == limit:
                        next_cursor = ref
                        break
            if next_cursor is None:
                break
        return {"data": [record_view(r) for r in rows], "meta": {"next_cursor": next_cursor}}

    def get(self, verification_id: str) -> dict[str, Any]:
        parts = ids.split_id(verification_id)
        if parts is not None:
            now = self._now()
            first, last = self._days(now)
            for record in self.history.of_number(parts[0], first, last):
                if record.id == verification_id:
                    return {"data": {**record_view(record), "timeline": timeline(record)}}
        raise errors.VerificationNotFound(
            "no ended verification with this id in the history (pending ones are at "
            "/v1/verifications/{id})"
        )

    # -- insights -------------------------------------------------------------------------
    def summary(self, group_by: str, start: int | None, end: int | None) -> dict[str, Any]:
        now = self._now()
        end = end if end is not None else now + 1  # to is exclusive: now is in
        start = start if start is not None else end - 7 * DAY_MS
        if start >= end:
            raise errors.InvalidRequest(
                "from must be before to", errors={"from": ["must be before to"]}
            )
        # only the hours the counters can still hold are read
        first = max(start, now - (self.days + 1) * DAY_MS) // HOUR_MS
        last = (min(end, now + HOUR_MS) - 1) // HOUR_MS
        groups = self._grouped(group_by, first, last) if first <= last else {}
        rows = [{group_by: key, **_numbers(fields)} for key, fields in sorted(groups.items())]
        return {
            "data": rows,
            "meta": {"group_by": group_by, "from": iso_time(start), "to": iso_time(end)},
        }

    def routes(self) -> dict[str, Any]:
        """Route health: per profile × country × sender × channel, over 1 h, 24 h, 7 days
        (whole hours, and the one under way)."""
        last = self._now() // HOUR_MS
        hours = self.insights.hours(last - WINDOWS["7d"], last)
        routes: dict[tuple[str, ...], dict[str, dict[str, float]]] = defaultdict(
            lambda: {w: defaultdict(float) for w in WINDOWS}
        )
        for hour, fields in hours.items():
            for name, value in fields.items():
                metric, *route = name.split("|")
                if len(route) != 4 or not route[2]:  # refusals have no sender
                    continue
                for window, span in WINDOWS.items():
                    if hour >= last - span:
                        routes[tuple(route)][window][metric] += value
        rows = []
        for (profile, country, sender, channel), windows in sorted(routes.items()):
            kind, from_, pool = parse_sender_key(sender)
            rows.append(
                {
                    "profile_id": profile,
                    "country": country or None,
                    "sender": {"type": kind, "from": from_, "messaging_profile_id": pool},
                    "channel": channel,
                    "windows": {w: _numbers(m) for w, m in windows.items()},
                }
            )
        return {"data": rows}

    def _grouped(self, group_by: str, first: int, last: int) -> dict[str, dict[str, float]]:
        index = _GROUP_INDEX[group_by]
        groups: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for fields in self.insights.hours(first, last).values():
            for name, value in fields.items():
                parts = name.split("|")
                if len(parts) != 5:
                    continue
                groups[parts[index] or "unknown"][parts[0]] += value
        return groups

    def series(self, hours: int) -> dict[str, Any]:
        """The last ``hours`` hours (this one included), hour by hour, for the console's
        charts: from the same counters as ``summary``, so a chart and a summary agree.

        ``totals``: created, sent, delivered, delivery_failed, approved and refused (every
        reason); ``by_country``: verifications created; ``by_sender``: sends;
        ``refusals``: guard refusals by reason. Each a list of ``hours`` counts.
        """
        last = self._now() // HOUR_MS
        first = last - hours + 1
        names = ("created", "sent", "delivered", "delivery_failed", "approved", "refused")
        totals = {name: [0] * hours for name in names}
        split: dict[str, dict[str, list[int]]] = {
            kind: defaultdict(lambda: [0] * hours) for kind in ("country", "sender", "refusal")
        }
        for hour, fields in self.insights.hours(first, last).items():
            slot = hour - first
            for name, value in fields.items():
                parts = name.split("|")
                if len(parts) != 5:
                    continue
                metric, _profile, country, sender, _channel = parts
                if metric.startswith("refused:"):
                    totals["refused"][slot] += int(value)
                    split["refusal"][metric.split(":", 1)[1]][slot] += int(value)
                elif metric in totals:
                    totals[metric][slot] += int(value)
                if metric == "created":
                    split["country"][country or "unknown"][slot] += int(value)
                elif metric == "sent":
                    split["sender"][sender or "unknown"][slot] += int(value)
        return {
            "hours": [hour * HOUR_MS for hour in range(first, last + 1)],
            "totals": totals,
            "by_country": dict(split["country"]),
            "by_sender": dict(split["sender"]),
            "refusals": dict(split["refusal"]),
        }


def _numbers(m: dict[str, float]) -> dict[str, Any]:
    created, sent = m.get("created", 0), m.get("sent", 0)
    delivered, approved = m.get("delivered", 0), m.get("approved", 0)
    return {
        "verifications": int(created),
        "sends": int(sent),
        "delivered": int(delivered),
        "delivery_failed": int(m.get("delivery_failed", 0)),
        "approved": int(approved),
        "failed": int(m.get("failed", 0)),
        "canceled": int(m.get("canceled", 0)),
        "expired": int(m.get("expired", 0)),
        "fallbacks": int(m.get("fallback_sent", 0)),
        "delivery_rate": round(delivered / sent, 4) if sent else None,
        "conversion_rate": round(approved / created, 4) if created else None,
        "time_to_delivery_seconds": _percentiles(m, "ttd"),
        "time_to_approval_seconds": _percentiles(m, "tta"),
        "guard_refusals": {
            k.split(":", 1)[1]: int(v) for k, v in sorted(m.items()) if k.startswith("refused:")
        },
        "cost": {
            k.split(":", 1)[1]: round(v, 6) for k, v in sorted(m.items()) if k.startswith("cost:")
        },
    }


def _percentiles(m: dict[str, float], histogram: str) -> dict[str, int | None]:
    """p50 and p95 as the upper bound of the bucket they fall in (seconds)."""
    counts = [(bound, m.get(f"{histogram}:{bound}", 0)) for bound in (*BUCKETS, BUCKETS[-1] + 1)]
    total = sum(c for _, c in counts)
    out: dict[str, int | None] = {}
    for name, share in (("p50", 0.5), ("p95", 0.95)):
        if not total:
            out[name] = None
            continue
        running = 0.0
        for bound, count in counts:
            running += count
            if running >= share * total:
                out[name] = bound
                break
    return out


# '<day>/<stream entry id>': ASCII digits, an entry id Redis takes after '(' (64-bit
# parts, not 0-0)
_CURSOR = re.compile(r"([0-9]{1,9})/([1-9][0-9]{0,18}-[0-9]{1,19})")


def _valid_cursor(cursor: str, before_day: int) -> bool:
    """Whether ``cursor`` is one an answer could have given: no day after the newest the
    search reads (a day far ahead would be walked back day by day)."""
    match = _CURSOR.fullmatch(cursor)
    return match is not None and int(match.group(1)) <= before_day


def record_view(r: HistoryRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "profile_id": r.profile,
        "phone_number": r.masked,
        "country": r.country or None,
        "channel": r.channel,
        "status": r.outcome,
        "created_at": iso_time(r.created_at),
        "ended_at": iso_time(r.ended_at),
        "failed_attempts": r.attempts,
        "sends": [
            {
                "at": iso_time(r.created_at + at * 1000),
                "sender": {"type": kind, "from": from_ or None},
                "delivery_status": status,
                "errors": codes,
                "seconds_to_delivery": to_delivery,
            }
            for at, kind, from_, status, codes, to_delivery in r.sends
        ],
        "checks": [
            {"at": iso_time(r.created_at + at * 1000), "valid": bool(valid)}
            for at, valid in r.checks
        ],
        "test": r.test,
        "approved_send": r.approved_send,
    }


def timeline(r: HistoryRecord) -> list[dict[str, Any]]:
    """Everything that happened to it, in order."""
    events: list[tuple[int, dict[str, Any]]] = [(r.created_at, {"event": "created"})]
    for at, kind, from_, status, codes, to_delivery in r.sends:
        sent_at = r.created_at + at * 1000
        events.append((sent_at, {"event": "sent", "sender": {"type": kind, "from": from_ or None}}))
        if status:
            receipt_at = sent_at + int((to_delivery or 0) * 1000)
            events.append((receipt_at, {"event": status, "errors": codes}))
    for at, valid in r.checks:
        events.append((r.created_at + at * 1000, {"event": "check", "valid": bool(valid)}))
    events.append((r.ended_at, {"event": r.outcome}))
    events.sort(key=lambda e: e[0])
    return [{"at": iso_time(at), **event} for at, event in events]
