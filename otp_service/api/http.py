"""Helpers every view uses: the JSON body, JSON responses, the app's services."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from flask import Response, current_app, g, request
from marshmallow import Schema, ValidationError

from otp_service import errors
from otp_service.api.flask_shortcuts import read_body

__all__ = [
    "CURRENT_SERVICES",
    "MAX_JSON_DEPTH",
    "audited_body",
    "body_fingerprint",
    "json_body",
    "json_response",
    "no_content",
    "optional_json_body",
    "parse_json",
    "raw_body",
    "services",
]

log = logging.getLogger(__name__)

# Deeper bodies are refused before parsing: the parser (and anything walking the result)
# recurses once a level, and no request of ours nests more than a few.
MAX_JSON_DEPTH = 32

# where json_body leaves the parsed body in the WSGI environ, for body_fingerprint
JSON_DATA = "otp.json_data"

# made once: json.dumps with options builds a new encoder on every call
_encode = json.JSONEncoder(separators=(",", ":")).encode


# The services of the app answering this thread's request, set by RequestMiddleware for
# the request's length: ``current_app`` resolves a context variable and a proxy on every
# access (~0.65 µs), and a request asked for the services three or four times.
CURRENT_SERVICES: ContextVar[Any] = ContextVar("otp_services")


def services() -> Any:
    found = CURRENT_SERVICES.get(None)
    return found if found is not None else current_app.extensions["otp"]


def raw_body(max_bytes: int | None = None, environ: dict[str, Any] | None = None) -> bytes:
    """The request body, refused with a 413 past ``max_bytes`` (default: OTP_MAX_BODY_BYTES,
    the app's MAX_CONTENT_LENGTH; read from the settings, as ``request.max_content_length``
    looks the app up through two proxies, ~1.8 µs). ``environ``: the request's, when the
    caller has it already (each ``request`` access resolves the proxy again)."""
    limit = services().settings.max_body_bytes if max_bytes is None else max_bytes
    return read_body(request.environ if environ is None else environ, limit)


T = TypeVar("T")


def audited_body(
    read: Callable[[], T], action: str, target: str, detail: dict[str, Any] | None = None
) -> T:
    """``read()``: an admin change's body as its route takes it. One refused before the
    change is tried (not JSON, an unknown field, a wrong type, too large) is in the audit
    log like the changes the services refuse (``action``, the problem's code and status),
    then answered as it would have been."""
    try:
        return read()
    except errors.ServiceError as exc:
        try:
            services().audit.record(
                key_id=g.key_id,
                action=action,
                target=target,
                result=exc.code,
                status=exc.status,
                detail=detail or {},
            )
        except Exception:  # Redis down: the refusal itself stands, as the services' do
            log.exception("audit entry for a refused %s not written", action)
        raise


def json_body(schema: Schema) -> Any:
    """The body, parsed as JSON and validated by ``schema``."""
    environ = request.environ
    _require_json(environ)
    return _load(schema, raw_body(environ=environ), environ)


def optional_json_body(schema: Schema) -> Any:
    """As ``json_body``, for a route whose body may be left out: no body at all is
    ``{}``. A chunked body (no Content-Length, as gunicorn passes it on) is read first:
    it may be empty too."""
    environ = request.environ
    raw = raw_body(environ=environ)
    if not raw:
        return {}
    _require_json(environ)
    return _load(schema, raw, environ)


def _require_json(environ: dict[str, Any]) -> None:
    # request.mimetype parses the header on every access: only when it is not plain
    if environ.get("CONTENT_TYPE") != "application/json":
        mimetype = request.mimetype
        if not (mimetype == "application/json" or mimetype.endswith("+json")):
            raise errors.UnsupportedMediaType("send the body as application/json")


def _load(schema: Schema, raw: bytes, environ: dict[str, Any]) -> Any:
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise errors.InvalidRequest("the body must be a JSON object", status=400)
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        raise errors.InvalidRequest(
            "the body does not match the schema", errors=exc.messages
        ) from None
    environ[JSON_DATA] = data
    return loaded


def parse_json(raw: bytes) -> Any:
    """``raw`` parsed as JSON, or 400 ``invalid_request``: not UTF-8, not JSON, nested
    deeper than ``MAX_JSON_DEPTH``, or holding a string UTF-8 cannot encode (a lone
    surrogate escape such as ``"\\ud800"``), which would fail wherever it is written.

    Cheap for the usual small body: the depth is only scanned when there are more
    brackets than levels allowed, the strings only walked when a ``\\uD…`` escape is there.
    """
    try:
        # strictly UTF-8 (json.loads would take UTF-16, and encoded surrogates)
        text = raw.decode()
    except UnicodeDecodeError:
        raise errors.InvalidRequest("the body is not UTF-8", status=400) from None
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _too_deep(text):
        raise errors.InvalidRequest(
            f"the body nests deeper than {MAX_JSON_DEPTH} levels", status=400
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise errors.InvalidRequest("the body is not valid JSON", status=400) from None
    if ("\\ud" in text or "\\uD" in text) and not _encodable(data):
        raise errors.InvalidRequest(
            "the body holds a string that is not valid Unicode (a lone surrogate)",
            status=400,
        )
    return data


def _too_deep(text: str) -> bool:
    """Whether ``text`` nests deeper than ``MAX_JSON_DEPTH``, brackets inside strings
    not counted. One pass, whatever the input (a regex over strings can backtrack)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _encodable(data: Any) -> bool:
    """Whether every string of ``data`` (keys included) can be written as UTF-8."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def body_fingerprint() -> str:
    """A digest of the JSON body ``json_body`` read, insensitive to key order and spacing
    (to tell an Idempotency-Key's retry from another request); computed only when asked."""
    canonical = json.dumps(request.environ[JSON_DATA], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(_encode(body), status=status, content_type="application/json")
    if headers:
        response.headers.update(headers)
    return response


def no_content() -> Response:
    """A 204: no body, so no Content-Type (Flask would label it text/html)."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response
