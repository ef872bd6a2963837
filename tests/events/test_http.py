"""events/http.py against real HTTP servers on 127.0.0.1: what ``check_url`` refuses, and
how ``EndpointPoster.post`` ends for each kind of receiver, always within its deadline.

Names like ``hooks.test`` resolve only through the test's fake resolver (``FakeDNS``): a
delivery that reaches a server under such a name proves the poster dialled the address
it vetted and did not ask the system's DNS again.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from otp_service.events.http import (
    USER_AGENT,
    EndpointPoster,
    UnsafeURL,
    check_url,
    resolve_within,
)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


class FakeDNS:
    """A resolver with the shape of ``socket.getaddrinfo`` that answers what the test says."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple]:
        self.calls.append((host, port))
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in self.addresses
        ]


def no_dns(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple]:
    raise AssertionError("an IP literal needs no DNS")


# -- check_url ---------------------------------------------------------------------------


def test_a_public_https_url_is_accepted_in_production_with_every_address():
    dns = FakeDNS(PUBLIC_V4, PUBLIC_V6)
    addresses = check_url("https://hooks.example.com/otp", production=True, resolve=dns)
    assert [str(a) for a in addresses] == [PUBLIC_V4, PUBLIC_V6]
    assert dns.calls == [("hooks.example.com", 443)]


REFUSED = [
    "127.0.0.1",  # loopback
    "127.1.2.3",
    "10.1.2.3",  # private
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.1.1",  # link-local
    "100.64.0.1",  # shared, carrier-grade NAT
    "0.0.0.0",  # unspecified
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "198.18.0.1",  # benchmarking
    "192.0.2.1",  # documentation
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",  # AWS's IPv6 metadata
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",  # local-use NAT64
    "2001::1",  # Teredo
    "2001:db8::1",  # documentation
    "4000::1",  # not global unicast
]


@pytest.mark.parametrize("address", REFUSED)
def test_every_class_of_non_public_address_is_refused(address):
    url = "https://hooks.example.com/otp?token=s3cret"
    with pytest.raises(UnsafeURL) as refused:
        check_url(url, production=True, resolve=FakeDNS(address))
    assert refused.value.code == "webhook_url_address"
    assert str(ipaddress.ip_address(address)) in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_one_bad_address_among_public_ones_is_enough():
    with pytest.raises(UnsafeURL, match="10.0.0.7"):
        check_url(
            "https://hooks.example.com/",
            production=True,
            resolve=FakeDNS(PUBLIC_V4, "10.0.0.7", PUBLIC_V6),
        )


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:7f00:1]:8443/",
        "https://10.0.0.1",
    ],
)
def test_an_ip_literal_is_checked_as_it_is(url):
    with pytest.raises(UnsafeURL) as refused:
        check_url(url, production=True, resolve=no_dns)
    assert refused.value.code == "webhook_url_address"


def test_the_ipv6_forms_of_a_public_address_are_public():
    for address in ("64:ff9b::5db8:d822", "2002:5db8:d822::1", f"::ffff:{PUBLIC_V4}"):
        assert check_url(f"https://[{address}]/", production=True, resolve=no_dns)


def test_production_takes_https_only():
    for url in ("http://hooks.example.com/", "ftp://hooks.example.com/"):
        with pytest.raises(UnsafeURL) as refused:
            check_url(url, production=True, resolve=FakeDNS(PUBLIC_V4))
        assert refused.value.code == "webhook_url_scheme"
        assert str(refused.value) == "Webhook URLs must use https."


def test_a_url_with_a_user_name_or_password_is_refused():
    with pytest.raises(UnsafeURL) as refused:
        check_url("https://admin:hunter2@hooks.example.com/", production=True, resolve=no_dns)
    assert refused.value.code == "webhook_url_invalid"
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "https://",
        "https://exa\x00mple.com/",
        "https://hooks.example.com:0/",  # no TCP port: every delivery would fail
        "https://hooks.example.com:65536/",
        "https://93.184.216.34:99999/",
    ],
)
def test_what_is_not_a_url_is_refused(url):
    with pytest.raises(UnsafeURL) as refused:
        check_url(url, production=True, resolve=no_dns)
    assert refused.value.code == "webhook_url_invalid"


