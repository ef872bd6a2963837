"""The pages drawn from ``data.py``: overview, verifications, webhooks."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from otp_service.api.console import data, web
from otp_service.api.http import services

bp = Blueprint("pages", __name__)


@bp.get("")
@bp.get("/")
def home() -> Response:
    return redirect(url_for("console.pages.overview"))


@bp.get("/overview")
def overview() -> Response:
    found = services()
    return web.render(
        "overview.html", page="overview", view=data.overview(found, found.audit.clock())
    )


@bp.get("/verifications")
def verifications() -> Response:
    view = data.verifications(services(), request.args)
    return web.render("verifications.html", page="verifications", view=view)


@bp.get("/webhooks")
def webhooks() -> Response:
    return web.render("webhooks.html", page="webhooks", view=data.webhooks(services()))
