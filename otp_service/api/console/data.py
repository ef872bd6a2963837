"""What the overview, verifications and webhooks pages show: the one module to change
when history, insights and webhook endpoints land.

Each page renders what one function here returns, and nothing else; the templates draw
whatever ``Stat``s and ``Chart``s they get. Today they return only what the service can
answer cheaply and truthfully — counts from the opt-out index and the profiles, the
audit log bucketed by hour — and say, in ``Pending``, what is not there yet and where it
will come from. Nothing is made up: an empty chart is drawn empty.

To plug in a source, add its ``Stat``/``Chart`` to ``overview`` (a chart is x values in
Unix seconds and one list of numbers per series), fill ``VerificationsView.rows`` /
``WebhooksView.rows`` from the history and webhook services, and drop its ``Pending``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otp_service.admin import OptOutFilter, Page

__all__ = [
    "Chart",
    "Overview",
    "Pending",
    "Stat",
    "VerificationsView",
    "WebhooksView",
    "overview",
    "verifications",
    "webhooks",
]

HOUR = 3600
DAY = 24 * HOUR
AUDIT_HOURS = 24
OPTOUT_DAYS = 14


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

    def spec(self) -> dict[str, Any]:
        """What the page's script (static/console.js) draws with uPlot."""
        return {
            "kind": self.kind,
            "x": self.x,
            "series": [{"label": label, "values": values} for label, values in self.series],
        }

    @property
    def points(self) -> int:
        return sum(1 for _label, values in self.series for v in values if v)


@dataclass(frozen=True)
class Pending:
    """Something a page will show once its source exists, and which source that is."""

    what: str
    source: str


@dataclass(frozen=True)
class Overview:
    stats: list[Stat]
    charts: list[Chart]
    pending: list[Pending] = field(default_factory=list)


@dataclass(frozen=True)
class VerificationsView:
    rows: list[dict[str, Any]]
    pending: list[Pending] = field(default_factory=list)


@dataclass(frozen=True)
class WebhooksView:
    rows: list[dict[str, Any]]
    pending: list[Pending] = field(default_factory=list)


def overview(services: Any, now: float) -> Overview:
    """The overview: what exists today, a few round trips to Redis and none to Telnyx."""
    profiles = services.profiles.list_page(Page(1, 1))["meta"]["total_results"]
    optouts = services.optout_admin.list_optouts(Page(1, 1), OptOutFilter())
    audit_chart, changes = _audit_per_hour(services, now)
    return Overview(
        stats=[
            Stat("Opt-outs", optouts["meta"]["total_results"], "numbers that get no code"),
            Stat("Profiles", profiles, "default included"),
            Stat("Admin changes, 24 h", changes, "from the audit log"),
        ],
        charts=[audit_chart, _optouts_per_day(services, now)],
        pending=[
            Pending(
                "Verifications, conversion and delivery rate over time, per country and "
                "sender; guard refusals",
                "insights (GET /v1/admin/insights/summary)",
            ),
        ],
    )


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


def verifications(services: Any, query: Mapping[str, str]) -> VerificationsView:
    """Search results of the verifications page. Verifications are kept only until an
    hour after they end, by id, with no index to search: nothing to list yet."""
    return VerificationsView(
        rows=[],
        pending=[
            Pending(
                "Search by number, profile, status and time, and each verification's "
                "timeline (sends, delivery receipts, checks)",
                "verification history (GET /v1/admin/verifications)",
            )
        ],
    )


def webhooks(services: Any) -> WebhooksView:
    """Webhook endpoints and their deliveries: the service sends no webhooks yet."""
    return WebhooksView(
        rows=[],
        pending=[
            Pending(
                "Webhook endpoints, their deliveries, retry and replay",
                "the event outbox and webhook endpoints",
            )
        ],
    )
