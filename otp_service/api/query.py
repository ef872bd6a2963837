"""The admin lists' query strings, parsed into the typed values the services take.

Names are Telnyx's (``page[number]``, ``page[size]``, ``filter[...]``). A list refuses,
with a 422 naming each, any name it does not take and any name given twice, so that a
mistyped filter is never silently ignored. The CLI parses its options here too, so that
it refuses what the API refuses.
"""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.datastructures import MultiDict

from otp_service import errors
from otp_service.admin.audit import ACTIONS, AuditFilter
from otp_service.admin.numbers import LIST_PARAMS, PAGE_PARAMS
from otp_service.admin.optouts import OptOutFilter
from otp_service.admin.page import Page
from otp_service.store.optouts import SOURCES
from otp_service.timefmt import parse_iso

__all__ = [
    "audit_list",
    "int_param",
    "one_of",
    "only",
    "optout_export",
    "optout_list",
    "page",
    "single_values",
    "telnyx_list",
    "time_param",
]

MAX_PAGE_SIZE = 250  # Telnyx's maximum, used for our own lists too
MAX_PAGE_NUMBER = 1_000_000
DEFAULT_PAGE_SIZE = 20
OPTOUT_FILTERS = ("source", "created_after", "created_before")
AUDIT_FILTERS = ("action", "key_id")

Query = Mapping[str, str]


def single_values(args: MultiDict[str, str]) -> dict[str, str]:
    """The query string as one value per name; a repeated name is 422."""
    repeated = sorted(name for name, values in args.lists() if len(values) > 1)
    if repeated:
        raise errors.InvalidRequest(
            f"query parameter(s) given more than once: {', '.join(repeated)}",
            errors={name: ["given more than once"] for name in repeated},
        )
    return args.to_dict()


def only(query: Query, allowed: tuple[str, ...]) -> None:
    """Refuse any name not in ``allowed``."""
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) or "no query parameters"
        raise errors.InvalidRequest(
            f"unknown query parameter(s): {', '.join(unknown)}",
            errors={name: [f"unknown; this route takes {takes}"] for name in unknown},
        )


def int_param(query: Query, name: str, default: int, low: int, high: int) -> int:
    """``name`` as an integer from ``low`` to ``high`` (ASCII digits only), or ``default``."""
    raw = query.get(name)
    if raw is None:
        return default
    # no more digits than ``high`` has: int() refuses over 4300 of them (a 500)
    if (
        not raw.isascii()
        or not raw.isdigit()
        or len(raw) > len(str(high))
        or not low <= int(raw) <= high
    ):
        raise errors.InvalidRequest(
            f"{name} must be an integer from {low} to {high}",
            errors={name: [f"must be an integer from {low} to {high}"]},
        )
    return int(raw)


def one_of(query: Query, name: str, choices: tuple[str, ...]) -> str | None:
    """``name`` if it is one of ``choices``, or None when absent."""
    value = query.get(name)
    if value is not None and value not in choices:
        raise errors.InvalidRequest(
            f"unknown {name}", errors={name: [f"must be one of {', '.join(choices)}"]}
        )
    return value


def time_param(query: Query, name: str) -> int | None:
    """``name`` as ms since the epoch (ISO 8601, ``timefmt.parse_iso``), or None when absent."""
    raw = query.get(name)
    if raw is None:
        return None
    at = parse_iso(raw)
    if at is None or at < 0:  # before 1970: nothing is that old
        raise errors.InvalidRequest(
            f"{name} must be an ISO 8601 date-time",
            errors={name: ["must be an ISO 8601 date-time such as 2025-01-31T00:00:00Z"]},
        )
    return at


def page(query: Query) -> Page:
    return Page(
        int_param(query, "page[number]", 1, 1, MAX_PAGE_NUMBER),
        int_param(query, "page[size]", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    )


def telnyx_list(query: Query, operation: str) -> tuple[Page, dict[str, str]]:
    """The page and the filters (Telnyx's names, passed on as they are) of a Telnyx list."""
    only(query, LIST_PARAMS[operation])
    filters = {name: value for name, value in query.items() if name not in PAGE_PARAMS}
    return page(query), filters


def optout_list(query: Query) -> tuple[Page, OptOutFilter]:
    only(query, (*OPTOUT_FILTERS, *PAGE_PARAMS))
    where = _optout_filter(query)
    return page(query), where


def optout_export(query: Query) -> OptOutFilter:
    only(query, OPTOUT_FILTERS)
    return _optout_filter(query)


def audit_list(query: Query) -> tuple[Page, AuditFilter]:
    only(query, (*AUDIT_FILTERS, *PAGE_PARAMS))
    where = AuditFilter(action=one_of(query, "action", ACTIONS), key_id=query.get("key_id"))
    return page(query), where


def _optout_filter(query: Query) -> OptOutFilter:
    return OptOutFilter(
        source=one_of(query, "source", SOURCES),
        created_after=time_param(query, "created_after"),
        created_before=time_param(query, "created_before"),
    )
