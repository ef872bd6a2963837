"""Redis: the connection, every key name, and the Lua scripts registered once.

Keys are built only here. Every key that belongs to one phone number carries that
number's tag in braces (``otp:{tag}:v``), so each script touches a single Redis Cluster
hash slot and runs unchanged on one Redis or on a cluster:

    otp:{P}:v        hash: the number's latest verification, its per-number counters
    otp:{P}:o        opt-out marker of the number (no TTL: never lost)
    otp:{I}:i        an Idempotency-Key's claim and stored response

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

__all__ = ["SCRIPTS", "Store", "connect"]

SCRIPTS = ("create", "check", "cancel", "record", "undo", "idempotency_claim")


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
    return resources.files("otp_service").joinpath("lua", f"{name}.lua").read_text()


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

    # -- scripts ------------------------------------------------------------------------
    def run(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        """Run script ``name``; pass a pipeline as ``client`` to batch it."""
        return self._scripts[name](keys=keys, args=args, client=client)

    def pipeline(self) -> Any:
        return self.redis.pipeline(transaction=False)

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def close(self) -> None:
        self.redis.close()
