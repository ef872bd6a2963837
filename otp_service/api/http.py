"""Helpers every view uses: the JSON body, JSON responses, the app's services."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, current_app, g, request
from marshmallow import Schema, ValidationError

from otp_service import errors
from otp_service.api.flask_shortcuts import read_body

__all__ = ["body_fingerprint", "json_body", "json_response", "raw_body", "services"]

# made once: json.dumps with options builds a new encoder on every call
_encode = json.JSONEncoder(separators=(",", ":")).encode


def services() -> Any:
    return current_app.extensions["otp"]


def raw_body(max_bytes: int | None = None) -> bytes:
    """The request body, refused with a 413 past ``max_bytes`` (default: the app's limit)."""
    limit = request.max_content_length if max_bytes is None else max_bytes
    return read_body(request.environ, limit)


def json_body(schema: Schema) -> Any:
    """The body, parsed as JSON and validated by ``schema``."""
    # request.mimetype parses the header on every access: only when it is not plain
    if request.environ.get("CONTENT_TYPE") != "application/json":
        mimetype = request.mimetype
        if not (mimetype == "application/json" or mimetype.endswith("+json")):
            raise errors.UnsupportedMediaType("send the body as application/json")
    raw = raw_body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidRequest("the body is not valid JSON", status=400) from None
    if not isinstance(data, dict):
        raise errors.InvalidRequest("the body must be a JSON object", status=400)
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        raise errors.InvalidRequest(
            "the body does not match the schema", errors=exc.messages
        ) from None
    g.json_data = data
    return loaded


def body_fingerprint() -> str:
    """A digest of the JSON body ``json_body`` read, insensitive to key order and spacing
    (to tell an Idempotency-Key's retry from another request); computed only when asked."""
    canonical = json.dumps(g.json_data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(_encode(body), status=status, content_type="application/json")
    if headers:
        response.headers.update(headers)
    return response
