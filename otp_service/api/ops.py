"""Operations: liveness, readiness, metrics, the OpenAPI document and a page rendering it."""

from __future__ import annotations

import functools
import mimetypes
from importlib import resources
from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Response, abort

from otp_service import errors
from otp_service import metrics as prometheus
from otp_service.api.auth import require_metrics_token
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


@bp.get("/metrics")
def metrics() -> Response:
    require_metrics_token()
    body, content_type = prometheus.render()
    return Response(body, content_type=content_type)


@bp.get("/openapi.yaml")
def openapi() -> Response:
    spec = resources.files("otp_service").joinpath("openapi.yaml").read_bytes()
    return Response(spec, mimetype="application/yaml")


@bp.get("/docs")
def docs() -> Response:
    return Response(DOCS_PAGE, mimetype="text/html")


@bp.get("/docs/static/<name>")
def docs_asset(name: str) -> Response:
    if name not in DOCS_ASSETS:
        abort(404)
    response = Response(_asset(name), mimetype=mimetypes.guess_type(name)[0])
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@functools.cache
def _asset(name: str) -> bytes:
    """Swagger UI's files, read once (they are served from memory, no file handles)."""
    return (Path(swagger_ui_bundle.swagger_ui_path) / name).read_bytes()
