"""Logs: one JSON object a line, and one line per HTTP request.

The request line (written by ``middleware.Requests``) carries the request id, route,
status, duration, and what the view chose to add (``log_fields``: a verification id, a
masked number). Nothing here ever writes a code, a key, a secret or a full phone number;
views add only masked numbers (``masking.mask_phone``).

Other records go through ``logging`` (``JsonFormatter``). The request line is written
straight to stderr in the same JSON shape: it is on every request's path, and the
logging machinery (a LogRecord, handler locks, formatting extras) cost several times
the line itself. OTP_ACCESS_LOG=off turns it off.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from flask import request

from otp_service.metrics import HTTP_METHODS

__all__ = ["ACCESS_LOGGER", "LOG_FIELDS", "AccessLog", "JsonFormatter", "log_fields"]

ACCESS_LOGGER = "otp_service.request"

# Where a view's additions to its request line wait in the WSGI environ.
LOG_FIELDS = "otp.log_fields"
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
    request.environ.setdefault(LOG_FIELDS, {}).update(fields)


class AccessLog:
    """The request lines: JSON, one a line, on stderr (as it is at the time of writing).

    Every request pays for its line, so it is made cheaply: the date and time of day are
    formatted once a second, the line is written as text around values encoded one by
    one (``json.dumps`` of a dict costs several times more, and builds a new encoder on
    every call when given options).
    """

    _encode = json.JSONEncoder(separators=(",", ":"), default=str).encode

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._second: tuple[int, str] = (-1, "")  # swapped whole: threads read it unlocked
        # Routes (the app's rules) and field names (the views') are few and ours: each is
        # encoded once. Methods only when standard: a client may send any token.
        self._encoded = {m: self._encode(m) for m in HTTP_METHODS}

    def _known(self, text: str) -> str:
        """``text`` (a route or a field name: never a client's value) encoded."""
        found = self._encoded.get(text)
        if found is None:
            found = self._encoded[text] = self._encode(text)
        return found

    def timestamp(self) -> str:
        """Now, as ``JsonFormatter`` writes it: 2026-01-15T08:00:00.123+00:00."""
        now = time.time()
        second = int(now)
        cached, text = self._second
        if cached != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{int((now - second) * 1000):03d}+00:00"

    def write(
        self,
        request_id: str,
        method: str,
        route: str,
        status: int,
        seconds: float,
        extra: dict[str, Any],
    ) -> None:
        """One request's line. ``request_id`` is a checked token (``middleware.REQUEST_ID``)
        or hex, written as it is; everything a client chose goes through the encoder."""
        encode, encoded = self._encode, self._encoded
        line = (
            f'{{"ts":"{self.timestamp()}","level":"{"warning" if status >= 500 else "info"}",'
            f'"logger":"{ACCESS_LOGGER}","msg":"request","request_id":"{request_id}",'
            f'"method":{encoded.get(method) or encode(method)},"route":{self._known(route)},'
            f'"status":{status},"duration_ms":{seconds * 1000:.2f}'
        )
        for name, value in extra.items():
            line += f",{self._known(name)}:{encode(value)}"
        line += "}\n"
        with self._lock:
            sys.stderr.write(line)
