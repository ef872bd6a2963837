"""``/messaging_hosted_numbers``: numbers hosted through a verified order (list, get,
update settings, delete; deleting marks the number deleted in its order).
"""

from __future__ import annotations

from typing import Any

from ..core import Sandbox
from ..errors import not_found
from ._collection import CollectionRoutes
from .phone_numbers import number_filters, number_settings_changes

__all__ = ["HANDLERS"]


def _deleted(sb: Sandbox, number: dict[str, Any]) -> Any:
    """The order the number came in, with the number marked deleted."""
    for order in sb.state.hosted_orders:
        for entry in order["phone_numbers"]:
            if entry["phone_number"] == number["phone_number"]:
                entry["status"] = "deleted"
                return {"data": order}
    raise not_found("hosted number order")


HANDLERS = CollectionRoutes(
    "hosted_numbers",
    list_op="ListMessagingHostedNumbers",
    get_op="GetMessagingHostedNumber",
    update_op="UpdateMessagingHostedNumber",
    delete_op="DeleteMessagingHostedNumber",
    select=number_filters,
    changes=number_settings_changes,
    deleted=_deleted,
).handlers()
