"""``REDIS_URL``: one Redis, a Redis Cluster, or a master watched by Sentinel.

    redis://[user:pass@]host[:port][/db][?options]          one Redis (redis-py's own
    rediss://…   unix://[user:pass@]/path/redis.sock[?db=0]  from_url forms)
    redis+cluster://[user:pass@]h1:p1[,h2:p2…][?options]    Redis Cluster: any reachable
    rediss+cluster://…                                       nodes; redis-py finds the rest
    redis+sentinel://[user:pass@]s1:p1[,s2:p2…]/service[?db=N&options]
    rediss+sentinel://…                                      the master Sentinel names

Ports default to 6379 (26379 for sentinels). ``user:pass`` is for the Redis nodes;
Sentinel's own credentials, when it has some, go in ``sentinel_username`` and
``sentinel_password``. Options for the new forms: ``socket_timeout``,
``socket_connect_timeout``, ``health_check_interval``, ``max_connections`` and, for TLS,
``ssl_cert_reqs``, ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``,
``ssl_check_hostname``. Anything else is refused at start-up.

The clients are redis-py's own: ``Redis`` (over ``QuickPool``, redis-py's pool with a
shorter checkout), ``RedisCluster``, ``Sentinel.master_for``. All
three get the same policy: reconnect once after a dropped connection (a refused or
reset connection), never retry after a timeout (a script may have run: running it twice
could count an attempt twice). MOVED, ASK and TRYAGAIN replies (a slot that moved or is
moving) are followed by redis-py: the command did not run where it was refused. After a
Sentinel failover, the old master answers READONLY; redis-py drops the connection, asks
the sentinels again, and the one reconnect goes to the new master.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import URL_QUERY_ARGUMENT_PARSERS, Connection, SSLConnection
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from otp_service.store.redis_shortcuts import QuickPool

__all__ = ["RedisTarget", "client_for", "parse_redis_url"]

SINGLE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
_OPTIONS = {
    "socket_timeout": float,
    "socket_connect_timeout": float,
    "health_check_interval": int,
    "max_connections": int,
}
_TLS_OPTIONS = {
    "ssl_cert_reqs": str,
    "ssl_ca_certs": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_check_hostname": URL_QUERY_ARGUMENT_PARSERS["ssl_check_hostname"],
}
_SENTINEL_OPTIONS = {"db": int, "sentinel_username": str, "sentinel_password": str}


@dataclass(frozen=True)
class RedisTarget:
    """What a ``REDIS_URL`` names; never printed with its password."""

    kind: str  # "single" | "cluster" | "sentinel"
    url: str = field(repr=False)
    hosts: tuple[tuple[str, int], ...] = ()
    service: str = ""
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict, repr=False)


def parse_redis_url(url: str) -> RedisTarget:
    """Read ``url``; raise ``ValueError`` with a message that never repeats a password."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SINGLE_SCHEMES + CLUSTER_SCHEMES + SENTINEL_SCHEMES:
        raise ValueError(
            "must start with redis://, rediss://, unix://, redis+cluster://, "
            "rediss+cluster://, redis+sentinel:// or rediss+sentinel://"
        )
    if scheme in SINGLE_SCHEMES:
        try:
            redis.connection.parse_url(url)
        except ValueError as exc:
            raise ValueError(_without_secrets(str(exc), url)) from None
        if scheme == "unix" and not rest.split("?", 1)[0].rpartition("@")[2]:
            raise ValueError("unix:// needs the socket's path")
        return RedisTarget("single", url)

    kind = "cluster" if scheme in CLUSTER_SCHEMES else "sentinel"
    tls = scheme.startswith("rediss")
    location, _, query = rest.partition("?")
    netloc, _, path = location.partition("/")
    username = password = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, has_password, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    default_port = 26379 if kind == "sentinel" else 6379
    hosts = tuple(_host_port(part, default_port) for part in netloc.split(","))

    allowed = dict(_OPTIONS)
    if tls:
        allowed.update(_TLS_OPTIONS)
    if kind == "sentinel":
        allowed.update(_SENTINEL_OPTIONS)
    options: dict[str, Any] = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        if name not in allowed:
            raise ValueError(f"{scheme}:// does not take the option {name!r}")
        try:
            options[name] = allowed[name](values[-1])
        except (TypeError, ValueError):
            raise ValueError(f"option {name!r} has an invalid value") from None

    service = unquote(path.strip("/"))
    if kind == "sentinel":
        if not service or "/" in service:
            raise ValueError(f"{scheme}:// needs the master's name as its path: …/mymaster")
    elif service:
        raise ValueError(f"{scheme}:// takes no path (a cluster has no databases)")
    return RedisTarget(kind, url, hosts, service, tls, username, password, options)


