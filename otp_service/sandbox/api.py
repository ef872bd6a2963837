"""The ``/v2`` request pipeline around the handlers, with one route per spec operation.

Every request goes: injected fault (``X-Sandbox-*`` headers, else the fault queue) →
Bearer auth (401, 10009) → route (404, 10005) → query and body validation against the
spec (422, or 400 where the spec documents only 400) → handler under the state lock →
deep copy of the answer → optional held-back latency. Path ids also accept the phone
number for number resources; a "+" that a query string turned into a space is restored.
The handlers themselves live in ``handlers/``, one module per API area.
"""

from __future__ import annotations

import copy
import hmac
import json
import logging
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from .core import current_sandbox, json_response
from .errors import ApiError, not_found, unauthorized
from .faults import fault_from_headers
from .handlers import HANDLERS, Req
from .spec import Operation, operations

__all__ = ["init_app"]

log = logging.getLogger("otp_service.sandbox")


def init_app(app: Flask) -> None:
    """Route every spec operation to its handler, with the pipeline and error rendering."""
    ops = {op.operation_id: op for op in operations()}
    missing = set(ops) - set(HANDLERS)
    if missing:
        raise RuntimeError(f"no sandbox handler for {sorted(missing)}")
    for op in ops.values():
        app.add_url_rule(op.rule, endpoint=op.operation_id, view_func=_view, methods=[op.method])
    app.extensions["sandbox_ops"] = ops
    app.before_request(_before)
    app.after_request(_after)
    app.register_error_handler(ApiError, _render_api_error)
    app.register_error_handler(HTTPException, _render_http_error)
    app.register_error_handler(Exception, _render_crash)


def _current_op() -> Operation | None:
    rule = request.url_rule
    if rule is None:
        return None
    return current_app.extensions["sandbox_ops"].get(rule.endpoint)


def _before() -> None:
    if not request.path.startswith("/v2"):
        return
    sb = current_sandbox()
    # A fault asked for in this request's headers wins; the queue is left for the next one.
    fault = fault_from_headers(request.headers, sb.config.timeout_fault_seconds)
    fault = fault or sb.faults.take(request.path)
    g.sandbox_delay = 0.0
    if fault is not None:
        if fault.status is not None:
            sb.hold(fault.latency_ms / 1000)
            raise fault.error()
        g.sandbox_delay = fault.latency_ms / 1000
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), sb.config.api_key.encode()
    ):
        raise unauthorized()


def _after(response: Response) -> Response:
    delay = g.get("sandbox_delay", 0.0)
    if delay:
        current_sandbox().hold(delay)
    return response


def _read_body(op: Operation) -> Any:
    if op.body_content_type == "multipart/form-data":
        return dict(request.form)
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError.one(
            400, "10015", "Bad Request", "The request body is not valid JSON."
        ) from None


def _view(**path: str) -> Response:
    sb = current_sandbox()
    op = _current_op()
    assert op is not None
    validator = sb.validators[op.operation_id]
    query = validator.parse_query(request.args)
    body = _read_body(op) if op.body_content_type else {}
    validator.check_body(body)
    req = Req(op, query, body, request.args, request.path, request.files)
    with sb.state.lock:
        result = HANDLERS[op.operation_id](sb, req, **path)
        status = op.success_status
        if isinstance(result, tuple):
            result, status = result
        result = copy.deepcopy(result)
    if result is None:
        return Response(status=status)
    return json_response(result, status)


def _render_api_error(err: ApiError) -> Response:
    body: dict[str, Any] = {"errors": err.errors}
    op = _current_op()
    if op is not None and err.status in op.bare_error_statuses and err.errors:
        # The spec documents a bare error object here; keep "errors" for clients too.
        body = {**err.errors[0], "errors": err.errors}
    return json_response(body, err.status, err.headers)


def _render_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        return _render_api_error(not_found("resource or URL"))
    if status == 405:
        return _render_api_error(
            ApiError.one(405, "10015", "Method not allowed", f"{request.method} is not allowed.")
        )
    return _render_api_error(ApiError.one(status, "10015", exc.name, exc.description))


def _render_crash(exc: Exception) -> Response:
    log.exception("sandbox handler crashed")
    return _render_api_error(
        ApiError.one(500, "10007", "Unexpected error", f"{type(exc).__name__}: {exc}")
    )
