"""The one handler that renders every error as an RFC 9457 problem document.

``ServiceError``s (``otp_service.errors``), Werkzeug's own HTTP errors (a 404 before any
view, a 405, a 413), Redis out of reach (503 ``storage_unavailable``) and anything
unexpected (500, logged with its traceback) all leave through ``problem_response``.
"""

from __future__ import annotations

import logging

import redis.exceptions
from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from otp_service import errors, metrics

__all__ = ["PROBLEM_JSON", "init_app", "problem_response"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

# Werkzeug's HTTP errors that requests can trigger before a view runs.
_HTTP_ERRORS: dict[int, type[errors.ServiceError]] = {
    400: errors.InvalidRequest,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
}


def problem_response(error: errors.ServiceError) -> Response:
    response = Response(json.dumps(error.to_dict()), status=error.status, mimetype=PROBLEM_JSON)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _from_http_exception(exc: HTTPException) -> errors.ServiceError:
    status = exc.code or 500
    cls = _HTTP_ERRORS.get(status)
    if cls is None:
        return (
            errors.ServiceError(exc.name, status=status) if status < 500 else errors.InternalError()
        )
    error = cls(status=400) if cls is errors.InvalidRequest else cls()
    if cls is errors.MethodNotAllowed and getattr(exc, "valid_methods", None):
        error.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return error


def init_app(app: Flask) -> None:
    """Register the one renderer for every error the app can raise."""

    @app.errorhandler(errors.ServiceError)
    def _service_error(error: errors.ServiceError) -> Response:
        return problem_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return problem_response(_from_http_exception(exc))

    @app.errorhandler(redis.exceptions.RedisError)
    def _redis_error(exc: redis.exceptions.RedisError) -> Response:
        metrics.child(metrics.REDIS_ERRORS, type(exc).__name__).inc()
        if isinstance(exc, errors.REDIS_UNAVAILABLE):
            log.warning("redis unavailable: %s", type(exc).__name__)
            return problem_response(
                errors.StorageUnavailable("Redis is not reachable; retry later")
            )
        log.error("redis error: %s", type(exc).__name__)
        return problem_response(errors.InternalError())

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(errors.InternalError())
