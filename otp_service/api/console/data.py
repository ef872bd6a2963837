"""What the overview shows: numbers and charts from the insights' hourly counters
(``HistoryService.series`` and ``summary``), the opt-out index and the audit log.

The page renders what ``overview`` returns, and nothing else; the template draws
whatever ``Stat``s, ``Chart``s and ``Table``s it gets. Nothing is made up: an hour with
nothing in it is a zero (a rate with nothing to divide, a gap), and a chart with no data
says so under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otp_service.admin import OptOutFilter, Page
from otp_service.history.service import parse_sender_key
from otp_service.phones import mask_phone

__all__ = ["Chart", "Overview", "Stat", "Table", "overview"]

HOUR = 3600
DAY = 24 * HOUR
AUDIT_HOURS = 24
OPTOUT_DAYS = 14
INSIGHT_HOURS = 48  # the insights charts' span
TOP = 4  # countries / senders drawn apart; the rest are "other"


@dataclass(frozen=True)
class Stat:
    label: str
    value: int | str
    note: str = ""


@dataclass(frozen=True)
class Chart:
    """A time series chart: ``x`` in Unix seconds, one list of values per series."""

    id: str
    title: str
    x: list[int]
    series: list[tuple[str, list[int | float | None]]]
    note: str = ""
    kind: str = "bars"  # or "line"
    percent: bool = False  # values are percentages: the y axis is 0-100 %

    def spec(self) -> dict[str, Any]:
        """What the page's script (static/console.js) draws with uPlot."""
        return {
            "kind": self.kind,
            "percent": self.percent,
            "x": self.x,
            "series": [{"label": label, "values": values} for label, values in self.series],
        }

    @property
    def points(self) -> int:
        """Values that are there and not zero: 0 means an empty chart."""
        return sum(1 for _label, values in self.series for v in values if v)


