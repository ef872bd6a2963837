"""Verifications: search the history of ended verifications, newest first, and read one's
timeline. Through ``HistoryService``, as ``GET /v1/admin/verifications``: read-only, so
nothing here is audited.

A search by number is a POST (with its CSRF token) answered with the results, never
redirected: the number stays out of URLs, the browser's history and the server's logs.
The other filters and the cursor are in the query string, so a page can be linked and
paged. Numbers on the pages are masked, as the history keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for

from otp_service import errors
from otp_service.admin import Page
from otp_service.api import query
from otp_service.api.console import web
from otp_service.api.http import services
from otp_service.history.service import STATUSES
from otp_service.phones import mask_phone

bp = Blueprint("verifications", __name__, url_prefix="/verifications")
PAGE_SIZE = 50
PROFILES_SHOWN = 200  # in the profile filter's list
FILTERS = ("profile", "status", "created_after", "created_before")


@bp.get("")
def list_verifications() -> Response:
    filters = {name: request.args.get(name, "").strip()[:64] for name in FILTERS}
    return _search(filters, cursor=request.args.get("cursor") or None)


@bp.post("")
def search_number() -> Response:
    """The form: with a number, its results on this answer; without, the filters as a
    link (a GET that can be reloaded and paged)."""
    phone = web.field("phone_number", 40)
    filters = {name: web.field(name, 64) for name in FILTERS}
    if not phone:
        kept = {name: value for name, value in filters.items() if value}
        return redirect(url_for("console.verifications.list_verifications", **kept), 303)
    return _search(filters, phone=phone)


def _search(
    filters: Mapping[str, str], *, phone: str | None = None, cursor: str | None = None
) -> Response:
    found: dict[str, Any] = {"data": [], "meta": {"next_cursor": None}}
    problem: errors.ServiceError | None = None
    try:
        found = services().history.search(
            phone_number=phone,
            profile=filters["profile"] or None,
            status=query.one_of({"status": filters["status"]}, "status", STATUSES)
            if filters["status"]
            else None,
            created_after=_time(filters, "created_after"),
            created_before=_time(filters, "created_before"),
            limit=PAGE_SIZE,
            cursor=cursor,
        )
    except errors.InvalidRequest as exc:
        problem = exc  # the page shows it; the number typed is not shown back
    next_cursor = found["meta"]["next_cursor"]
    kept = {name: value for name, value in filters.items() if value}
    return web.render(
        "verifications.html",
        status=problem.status if problem else 200,
        page="verifications",
        rows=found["data"],
        filters=filters,
        statuses=STATUSES,
        profiles=services().profiles.list_page(Page(1, PROFILES_SHOWN))["data"],
        searched=mask_phone(phone) if phone and not problem else None,
        first_page=(
            url_for("console.verifications.list_verifications", **kept) if cursor else None
        ),
        next_page=(
            url_for("console.verifications.list_verifications", cursor=next_cursor, **kept)
            if next_cursor and not phone
            else None
        ),
        # a number's older ones: by the dates (a link would have to carry the number)
        more_of_number=bool(phone and next_cursor),
        page_size=PAGE_SIZE,
        problem=problem,
    )


def _time(filters: Mapping[str, str], name: str) -> int | None:
    """A time of the form (``datetime-local``: UTC, no zone) as ms, or None when empty."""
    value = filters[name]
    return query.time_param({name: value}, name) if value else None


@bp.get("/<verification_id>")
def show_verification(verification_id: str) -> Response:
    """One verification with its sends, checks and timeline, from the history (only
    ended verifications are there: a pending one is ``GET /v1/verifications/{id}``)."""
    record = services().history.get(verification_id[:64])["data"]
    return web.render("verification.html", page="verifications", v=record)
