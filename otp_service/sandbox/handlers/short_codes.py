"""``/short_codes``: the account's short codes (list, get, update profile and tags)."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..core import Sandbox
from ._base import assign_profile, with_profile
from ._collection import CollectionRoutes

__all__ = ["HANDLERS"]


def _changes(sb: Sandbox, code: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "messaging_profile_id": assign_profile(sb, body["messaging_profile_id"])
    }
    if "tags" in body:
        changes["tags"] = list(body["tags"])
    return changes


HANDLERS = CollectionRoutes(
    "short_codes",
    list_op="ListShortCodes",
    get_op="RetrieveShortCode",
    update_op="UpdateShortCode",
    select=partial(with_profile, null=True),  # filter[messaging_profile_id]=null: unassigned
    changes=_changes,
).handlers()
