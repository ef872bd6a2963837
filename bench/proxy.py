"""A TCP proxy in front of Redis that counts round trips.

A round trip is the client sending after it last heard from the server (or on a fresh
connection): a command, a pipeline of k commands, or a MULTI/EXEC sent in one go is one
round trip, however many commands Redis counts in ``INFO commandstats``. The counts are
exact for a client that waits for each answer (redis-py does), and do not depend on which
commands the scripts run inside Redis.

The profiles' poller (``profiles.KeyRing``: one round trip per process every 0.5 s, on a
client of its own named ``otp-profile-keys``) is not a request's: once a connection names
itself so (CLIENT SETNAME, right after it opens), its round trips are taken back out.
"""

from __future__ import annotations

import selectors
import socket
import threading

__all__ = ["CountingProxy"]

UNCOUNTED_CLIENT = b"otp-profile-keys"  # named by CLIENT SETNAME as the connection opens


class _Pair:
    __slots__ = ("client", "server", "last", "counted", "trips")

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.last = "server"  # who spoke last; the client speaking next starts a round trip
        self.counted = True
        self.trips = 0  # counted on this connection


class CountingProxy:
    """``127.0.0.1:<port>`` → ``upstream``; ``round_trips`` and ``connections`` count."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.round_trips = 0
        self.connections = 0
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-proxy", daemon=True)

    def start(self) -> CountingProxy:
        self.listener.setblocking(False)
        self._selector.register(self.listener, selectors.EVENT_READ, None)
        self._thread.start()
        return self

    def reset(self) -> None:
        self.round_trips = 0
        self.connections = 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(0.1):
                if key.data is None:
                    self._accept()
                else:
                    self._forward(key.fileobj, key.data)  # type: ignore[arg-type]

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(self.upstream)
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(client, server)
        self._selector.register(client, selectors.EVENT_READ, pair)
        self._selector.register(server, selectors.EVENT_READ, pair)
        self.connections += 1

    def _forward(self, sock: socket.socket, pair: _Pair) -> None:
        try:
            data = sock.recv(262144)
        except OSError:
            data = b""
        if not data:
            for end in (pair.client, pair.server):
                self._selector.unregister(end)
                end.close()
            return
        if sock is pair.client:
            if pair.counted and UNCOUNTED_CLIENT in data:
                pair.counted = False
                self.round_trips = max(0, self.round_trips - pair.trips)
            if pair.last == "server" and pair.counted:
                self.round_trips += 1
                pair.trips += 1
            pair.last = "client"
            pair.server.sendall(data)
        else:
            pair.last = "server"
            pair.client.sendall(data)
