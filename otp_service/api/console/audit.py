"""The audit log: every admin change, newest first, by action; phone numbers masked."""

from __future__ import annotations

from flask import Blueprint, Response, request

from otp_service.admin import AuditFilter, Page
from otp_service.admin.audit import ACTIONS
from otp_service.api.console import web
from otp_service.api.http import services

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 50


@bp.get("")
def list_audit() -> Response:
    action = request.args.get("action") or None
    if action not in ACTIONS:
        action = None
    number = web.page_number()
    found = services().audit.list_page(Page(number, PAGE_SIZE), AuditFilter(action=action))
    return web.render(
        "audit.html",
        page="audit",
        entries=found["data"],
        meta=found["meta"],
        page_number=number,
        action=action,
        actions=ACTIONS,
    )
