"""What every handler module shares: the request a handler gets, the operationId registry,
and the query helpers (paging, ``filter[...]``, phone numbers, date ranges, profile ids).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core import Sandbox
from ..errors import ApiError, associated_missing
from ..spec import Operation
from ..state import paginate
from ..timestamps import parse_iso
from ..traffic import E164

__all__ = [
    "Handler",
    "Handlers",
    "Req",
    "assign_profile",
    "check_e164",
    "in_range",
    "listing",
    "page",
    "phone",
    "query_filter",
    "unpaged",
    "with_profile",
]


@dataclass
class Req:
    """What a handler gets: the validated query, the parsed body, and the raw request bits."""

    op: Operation
    query: dict[str, Any]
    body: Any
    args: Mapping[str, str]
    path: str
    files: Mapping[str, Any]


# (sandbox, request, **path parameters) -> body, or (body, status); runs under the state lock
Handler = Callable[..., Any]


class Handlers(dict[str, Handler]):
    """One module's handlers by operationId; ``@HANDLERS.on("GetMessage")`` adds one."""

    def on(self, operation_id: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self[operation_id] = fn
            return fn

        return register


def page(sb: Sandbox, req: Req) -> tuple[int, int]:
    """(page number, page size) from whichever paging parameters the operation declares."""
    q = req.query
    default = sb.config.default_page_size
    if isinstance(q.get("page"), dict):
        number, size = q["page"].get("number", 1), q["page"].get("size", default)
    elif isinstance(q.get("page"), int):  # toll-free verification: page & page_size
        number, size = q["page"], q.get("page_size", default)
    else:
        number, size = q.get("page[number]", 1), q.get("page[size]", default)
    for name, value in (("page[number]", number), ("page[size]", size)):
        if value < 1:
            raise ApiError.one(
                req.op.validation_status,
                "10015",
                "Bad Request",
                f"'{name}' must be at least 1.",
                parameter=name,
            )
    return number, min(size, 250)


def listing(sb: Sandbox, req: Req, items: list[Any]) -> dict[str, Any]:
    """The requested page of ``items`` with Telnyx's ``meta``."""
    data, meta = paginate(items, *page(sb, req))
    return {"data": data, "meta": meta}


def unpaged(items: list[Any]) -> dict[str, Any]:
    """All ``items`` as one page, for the operations the spec does not page."""
    return {"data": items, "meta": paginate(items, 1, max(len(items), 1))[1]}


def query_filter(req: Req, name: str) -> Any:
    """``filter[name]`` whether the spec declares it plainly or as a deepObject."""
    deep = req.query.get("filter")
    if isinstance(deep, dict) and name in deep:
        return deep[name]
    return req.query.get(f"filter[{name}]")


def phone(value: str | None) -> str | None:
    """'+' in a query string arrives as a space; give it back."""
    if value is None:
        return None
    value = value.strip()
    return "+" + value if value.isdigit() and len(value) > 6 else value


def with_profile(req: Req, items: list[dict[str, Any]], *, null: bool = False) -> list[Any]:
    """``items`` of the ``filter[messaging_profile_id]`` profile; with ``null``, "null"
    selects the unassigned ones."""
    profile_id = query_filter(req, "messaging_profile_id")
    if profile_id is None:
        return items
    if null and profile_id == "null":
        profile_id = None
    return [o for o in items if o["messaging_profile_id"] == profile_id]


def assign_profile(sb: Sandbox, value: Any, field: str = "messaging_profile_id") -> str | None:
    """A profile id to store: "" (or null) unassigns; anything else must exist."""
    if value in ("", None):
        return None
    if sb.state.profiles.find(str(value)) is None:
        raise associated_missing(field, "messaging profile")
    return str(value)


def in_range(stamp: str, gte: str | None, lte: str | None) -> bool:
    """Whether the timestamp ``stamp`` lies within the optional bounds."""
    moment = parse_iso(stamp)
    return (gte is None or moment >= parse_iso(gte)) and (lte is None or moment <= parse_iso(lte))


def check_e164(numbers: list[Any], pointer: str) -> None:
    """422 / 10016 for the first entry of ``numbers`` that is not a +E.164 number."""
    for index, number in enumerate(numbers):
        if not isinstance(number, str) or not E164.match(number):
            raise ApiError.one(
                422,
                "10016",
                "Phone number must be in +E.164 format",
                f"'{number}' is not a +E.164 phone number.",
                pointer=f"{pointer}/{index}",
            )
