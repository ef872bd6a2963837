"""What every HTTP request gets, wrapped around the Flask app at the WSGI level.

- an id: the caller's ``X-Request-ID`` when it is a sane token, else a new one, echoed
  in the response and written in the request line;
- ``Cache-Control: no-store`` unless the view chose otherwise (answers carry ids,
  numbers and check results: no cache may keep them);
- the connection closed after an answer that left the request body unread (a 413);
- a count and a latency (``metrics.observe_request``) and the request line
  (``access_log.AccessLog``).

This runs on every request, so it works on the WSGI environ and the header list
directly: the same in Flask hooks costs several times more (each hook dispatch,
context-local lookups, and Werkzeug's ``Headers``, whose ``setdefault`` raises and
catches an exception when a header is absent). The route and path ids come from the
request Werkzeug keeps in the environ (``werkzeug.request``) while the response starts:
Flask clears it when the request ends.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from otp_service import metrics
from otp_service.api.access_log import LOG_FIELDS, AccessLog
from otp_service.api.flask_shortcuts import UNREAD_BODY, close_connection, request_of
from otp_service.api.http import CURRENT_SERVICES

__all__ = ["REQUEST_ID", "RequestMiddleware"]

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # whole value: fullmatch
# New request ids: 128 random bits, unique, not secret (they are echoed and logged). Not
# os.urandom: it lets go of the GIL on every call, and under gunicorn's threads each
# release hands the interpreter to a waiting thread. A generator of their own, seeded
# from the OS and again in every forked worker, so their outputs tell nothing of
# ``random``'s.
_request_ids = random.Random()
os.register_at_fork(after_in_child=_request_ids.seed)
# Ids in a route's path that go into its log line as they are (they name no person).
LOGGED_PATH_IDS = ("verification_id", "factor_id")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestMiddleware:
    """WSGI middleware: request ids, no-store, metrics and the request line; the app's
    services as ``http.services()`` finds them while the request is answered."""

    def __init__(self, app: WSGIApp, access: AccessLog | None, services: Any = None) -> None:
        self.app = app
        self.access = access
        self.services = services

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = (
            given if REQUEST_ID.fullmatch(given) else f"{_request_ids.getrandbits(128):032x}"
        )
        answered: list[tuple[str, Any]] = []  # (status, the Flask request)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            for name, _ in headers:
                if name.lower() == "cache-control":
                    break
            else:
                headers.append(("Cache-Control", "no-store"))
            headers.append(("X-Request-ID", request_id))
            if UNREAD_BODY in environ:
                close_connection(start_response)
            answered.append((status, request_of(environ)))
            return start_response(status, headers, exc_info)

        serving = CURRENT_SERVICES.set(self.services)
        try:
            body = self.app(environ, start)
        finally:
            CURRENT_SERVICES.reset(serving)
        seconds = time.perf_counter() - started
        status_line, request = answered[-1] if answered else ("500", None)
        status = int(status_line[:3])
        rule = request.url_rule if request is not None else None
        route = rule.rule if rule is not None else "unmatched"
        method = environ.get("REQUEST_METHOD", "GET")
        metrics.observe_request(route, method, status, seconds)
        if self.access is not None:
            extra = dict(environ.get(LOG_FIELDS) or ())
            view_args = request.view_args if request is not None else None
            if view_args:
                for name in LOGGED_PATH_IDS:
                    if name in view_args:
                        extra.setdefault(name, view_args[name])
            self.access.write(request_id, method, route, status, seconds, extra)
        return body