def _host_port(part: str, default_port: int) -> tuple[str, int]:
    part = part.strip()
    if part.startswith("["):  # [IPv6]:port
        host, _, tail = part[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else tail
    else:
        host, _, port_text = part.partition(":")
    if not host:
        raise ValueError("every node needs a host (host:port, comma-separated)")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{host!r} has an invalid port")
    return host, int(port_text)


def _without_secrets(message: str, url: str) -> str:
    _, _, rest = url.partition("://")
    userinfo = rest.split("/", 1)[0].rpartition("@")[0]
    return message.replace(userinfo, "***") if userinfo else message


def _retry() -> Retry:
    return Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))


class OtpRedisCluster(RedisCluster):
    """redis-py's RedisCluster with the single-node client's retry policy: it retries
    (once, see ``client_for``) after a dropped connection or a CLUSTERDOWN answer
    (refused, so it did not run), but not after a timeout, which RedisCluster retries
    by default."""

    ERRORS_ALLOW_RETRY = (
        redis.exceptions.ConnectionError,
        redis.exceptions.ClusterDownError,
        redis.exceptions.SlotNotCoveredError,
    )


def client_for(
    url: str, *, timeout: float = 2.0, client_name: str | None = None
) -> redis.Redis | RedisCluster:
    """A pooled redis-py client for ``url`` (see the module docstring for the policy);
    ``client_name`` names its connections in CLIENT LIST."""
    target = parse_redis_url(url)
    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
    }
    if client_name:
        common["client_name"] = client_name
    if target.kind == "single":
        client = redis.Redis(connection_pool=QuickPool.from_url(url, retry=_retry(), **common))
        client.auto_close_connection_pool = True  # close() closes its connections
        return client
    common.update(target.options)
    credentials = {"username": target.username, "password": target.password}
    tls = {"ssl": True} if target.tls else {}
    if target.kind == "cluster":
        # Reads the slot map from the first reachable node now: start-up needs one.
        return OtpRedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
            retry=_retry(),
            **credentials,
            **tls,
            **common,
        )
    sentinel_credentials = {
        "username": common.pop("sentinel_username", None),
        "password": common.pop("sentinel_password", None),
    }
    db = common.pop("db", 0)
    sentinel_kwargs = {
        # an unreachable sentinel is skipped at once for the next (redis-py's default
        # would retry it with back-off, seconds per request when all are down)
        "retry": Retry(NoBackoff(), 0),
        "socket_timeout": common["socket_timeout"],
        "socket_connect_timeout": common["socket_connect_timeout"],
        **sentinel_credentials,
        **{k: v for k, v in common.items() if k.startswith("ssl_")},
        **tls,
    }
    sentinel = Sentinel(list(target.hosts), sentinel_kwargs=sentinel_kwargs)
    return sentinel.master_for(
        target.service,
        connection_pool_class=FollowMasterPool,
        connection_class=MasterConnectionTLS if target.tls else MasterConnection,
        db=db,
        retry=_retry(),
        **credentials,
        **common,
    )


class MasterConnection(SentinelManagedConnection):
    """A connection to the master Sentinel names. When the node answers READONLY, having
    become a replica, the connection is dropped and ``ConnectionError`` raised, so the
    one retry reconnects, as redis-py's own class does; this one also
    - recognises the READONLY of a write inside a script, which Redis reports as a script
      error (the script stopped at that write: nothing ran), and
    - asks the sentinels for the master before that retry, which would otherwise
      reconnect to the node it just left (redis-py re-opens a dropped connection to its
      last address)."""

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return Connection.read_response(self, *args, **kwargs)
        except redis.exceptions.ResponseError as exc:
            demoted = isinstance(exc, redis.exceptions.ReadOnlyError) or "-READONLY " in str(exc)
            if not (demoted and self.connection_pool.is_master):
                raise
            self.disconnect()
            # if no sentinel answers, the retry fails and says so
            with contextlib.suppress(redis.exceptions.ConnectionError):
                self.host, self.port = self.connection_pool.get_master_address()
            raise redis.exceptions.ConnectionError("the master is now a replica") from exc


class MasterConnectionTLS(MasterConnection, SSLConnection):
    pass


class FollowMasterPool(SentinelConnectionPool):
    """redis-py's Sentinel pool learns of a failover only when a connection breaks or the
    old master refuses a write, and Sentinel reconfigures a demoted master (cutting its
    clients) only some 10 s after promoting its replica: all that while, pooled
    connections would keep writing to the old master, writes its resync then discards.
    So, when a connection is taken, this pool asks the sentinels which node is master
    (at most once a second) and drops a connection to any other node first."""

    recheck_seconds = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_check = 0.0

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = super().get_connection(*args, **kwargs)
        now = time.monotonic()
        if self.is_master and now >= self._next_check:
            self._next_check = now + self.recheck_seconds
            try:
                address = self.get_master_address()
            except redis.exceptions.ConnectionError:  # no sentinel answers: carry on
                return connection
            if (connection.host, connection.port) != tuple(address):
                connection.disconnect()
                connection.host, connection.port = address  # where it reconnects
        return connection
