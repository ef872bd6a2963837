"""The request line: one JSON line per HTTP request, written by ``api/middleware.py``.

It carries the request id, route, status, duration, and what the view chose to add
(``log_fields``: a verification id, a masked number) — never a code, a key, a secret or
a full phone number. It is written straight to stderr in ``logs.JsonFormatter``'s shape:
it is on every request's path, and the logging machinery (a LogRecord, handler locks,
formatting extras) cost several times the line itself. OTP_ACCESS_LOG=off turns it off.

Request lines are made and written in batches, every OTP_ACCESS_LOG_FLUSH_MS (100 ms),
by a thread of their own; 0 writes each at once. A write lets go of the GIL, and under
gunicorn's threads every release hands the interpreter to a waiting thread, so the
request waits for its turn again: one write per batch instead of one per request. A
request only notes its line's values (its time among them); the thread makes the lines,
one after another, which costs about half of what making each on its request's path
did (measured in-process: ~5 µs a request on the path, ~2 µs in the thread). Lines
still waiting are written when the process exits; a process killed outright (SIGKILL)
loses at most one batch.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
import weakref
from collections import deque
from typing import Any

from flask import request

from otp_service.logs import ACCESS_LOGGER
from otp_service.metrics import HTTP_METHODS

__all__ = ["LOG_FIELDS", "AccessLog", "flush_access_logs", "log_fields"]

# Where a view's additions to its request line wait in the WSGI environ.
LOG_FIELDS = "otp.log_fields"


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

    def __init__(self, flush_interval: float = 0.1) -> None:
        self.flush_interval = flush_interval  # seconds; 0: each line at once
        self._lock = threading.Lock()  # one writer at a time, lines in order
        # (time, request id, method, route, status, seconds, extra): append and popleft
        # need no lock
        self._pending: deque[tuple[Any, ...]] = deque()
        self._flusher: threading.Thread | None = None
        self._second: tuple[int, str] = (-1, "")  # swapped whole: threads read it unlocked
        # Routes (the app's rules) and field names (the views') are few and ours: each is
        # encoded once. Methods only when standard: a client may send any token.
        self._encoded = {m: self._encode(m) for m in HTTP_METHODS}
        _LIVE.add(self)

    def flush(self) -> None:
        """Make the lines waiting and write them, in order, in one write."""
        with self._lock:
            pending, line = self._pending, self.line
            if pending:
                sys.stderr.write("".join([line(pending.popleft()) for _ in range(len(pending))]))

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=_flush_every,
                    args=(weakref.ref(self), self.flush_interval),
                    name="otp-access-log",
                    daemon=True,
                )
                self._flusher.start()

    def _forked(self) -> None:
        """In a forked child: the parent writes what it had waiting, and its thread and
        lock state did not come along."""
        self._lock = threading.Lock()
        self._pending.clear()
        self._flusher = None

    def _known(self, text: str) -> str:
        """``text`` (a route or a field name: never a client's value) encoded."""
        found = self._encoded.get(text)
        if found is None:
            found = self._encoded[text] = self._encode(text)
        return found

    def timestamp(self, now: float) -> str:
        """``now`` as ``JsonFormatter`` writes it: 2026-01-15T08:00:00.123+00:00."""
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
        """One request's line, to be made and written by the flusher (``extra`` is the
        request's own: nothing changes it afterwards)."""
        self._pending.append((time.time(), request_id, method, route, status, seconds, extra))
        if self.flush_interval <= 0:
            self.flush()
        elif self._flusher is None:
            self._start_flusher()

    def line(self, noted: tuple[Any, ...]) -> str:
        """One request's line, from what ``write`` noted. ``request_id`` is a checked token
        (``middleware.REQUEST_ID``) or hex, written as it is; everything a client chose
        goes through the encoder."""
        now, request_id, method, route, status, seconds, extra = noted
        encode, encoded = self._encode, self._encoded
        line = (
            f'{{"ts":"{self.timestamp(now)}","level":"{"warning" if status >= 500 else "info"}",'
            f'"logger":"{ACCESS_LOGGER}","msg":"request","request_id":"{request_id}",'
            f'"method":{encoded.get(method) or encode(method)},"route":{self._known(route)},'
            f'"status":{status},"duration_ms":{seconds * 1000:.2f}'
        )
        for name, value in extra.items():
            line += f",{self._known(name)}:{encode(value)}"
        return line + "}\n"


# Every AccessLog of this process, to flush at exit and to reset in a forked child.
_LIVE: weakref.WeakSet[AccessLog] = weakref.WeakSet()


def _flush_every(ref: weakref.ref[AccessLog], interval: float) -> None:
    """The flusher thread: until its log is gone or (after a fork) no longer its own."""
    me = threading.current_thread()
    while True:
        time.sleep(interval)
        log = ref()
        if log is None or log._flusher is not me:
            return
        log.flush()
        del log


def flush_access_logs() -> None:
    """Write every request line still waiting (at exit; tests reading them)."""
    for log in list(_LIVE):
        log.flush()


def _after_fork_in_child() -> None:
    for log in list(_LIVE):
        log._forked()


atexit.register(flush_access_logs)
os.register_at_fork(after_in_child=_after_fork_in_child)
