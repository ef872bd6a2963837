"""A body refused without being read (413) closes its keep-alive connection, and says
so: against real gunicorn, whose own handling of the connection is the point."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.service import Service, start_service, stop_service

LIMIT = 16384  # OTP_MAX_BODY_BYTES's default
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: otp\r\n\r\n"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = start_service(Path(tmp_path_factory.mktemp("connection")))
    yield running
    stop_service(running)


def _request(size: int, chunked: bool) -> bytes:
    head = (
        b"POST /v1/verifications HTTP/1.1\r\nHost: otp\r\n"
        b"Authorization: Bearer dev-client-key\r\nContent-Type: application/json\r\n"
    )
    body = b"x" * size
    if not chunked:
        return head + b"Content-Length: %d\r\n\r\n" % size + body
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096])
        for i in range(0, size, 4096)
    )
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


def _send(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server closed while the body was going out
        sock.sendall(data)


def _response(sock: socket.socket) -> tuple[int, dict[str, str]] | None:
    """The next response's status and headers (its body read), or None on a closed
    connection."""
    buffer = b""
    try:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in fields}
        while len(rest) < int(headers.get("content-length", "0")):
            chunk = sock.recv(65536)
            if not chunk:
                return None
            rest += chunk
    except (ConnectionResetError, TimeoutError):
        return None
    return int(lines[0].split()[1]), headers


def _exchange(service: Any, size: int, chunked: bool) -> tuple[Any, Any]:
    """(the answer to a ``size``-byte body, the answer to a GET sent next on the same
    connection)."""
    port = int(service.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sender = threading.Thread(target=_send, args=(sock, _request(size, chunked)))
        sender.start()
        first = _response(sock)
        sender.join()
        _send(sock, HEALTHZ)
        second = _response(sock)
    return first, second


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("size", [LIMIT + 1000, 100_000, 300_000])
def test_a_refused_body_closes_its_connection_and_says_so(service, size, chunked):
    first, second = _exchange(service, size, chunked)
    assert first is not None
    status, headers = first
    assert (status, headers["connection"]) == (413, "close")
    assert second is None  # nothing half-read is taken for the next request
    assert service.http.get("/healthz").status_code == 200  # a new connection is served


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_within_the_limit_keeps_its_connection(service, chunked):
    first, second = _exchange(service, LIMIT - 100, chunked)
    assert first is not None and second is not None
    assert (first[0], first[1]["connection"]) == (400, "keep-alive")  # not JSON, but read
    assert second[0] == 200
