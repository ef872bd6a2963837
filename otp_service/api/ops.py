"""Operations: liveness, readiness, the OpenAPI document and a page that renders it."""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response, abort, send_from_directory

from otp_service import errors
from otp_service.api.http import json_response, services

bp = Blueprint("ops", __name__)

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>otp-service API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.yaml", dom_id: "#docs"});</script>
</body></html>
"""
DOCS_ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js"}


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    try:
        services().store.ping()
    except errors.REDIS_UNAVAILABLE as exc:
        raise errors.StorageUnavailable("Redis is not reachable") from exc
    return json_response({"status": "ready"})


@bp.get("/openapi.yaml")
def openapi() -> Response:
    spec = resources.files("otp_service").joinpath("openapi.yaml").read_bytes()
    return Response(spec, mimetype="application/yaml")


@bp.get("/docs")
def docs() -> Response:
    return Response(DOCS_PAGE, mimetype="text/html")


@bp.get("/docs/static/<name>")
def docs_asset(name: str) -> Response:
    import swagger_ui_bundle

    if name not in DOCS_ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=86400)
