"""Clients that send a body slowly cannot take the service's threads: under real
gunicorn a request body must arrive within OTP_BODY_READ_TIMEOUT_SECONDS, and only half
of a worker's threads may wait for one."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.service import Service, start_service, stop_service

pytestmark = pytest.mark.e2e

DEADLINE = 2  # seconds, OTP_BODY_READ_TIMEOUT_SECONDS for these tests
SLOW_CLIENTS = 40  # 2 workers × 8 threads, more than twice over
PARTIAL_BODY = (
    b"POST /v1/webhooks/telnyx HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n"
    b'{"data": {"event_type": "message.finalized", '
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = start_service(
        tmp_path_factory.mktemp("slow"), OTP_BODY_READ_TIMEOUT_SECONDS=str(DEADLINE)
    )
    yield service
    stop_service(service)


def _connect(service: Service) -> socket.socket:
    port = int(service.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE + 8)


def _read_to_close(client: socket.socket) -> bytes:
    data = b""
    while chunk := client.recv(4096):
        data += chunk
    return data


def _read_answer(client: socket.socket) -> bytes:
    """One HTTP answer: its head, then as many bytes as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += client.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += client.recv(4096)
    return head + b"\r\n\r\n" + body


def test_healthz_answers_at_once_while_40_clients_hold_partial_bodies(service: Service):
    slow: list[socket.socket] = []
    try:
        for _ in range(SLOW_CLIENTS):
            client = _connect(service)
            client.sendall(PARTIAL_BODY)  # and never the rest
            slow.append(client)
        time.sleep(0.5)  # the workers have taken them all

        for _ in range(4):  # on fresh connections, to either worker
            started = time.monotonic()
            assert httpx.get(f"{service.url}/healthz", timeout=5).status_code == 200
            assert time.monotonic() - started < DEADLINE

        # each slow client was told, by the deadline, and its connection closed
        for client in slow:
            answer = _read_to_close(client)
            assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
            assert b"Connection: close" in answer
            assert b'"code": "request_timeout"' in answer
    finally:
        for client in slow:
            client.close()


def test_a_body_trickling_in_is_cut_off_at_the_deadline(service: Service):
    client = _connect(service)
    client.settimeout(0.2)
    try:
        client.sendall(PARTIAL_BODY)
        started, answer = time.monotonic(), b""
        while not answer and time.monotonic() - started < DEADLINE + 4:
            client.sendall(b" ")  # a byte every 0.2 s: never idle long, never done
            try:
                answer = client.recv(4096)
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert time.monotonic() - started < DEADLINE + 1
    finally:
        client.close()


def test_bodies_that_trail_their_headers_under_load_are_all_read(service: Service):
    """Under load a body's packets may come a little after the headers: more clients at
    once than half a worker's threads must still be answered, not refused with 408."""
    body = b'{"code": "123456"}'
    head = (
        b"POST /v1/verifications/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/check HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nAuthorization: Bearer dev-client-key\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    clients = [_connect(service) for _ in range(SLOW_CLIENTS)]
    try:
        for client in clients:
            client.sendall(head)
        time.sleep(0.05)  # the workers have the headers and wait for the bodies
        for client in clients:
            client.sendall(body)
        answers = []
        for client in clients:  # read as a client does: up to the answer's end, then close
            answers.append(_read_answer(client).split(b" ", 2)[1])
            client.close()
    finally:
        for client in clients:
            client.close()
    assert answers == [b"404"] * SLOW_CLIENTS  # read, checked: no such verification
