"""Webhook endpoints of a profile and their deliveries: list, create, enable and disable,
rotate the secret, send a test, delete; an endpoint's deliveries, with retry and replay.
Through ``EndpointService``, as the admin API: the same checks, every change audited
under the signed-in key's id.

A secret is in the answer to the form that made it (create, rotate) only, sent
``no-store``: no redirect, so no other page, notice, session or log ever holds it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request, url_for

from otp_service import errors
from otp_service.admin import Page
from otp_service.api.console import web
from otp_service.api.http import services
from otp_service.events.catalog import EVENT_TYPES
from otp_service.ids import DEFAULT_PROFILE

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
PROFILES_SHOWN = 200  # in the profile selector
DELIVERIES_PAGE = 25


@bp.get("")
def list_endpoints() -> Response:
    profile_id = (request.args.get("profile") or DEFAULT_PROFILE)[:64]
    return _endpoints_page(profile_id)


def _endpoints_page(
    profile_id: str,
    *,
    problem: errors.ServiceError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    found = services()
    endpoints: list[dict[str, Any]] = []
    try:
        endpoints = found.endpoints.list(profile_id)["data"]
    except errors.NotFound as exc:  # a profile that is gone: say so, keep the selector
        problem = problem or exc
    return web.render(
        "webhooks.html",
        status=problem.status if problem else 200,
        page="webhooks",
        profile_id=profile_id,
        profiles=found.profiles.list_page(Page(1, PROFILES_SHOWN))["data"],
        endpoints=endpoints,
        event_types=EVENT_TYPES,
        form=form or {"events": []},
        problem=problem,
    )


@bp.post("/<profile_id>")
def create_endpoint(profile_id: str) -> Response:
    form = {
        "url": web.field("url", 2048),
        "description": web.field("description", 200),
        "events": request.form.getlist("events")[: len(EVENT_TYPES)],
    }
    body = {"url": form["url"], "events": form["events"], "description": form["description"]}
    try:
        created = services().endpoints.create(profile_id, body, actor=g.key_id)["data"]
    except errors.InvalidRequest as exc:  # a bad URL, an address not allowed: on the form
        return _endpoints_page(profile_id, problem=exc, form=form)
    return _endpoint_page(profile_id, created["id"], new_secret=created["secret"], status=201)


@bp.get("/<profile_id>/<endpoint_id>")
def show_endpoint(profile_id: str, endpoint_id: str) -> Response:
    cursor = request.args.get("cursor", "")[:40] or None
    try:
        return _endpoint_page(profile_id, endpoint_id, cursor=cursor)
    except errors.InvalidRequest:  # not a cursor this page made: the newest page
        return _endpoint_page(profile_id, endpoint_id)


def _endpoint_page(
    profile_id: str,
    endpoint_id: str,
    *,
    cursor: str | None = None,
    problem: errors.ServiceError | None = None,
    new_secret: str | None = None,
    status: int = 200,
) -> Response:
    found = services().endpoints
    endpoint = found.get(profile_id, endpoint_id)["data"]
    deliveries = found.deliveries(
        profile_id, endpoint_id, limit=DELIVERIES_PAGE, before=None, cursor=cursor
    )
    rows = deliveries["data"]
    older = None
    if deliveries["meta"]["next_cursor"] is not None:
        older = url_for(
            "console.webhooks.show_endpoint",
            profile_id=profile_id,
            endpoint_id=endpoint_id,
            cursor=deliveries["meta"]["next_cursor"],
        )
    response = web.render(
        "webhook.html",
        status=problem.status if problem else status,
        page="webhooks",
        profile_id=profile_id,
        endpoint=endpoint,
        deliveries=rows,
        older=older,
        paged=cursor is not None,
        new_secret=new_secret,
        problem=problem,
    )
    if new_secret:
        response.headers["Cache-Control"] = "no-store"
    return response


def _back(message: str, profile_id: str, endpoint_id: str) -> Response:
    return web.done(
        message, "console.webhooks.show_endpoint", profile_id=profile_id, endpoint_id=endpoint_id
    )


@bp.post("/<profile_id>/<endpoint_id>/enable")
def enable(profile_id: str, endpoint_id: str) -> Response:
    services().endpoints.update(profile_id, endpoint_id, {"enabled": True}, actor=g.key_id)
    return _back("Enabled: events are delivered to it again.", profile_id, endpoint_id)


@bp.post("/<profile_id>/<endpoint_id>/disable")
def disable(profile_id: str, endpoint_id: str) -> Response:
    services().endpoints.update(profile_id, endpoint_id, {"enabled": False}, actor=g.key_id)
    return _back("Disabled: no event is delivered to it.", profile_id, endpoint_id)


@bp.post("/<profile_id>/<endpoint_id>/rotate-secret")
def rotate_secret(profile_id: str, endpoint_id: str) -> Response:
    """The new secret on this answer only; the old one signs beside it for 24 hours."""
    rotated = services().endpoints.rotate_secret(profile_id, endpoint_id, actor=g.key_id)["data"]
    return _endpoint_page(profile_id, endpoint_id, new_secret=rotated["secret"])


@bp.post("/<profile_id>/<endpoint_id>/test")
def send_test(profile_id: str, endpoint_id: str) -> Response:
    services().endpoints.send_test(profile_id, endpoint_id, actor=g.key_id)
    return _back("A ping event is queued: the worker delivers it.", profile_id, endpoint_id)


@bp.post("/<profile_id>/<endpoint_id>/delete")
def delete(profile_id: str, endpoint_id: str) -> Response:
    services().endpoints.delete(profile_id, endpoint_id, actor=g.key_id)
    return web.done(
        f"Deleted endpoint {endpoint_id[:40]}.",
        "console.webhooks.list_endpoints",
        profile=profile_id,
    )


@bp.post("/<profile_id>/<endpoint_id>/deliveries/<delivery_id>/retry")
def retry(profile_id: str, endpoint_id: str, delivery_id: str) -> Response:
    services().endpoints.retry(profile_id, endpoint_id, delivery_id, actor=g.key_id)
    return _back("The delivery is due again now: the worker sends it.", profile_id, endpoint_id)


@bp.post("/<profile_id>/<endpoint_id>/replay")
def replay(profile_id: str, endpoint_id: str) -> Response:
    """Every failed delivery since a time (the form's ``datetime-local``, read as UTC)."""
    try:
        queued = services().endpoints.replay(
            profile_id, endpoint_id, {"since": web.field("since", 40)}, actor=g.key_id
        )["data"]["queued"]
    except errors.InvalidRequest as exc:
        return _endpoint_page(profile_id, endpoint_id, problem=exc)
    return _back(f"Replaying {queued} failed delivery(ies).", profile_id, endpoint_id)