@dataclass(frozen=True)
class Table:
    """A small table under the charts (rows already formatted)."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass(frozen=True)
class Overview:
    stats: list[Stat]
    charts: list[Chart]
    tables: list[Table]


def overview(services: Any, now: float) -> Overview:
    """The overview: a few round trips to Redis (48 hourly hashes, the summaries, the
    opt-out index, the audit log) and none to Telnyx."""
    series = services.history.series(INSIGHT_HOURS)
    x = [at // 1000 for at in series["hours"]]
    totals = series["totals"]
    last_day = slice(-24, None)
    created, approved = sum(totals["created"][last_day]), sum(totals["approved"][last_day])
    sent, delivered = sum(totals["sent"][last_day]), sum(totals["delivered"][last_day])
    profiles = services.profiles.list_page(Page(1, 1))["meta"]["total_results"]
    optouts = services.optout_admin.list_optouts(Page(1, 1), OptOutFilter())
    audit_chart, changes = _audit_per_hour(services, now)
    return Overview(
        stats=[
            Stat("Verifications, 24 h", created, "test numbers left out"),
            Stat("Conversion, 24 h", _percent(approved, created), "approved ÷ created"),
            Stat("Delivery rate, 24 h", _percent(delivered, sent), "delivered ÷ sent"),
            Stat("Guard refusals, 24 h", sum(totals["refused"][last_day]), "creates refused"),
            Stat("Opt-outs", optouts["meta"]["total_results"], "numbers that get no code"),
            Stat("Profiles", profiles, "default included"),
            Stat("Admin changes, 24 h", changes, "from the audit log"),
        ],
        charts=[
            _rates(x, totals),
            Chart(
                "verifications-per-country",
                f"Verifications per country, per hour, last {INSIGHT_HOURS} hours",
                x,
                _top(series["by_country"]),
                note="By the number's country; the smaller countries together as “other”.",
            ),
            Chart(
                "sends-per-sender",
                f"Sends per sender, per hour, last {INSIGHT_HOURS} hours",
                x,
                _top({_sender_label(k): v for k, v in series["by_sender"].items()}),
                note="Every message Telnyx took (first sends and resends), by sender.",
            ),
            Chart(
                "refusals-per-hour",
                f"Guard refusals by reason, per hour, last {INSIGHT_HOURS} hours",
                x,
                sorted(series["refusals"].items()),
                note="Creates refused by the SMS-pumping guard and the caps, by reason.",
            ),
            audit_chart,
            _optouts_per_day(services, now),
        ],
        tables=[
            _summary_table(services, "country", "Per country, last 7 days", lambda k: k),
            _summary_table(services, "sender", "Per sender, last 7 days", _sender_label),
        ],
    )


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


def _rates(x: list[int], totals: dict[str, list[int]]) -> Chart:
    """Conversion and delivery rate per hour; an hour with nothing to divide is a gap."""

    def rate(part: list[int], whole: list[int]) -> list[int | float | None]:
        return [round(100 * p / w, 1) if w else None for p, w in zip(part, whole, strict=True)]

    return Chart(
        "rates-per-hour",
        f"Conversion and delivery rate per hour, last {INSIGHT_HOURS} hours",
        x,
        [
            ("conversion %", rate(totals["approved"], totals["created"])),
            ("delivery rate %", rate(totals["delivered"], totals["sent"])),
        ],
        note="Conversion: approvals ÷ verifications created in the hour. Delivery rate: "
        "delivery receipts ÷ messages sent in the hour. No point: nothing to divide.",
        kind="line",
        percent=True,
    )


def _top(groups: dict[str, list[int]]) -> list[tuple[str, list[int | float | None]]]:
    """The ``TOP`` largest groups by total, then the rest summed as "other"."""
    ranked = sorted(groups.items(), key=lambda item: (-sum(item[1]), item[0]))
    shown: list[tuple[str, list[int | float | None]]] = [
        (name, list(values)) for name, values in ranked[:TOP]
    ]
    rest = ranked[TOP:]
    if rest:
        shown.append(
            ("other", [sum(column) for column in zip(*(v for _n, v in rest), strict=True)])
        )
    return shown


def _sender_label(sender: str) -> str:
    """``long_code:+13125550100`` as ``long code +1312****100``: numbers are masked
    everywhere in the console (short codes and alphanumeric senders are public)."""
    if sender == "unknown":  # what the summary calls refusals: nothing was sent
        return "none (refused)"
    kind, from_, pool = parse_sender_key(sender)
    label = kind.replace("_", " ")
    if from_ and from_.startswith("+"):
        from_ = mask_phone(from_)
    label = f"{label} {from_}" if from_ else label
    return f"{label} (pool {pool[:8]}…)" if pool else label


def _summary_table(services: Any, group_by: str, title: str, label: Any) -> Table:
    rows = []
    for row in services.history.summary(group_by, None, None)["data"]:
        ttd = row["time_to_delivery_seconds"]
        rows.append(
            [
                label(row[group_by]),
                str(row["verifications"]),
                str(row["sends"]),
                _rate(row["delivery_rate"]),
                _rate(row["conversion_rate"]),
                "—" if ttd["p50"] is None else f"≤ {ttd['p50']} s / ≤ {ttd['p95']} s",
                str(sum(row["guard_refusals"].values())),
            ]
        )
    return Table(
        f"summary-by-{group_by}",
        title,
        [
            group_by,
            "verifications",
            "sends",
            "delivery rate",
            "conversion",
            "to delivery p50 / p95",
            "refusals",
        ],
        rows,
    )


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _audit_per_hour(services: Any, now: float) -> tuple[Chart, int]:
    """Admin changes per hour over the last day, succeeded and failed apart."""
    end = int(now) - int(now) % HOUR + HOUR  # the end of this hour
    start = end - AUDIT_HOURS * HOUR
    x = list(range(start, end, HOUR))
    succeeded = [0] * AUDIT_HOURS
    failed = [0] * AUDIT_HOURS
    entries = services.audit.since(start * 1000)
    for entry in entries:
        slot = (entry.at // 1000 - start) // HOUR
        if 0 <= slot < AUDIT_HOURS:
            (failed if entry.status >= 400 else succeeded)[slot] += 1
    chart = Chart(
        "audit-per-hour",
        "Admin changes per hour, last 24 hours",
        x,
        [("succeeded", succeeded), ("failed", failed)],
        note="Every change made through the admin API, the CLI or this console.",
    )
    return chart, len(entries)


def _optouts_per_day(services: Any, now: float) -> Chart:
    """Opt-outs by the day they were made, over the last two weeks (UTC days)."""
    end = int(now) - int(now) % DAY + DAY
    starts = [end - (OPTOUT_DAYS - i) * DAY for i in range(OPTOUT_DAYS)]
    counts = services.optouts.counts((s * 1000, (s + DAY) * 1000 - 1) for s in starts)
    return Chart(
        "optouts-per-day",
        "Opt-outs per day, last 14 days",
        starts,
        [("opt-outs", list(counts))],
        note="Numbers still opted out, by the day they opted out (STOP, admin, sync, send errors).",
    )
