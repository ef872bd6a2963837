"""Redis: the connection, every key name, and the Lua scripts registered once.

Keys are built only here. Every key that belongs to one phone number carries that
number's tag in braces (``otp:{tag}:v``), so each script touches a single Redis Cluster
hash slot and runs unchanged on one Redis or on a cluster:

    otp:{P}:v        hash: the number's latest verification, its per-number counters
    otp:{P}:o        opt-out marker of the number (no TTL: never lost)
    otp:{P}:e:<id>   a webhook event already applied (24 h)
    otp:{I}:i        an Idempotency-Key's claim and stored response
    otp:{optouts}:*  the opt-out index: every number (zset by time), one zset per
                     source, number -> source (hash); for listing, not for enforcing

``P`` is the phone tag (see ``ids.py``), ``I`` a digest of (client key id, idempotency key).
The scripts live in ``lua/*.lua`` and are registered with ``register_script`` (EVALSHA,
reloaded by redis-py on NOSCRIPT).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["HISTORY_MAX", "SCRIPTS", "Batch", "Store", "connect"]

HISTORY_MAX = 20  # delivery events kept per verification

SCRIPTS = (
    "create",
    "check",
    "cancel",
    "record",
    "undo",
    "idempotency_claim",
    "optout_mark",
    "optout_index",
    "delivery_event",
    "link_click",
)


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis:
    """A pooled client for ``url``. Reconnects once on a dropped connection, never
    retries after a timeout (a script may have run: running it twice could count an
    attempt twice)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
        health_check_interval=30,
    )


def _load_script(name: str) -> str:
    """A script's source, with the shared chunks named by its ``-- include:`` lines first."""
    lua = resources.files("otp_service").joinpath("lua")
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

    # -- keys ---------------------------------------------------------------------------
    def phone_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:v"

    def optout_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:o"

    def idempotency_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:i"

    def event_key(self, tag: str, event_id: str) -> str:
        return f"{self.prefix}:{{{tag}}}:e:{event_id}"

    def optout_index_keys(self, sources: tuple[str, ...]) -> list[str]:
        """[all numbers, number -> source, one zset per source], all in one slot."""
        base = f"{self.prefix}:{{optouts}}"
        return [f"{base}:all", f"{base}:source"] + [f"{base}:{name}" for name in sources]

    # -- scripts ------------------------------------------------------------------------
    def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run script ``name`` now: one round trip (EVALSHA; loaded again on NOSCRIPT)."""
        return self._scripts[name](keys=keys, args=args)

    def batch(self) -> Batch:
        return Batch(self)

    def pipeline(self) -> Any:
        """Plain commands in one round trip (no scripts: use ``batch`` for those)."""
        return self.redis.pipeline(transaction=False)

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def close(self) -> None:
        self.redis.close()


class Batch:
    """Scripts and commands sent in one round trip.

    redis-py's own pipelines ask ``SCRIPT EXISTS`` before every execute that holds a
    script — a second round trip. A batch queues bare EVALSHAs instead and, for any that
    come back NOSCRIPT (Redis restarted, failed over), runs just those again through
    their Script, which loads them: a NOSCRIPT command did not run, so that is safe.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pipe = store.redis.pipeline(transaction=False)
        self.calls: list[tuple[str, list[str], list[Any]] | None] = []

    def script(self, name: str, keys: list[str], args: list[Any]) -> Batch:
        sha = self.store._scripts[name].sha
        self.pipe.evalsha(sha, len(keys), *keys, *args)
        self.calls.append((name, keys, args))
        return self

    def command(self, name: str, *args: Any, **kwargs: Any) -> Batch:
        getattr(self.pipe, name)(*args, **kwargs)
        self.calls.append(None)
        return self

    def execute(self) -> list[Any]:
        if not self.calls:
            return []
        results = self.pipe.execute(raise_on_error=False)
        for i, (result, call) in enumerate(zip(results, self.calls, strict=True)):
            if isinstance(result, redis.exceptions.NoScriptError) and call is not None:
                results[i] = self.store.run(*call)
            elif isinstance(result, Exception):
                raise result
        return results
