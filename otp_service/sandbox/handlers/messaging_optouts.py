"""``/messaging_optouts``: the opt-out list (seeded, plus STOP words sent to the inbound
helper), newest first, filterable by profile, sender and creation time.
"""

from __future__ import annotations

from typing import Any

from ..core import Sandbox
from ..errors import ApiError
from ..timestamps import parse_iso
from ._base import Handlers, Req, in_range, listing, phone, query_filter

__all__ = ["HANDLERS"]

HANDLERS = Handlers()


def _created_bounds(req: Req) -> dict[str, str]:
    """``created_at[gte|lte]``, or the ``filter[created_at][...]`` spelling some clients send."""
    created = dict(req.query.get("created_at") or {})
    for bound in ("gte", "lte"):
        alias = req.args.get(f"filter[created_at][{bound}]")
        if alias and bound not in created:
            try:
                parse_iso(alias)
            except ValueError:
                raise ApiError.one(
                    400,
                    "10015",
                    "Bad Request",
                    f"'{alias}' is not an ISO-8601 date-time.",
                    parameter=f"filter[created_at][{bound}]",
                ) from None
            created[bound] = alias
    return created


@HANDLERS.on("ListOptOuts")
def list_optouts(sb: Sandbox, req: Req) -> Any:
    profile_id = query_filter(req, "messaging_profile_id")
    sender = phone(query_filter(req, "from"))
    created = _created_bounds(req)
    items = [
        o
        for o in sb.state.optouts
        if (profile_id is None or o["messaging_profile_id"] == profile_id)
        and (sender is None or o["from"] == sender)
        and in_range(o["created_at"], created.get("gte"), created.get("lte"))
    ]
    items.sort(key=lambda o: o["created_at"], reverse=True)
    result = listing(sb, req, items)
    if str(req.query.get("redaction_enabled", "")).lower() == "true":
        result["data"] = [{**o, "to": o["to"][:-4] + "****"} for o in result["data"]]
    return result
