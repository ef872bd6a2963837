"""Speed: where redis-py's own way costs more than it must on every request.

Each shortcut does what redis-py does, minus per-call work that never matters here, and
says what it replaces and what it saves. Three reach into redis-py's private attributes
(the pool's lock and lists; ``PipelineCommand``; a connection's ``_command_packer``):
``tests/store/test_redis_shortcuts.py`` pins the behaviour they rely on, so a redis-py
upgrade that changes it fails loudly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import hiredis
import redis
from redis.cluster import PipelineCommand, RedisCluster
from redis.connection import HiredisRespSerializer

__all__ = ["QuickPool", "evalsha_on_pool", "send_to_cluster"]


class QuickPool(redis.ConnectionPool):
    """redis-py's pool for one Redis, with a shorter checkout and release of a connection
    it already has: the same bookkeeping under the same lock, without what redis-py 8
    adds around it — a readiness poll of the socket, four observability records (off
    here) and a release event whose one listener re-authenticates token-based
    credentials (called directly). That was ~11 µs of every request's Python, more than
    the rest of a get's. Making a connection, and anything after a fork, is redis-py's.

    The poll looked for a connection the server closed, or one left with a reply
    unread. Neither reaches a command here: redis-py drops a connection on any error in
    the middle of a command; one idle past ``health_check_interval`` is pinged (and
    reopened) before use; and one closed sooner fails as the command goes out, before
    Redis ran anything, so the client's one reconnect sends it again."""

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if self.pid == os.getpid():
            with self._lock:
                if self._available_connections:
                    connection = self._available_connections.pop()
                    self._in_use_connections.add(connection)
                    return connection
        return super().get_connection(*args, **kwargs)

    def release(self, connection: Any) -> None:
        if self.pid != os.getpid() or connection.pid != self.pid:
            super().release(connection)
            return
        with self._lock:
            try:
                self._in_use_connections.remove(connection)
            except KeyError:
                return  # not one of this pool's (redis-py ignores it too)
            if connection.should_reconnect():
                connection.disconnect()
            connection.re_auth()
            self._available_connections.append(connection)


def evalsha_on_pool(pool: redis.ConnectionPool, sha: str, keys: list[str], args: list[Any]) -> Any:
    """``execute_command("EVALSHA", ...)`` as redis-py runs it on one Redis — a pooled
    connection, its retry policy (``connect``), a dropped connection closed, one flagged
    for reconnecting closed by the pool's release — without the per-command
    observability redis-py 8 adds (timings, closures, attribute lookups): about a sixth
    of a command's CPU, and this is every request's round trip."""
    conn = pool.get_connection()
    try:
        return conn.retry.call_with_retry(
            lambda: _send_evalsha(conn, sha, keys, args),
            lambda _error: conn.disconnect(),
        )
    finally:
        pool.release(conn)


def _send_evalsha(conn: Any, sha: str, keys: list[str], args: list[Any]) -> Any:
    """``conn.send_command`` packs through redis-py's serializer, which splits a str
    command name on spaces and copies every argument into a new tuple first (a tenth of
    a check's Python); hiredis packs the same bytes from the arguments as they are."""
    if isinstance(conn._command_packer, HiredisRespSerializer):
        packed = hiredis.pack_command((b"EVALSHA", sha, len(keys), *keys, *args))
        conn.send_packed_command([packed], check_health=True)
    else:
        conn.send_command("EVALSHA", sha, len(keys), *keys, *args)
    return conn.read_response()


def send_to_cluster(
    client: RedisCluster,
    calls: Sequence[tuple[tuple[Any, ...], dict[str, Any], str | None]],
) -> list[Any]:
    """Commands written to their slots' masters before any answer is read: one round
    trip. Replaces redis-py's ClusterPipeline.execute, which asks ``SCRIPT EXISTS`` first
    for scripts and re-sends commands whose connection timed out. Each call is
    (command args, options, the first key of a script or None); a script is routed by
    that key without asking the server."""
    stack = []
    for position, (command_args, options, first_key) in enumerate(calls):
        options = dict(options)
        if first_key is not None:
            options["target_nodes"] = client.get_node_from_key(first_key)
        stack.append(PipelineCommand(command_args, options, position))
    pipe = client.pipeline(transaction=False)
    return pipe.send_cluster_commands(stack, raise_on_error=False, allow_redirections=False)
