"""A closed-loop HTTP/1.1 load generator: N keep-alive connections, one thread, epoll.

Each connection sends a request, waits for the whole response, and sends the next one
at once (closed loop: no queueing inside the generator, latency is what a client sees).
Requests are pre-built bytes, so a round costs the generator a ``send``, a ``recv`` and a
few slices per call: about 25 µs of CPU, which ``RoundResult.generator_cpu`` reports so a
reader can see that the generator is not the bottleneck (it competes with the servers for
the same cores). Responses must carry ``Content-Length`` (gunicorn and Werkzeug do).

Requests come from a ``Requests`` source: a list cycled forever (the same call again and
again) or consumed once (calls that use something up — a right code, the attempts of a
verification); a round ends at its deadline or when the source runs dry.
"""

from __future__ import annotations

import errno
import resource
import selectors
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Requests", "RoundResult", "build_request", "run_round"]

# Does a response (status, body) count as a success of the call being measured?
Check = Callable[[int, bytes], bool]


def build_request(
    method: str,
    path: str,
    *,
    host: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Requests:
    """Pre-built requests, handed out in order; ``cycle`` repeats them forever."""

    def __init__(self, requests: Sequence[bytes], *, cycle: bool) -> None:
        if not requests:
            raise ValueError("no requests to send")
        self.requests = requests
        self.cycle = cycle
        self.position = 0

    def next(self) -> bytes | None:
        if self.position >= len(self.requests):
            if not self.cycle:
                return None
            self.position = 0
        request = self.requests[self.position]
        self.position += 1
        return request

    def remaining(self) -> int | None:
        return None if self.cycle else len(self.requests) - self.position


@dataclass
class RoundResult:
    name: str
    completed: int = 0
    failed: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    generator_cpu: float = 0.0  # CPU seconds the generator used / elapsed seconds
    exhausted: bool = False
    first_failure: str = ""
    other_load: float | None = None  # share of the CPUs used outside the bench meanwhile
    own_cpu: float | None = None  # CPU seconds of the bench, servers included, meanwhile
    sequence: int = -1  # its place among the runs of a measurement (set by the bench)

    @property
    def cpu_per_call(self) -> float | None:
        """CPU seconds all of the bench's processes spent per successful call."""
        if self.own_cpu is None or not self.completed:
            return None
        return self.own_cpu / self.completed

    @property
    def rps(self) -> float:
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))
        return ordered[rank] * 1000

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)


class _Conn:
    __slots__ = ("sock", "out", "buf", "started", "want", "header_end", "served")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.served = 0
        self.out = b""
        self.buf = bytearray()
        self.started = 0.0
        self.want = -1  # total bytes of the response once its header is parsed
        self.header_end = -1


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def _content_length(header: bytes) -> int:
    lowered = header.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        raise ValueError("response without Content-Length")
    end = lowered.find(b"\r\n", at + 2)
    return int(lowered[at + 17 : end if end >= 0 else None])


def run_round(
    name: str,
    host: str,
    port: int,
    requests: Requests,
    *,
    connections: int,
    duration: float,
    check: Check,
    reconnect_every: int = 0,
    timeout: float = 10.0,
) -> RoundResult:
    """Drive ``connections`` keep-alive connections for ``duration`` seconds (or until
    ``requests`` runs dry) and measure every completed call."""
    result = RoundResult(name)
    selector = selectors.DefaultSelector()
    conns = [_Conn(_connect(host, port)) for _ in range(connections)]
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    deadline = start + duration
    latencies = result.latencies
    last_done = start
    active = 0

    def send_next(conn: _Conn, now: float) -> bool:
        request = requests.next() if now < deadline else None
        if request is None:
            return False
        conn.started = now
        conn.buf.clear()
        conn.want = -1
        sent = conn.sock.send(request)
        conn.out = request[sent:]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.out else 0)
        selector.modify(conn.sock, events, conn)
        return True

    for conn in conns:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    now = time.perf_counter()
    for conn in conns:
        if send_next(conn, now):
            active += 1
    try:
        while active:
            events = selector.select(timeout)
            if not events:
                raise TimeoutError(f"{name}: no response for {timeout} s")
            for key, mask in events:
                conn: _Conn = key.data
                if mask & selectors.EVENT_WRITE and conn.out:
                    sent = conn.sock.send(conn.out)
                    conn.out = conn.out[sent:]
                    if not conn.out:
                        selector.modify(conn.sock, selectors.EVENT_READ, conn)
                if not mask & selectors.EVENT_READ:
                    continue
                try:
                    data = conn.sock.recv(262144)
                except OSError as exc:
                    if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                        continue
                    raise
                if not data:
                    raise ConnectionError(f"{name}: the server closed a keep-alive connection")
                buf = conn.buf
                buf += data
                if conn.want < 0:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    conn.header_end = end + 4
                    conn.want = conn.header_end + _content_length(bytes(buf[:end]))
                if len(buf) < conn.want:
                    continue
                now = time.perf_counter()
                status = int(buf[9:12])
                body = bytes(buf[conn.header_end : conn.want])
                if check(status, body):
                    result.completed += 1
                    latencies.append(now - conn.started)
                else:
                    result.failed += 1
                    if not result.first_failure:
                        result.first_failure = f"{status} {body[:300]!r}"
                last_done = now
                conn.served += 1
                if reconnect_every and conn.served >= reconnect_every:
                    # a new connection goes to whichever gunicorn worker accepts first:
                    # the least busy one, so the load spreads over the workers
                    selector.unregister(conn.sock)
                    conn.sock.close()
                    conn.sock = _connect(host, port)
                    conn.served = 0
                    selector.register(conn.sock, selectors.EVENT_READ, conn)
                if not send_next(conn, now):
                    active -= 1
    finally:
        for conn in conns:
            selector.unregister(conn.sock)
            conn.sock.close()
        selector.close()
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    result.elapsed = last_done - start
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    result.generator_cpu = cpu / result.elapsed if result.elapsed > 0 else 0.0
    result.exhausted = requests.remaining() == 0
    return result
