"""The admin API of a profile's webhook endpoints and their deliveries:
/v1/admin/profiles/{profile_id}/webhooks. Admin keys only.

The bodies' shapes are typed here (unknown fields refused); what a value may be (a URL
that is allowed, known event types) is ``events.endpoints``'s, shared with the CLI.
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

bp = Blueprint("endpoints", __name__, url_prefix="/v1/admin/profiles/<profile_id>/webhooks")
bp.before_request(require_admin)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class EndpointSchema(_Strict):
    url = fields.String()
    events = fields.List(fields.String(), allow_none=True)
    description = fields.String(allow_none=True)
    enabled = fields.Raw()  # checked: a JSON boolean


class ReplaySchema(_Strict):
    since = fields.String(required=True)


ENDPOINT = EndpointSchema()
REPLAY = ReplaySchema()
DELIVERIES_PAGE = 20


@bp.post("")
def create_endpoint(profile_id: str) -> Response:
    body = audited_body(
        lambda: optional_json_body(ENDPOINT), "webhook.create", "*", {"profile": profile_id[:64]}
    )
    answer = services().endpoints.create(profile_id, body, actor=g.key_id)
    location = f"/v1/admin/profiles/{profile_id}/webhooks/{answer['data']['id']}"
    return json_response(answer, 201, {"Location": location})


@bp.get("")
def list_endpoints(profile_id: str) -> Response:
    return json_response(services().endpoints.list(profile_id))


@bp.get("/<endpoint_id>")
def get_endpoint(profile_id: str, endpoint_id: str) -> Response:
    return json_response(services().endpoints.get(profile_id, endpoint_id))


@bp.patch("/<endpoint_id>")
def update_endpoint(profile_id: str, endpoint_id: str) -> Response:
    body = audited_body(lambda: optional_json_body(ENDPOINT), "webhook.update", endpoint_id[:64])
    return json_response(services().endpoints.update(profile_id, endpoint_id, body, actor=g.key_id))


@bp.delete("/<endpoint_id>")
def delete_endpoint(profile_id: str, endpoint_id: str) -> Response:
    services().endpoints.delete(profile_id, endpoint_id, actor=g.key_id)
    return no_content()


@bp.post("/<endpoint_id>/rotate-secret")
def rotate_secret(profile_id: str, endpoint_id: str) -> Response:
    return json_response(
        services().endpoints.rotate_secret(profile_id, endpoint_id, actor=g.key_id)
    )


@bp.post("/<endpoint_id>/test")
def send_test(profile_id: str, endpoint_id: str) -> Response:
    return json_response(
        services().endpoints.send_test(profile_id, endpoint_id, actor=g.key_id), 202
    )


@bp.get("/<endpoint_id>/deliveries")
def list_deliveries(profile_id: str, endpoint_id: str) -> Response:
    params = query.single_values(request.args)
    query.only(params, ("limit", "before", "cursor"))
    limit = query.int_param(params, "limit", DELIVERIES_PAGE, 1, 100)
    answer = services().endpoints.deliveries(
        profile_id,
        endpoint_id,
        limit=limit,
        before=query.time_param(params, "before"),
        cursor=params.get("cursor"),
    )
    return json_response(answer)


@bp.post("/<endpoint_id>/deliveries/<delivery_id>/retry")
def retry_delivery(profile_id: str, endpoint_id: str, delivery_id: str) -> Response:
    answer = services().endpoints.retry(profile_id, endpoint_id, delivery_id, actor=g.key_id)
    return json_response(answer, 202)


@bp.post("/<endpoint_id>/replay")
def replay(profile_id: str, endpoint_id: str) -> Response:
    body = audited_body(lambda: optional_json_body(REPLAY), "webhook.replay", endpoint_id[:64])
    answer = services().endpoints.replay(profile_id, endpoint_id, body, actor=g.key_id)
    return json_response(answer, 202)
