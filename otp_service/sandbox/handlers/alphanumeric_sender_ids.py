"""``/alphanumeric_sender_ids``: sender IDs of a messaging profile (list, create, get, delete)."""

from __future__ import annotations

from typing import Any

from ..core import Sandbox
from ..errors import ApiError
from ..seed import ORGANIZATION_ID
from ._base import assign_profile, with_profile
from ._collection import CollectionRoutes

__all__ = ["HANDLERS"]


def _is_valid(sender: str) -> bool:
    """1-11 ASCII letters, digits or spaces, at least one letter."""
    allowed = all(c.isascii() and (c.isalnum() or c == " ") for c in sender)
    return 1 <= len(sender) <= 11 and allowed and any(c.isalpha() for c in sender)


def _build(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    profile_id = assign_profile(sb, body["messaging_profile_id"])
    sender = body["alphanumeric_sender_id"]
    if not _is_valid(sender):
        raise ApiError.one(
            422,
            "10015",
            "Bad Request",
            "An alphanumeric sender ID is 1-11 letters, digits or spaces, with a letter.",
            pointer="/alphanumeric_sender_id",
        )
    for existing in sb.state.alphanumeric_ids:
        if (existing["alphanumeric_sender_id"], existing["messaging_profile_id"]) == (
            sender,
            profile_id,
        ):
            raise ApiError.one(
                422,
                "10012",
                "Duplicate resource",
                "The messaging profile already has this sender ID.",
                pointer="/alphanumeric_sender_id",
            )
    obj = {
        "record_type": "alphanumeric_sender_id",
        "id": sb.state.new_uuid(),
        "alphanumeric_sender_id": sender,
        "messaging_profile_id": profile_id,
        "organization_id": ORGANIZATION_ID,
    }
    if body.get("us_long_code_fallback"):
        obj["us_long_code_fallback"] = body["us_long_code_fallback"]
    return obj


HANDLERS = CollectionRoutes(
    "alphanumeric_ids",
    list_op="ListAlphanumericSenderIds",
    get_op="GetAlphanumericSenderId",
    create_op="CreateAlphanumericSenderId",
    delete_op="DeleteAlphanumericSenderId",
    select=with_profile,
    build=_build,
).handlers()
