"""REDIS_URL: the forms it takes, the start-up error for a malformed one, and the retry
policy every form gets (reconnect once on a dropped connection, never after a timeout)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from otp_service.config import ConfigError, Settings
from otp_service.store import Store, connect
from otp_service.store.redis_url import FollowMasterPool, MasterConnection, parse_redis_url
from tests.support.redis_topology import LocalCluster


@pytest.mark.parametrize(
    ("url", "kind", "hosts", "service", "tls", "options"),
    [
        ("redis://127.0.0.1:6379/0", "single", (), "", False, {}),
        ("rediss://user:pw@redis.internal:6380/1", "single", (), "", False, {}),
        ("unix:///run/redis.sock?db=2", "single", (), "", False, {}),
        (
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002",
            "cluster",
            (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002)),
            "",
            False,
            {},
        ),
        (
            "rediss+cluster://app:s3cret@node-a,node-b:6380?ssl_ca_certs=/etc/ca.pem",
            "cluster",
            (("node-a", 6379), ("node-b", 6380)),
            "",
            True,
            {"ssl_ca_certs": "/etc/ca.pem"},
        ),
        (
            "redis+sentinel://s1,s2:26380,s3/mymaster?db=3&sentinel_password=x",
            "sentinel",
            (("s1", 26379), ("s2", 26380), ("s3", 26379)),
            "mymaster",
            False,
            {"db": 3, "sentinel_password": "x"},
        ),
        (
            "rediss+sentinel://:pw@s1:26379/otp%2Dmaster?socket_timeout=0.5",
            "sentinel",
            (("s1", 26379),),
            "otp-master",
            True,
            {"socket_timeout": 0.5},
        ),
    ],
)
def test_the_url_forms(url, kind, hosts, service, tls, options):
    target = parse_redis_url(url)
    assert (target.kind, target.hosts, target.service, target.tls) == (kind, hosts, service, tls)
    assert target.options == options


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://redis:6379", "must start with redis://"),
        ("redis+cluster://", "every node needs a host"),
        ("redis+cluster://a:1,b:http", "'b' has an invalid port"),
        ("redis+cluster://a:70000", "'a' has an invalid port"),
        ("redis+cluster://a:1/0", "takes no path"),
        ("redis+cluster://a:1?db=1", "does not take the option 'db'"),
        ("redis+cluster://a:1?socket_timeout=soon", "'socket_timeout' has an invalid value"),
        ("redis+cluster://a:1?ssl_ca_certs=/x", "does not take the option 'ssl_ca_certs'"),
        ("redis+sentinel://s1:26379", "needs the master's name"),
        ("redis+sentinel://s1:26379/a/b", "needs the master's name"),
        ("redis://h?db=one", "Invalid value for 'db'"),
        ("unix://", "needs the socket's path"),
    ],
)
def test_a_malformed_url_stops_start_up_with_one_line(url, says):
    secret_url = url.replace("://", "://admin:hunter2@", 1)
    for candidate in (url, secret_url):
        with pytest.raises(ConfigError) as error:
            Settings.from_env({"REDIS_URL": candidate})
        message = str(error.value)
        assert message.startswith("REDIS_URL is invalid: ")
        assert says in message
        assert "\n" not in message and "hunter2" not in message


def test_a_sentinel_url_builds_a_client_that_follows_the_master_without_connecting():
    client = connect("redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster?db=2", timeout=0.5)
    pool = client.connection_pool
    assert isinstance(pool, FollowMasterPool)
    assert pool.service_name == "mymaster"
    assert pool.connection_class is MasterConnection
    assert pool.connection_kwargs["db"] == 2
    retry = pool.connection_kwargs["retry"]
    assert retry.get_retries() == 1
    assert retry._supported_errors == (redis.exceptions.ConnectionError,)
    started = time.monotonic()
    with pytest.raises(redis.exceptions.ConnectionError):  # no sentinel there: 503
        client.ping()
    assert time.monotonic() - started < 1  # and at once, not after back-offs
    client.close()


SPIN = """
redis.call('INCR', KEYS[1])
local start = redis.call('TIME')
while true do
  local now = redis.call('TIME')
  if (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 150000 then break end
end
return 1
"""


def test_a_timed_out_script_is_not_run_again_on_a_cluster(cluster: LocalCluster, redis_client):
    client = connect(cluster.url, timeout=0.1)
    assert isinstance(client, RedisCluster)
    assert client.retry.get_retries() == 1
    try:
        with pytest.raises(redis.exceptions.TimeoutError):
            client.eval(SPIN, 1, "otp:{spin}:alone")
        batch = Store(client).batch().command("eval", SPIN, 1, "otp:{spin}:batched")
        with pytest.raises(redis.exceptions.TimeoutError):
            batch.execute()
    finally:
        client.close()
    time.sleep(0.4)  # both scripts have finished
    assert redis_client.get("otp:{spin}:alone") == b"1"
    assert redis_client.get("otp:{spin}:batched") == b"1"


def test_readiness_pings_every_master(cluster: LocalCluster, redis_client: Any):
    store = Store(connect(cluster.url))
    for node in cluster.nodes:
        node.client.config_resetstat()
    try:
        assert store.ping() is True
        pinged = [
            node.client.info("commandstats").get("cmdstat_ping", {}) for node in cluster.nodes
        ]
        assert all(stats.get("calls", 0) >= 1 for stats in pinged)
    finally:
        store.close()
