"""``/messaging_numbers_bulk_updates``: move many numbers to a profile at once, and the
order that reports how it went.
"""

from __future__ import annotations

from typing import Any

from ..core import Sandbox
from ._base import Req, assign_profile
from ._collection import CollectionRoutes

__all__ = ["HANDLERS"]

HANDLERS = CollectionRoutes(
    "bulk_updates",
    get_op="GetBulkUpdateMessagingSettingsOnPhoneNumbersStatus",
    id_param="order_id",
).handlers()


@HANDLERS.on("BulkUpdateMessagingSettingsOnPhoneNumbers")
def bulk_update(sb: Sandbox, req: Req) -> Any:
    """Applied at once; the answer shows every number pending, the order the outcome."""
    profile_id = assign_profile(sb, req.body["messaging_profile_id"])
    success, failed = [], []
    for number in req.body["numbers"]:
        found = sb.state.phone_numbers.find(number) if isinstance(number, str) else None
        if found is None or found["phone_number"] != number:
            failed.append(number)
            continue
        sb.state.phone_numbers.update(found["id"], {"messaging_profile_id": profile_id})
        success.append(number)
    order = {
        "record_type": "messaging_numbers_bulk_update",
        "order_id": sb.state.new_uuid(),
        "success": success,
        "failed": failed,
        "pending": [],
    }
    sb.state.bulk_updates.add(order)
    return {"data": {**order, "success": [], "failed": [], "pending": list(req.body["numbers"])}}
