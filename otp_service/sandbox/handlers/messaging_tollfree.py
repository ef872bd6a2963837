"""``/messaging_tollfree/verification/requests``: toll-free verification requests and their
status history. Telnyx answers bare objects and ``records`` / ``total_records`` pages here.
"""

from __future__ import annotations

from typing import Any

from ..core import Sandbox
from ..seed import tollfree_request
from ..state import paginate
from ..timestamps import now_iso
from ._base import Req, in_range, page, phone
from ._collection import CollectionRoutes

__all__ = ["HANDLERS"]


def _in_review(stamp: str) -> dict[str, Any]:
    return {"verificationStatus": "In Progress", "updatedAt": stamp, "reason": None}


def _records(sb: Sandbox, req: Req, items: list[Any]) -> dict[str, Any]:
    data, meta = paginate(items, *page(sb, req))
    return {"records": data, "total_records": meta["total_results"]}


def _build(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    stamp = now_iso()
    request = tollfree_request(sb.state.new_uuid(), body, created=stamp)
    sb.state.tf_history[request["id"]] = [_in_review(stamp)]
    return request


def _deleted(sb: Sandbox, request: dict[str, Any]) -> None:
    sb.state.tf_history.pop(request["id"], None)


HANDLERS = CollectionRoutes(
    "tf_requests",
    get_op="GetVerificationRequest",
    create_op="SubmitVerificationRequest",
    delete_op="DeleteVerificationRequest",
    wrap=False,
    build=_build,
    deleted=_deleted,
).handlers()


@HANDLERS.on("ListVerificationRequests")
def list_tollfree(sb: Sandbox, req: Req) -> Any:
    q = req.query
    start, end = q.get("date_start"), q.get("date_end")
    number = phone(q.get("phone_number"))
    business = (q.get("business_name") or "").lower()
    items = [
        r
        for r in sb.state.tf_requests
        if in_range(r["createdAt"], start, end)
        and (q.get("status") is None or r["verificationStatus"] == q["status"])
        and (number is None or any(p["phoneNumber"] == number for p in r["phoneNumbers"]))
        and business in r["businessName"].lower()
    ]
    return _records(sb, req, items)


@HANDLERS.on("UpdateVerificationRequest")
def update_tollfree(sb: Sandbox, req: Req, id: str) -> Any:
    current = sb.state.tf_requests.get(id)
    changes = {k: v for k, v in req.body.items() if v is not None}
    if current["verificationStatus"] != "In Progress":  # resubmitted: back in review
        changes["verificationStatus"] = "In Progress"
        sb.state.tf_history.setdefault(id, []).append(_in_review(now_iso()))
    changes["updatedAt"] = now_iso()
    current.update(changes)  # not Collection.update: these objects stamp "updatedAt"
    return current


@HANDLERS.on("GetVerificationStatusHistory")
def tollfree_history(sb: Sandbox, req: Req, id: str) -> Any:
    sb.state.tf_requests.get(id)
    return _records(sb, req, sb.state.tf_history.get(id, []))
