"""Speed: where Flask's own way costs more than it must on every request.

Each shortcut says what it replaces and what it saves; ``tests/api/test_shortcuts.py``
pins the library behaviour each relies on, so an upgrade that changes it fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from otp_service import errors

__all__ = ["UNREAD_BODY", "App", "close_connection", "read_body", "request_of"]

# environ key set when a body is refused before all of it was read (see close_connection)
UNREAD_BODY = "otp.unread_body"


class App(Flask):
    """Flask, remembering which hooks and views it may call as they are.

    Replaces ``Flask.ensure_sync``'s ``inspect`` check of every hook and view (half a
    dozen a request, each answer never changing for a function) with one dict lookup.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._callables: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._callables[func]
        except KeyError:
            synced = self._callables[func] = super().ensure_sync(func)
            return synced


def read_body(environ: dict[str, Any], limit: int | None) -> bytes:
    """The body, read from the WSGI input in one call; 413 past ``limit``.

    Replaces Werkzeug's ``get_data``, which wraps the input in a ``LimitedStream`` and
    reads through ``io``'s machinery (about 6 µs a request), and past a limit cuts a
    chunked body short instead of refusing it. A refused body is left unread, and marked
    so (``UNREAD_BODY``) for the connection to be closed after the answer.
    """
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit() and "HTTP_TRANSFER_ENCODING" not in environ:
        size = int(length)
        if limit is not None and size > limit:
            environ[UNREAD_BODY] = True
            raise errors.PayloadTooLarge(f"the body is larger than {limit} bytes")
        data = stream.read(size) if size else b""
        if len(data) != size:
            raise errors.InvalidRequest("the body is shorter than its Content-Length", status=400)
        return data
    if "wsgi.input_terminated" not in environ:
        return b""  # no length, and a server that would not end the stream: nothing is safe
    data = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        environ[UNREAD_BODY] = True
        raise errors.PayloadTooLarge(f"the body is larger than {limit} bytes")
    return data


def close_connection(start_response: Callable[..., Any]) -> None:
    """Have gunicorn close the connection after this response, saying
    ``Connection: close``: the rest of a refused body is still on it, so its next bytes
    are no request, and gunicorn's own drain gives up past 64 KiB without telling the
    client, who then sends its next request into a closed connection.

    Replaces a ``Connection: close`` header, which gunicorn drops (hop-by-hop): its
    ``start_response`` is a method of its Response, whose ``force_close`` does it. Other
    servers' ``start_response`` has no such method, and nothing happens.
    """
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if force_close is not None:
        force_close()


def request_of(environ: dict[str, Any]) -> Any:
    """The Flask request of ``environ`` while its response starts, or None.

    Replaces Flask's ``request`` proxy (a context-local lookup), which a WSGI middleware
    cannot use: Werkzeug's Request keeps itself in the environ under this key.
    """
    return environ.get("werkzeug.request")
