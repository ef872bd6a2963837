"""``/messaging_profiles``: profiles (list, create, get, update, delete, new secret), the
numbers, short codes and sender IDs of one, and its auto-response configs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core import Sandbox
from ..errors import ApiError
from ..seed import profile_object
from ..state import Collection
from ..timestamps import now_iso
from ._base import Req, in_range, listing, query_filter, unpaged
from ._collection import CollectionRoutes

__all__ = ["HANDLERS"]

_PROFILE_FIELDS = {
    "name",
    "enabled",
    "webhook_url",
    "webhook_failover_url",
    "webhook_api_version",
    "whitelisted_destinations",
    "number_pool_settings",
    "url_shortener_settings",
    "alpha_sender",
    "daily_spend_limit",
    "daily_spend_limit_enabled",
    "mms_fall_back_to_sms",
    "mms_transcoding",
    "mobile_only",
    "smart_encoding",
    "resource_group_id",
    "health_webhook_url",
    "ai_assistant_id",
    "v1_secret",
}


def _profile_changes(body: dict[str, Any]) -> dict[str, Any]:
    changes = {k: v for k, v in body.items() if k in _PROFILE_FIELDS}
    for url_field in ("webhook_url", "webhook_failover_url", "health_webhook_url"):
        if changes.get(url_field) == "":
            changes[url_field] = None  # "" means "no URL"
    return changes


def _new_secret(sb: Sandbox) -> str:
    return sb.state.new_uuid().replace("-", "")[:24]


def _select(req: Req, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    name = query_filter(req, "name") or req.query.get("filter[name][eq]")
    contains = req.query.get("filter[name][contains]")
    return [
        p
        for p in items
        if (name is None or p["name"] == name)
        and (contains is None or contains.lower() in p["name"].lower())
    ]


def _build(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    secret = _new_secret(sb)
    changes = _profile_changes(body)
    name = changes.pop("name")
    return profile_object(sb.state.new_uuid(), name, now_iso(), secret, **changes)


def _deleted(sb: Sandbox, profile: dict[str, Any]) -> Any:
    """Its numbers and short codes stay, unassigned; its sender IDs and configs go."""
    state, profile_id = sb.state, profile["id"]
    for collection in (state.phone_numbers, state.hosted_numbers, state.short_codes):
        for obj in collection:
            if obj.get("messaging_profile_id") == profile_id:
                obj["messaging_profile_id"] = None
    for alpha in state.alphanumeric_ids.where(lambda a: a["messaging_profile_id"] == profile_id):
        state.alphanumeric_ids.delete(alpha["id"])
    state.autoresp.pop(profile_id, None)
    return {"data": profile}


HANDLERS = CollectionRoutes(
    "profiles",
    list_op="ListMessagingProfiles",
    get_op="RetrieveMessagingProfile",
    create_op="CreateMessagingProfile",
    update_op="UpdateMessagingProfile",
    delete_op="DeleteMessagingProfile",
    select=_select,
    build=_build,
    changes=lambda sb, profile, body: _profile_changes(body),
    deleted=_deleted,
).handlers()


@HANDLERS.on("RegenerateMessagingProfileSecret")
def regenerate_secret(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.profiles.update(id, {"v1_secret": _new_secret(sb)})}


def _profile_listing(collection: str) -> Any:
    def handler(sb: Sandbox, req: Req, id: str) -> Any:
        sb.state.profiles.get(id)
        items = getattr(sb.state, collection)
        return listing(sb, req, items.where(lambda o: o["messaging_profile_id"] == id))

    return handler


HANDLERS.update(
    ListProfilePhoneNumbers=_profile_listing("phone_numbers"),
    ListProfileShortCodes=_profile_listing("short_codes"),
    ListProfileAlphanumericSenderIds=_profile_listing("alphanumeric_ids"),
)


# auto-response configs ----------------------------------------------------------------
def _configs(sb: Sandbox, path: Mapping[str, str]) -> Collection:
    """The auto-response configs of the path's profile (404 if there is no such profile)."""
    sb.state.profiles.get(path["profile_id"])
    return sb.state.autoresp_for(path["profile_id"])


def _config_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "op": body["op"],
        "keywords": list(body["keywords"]),
        "country_code": body["country_code"],
        "resp_text": body.get("resp_text", ""),
    }


def _build_config(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    stamp = now_iso()
    return {
        "id": sb.state.new_uuid(),
        **_config_fields(body),
        "created_at": stamp,
        "updated_at": stamp,
    }


HANDLERS.update(
    CollectionRoutes(
        _configs,
        get_op="GetAutorespConfig",
        create_op="CreateAutorespConfig",
        update_op="UpdateAutoRespConfig",
        delete_op="DeleteAutorespConfig",
        id_param="autoresp_cfg_id",
        build=_build_config,
        changes=lambda sb, config, body: _config_fields(body),
        deleted=lambda sb, config: "OK",
    ).handlers()
)


@HANDLERS.on("GetAutorespConfigs")
def list_autoresp(sb: Sandbox, req: Req, profile_id: str) -> Any:
    configs = _configs(sb, {"profile_id": profile_id})
    country = req.query.get("country_code")
    created = req.query.get("created_at") or {}
    updated = req.query.get("updated_at") or {}
    try:
        items = [
            c
            for c in configs
            if (country is None or c["country_code"] == country)
            and in_range(c["created_at"], created.get("gte"), created.get("lte"))
            and in_range(c["updated_at"], updated.get("gte"), updated.get("lte"))
        ]
    except ValueError:
        raise ApiError.one(
            422, "10015", "Bad Request", "created_at / updated_at bounds are ISO-8601 date-times."
        ) from None
    return unpaged(items)
