"""The admin API of the history and the insights: /v1/admin/verifications and
/v1/admin/insights. Admin keys only; read-only (nothing here is audited)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from otp_service import errors
from otp_service.api import query
from otp_service.api.auth import require_admin
from otp_service.api.http import json_response, services
from otp_service.history.service import GROUPS, STATUSES

bp = Blueprint("history", __name__, url_prefix="/v1/admin")
bp.before_request(require_admin)

SEARCH = ("phone_number", "profile", "status", "created_after", "created_before", "limit", "cursor")


@bp.get("/verifications")
def search() -> Response:
    params = query.single_values(request.args)
    query.only(params, SEARCH)
    answer = services().history.search(
        phone_number=params.get("phone_number"),
        profile=params.get("profile"),
        status=query.one_of(params, "status", STATUSES),
        created_after=query.time_param(params, "created_after"),
        created_before=query.time_param(params, "created_before"),
        limit=query.int_param(params, "limit", 50, 1, 100),
        cursor=params.get("cursor"),
    )
    return json_response(answer)


@bp.get("/verifications/<verification_id>")
def one(verification_id: str) -> Response:
    return json_response(services().history.get(verification_id))


@bp.get("/insights/summary")
def summary() -> Response:
    params = query.single_values(request.args)
    query.only(params, ("group_by", "from", "to"))
    group_by = query.one_of(params, "group_by", GROUPS)
    if group_by is None:
        raise errors.InvalidRequest(
            "group_by is required", errors={"group_by": [f"one of {', '.join(GROUPS)}"]}
        )
    answer = services().history.summary(
        group_by, query.time_param(params, "from"), query.time_param(params, "to")
    )
    return json_response(answer)


@bp.get("/insights/routes")
def routes() -> Response:
    query.only(query.single_values(request.args), ())
    return json_response(services().history.routes())
