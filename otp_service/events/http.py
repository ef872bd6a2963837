"""One signed event to one customer URL, safely: the HTTP of issue #19's outgoing webhooks.

A webhook URL is an address the service connects to on a customer's say-so: unchecked,
it reaches Redis on 10.0.0.5, the cloud's metadata service or the service's own admin
port (SSRF). So:

- ``check_url`` refuses a URL whose host is, or resolves to, any address that is not
  public (one bad answer among several is enough), in any spelling (IPv4-mapped, 6to4,
  NAT64); production takes https only, development also http and loopback.
- ``EndpointPoster.post`` checks again at every delivery (a DNS answer can change between
  two deliveries: rebinding), then connects to the addresses it checked and never to a
  second DNS answer: the connection pool dials through ``_PinnedBackend``, which only
  knows the addresses this delivery vetted. The URL keeps its real host, so the Host
  header, TLS SNI and the certificate check all use the real name, and pooled
  connections are keyed by that name.
- One deadline bounds the whole attempt (connect, TLS, write, read): a receiver that
  trickles its answer a byte at a time still lets go of the thread at ``timeout``.
- Redirects are not followed; at most ``max_body`` bytes of the answer are read.

Why not put the vetted IP in the URL and the name in httpcore's ``sni_hostname``
extension: httpcore pools connections by the URL's (scheme, host, port), so two names
behind one IP (any CDN) would share a TLS connection whose certificate was checked for
the first name only — a 421 from the CDN at best, a skipped certificate check at worst.

Nothing here logs a body or a header: they carry the signatures.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

__all__ = [
    "USER_AGENT",
    "EndpointPoster",
    "IPNetwork",
    "PostResult",
    "UnsafeURL",
    "check_url",
    "resolve_within",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., Sequence[tuple[Any, ...]]]

USER_AGENT = "otp-service-webhooks/1"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def resolve_within(resolve: Resolver, seconds: float) -> Resolver:
    """``resolve``, given up (``OSError``: the host does not resolve) after ``seconds``.
    getaddrinfo has no timeout of its own (the system's resolver may wait 5 s a server,
    and try again): the lookup runs in a daemon thread of its own, which ends when the
    resolver gives up, and keeps no process from exiting meanwhile."""

    def bounded(host: str, port: int, **kwargs: Any) -> Sequence[tuple[Any, ...]]:
        answer: list[tuple[bool, Any]] = []

        def lookup() -> None:
            try:
                answer.append((True, resolve(host, port, **kwargs)))
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller
                answer.append((False, exc))

        thread = threading.Thread(target=lookup, name="webhook-dns", daemon=True)
        thread.start()
        thread.join(max(seconds, 0.0))
        if not answer:
            raise OSError(f"no answer within {seconds:g} s")
        ok, value = answer[0]
        if not ok:
            raise value
        return value

    return bounded


# sent with every delivery; the caller's headers (the signature's) are added to these
_HEADERS = {
    "user-agent": ("User-Agent", USER_AGENT),
    "content-type": ("Content-Type", "application/json"),
    # the body is read raw: no decompression bomb in 64 KiB
    "accept-encoding": ("Accept-Encoding", "identity"),
}

_V4, _V6 = ipaddress.IPv4Network, ipaddress.IPv6Network
# IANA's special-purpose ranges, listed here rather than left to ``is_global``, whose
# answers have changed between Python patch releases. The first match names the reason.
_REFUSED: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (_V4("169.254.169.254/32"), "cloud metadata"),
    (_V6("fd00:ec2::254/128"), "cloud metadata"),
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "reserved"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("64:ff9b:1::/48"), "private"),  # local-use NAT64
    (_V6("2001::/23"), "reserved"),  # IETF protocol assignments: Teredo, ORCHID, ...
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("fc00::/7"), "private"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "private"),  # site-local, deprecated
    (_V6("ff00::/8"), "multicast"),
)
_NAT64 = _V6("64:ff9b::/96")
_GLOBAL_UNICAST_V6 = _V6("2000::/3")  # everything else in IPv6 is not for hosts on the Internet


class UnsafeURL(ValueError):
    """A webhook URL the service must not call. ``code`` is stable; the message says why
    in a sentence and names at most the host and an address (a path or query may hold the
    customer's token)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Target:
    """A vetted URL: the host and port the pool will ask for, the addresses to dial."""

    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def check_url(
    url: str,
    *,
    production: bool,
    resolve: Resolver = socket.getaddrinfo,
    trusted: Sequence[IPNetwork] = (),
) -> list[IPAddress]:
    """Validate ``url`` and resolve its host; every address must be public.

    Production: https only, public addresses only. Development: http too, and loopback
    (127.0.0.0/8, ::1, so ``localhost``) as well; every other range is refused the same.
    ``trusted`` networks (OTP_WEBHOOK_TRUSTED_NETWORKS: an operator's own, e.g. the
    backend's private network) are allowed, and a host only in them may use http.
    No user name or password in the URL; any TCP port (1-65535). Raises ``UnsafeURL``.
    """
    return list(_vet(url, production=production, resolve=resolve, trusted=trusted).addresses)


def _vet(
    url: str, *, production: bool, resolve: Resolver, trusted: Sequence[IPNetwork] = ()
) -> _Target:
    # httpx parses the URL here and again when it sends it: one parser, no differential.
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise UnsafeURL("webhook_url_invalid", "The webhook URL is not a valid URL.") from None
    allowed = ("https",) if production and not trusted else ("http", "https")
    if parsed.scheme not in allowed:
        if not parsed.is_absolute_url:
            raise UnsafeURL("webhook_url_invalid", "The webhook URL is not an absolute URL.")
        needed = "https" if production else "http or https"
        raise UnsafeURL("webhook_url_scheme", f"Webhook URLs must use {needed}.")
    if parsed.userinfo:
        raise UnsafeURL(
            "webhook_url_invalid", "The webhook URL must not contain a user name or password."
        )
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise UnsafeURL("webhook_url_invalid", "The webhook URL has no host.")
    port = _DEFAULT_PORTS[parsed.scheme] if parsed.port is None else parsed.port
    if not 0 < port < 65536:  # httpx takes any number: no delivery could ever connect
        raise UnsafeURL("webhook_url_invalid", "The webhook URL's port must be 1 to 65535.")
    literal, addresses = _addresses(host, port, resolve)
    inside = [any(address in network for network in trusted) for address in addresses]
    if production and parsed.scheme == "http" and not all(inside):
        raise UnsafeURL(
            "webhook_url_scheme",
            "Webhook URLs must use https (http only to OTP_WEBHOOK_TRUSTED_NETWORKS).",
        )
    for address, is_trusted in zip(addresses, inside, strict=True):
        if is_trusted:
            continue
        reason = _refusal(address, production=production)
        if reason is not None:
            where = f"is {address}" if literal else f"resolves to {address}"
            raise UnsafeURL(
                "webhook_url_address",
                f"The webhook URL's host {host} {where}, a {reason} address: "
                "webhooks are only sent to public addresses.",
            )
    return _Target(url=parsed, host=host, port=port, addresses=addresses)


def _addresses(host: str, port: int, resolve: Resolver) -> tuple[bool, tuple[IPAddress, ...]]:
    """(whether the host is an IP literal, its addresses in the resolver's order)."""
    try:
        return True, (ipaddress.ip_address(host),)
    except ValueError:
        pass
    unresolvable = UnsafeURL(
        "webhook_url_unresolvable", f"The webhook URL's host {host} does not resolve."
    )
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise unresolvable from None
    found: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in answers:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(sockaddr[0])
            if address not in found:
                found.append(address)
    if not found:
        raise unresolvable
    return False, tuple(found)


def _refusal(address: IPAddress, *, production: bool) -> str | None:
    """Why ``address`` is no place for a webhook, or None when it may get one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = _refusal(embedded, production=production)
            return None if reason is None else f"{reason} (in an IPv6 form)"
    if not production and address.is_loopback:
        return None
    for network, reason in _REFUSED:
        if address in network:
            return reason
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return "reserved"
    if not address.is_global or address.is_multicast:
        return "non-public"
    return None


@dataclass(frozen=True)
class PostResult:
    """How one delivery attempt ended.

    ``error`` is None on a 2xx answer read within the deadline; otherwise one of
    ``http_<status>``, ``redirect_not_followed`` (any 3xx), ``timeout`` (no answer by the
    deadline), ``too_slow`` (the answer began but its body was still coming at the
    deadline), ``connect_error`` (no connection, the host no longer resolves, or the
    connection broke), ``tls_error``, ``protocol_error`` (not HTTP), ``unsafe_address``
    (the URL failed ``check_url`` at this delivery).
    """

    status: int | None
    error: str | None
    body: bytes
    elapsed_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None


class _Pins(threading.local):
    """What this thread's delivery may connect to, and until when: ``post`` sets both
    before sending and clears them after, and httpcore dials and reads on the thread
    that sends (its sync pool does not hand a request to another thread)."""

    target: _Target | None = None
    deadline: float | None = None


def _bounded(timeout: float | None, pins: _Pins, expired: type[Exception]) -> float | None:
    """``timeout`` cut to what is left before the delivery's deadline."""
    if pins.deadline is None:
        return timeout
    left = pins.deadline - time.monotonic()
    if left <= 0:
        raise expired("the delivery's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline of
    the delivery using it (httpx's timeouts are per operation: a byte every 9 s would
    pass a 10 s read timeout forever)."""

    def __init__(self, inner: httpcore.NetworkStream, pins: _Pins) -> None:
        self._inner = inner
        self._pins = pins

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, self._pins, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, self._pins, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, self._pins, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, bounded), self._pins
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Dials the addresses ``post`` vetted for the URL's host and port, in order; never
    asks DNS itself, and refuses a host this thread's delivery did not vet."""

    def __init__(self, pins: _Pins) -> None:
        self._pins = pins
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        target = self._pins.target
        if target is None or (host, port) != (target.host, target.port):
            raise httpcore.ConnectError("no vetted address for this host")
        failure: httpcore.ConnectError | None = None
        for address in target.addresses:
            try:
                stream = self._tcp.connect_tcp(
                    str(address),
                    port,
                    timeout=_bounded(timeout, self._pins, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self._pins)
        assert failure is not None  # a target has at least one address
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("webhooks go over TCP only")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class EndpointPoster:
    """Posts signed events to customers' endpoints: one pooled client, safe to share
    between the worker's threads. ``verify`` is an ``ssl.SSLContext`` or a bool (tests
    pass a context trusting their self-signed certificate; production refuses False)."""

    def __init__(
        self,
        *,
        production: bool,
        timeout: float = 10.0,
        max_body: int = 65536,
        resolve: Resolver = socket.getaddrinfo,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 32,
        trusted: Sequence[IPNetwork] = (),
    ) -> None:
        if production and verify is False:
            raise ValueError("certificate verification cannot be turned off in production")
        self._production = production
        self._trusted = tuple(trusted)
        self._timeout = timeout
        self._max_body = max_body
        self._resolve = resolve
        self._pins = _Pins()
        # httpcore's pool, not an httpx.Client over it: the client's request and response
        # models, cookies, auth and redirect handling cost more than the HTTP itself here,
        # and none of them is wanted (no cookies or .netrc credentials to a customer's
        # host, no proxies, no redirects)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=_PinnedBackend(self._pins),
        )

    @property
    def timeout(self) -> float:
        """The most one ``post`` takes, in seconds."""
        return self._timeout

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        """POST ``body`` to ``url`` once, within ``timeout`` seconds all told; never raises
        for anything the endpoint or the network does."""
        started = time.monotonic()
        deadline = started + self._timeout
        try:
            target = _vet(
                url,
                production=self._production,
                resolve=resolve_within(self._resolve, self._timeout),
                trusted=self._trusted,
            )
        except UnsafeURL as exc:
            gone = exc.code == "webhook_url_unresolvable"
            return _result(None, "connect_error" if gone else "unsafe_address", b"", started)
        left = deadline - time.monotonic()
        if left <= 0:  # the resolver took it all
            return _result(None, "timeout", b"", started)
        status: int | None = None
        received = bytearray()
        sent = dict(_HEADERS)
        sent.update((name.lower(), (name, value)) for name, value in headers.items())
        url = httpcore.URL(
            scheme=target.url.raw_scheme,
            host=target.url.raw_host,
            port=target.url.port,
            target=target.url.raw_path,
        )
        timeouts = {"connect": left, "read": left, "write": left, "pool": left}
        self._pins.target, self._pins.deadline = target, deadline
        try:
            with self._pool.stream(
                "POST",
                url,
                headers=list(sent.values()),
                content=body,
                extensions={"timeout": timeouts},
            ) as response:
                status = response.status
                for chunk in response.iter_stream():
                    received += chunk
                    if len(received) >= self._max_body:
                        break  # leaving the block closes the connection: the rest is not read
        except httpcore.TimeoutException:
            error = "timeout" if status is None else "too_slow"
        except httpcore.ConnectError as exc:
            error = "tls_error" if _is_tls(exc) else "connect_error"
        except httpcore.ProtocolError:
            error = "protocol_error"
        except (httpcore.NetworkError, OSError):
            error = "connect_error"
        else:
            error = _status_error(status)
        finally:
            self._pins.target = self._pins.deadline = None
        return _result(status, error, bytes(received[: self._max_body]), started)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> EndpointPoster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _is_tls(exc: httpcore.ConnectError) -> bool:
    """Whether a failed connection failed in its TLS handshake. httpcore wraps the
    ``ssl.SSLError`` as the ConnectError's argument; its pool re-raises ``from None``."""
    return any(isinstance(c, ssl.SSLError) for c in (*exc.args, exc.__cause__, exc.__context__))


def _status_error(status: int | None) -> str | None:
    if status is not None and 200 <= status < 300:
        return None
    if status is not None and 300 <= status < 400:
        return "redirect_not_followed"
    return f"http_{status}"


def _result(status: int | None, error: str | None, body: bytes, started: float) -> PostResult:
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return PostResult(status=status, error=error, body=body, elapsed_ms=elapsed_ms)
