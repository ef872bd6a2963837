"""Redis: the connection, every key name, and the Lua scripts registered once.

Keys are built only here. Every key that belongs to one phone number carries that
number's tag in braces (``otp:{tag}:v``), so each script touches a single Redis Cluster
hash slot and runs unchanged on one Redis or on a cluster:

    otp:{P}:v        hash: the number's latest verification, its per-number counters
    otp:{P}:o        opt-out marker of the number (no TTL: never lost)
    otp:{P}:u        the undo record of a send in flight (create.lua to record.lua)
    otp:{P}:h        list: the number's delivery events, each tagged with its verification
    otp:{P}:q        list: delivery events that arrived before their send was recorded
    otp:{P}:e:<id>   a webhook event already applied (24 h)
    otp:{I}:i        an Idempotency-Key's claim and stored response
    otp:{S}:f:<r>    hash: a TOTP factor (encrypted secret, state, replay and throttle);
                     <r> is the random half of the factor id (``S`` the other)
    otp:{S}:s        hash: a subject's factors (x:<r> -> expiry, 0 = active) and its
                     consecutive failures / lock-out (see lua/factor_create.lua)
    otp:{guard}:*    the SMS-pumping guard's shared counters (guard.py), one window each
    otp:{optouts}:*  the opt-out index: every number (zset by time), one zset per
                     source, number -> source (hash); for listing, not for enforcing
    otp:{audit}:log  stream: the admin audit log (audit.py), capped, oldest trimmed first

``P`` is the phone tag (see ``ids.py``), ``I`` a digest of (client key id, idempotency key),
``S`` a TOTP factor subject's tag (``ids.SubjectTagger``).
The scripts live in ``lua/*.lua`` and are registered with ``register_script`` (EVALSHA,
reloaded by redis-py on NOSCRIPT).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import redis
from redis.cluster import PipelineCommand, RedisCluster

from otp_service.store.redis_url import client_for

__all__ = ["HISTORY_MAX", "SCRIPTS", "Batch", "Store", "connect"]

HISTORY_MAX = 20  # delivery events kept per verification

SCRIPTS = (
    "create",
    "check",
    "cancel",
    "get",
    "record",
    "undo",
    "idempotency_claim",
    "optout_mark",
    "optout_index",
    "delivery_event",
    "link_click",
    "guard",
    "guard_refund",
    "factor_create",
    "factor_check",
    "factor_delete",
)


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis | RedisCluster:
    """A pooled client for ``url``: one Redis, a Redis Cluster or a Sentinel-managed
    master (the URL forms are in ``store/redis_url.py``). Reconnects once on a dropped
    connection, never retries after a timeout (a script may have run: running it twice
    could count an attempt twice)."""
    return client_for(url, timeout=timeout)


def _load_script(name: str) -> str:
    """A script's source, with the shared chunks named by its ``-- include:`` lines first."""
    lua = resources.files("otp_service.store").joinpath("lua")
    source = lua.joinpath(f"{name}.lua").read_text()
    includes = [
        lua.joinpath("include", f"{line.split(':', 1)[1].strip()}.lua").read_text()
        for line in source.splitlines()
        if line.startswith("-- include:")
    ]
    return "\n".join([*includes, source])


