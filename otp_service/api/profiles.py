"""The admin API of Verify profiles: /v1/admin/profiles and their keys. Admin keys only.

The bodies are typed here (unknown fields refused, integers that are JSON integers);
the ranges and the template checks are ``profiles.model``'s, shared with the CLI.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request
from marshmallow import RAISE, Schema, fields

from otp_service.api import query
from otp_service.api.auth import require_admin
from otp_service.api.http import (
    audited_body,
    json_response,
    no_content,
    optional_json_body,
    services,
)
from otp_service.api.schemas import StrictInteger

bp = Blueprint("profiles", __name__, url_prefix="/v1/admin/profiles")
bp.before_request(require_admin)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ProfileSchema(_Strict):
    """Every field optional; ``null`` in an update removes the override."""

    name = fields.String(allow_none=True)
    app_name = fields.String(allow_none=True)
    code_length = StrictInteger(allow_none=True)
    ttl_seconds = StrictInteger(allow_none=True)
    max_attempts = StrictInteger(allow_none=True)
    max_sends = StrictInteger(allow_none=True)
    resend_cooldown_seconds = StrictInteger(allow_none=True)
    default_locale = fields.String(allow_none=True)
    templates = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    allowed_countries = fields.List(fields.String(), allow_none=True)
    webotp_domain = fields.String(allow_none=True)
    android_app_hash = fields.String(allow_none=True)
    test_numbers = fields.Raw(allow_none=True)  # checked in profiles/model.py
    test_numbers_in_production = fields.Raw(allow_none=True)  # checked: a JSON boolean
    guard = fields.Raw(allow_none=True)  # checked in profiles/model.py
    routes = fields.Raw(allow_none=True)  # checked as OTP_ROUTES is (delivery/routing.py)
    whatsapp = fields.Raw(allow_none=True)  # checked in profiles/model.py
    fallback = fields.Raw(allow_none=True)  # checked as OTP_FALLBACK is (delivery/fallback.py)


class PreviewSchema(_Strict):
    locale = fields.String()
    code_length = StrictInteger()


PROFILE = ProfileSchema()
PREVIEW = PreviewSchema()


@bp.get("")
def list_profiles() -> Response:
    params = query.single_values(request.args)
    query.only(params, ("page[number]", "page[size]"))
    return json_response(services().profiles.list_page(query.page(params)))


@bp.post("")
def create_profile() -> Response:
    fields = audited_body(lambda: optional_json_body(PROFILE), "profile.create", "*")
    body = services().profiles.create(fields, actor=g.key_id)
    return json_response({"data": body}, 201, {"Location": f"/v1/admin/profiles/{body['id']}"})


@bp.get("/<profile_id>")
def get_profile(profile_id: str) -> Response:
    return json_response({"data": services().profiles.get(profile_id)})


@bp.patch("/<profile_id>")
def update_profile(profile_id: str) -> Response:
    fields = audited_body(lambda: optional_json_body(PROFILE), "profile.update", profile_id[:64])
    body = services().profiles.update(profile_id, fields, actor=g.key_id)
    return json_response({"data": body})


@bp.delete("/<profile_id>")
def delete_profile(profile_id: str) -> Response:
    services().profiles.delete(profile_id, actor=g.key_id)
    return no_content()


@bp.post("/<profile_id>/preview")
def preview_profile(profile_id: str) -> Response:
    data = optional_json_body(PREVIEW)
    return json_response(services().profiles.preview(profile_id, **data))


@bp.post("/<profile_id>/keys")
def create_key(profile_id: str) -> Response:
    return json_response(services().profiles.create_key(profile_id, actor=g.key_id), 201)


@bp.get("/<profile_id>/keys")
def list_keys(profile_id: str) -> Response:
    return json_response(services().profiles.list_keys(profile_id))


@bp.delete("/<profile_id>/keys/<key_id>")
def revoke_key(profile_id: str, key_id: str) -> Response:
    services().profiles.revoke_key(profile_id, key_id, actor=g.key_id)
    return no_content()
