"""The client API: /v1/factors (TOTP authenticator-app factors)."""

from __future__ import annotations

from flask import Blueprint, Response, g, request
from marshmallow import ValidationError

from otp_service.api import schemas
from otp_service.api.auth import require_client
from otp_service.api.http import json_body, json_response, no_content, services
from otp_service.errors import InvalidRequest

bp = Blueprint("factors", __name__, url_prefix="/v1/factors")
bp.before_request(require_client)


@bp.post("")
def create() -> Response:
    data = json_body(schemas.CREATE_FACTOR)
    factor = services().factors.create(
        data["subject"], issuer=data.get("issuer"), label=data.get("label"), profile=g.profile_id
    )
    return json_response(factor, 201, {"Location": f"/v1/factors/{factor['id']}"})


@bp.get("")
def list_factors() -> Response:
    try:
        query = schemas.LIST_FACTORS.load(request.args.to_dict())
    except ValidationError as exc:
        raise InvalidRequest("the query does not match the schema", errors=exc.messages) from None
    return json_response({"data": services().factors.for_subject(query["subject"], g.profile_id)})


@bp.get("/<factor_id>")
def get(factor_id: str) -> Response:
    return json_response(services().factors.get(factor_id, g.profile_id))


@bp.get("/<factor_id>/qr.png")
def qr_png(factor_id: str) -> Response:
    return Response(services().factors.qr_png(factor_id, g.profile_id), mimetype="image/png")


@bp.post("/<factor_id>/verify")
def verify(factor_id: str) -> Response:
    data = json_body(schemas.CHECK_CODE)
    return json_response(services().factors.verify(factor_id, data["code"], g.profile_id))


@bp.post("/<factor_id>/check")
def check(factor_id: str) -> Response:
    data = json_body(schemas.CHECK_CODE)
    return json_response(services().factors.check(factor_id, data["code"], g.profile_id))


@bp.delete("/<factor_id>")
def delete(factor_id: str) -> Response:
    services().factors.delete(factor_id, g.profile_id)
    return no_content()
