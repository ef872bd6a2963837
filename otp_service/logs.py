"""Logs: one JSON object a line, and one line per HTTP request.

Each request gets an id — the caller's ``X-Request-ID`` when it is a sane token, else a
new one — echoed in the response. The request line carries the route, status, duration,
and what the view chose to add (``log_fields``: a verification id, a masked number).
Nothing here ever writes a code, a key, a secret or a full phone number; views add only
masked numbers (``masking.mask_phone``).

Other records go through ``logging`` (``JsonFormatter``). The request line is written
straight to stderr in the same JSON shape: it is on every request's path, and the
logging machinery (a LogRecord, handler locks, formatting extras) cost several times
the line itself. OTP_ACCESS_LOG=off turns it off.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

__all__ = ["AccessLog", "JsonFormatter", "init_app", "log_fields"]

ACCESS_LOGGER = "otp_service.request"

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Ids in a route's path that go into its log line as they are (they name no person).
LOGGED_PATH_IDS = ("verification_id", "factor_id")
# Attributes of a LogRecord that are not extras.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def log_fields(**fields: Any) -> None:
    """Add fields to this request's log line (never a code, a key or a full number)."""
    g.setdefault("log_fields", {}).update(fields)


class AccessLog:
    """The request lines: JSON, one a line, on stderr (as it is at the time of writing)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def write(self, level: str, fields: dict[str, Any]) -> None:
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "logger": ACCESS_LOGGER,
            "msg": "request",
            **fields,
        }
        line = json.dumps(entry, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            sys.stderr.write(line)


def init_app(app: Flask, *, access_log: bool = True) -> None:
    """Give every request an id, and count it and log it when it is answered."""
    from otp_service import metrics

    access = AccessLog() if access_log else None

    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.match(given) else os.urandom(16).hex()
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        req = request._get_current_object()  # one proxy lookup, not one per attribute
        request_id = g.get("request_id") or os.urandom(16).hex()
        response.headers["X-Request-ID"] = request_id
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        route = req.url_rule.rule if req.url_rule else "unmatched"
        status = response.status_code
        metrics.HTTP_REQUESTS.labels(route, req.method, str(status)).inc()
        metrics.HTTP_LATENCY.labels(route).observe(seconds)
        if access is not None:
            fields = {
                "request_id": request_id,
                "method": req.method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            }
            fields.update(g.get("log_fields", ()))
            for name in LOGGED_PATH_IDS:
                if req.view_args and name in req.view_args:
                    fields.setdefault(name, req.view_args[name])
            access.write("warning" if status >= 500 else "info", fields)
        return response
