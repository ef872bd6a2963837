"""The admin API: /v1/admin — sending numbers, opt-outs, the audit log. Admin keys only."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, g, request
from marshmallow import RAISE, Schema, fields, validate

from otp_service import errors
from otp_service.admin import BULK_MAX_NUMBERS, IMPORT_MAX_BYTES, Page
from otp_service.api import query
from otp_service.api.auth import require_admin
from otp_service.api.http import (
    audited_body,
    json_body,
    json_response,
    no_content,
    optional_json_body,
    raw_body,
    services,
)

bp = Blueprint("admin", __name__, url_prefix="/v1/admin")
bp.before_request(require_admin)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


# Telnyx ids and names go to Telnyx as they are: nothing invisible in them.
NO_CONTROLS = validate.Regexp(r"[^\x00-\x1f\x7f]*\Z", error="must not contain control characters")


class UpdateNumberSchema(_Strict):
    # "" unassigns
    messaging_profile_id = fields.String(validate=[validate.Length(max=64), NO_CONTROLS])
    messaging_product = fields.String(validate=[validate.Length(min=1, max=64), NO_CONTROLS])


class BulkUpdateSchema(_Strict):
    messaging_profile_id = fields.String(
        required=True, validate=[validate.Length(max=64), NO_CONTROLS]
    )
    numbers = fields.List(
        fields.String(), required=True, validate=validate.Length(min=1, max=BULK_MAX_NUMBERS)
    )


class SyncSchema(_Strict):
    messaging_profile_id = fields.String(validate=[validate.Length(min=1, max=64), NO_CONTROLS])


# Ids in the path go into Telnyx's path: only their resource's form, so that no "..", "."
# or other segment can turn the call into another Telnyx endpoint.
NUMBER_ID = re.compile(r"[0-9]{1,32}|\+[1-9][0-9]{1,14}")  # Telnyx's id, or the number
ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # a UUID at Telnyx
NUMBER_ID_FORM = "must be Telnyx's numeric id of the number, or the number in E.164"
ORDER_ID_FORM = "must be letters, digits, '-' and '_' (a bulk update's order id)"

UPDATE_NUMBER = UpdateNumberSchema()
BULK_UPDATE = BulkUpdateSchema()
SYNC = SyncSchema()


def _query_string() -> dict[str, str]:
    return query.single_values(request.args)


def _telnyx_list(
    operation: str, fetch: Callable[[Page, Mapping[str, str]], dict[str, Any]]
) -> Response:
    """A Telnyx list, its query checked against ``operation``'s names."""
    page, filters = query.telnyx_list(_query_string(), operation)
    return json_response(fetch(page, filters))


def _actor() -> str:
    return g.key_id


def _path_id(name: str, value: str, form: re.Pattern[str], description: str) -> str:
    """``value``, or 422 ``invalid_request`` naming the path parameter."""
    if not form.fullmatch(value):
        raise errors.InvalidRequest(f"{name} is not valid", errors={name: [description]})
    return value


def _number_id(value: str) -> str:
    return _path_id("number_id", value, NUMBER_ID, NUMBER_ID_FORM)


# -- numbers ---------------------------------------------------------------------------
@bp.get("/phone-numbers")
def list_phone_numbers() -> Response:
    return _telnyx_list(
        "ListPhoneNumbersWithMessagingSettings", services().numbers_admin.list_phone_numbers
    )


@bp.get("/phone-numbers/<number_id>")
def get_phone_number(number_id: str) -> Response:
    return json_response(services().numbers_admin.get_phone_number(_number_id(number_id)))


@bp.patch("/phone-numbers/<number_id>")
def update_phone_number(number_id: str) -> Response:
    number_id = _number_id(number_id)
    data = audited_body(lambda: json_body(UPDATE_NUMBER), "phone_number.update", number_id)
    return json_response(
        services().numbers_admin.update_phone_number(number_id, actor=_actor(), **data)
    )


@bp.post("/phone-numbers/bulk-updates")
def create_bulk_update() -> Response:
    data = audited_body(lambda: json_body(BULK_UPDATE), "phone_numbers.bulk_update", "-")
    body = services().numbers_admin.bulk_update(actor=_actor(), **data)
    location = f"/v1/admin/phone-numbers/bulk-updates/{body['data'].get('order_id', '')}"
    return json_response(body, 202, {"Location": location})


@bp.get("/phone-numbers/bulk-updates/<order_id>")
def get_bulk_update(order_id: str) -> Response:
    order_id = _path_id("order_id", order_id, ORDER_ID, ORDER_ID_FORM)
    return json_response(services().numbers_admin.get_bulk_update(order_id))


@bp.get("/mobile-phone-numbers")
def list_mobile_phone_numbers() -> Response:
    return _telnyx_list(
        "ListMobilePhoneNumbersWithMessagingSettings",
        services().numbers_admin.list_mobile_phone_numbers,
    )


@bp.get("/mobile-phone-numbers/<number_id>")
def get_mobile_phone_number(number_id: str) -> Response:
    return json_response(services().numbers_admin.get_mobile_phone_number(_number_id(number_id)))


@bp.get("/short-codes")
def list_short_codes() -> Response:
    return _telnyx_list("ListShortCodes", services().numbers_admin.list_short_codes)


@bp.get("/messaging-profiles")
def list_messaging_profiles() -> Response:
    return _telnyx_list("ListMessagingProfiles", services().numbers_admin.list_messaging_profiles)


# -- opt-outs --------------------------------------------------------------------------
@bp.get("/opt-outs")
def list_optouts() -> Response:
    page, where = query.optout_list(_query_string())
    return json_response(services().optout_admin.list_optouts(page, where))


@bp.get("/opt-outs/<phone_number>")
def get_optout(phone_number: str) -> Response:
    return json_response(services().optout_admin.get_optout(phone_number))


@bp.put("/opt-outs/<phone_number>")
def add_optout(phone_number: str) -> Response:
    added, body = services().optout_admin.add_optout(phone_number, actor=_actor())
    return json_response(body, 201 if added else 200)


@bp.delete("/opt-outs/<phone_number>")
def remove_optout(phone_number: str) -> Response:
    services().optout_admin.remove_optout(phone_number, actor=_actor())
    return no_content()


@bp.post("/opt-outs/sync")
def sync_optouts() -> Response:
    data = audited_body(lambda: optional_json_body(SYNC), "optouts.sync", "*")
    return json_response(services().optout_admin.sync_optouts(actor=_actor(), **data))


@bp.get("/opt-outs/export")
def export_optouts() -> Response:
    chunks = services().optout_admin.export_csv(query.optout_export(_query_string()))
    return Response(
        chunks,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="opt-outs.csv"'},
    )


@bp.post("/opt-outs/import")
def import_optouts() -> Response:
    data = audited_body(_csv_file, "optouts.import", "*")
    return json_response(services().optout_admin.import_csv(data, actor=_actor()))


def _csv_file() -> bytes:
    if request.mimetype != "text/csv":
        raise errors.UnsupportedMediaType("send the file as text/csv")
    return raw_body(IMPORT_MAX_BYTES)  # a file, not an API body


# -- audit -----------------------------------------------------------------------------
@bp.get("/audit")
def list_audit() -> Response:
    page, where = query.audit_list(_query_string())
    return json_response(services().audit.list_page(page, where))
