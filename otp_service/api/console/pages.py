"""The overview, drawn from ``data.py``."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, url_for

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