class Store:
    """Key names and registered scripts over one Redis client."""

    def __init__(self, client: redis.Redis, prefix: str = "otp") -> None:
        self.redis = client
        self.prefix = prefix
        self._scripts = {name: client.register_script(_load_script(name)) for name in SCRIPTS}
        # one Redis (or Sentinel's master): EVALSHA straight on a pooled connection
        self._pool = None if isinstance(client, RedisCluster) else client.connection_pool

    # -- keys ---------------------------------------------------------------------------
    def phone_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:v"

    def history_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:h"

    def parked_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:q"

    def undo_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:u"

    def optout_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:o"

    def idempotency_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:i"

    def factor_key(self, tag: str, suffix: str) -> str:
        return f"{self.prefix}:{{{tag}}}:f:{suffix}"

    def subject_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:s"

    def guard_key(self, kind: str, subject: str, window: int) -> str:
        """A guard counter; all of them share the {guard} slot (see guard.py)."""
        return f"{self.prefix}:{{guard}}:{kind}:{subject}:{window}"

    def event_key(self, tag: str, event_id: str) -> str:
        return f"{self.prefix}:{{{tag}}}:e:{event_id}"

    def optout_index_keys(self, sources: tuple[str, ...]) -> list[str]:
        """[all numbers, number -> source, one zset per source], all in one slot."""
        base = f"{self.prefix}:{{optouts}}"
        return [f"{base}:all", f"{base}:source"] + [f"{base}:{name}" for name in sources]

    def audit_key(self) -> str:
        """The admin audit log: one stream in a slot of its own."""
        return f"{self.prefix}:{{audit}}:log"

    # -- scripts ------------------------------------------------------------------------
    def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run script ``name`` now: one round trip (EVALSHA; loaded again on NOSCRIPT).

        The EVALSHA is sent as it is; redis-py's Script (an import, tuple copies and
        three calls a run) is used only when the server does not know the script."""
        script = self._scripts[name]
        try:
            if self._pool is not None:
                return self._evalsha(script.sha, keys, args)
            return self.redis.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            pass  # a restarted or new server: not run
        try:
            return script(keys=keys, args=args)  # loads it, then runs it
        except redis.exceptions.NoScriptError:
            # loaded, then the EVALSHA reconnected to another node (a failover): not run
            return script(keys=keys, args=args)

    def _evalsha(self, sha: str, keys: list[str], args: list[Any]) -> Any:
        """``execute_command("EVALSHA", ...)`` as redis-py runs it on one Redis — a
        pooled connection, its retry policy (``connect``), a dropped connection closed,
        one flagged for reconnecting closed by the pool's release — without the
        per-command observability redis-py 8 adds (timings, closures, attribute
        lookups): about a sixth of a command's CPU, and this is every request's round
        trip."""
        pool = self._pool
        conn = pool.get_connection()
        try:
            return conn.retry.call_with_retry(
                lambda: self._send_evalsha(conn, sha, keys, args),
                lambda _error: conn.disconnect(),
            )
        finally:
            pool.release(conn)

    @staticmethod
    def _send_evalsha(conn: Any, sha: str, keys: list[str], args: list[Any]) -> Any:
        conn.send_command("EVALSHA", sha, len(keys), *keys, *args)
        return conn.read_response()

    def batch(self) -> Batch:
        return Batch(self)

    def pipeline(self) -> Any:
        """Plain commands in one round trip (no scripts: use ``batch`` for those). On a
        cluster redis-py may send them again after a timeout: reads and idempotent
        writes only."""
        return self.redis.pipeline(transaction=False)

    def ping(self) -> bool:
        if isinstance(self.redis, RedisCluster):  # every master, not one chosen node
            return bool(self.redis.ping(target_nodes=RedisCluster.PRIMARIES))
        return bool(self.redis.ping())

    def close(self) -> None:
        self.redis.close()


class Batch:
    """Scripts and commands sent in one round trip.

    redis-py's own pipelines ask ``SCRIPT EXISTS`` before every execute that holds a
    script — a second round trip. A batch queues bare EVALSHAs instead and, for any that
    come back NOSCRIPT (Redis restarted, failed over), runs just those again through
    their Script, which loads them: a NOSCRIPT command did not run, so that is safe.

    On a cluster the commands go to their slots' masters, written to all of them before
    any answer is read (still one round trip). A command refused with MOVED, ASK,
    TRYAGAIN or CLUSTERDOWN did not run: it is run again on its own, and redis-py
    follows the redirect. redis-py's ClusterPipeline would also re-send commands whose
    connection timed out; a batch does not (see ``connect``): a timeout is raised.
    """

    _NOT_RUN = (
        redis.exceptions.NoScriptError,
        redis.exceptions.AskError,  # MovedError too
        redis.exceptions.TryAgainError,
        redis.exceptions.ClusterDownError,
    )

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[
            tuple[tuple[Any, ...], dict[str, Any], tuple[str, list[str], list[Any]] | None]
        ] = []

    def script(self, name: str, keys: list[str], args: list[Any]) -> Batch:
        sha = self.store._scripts[name].sha
        self.calls.append((("EVALSHA", sha, len(keys), *keys, *args), {}, (name, keys, args)))
        return self

    def command(self, name: str, *args: Any, **kwargs: Any) -> Batch:
        command_args, options = getattr(_Capture(), name)(*args, **kwargs)
        self.calls.append((command_args, options, None))
        return self

    def execute(self) -> list[Any]:
        if not self.calls:
            return []
        client = self.store.redis
        if isinstance(client, RedisCluster):
            results = self._send_to_cluster(client)
        else:
            pipe = client.pipeline(transaction=False)
            for command_args, options, _script in self.calls:
                pipe.execute_command(*command_args, **options)
            results = pipe.execute(raise_on_error=False)
        for i, (result, (command_args, options, script)) in enumerate(
            zip(results, self.calls, strict=True)
        ):
            if not isinstance(result, Exception):
                continue
            # refused before running, or (cluster) a dropped connection: the same one
            # reconnect a single command gets; never after a timeout
            if (
                isinstance(result, self._NOT_RUN)
                or type(result) is redis.exceptions.ConnectionError
            ):
                if script is not None:
                    results[i] = self.store.run(*script)
                else:
                    results[i] = client.execute_command(*command_args, **options)
            else:
                raise result
        return results

    def _send_to_cluster(self, client: RedisCluster) -> list[Any]:
        stack = []
        for position, (command_args, options, script) in enumerate(self.calls):
            options = dict(options)
            if script is not None:  # routed by its first key, without asking the server
                options["target_nodes"] = client.get_node_from_key(script[1][0])
            stack.append(PipelineCommand(command_args, options, position))
        pipe = client.pipeline(transaction=False)
        return pipe.send_cluster_commands(stack, raise_on_error=False, allow_redirections=False)


class _Capture:
    """Turns a redis-py command method call into its (args, options), for ``Batch``."""

    def execute_command(self, *args: Any, **options: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return args, options

    def __getattr__(self, name: str) -> Any:
        method = getattr(redis.Redis, name)
        return method.__get__(self)
