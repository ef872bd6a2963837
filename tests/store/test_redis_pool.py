"""The connections to one Redis (``redis_url.QuickPool``): reused from request to request,
never shared with a forked process, never handing a stale reply to the next command,
reopened when the server closed them, closed with the store."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from otp_service.store import connect
from otp_service.store.redis_server import RedisServer
from otp_service.store.redis_url import QuickPool

SPIN = """
local start = redis.call('TIME')
while true do
  local now = redis.call('TIME')
  if (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 300000 then break end
end
return 'late'
"""


@pytest.fixture
def pooled(redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """A client as the service makes one for a single Redis (short timeout)."""
    client = connect(redis_server.url, timeout=0.1)
    assert isinstance(client.connection_pool, QuickPool)
    yield client
    client.close()


def others(redis_client: redis.Redis) -> list[dict[str, Any]]:
    """The clients connected to Redis, the test's own connection left out."""
    own = str(redis_client.client_id())
    return [c for c in redis_client.client_list() if c["id"] != own]


def test_requests_one_after_another_use_one_connection(client, redis_client):
    created = client.post("/v1/verifications", json={"phone_number": "+13125550123"})
    assert created.status_code == 201
    for _ in range(20):
        assert client.get(f"/v1/verifications/{created.get_json()['id']}").status_code == 200
    # besides the profiles' poller, on a client of its own (profiles/keys.py): a create
    # reads the list of profiles from it
    requests = [c for c in others(redis_client) if c["name"] != "otp-profile-keys"]
    assert len(requests) == 1


def test_a_forked_process_opens_its_own_connection(pooled):
    parent = pooled.client_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the connection it talks on, then leave at once
        try:
            os.write(write, str(pooled.client_id()).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = int(os.read(read, 64))
    os.close(read)
    assert child != parent
    assert pooled.client_id() == parent  # the parent's connection is still its own


def test_a_command_that_timed_out_leaves_no_reply_behind(pooled):
    with pytest.raises(redis.exceptions.TimeoutError):
        pooled.eval(SPIN, 0)
    time.sleep(0.4)  # the script is over: its reply was sent
    # the late reply went with the dropped connection: the next command reads its own
    assert pooled.echo("next") == b"next"


def test_a_connection_the_server_closed_is_reopened(pooled, redis_client):
    first = pooled.client_id()
    assert redis_client.client_kill_filter(_id=first) == 1
    assert pooled.echo("again") == b"again"
    assert pooled.client_id() != first
    assert len(others(redis_client)) == 1


def test_closing_the_client_closes_its_connections(pooled, redis_client):
    pooled.echo("one")
    assert len(others(redis_client)) == 1
    pooled.close()
    assert others(redis_client) == []
