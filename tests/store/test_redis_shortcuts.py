"""What store/redis_shortcuts.py relies on in redis-py, pinned: an upgrade that changes
any of it fails here, not in production."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import hiredis
import pytest
import redis
from redis.cluster import ClusterPipeline, PipelineCommand
from redis.connection import HiredisRespSerializer

from otp_service.store import connect
from otp_service.store.redis_server import RedisServer
from otp_service.store.redis_shortcuts import QuickPool, evalsha_on_pool


@pytest.fixture
def pool(redis_server: RedisServer) -> Iterator[QuickPool]:
    client = connect(redis_server.url)
    assert isinstance(client.connection_pool, QuickPool)
    yield client.connection_pool
    client.close()


def test_quick_pool_keeps_the_books_exactly_as_redis_pys_own_pool(redis_server):
    """The same checkouts and releases leave both pools in the same state."""
    ours = QuickPool.from_url(redis_server.url)
    theirs = redis.ConnectionPool.from_url(redis_server.url)
    for pool in (ours, theirs):
        first, second = pool.get_connection(), pool.get_connection()
        pool.release(first)
        again = pool.get_connection()
        assert again is first  # the released connection is reused
        assert pool._in_use_connections == {first, second}
        pool.release(again)
        pool.release(second)
        assert pool._in_use_connections == set()
        assert set(pool._available_connections) == {first, second}
        pool.disconnect()


def test_the_pool_internals_quick_pool_touches_are_still_there(pool):
    assert isinstance(pool._available_connections, list)
    assert isinstance(pool._in_use_connections, set)
    assert hasattr(pool._lock, "__enter__")
    conn = pool.get_connection()
    try:
        assert callable(conn.should_reconnect) and callable(conn.re_auth)
        assert conn.pid == pool.pid
    finally:
        pool.release(conn)


def test_evalsha_on_a_pooled_connection_answers_as_execute_command(pool, redis_server):
    client = redis.Redis.from_url(redis_server.url)
    sha = client.script_load("return {KEYS[1], ARGV[1]}")
    assert evalsha_on_pool(pool, sha, ["k"], ["v"]) == client.evalsha(sha, 1, "k", "v")
    with pytest.raises(redis.exceptions.NoScriptError):
        evalsha_on_pool(pool, "0" * 40, ["k"], [])
    client.close()


def test_evalsha_is_packed_to_the_bytes_redis_pys_own_serializer_makes(pool):
    conn = pool.get_connection()
    try:
        assert isinstance(conn._command_packer, HiredisRespSerializer)
        args = ("EVALSHA", "a" * 40, 2, "k1", "{t}:k2", b"\x00\xff", 7, "x y")
        ours = hiredis.pack_command((b"EVALSHA", *args[1:]))
        assert ours == b"".join(conn._command_packer.pack(*args))
        assert "check_health" in inspect.signature(conn.send_packed_command).parameters
    finally:
        pool.release(conn)


def test_the_cluster_pipeline_calls_send_to_cluster_makes_keep_their_signatures():
    assert list(inspect.signature(PipelineCommand).parameters)[:3] == [
        "args",
        "options",
        "position",
    ]
    sent = inspect.signature(ClusterPipeline.send_cluster_commands).parameters
    assert {"stack", "raise_on_error", "allow_redirections"} <= set(sent)