def test_a_host_that_does_not_resolve_is_refused():
    def gone(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    for resolve in (gone, FakeDNS()):
        with pytest.raises(UnsafeURL) as refused:
            check_url("https://nowhere.example.com/", production=True, resolve=resolve)
        assert refused.value.code == "webhook_url_unresolvable"


def test_development_allows_http_and_loopback_but_nothing_else():
    assert check_url("http://127.0.0.1:8080/hooks", production=False)
    assert check_url("http://[::1]:8080/hooks", production=False)
    assert all(a.is_loopback for a in check_url("http://localhost:8080/", production=False))
    with pytest.raises(UnsafeURL):
        check_url("http://localhost:8080/", production=True)
    for address in ("10.0.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "fc00::1"):
        with pytest.raises(UnsafeURL):
            check_url("http://hooks.test/", production=False, resolve=FakeDNS(address))


# -- receivers ---------------------------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    """A webhook receiver whose path says how it behaves; records what reaches it."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        self.tls = tls
        self.stop = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        self.redirect_to = ""

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        with self.tls.wrap_socket(request, server_side=True) as tls_socket:
            super().finish_request(tls_socket, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (as the poster does on purpose) is no error here."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # a handler thread never outlives a test by much
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": self.headers, "body": body})
        path = self.path.split("?")[0]
        if path == "/ok":
            self.answer(200, b'{"received":true}')
        elif path.startswith("/status/"):
            self.answer(int(path.rpartition("/")[2]), b"nope")
        elif path == "/redirect":
            self.answer(302, b"", Location=self.server.redirect_to)
        elif path == "/sleep":
            self.server.stop.wait(3)
            self.answer(200, b"late")
        elif path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(1024 * 1024))
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"x" * 16384)
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.drip(b"x")
        elif path == "/trickle-headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self.drip(b"a")

    def answer(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def drip(self, byte: bytes) -> None:
        while not self.server.stop.wait(0.02):
            self.wfile.write(byte)


@contextmanager
def serving(server: Receiver) -> Iterator[Receiver]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as server:
        yield server


@pytest.fixture
def posters() -> Iterator[list[EndpointPoster]]:
    """Posters a test makes, closed after it."""
    made: list[EndpointPoster] = []
    yield made
    for poster in made:
        poster.close()


@pytest.fixture
def make_poster(posters):
    def make(**kwargs: Any) -> EndpointPoster:
        kwargs.setdefault("production", False)
        posters.append(EndpointPoster(**kwargs))
        return posters[-1]

    return make


SIGNED = {"webhook-id": "msg_1", "webhook-timestamp": "1800000000", "webhook-signature": "v1,x"}


# -- post --------------------------------------------------------------------------------


def test_a_2xx_answer_is_ok_with_its_body(make_poster, receiver):
    result = make_poster().post(f"http://127.0.0.1:{receiver.port}/ok", b'{"a":1}', SIGNED)
    assert result.ok and result.status == 200 and result.error is None
    assert result.body == b'{"received":true}'
    assert 0 <= result.elapsed_ms < 2000
    [seen] = receiver.requests
    assert seen["body"] == b'{"a":1}'
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["User-Agent"] == USER_AGENT
    assert seen["headers"]["webhook-id"] == "msg_1"


def test_the_callers_content_type_and_user_agent_win(make_poster, receiver):
    headers = {"content-type": "application/cloudevents+json", "User-Agent": "acme/2"}
    make_poster().post(f"http://127.0.0.1:{receiver.port}/ok", b"{}", headers)
    [seen] = receiver.requests
    assert seen["headers"]["Content-Type"] == "application/cloudevents+json"
    assert seen["headers"]["User-Agent"] == "acme/2"


def test_post_dials_the_vetted_address_and_checks_again_at_every_delivery(make_poster, receiver):
    dns = FakeDNS("127.0.0.1")
    poster = make_poster(resolve=dns)
    url = f"http://hooks.test:{receiver.port}/ok"
    assert poster.post(url, b"{}", SIGNED).ok
    assert poster.post(url, b"{}", SIGNED).ok
    assert dns.calls == [("hooks.test", receiver.port)] * 2
    assert [r["headers"]["Host"] for r in receiver.requests] == [f"hooks.test:{receiver.port}"] * 2
    assert receiver.connections == 1  # the second delivery reused the pooled connection


def test_dns_rebinding_to_loopback_is_refused_before_anything_is_sent(make_poster, receiver):
    dns = FakeDNS(PUBLIC_V4)
    url = f"https://hooks.example.com:{receiver.port}/ok"
    assert check_url(url, production=True, resolve=dns)  # when the customer saved it
    dns.addresses = ["127.0.0.1"]  # the attacker's DNS now answers loopback
    result = make_poster(production=True, resolve=dns).post(url, b"{}", SIGNED)
    assert (result.status, result.error, result.ok) == (None, "unsafe_address", False)
    assert receiver.connections == 0 and receiver.requests == []


def test_a_host_gone_from_dns_is_a_connect_error(make_poster):
    result = make_poster(resolve=FakeDNS()).post("http://gone.test/", b"{}", SIGNED)
    assert (result.status, result.error) == (None, "connect_error")


def test_a_5xx_answer_is_an_error_named_by_its_status(make_poster, receiver):
    result = make_poster().post(f"http://127.0.0.1:{receiver.port}/status/500", b"{}", SIGNED)
    assert (result.status, result.error, result.ok) == (500, "http_500", False)
    assert result.body == b"nope"


def test_a_redirect_is_not_followed(make_poster, receiver):
    with serving(Receiver()) as target:
        receiver.redirect_to = f"http://127.0.0.1:{target.port}/ok"
        result = make_poster().post(f"http://127.0.0.1:{receiver.port}/redirect", b"{}", SIGNED)
        assert (result.status, result.error, result.ok) == (302, "redirect_not_followed", False)
        assert target.connections == 0


def test_a_receiver_that_answers_too_late_is_a_timeout(make_poster, receiver):
    started = time.monotonic()
    result = make_poster(timeout=0.5).post(f"http://127.0.0.1:{receiver.port}/sleep", b"{}", SIGNED)
    assert (result.status, result.error) == (None, "timeout")
    assert time.monotonic() - started < 1.5


def test_only_max_body_bytes_of_a_large_answer_are_read(make_poster, receiver):
    result = make_poster().post(f"http://127.0.0.1:{receiver.port}/big", b"{}", SIGNED)
    assert result.ok and result.body == b"x" * 65536


def test_a_body_trickled_forever_stops_at_the_deadline(make_poster, receiver):
    started = time.monotonic()
    poster = make_poster(timeout=0.5)
    result = poster.post(f"http://127.0.0.1:{receiver.port}/trickle", b"{}", SIGNED)
    assert (result.status, result.error, result.ok) == (200, "too_slow", False)
    assert 0 < len(result.body) < 1000
    assert time.monotonic() - started < 1.5


def test_headers_trickled_forever_stop_at_the_deadline(make_poster, receiver):
    """A byte every 20 ms beats any per-read timeout; only the overall deadline ends it."""
    started = time.monotonic()
    poster = make_poster(timeout=0.5)
    result = poster.post(f"http://127.0.0.1:{receiver.port}/trickle-headers", b"{}", SIGNED)
    assert (result.status, result.error) == (None, "timeout")
    assert time.monotonic() - started < 1.5


def test_a_refused_connection_is_a_connect_error(make_poster):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = make_poster().post(f"http://127.0.0.1:{port}/ok", b"{}", SIGNED)
    assert (result.status, result.error) == (None, "connect_error")


def test_threads_sharing_a_poster_each_reach_their_own_host(make_poster, receiver):
    poster = make_poster(resolve=FakeDNS("127.0.0.1"))
    results: dict[int, Any] = {}

    def deliver(n: int) -> None:
        results[n] = poster.post(f"http://h{n}.test:{receiver.port}/ok?n={n}", b"{}", SIGNED)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert all(results[n].ok for n in range(8))
    for seen in receiver.requests:
        n = seen["path"].rpartition("=")[2]
        assert seen["headers"]["Host"] == f"h{n}.test:{receiver.port}"


# -- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A self-signed certificate for receiver.test and localhost: (cert, key, PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receiver.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("receiver.test"), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "cert.pem", folder / "key.pem", pem.decode()


@pytest.fixture
def tls_receiver(certificate) -> Iterator[tuple[Receiver, list[str | None]]]:
    """A receiver over TLS, and the SNI names its handshakes saw."""
    cert, key, _pem = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _socket, name, _context: names.append(name)
    with serving(Receiver(tls=context)) as server:
        yield server, names


@pytest.fixture
def trusting(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=certificate[2])


def test_tls_to_the_pinned_address_uses_the_real_name(make_poster, tls_receiver, trusting):
    server, names = tls_receiver
    poster = make_poster(resolve=FakeDNS("127.0.0.1"), verify=trusting)
    result = poster.post(f"https://receiver.test:{server.port}/ok", b"{}", SIGNED)
    assert result.ok, result
    assert names == ["receiver.test"]
    assert server.requests[0]["headers"]["Host"] == f"receiver.test:{server.port}"


def test_tls_refuses_a_certificate_for_another_name_even_on_a_pooled_address(
    make_poster, tls_receiver, trusting
):
    """other.test and receiver.test share one address (as names behind a CDN do): the
    connection made for receiver.test is not reused for other.test."""
    server, names = tls_receiver
    poster = make_poster(resolve=FakeDNS("127.0.0.1"), verify=trusting)
    assert poster.post(f"https://receiver.test:{server.port}/ok", b"{}", SIGNED).ok
    result = poster.post(f"https://other.test:{server.port}/ok", b"{}", SIGNED)
    assert (result.status, result.error) == (None, "tls_error")
    assert names == ["receiver.test", "other.test"]
    assert len(server.requests) == 1


def test_tls_refuses_an_untrusted_certificate(make_poster, tls_receiver):
    server, _names = tls_receiver
    result = make_poster().post(f"https://localhost:{server.port}/ok", b"{}", SIGNED)
    assert (result.status, result.error) == (None, "tls_error")
    assert server.requests == []


def test_production_keeps_certificate_checks_on():
    with pytest.raises(ValueError, match="certificate"):
        EndpointPoster(production=True, verify=False)


def test_a_resolver_that_never_answers_costs_a_delivery_its_timeout_not_the_worker(
    make_poster,
):
    """getaddrinfo has no timeout of its own: a DNS server that never answers would hold a
    delivery (and the worker's lease) for as long as the system's resolver waits. The
    post gives up at its own deadline, as a connection that could not be made."""
    released = threading.Event()

    def hanging(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple]:
        released.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    poster = make_poster(timeout=0.3, resolve=hanging)
    try:
        result = poster.post("http://hooks.test/otp", b"{}", SIGNED)
        assert (result.status, result.error) == (None, "connect_error")
        assert result.elapsed_ms < 3000  # the deadline held (0.3 s), not the resolver's wait
        with pytest.raises(UnsafeURL) as refused:
            check_url("https://hooks.test/", production=True, resolve=resolve_within(hanging, 0.1))
        assert refused.value.code == "webhook_url_unresolvable"
    finally:
        released.set()
