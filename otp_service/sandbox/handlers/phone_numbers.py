"""``/phone_numbers/.../messaging`` and ``/mobile_phone_numbers/.../messaging``: the messaging
settings of the account's numbers; the filters and settings changes hosted numbers share.
"""

from __future__ import annotations

from typing import Any

from ..core import Sandbox
from ._base import Req, assign_profile, phone, query_filter
from ._collection import CollectionRoutes

__all__ = ["HANDLERS", "number_filters", "number_settings_changes"]


def number_filters(req: Req, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The numbers the ``filter[...]`` parameters select, in ``sort[phone_number]`` order."""
    profile_id = query_filter(req, "messaging_profile_id")
    number = phone(query_filter(req, "phone_number"))
    contains = req.query.get("filter[phone_number][contains]")
    kind = req.query.get("filter[type]")
    items = [
        n
        for n in items
        if (profile_id is None or n.get("messaging_profile_id") == profile_id)
        and (number is None or n["phone_number"] == number)
        and (contains is None or contains.strip() in n["phone_number"])
        and (kind is None or n.get("type") == kind)
    ]
    order = req.query.get("sort[phone_number]")
    if order:
        items = sorted(items, key=lambda n: n["phone_number"], reverse=order == "desc")
    return items


def number_settings_changes(
    sb: Sandbox, number: dict[str, Any], body: dict[str, Any]
) -> dict[str, Any]:
    """Profile, messaging product (also the traffic type) and tags from an update body."""
    changes: dict[str, Any] = {}
    if "messaging_profile_id" in body:
        changes["messaging_profile_id"] = assign_profile(sb, body["messaging_profile_id"])
    if "messaging_product" in body:
        changes["messaging_product"] = body["messaging_product"]
        changes["traffic_type"] = body["messaging_product"]
    if "tags" in body:
        changes["tags"] = list(body["tags"])
    return changes


HANDLERS = (
    CollectionRoutes(
        "phone_numbers",
        list_op="ListPhoneNumbersWithMessagingSettings",
        get_op="GetPhoneNumberMessagingSettings",
        update_op="UpdatePhoneNumberMessagingSettings",
        select=number_filters,
        changes=number_settings_changes,
    ).handlers()
    | CollectionRoutes(
        "mobile_numbers",
        list_op="ListMobilePhoneNumbersWithMessagingSettings",
        get_op="GetMobilePhoneNumberMessagingSettings",
    ).handlers()
)
