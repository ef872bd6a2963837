"""Console sessions: who signed in to ``/console`` with which admin key, kept in Redis.

The browser holds only a random session token (a cookie); Redis holds the session under
the token's SHA-256 digest (``otp:{console}:s:<digest>``), so neither the admin key nor
a usable cookie is ever stored anywhere. A session holds:

    key_id      the admin key's configured id: every console change is audited under it
    csrf        the token every form of the session must send back
    created_at  ms; the session ends ``absolute_seconds`` after it, whatever happens
    seen_at     ms of its last request; it ends ``idle_seconds`` after it
    flash       a one-line notice for the next page (set after a change, read once)

Times come from the service's clock (tests move it); Redis forgets an idle session by
itself (a TTL of ``idle_seconds``, renewed on every request). No Flask here.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from otp_service.store import Store

__all__ = ["ABSOLUTE_SECONDS", "IDLE_SECONDS", "ConsoleSession", "ConsoleSessions"]

IDLE_SECONDS = 3600  # an hour without a request signs out
ABSOLUTE_SECONDS = 8 * 3600  # a working day, then sign in again
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class ConsoleSession:
    key_id: str
    csrf: str
    created_at: int  # ms
    seen_at: int  # ms
    flash: str | None = None


class ConsoleSessions:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], float] = time.time,
        *,
        idle_seconds: int = IDLE_SECONDS,
        absolute_seconds: int = ABSOLUTE_SECONDS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds

    def _key(self, token: str) -> str:
        return self.store.console_session_key(hashlib.sha256(token.encode()).hexdigest())

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def start(self, key_id: str) -> tuple[str, ConsoleSession]:
        """A new session for ``key_id``: (the cookie's token, the session)."""
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        now = self._now_ms()
        session = ConsoleSession(key_id, secrets.token_urlsafe(_TOKEN_BYTES), now, now)
        key = self._key(token)
        pipe = self.store.pipeline()
        pipe.hset(
            key,
            mapping={
                "key_id": key_id,
                "csrf": session.csrf,
                "created_at": now,
                "seen_at": now,
            },
        )
        pipe.expire(key, self.idle_seconds)
        pipe.execute()
        return token, session

    def resume(self, token: str) -> ConsoleSession | None:
        """The live session of ``token``, its idle time restarted and its notice taken;
        None (and the session gone) when unknown, idle too long or too old."""
        if not token or len(token) > 128:
            return None
        key = self._key(token)
        raw = self.store.redis.hgetall(key)
        if not raw:
            return None
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        now = self._now_ms()
        created_at, seen_at = int(fields.get("created_at", 0)), int(fields.get("seen_at", 0))
        if (
            "key_id" not in fields
            or now - seen_at >= self.idle_seconds * 1000
            or now - created_at >= self.absolute_seconds * 1000
        ):
            self.store.redis.delete(key)
            return None
        pipe = self.store.pipeline()
        pipe.hset(key, "seen_at", now)
        if "flash" in fields:
            pipe.hdel(key, "flash")
        pipe.expire(key, self.idle_seconds)
        pipe.execute()
        return ConsoleSession(
            fields["key_id"], fields["csrf"], created_at, now, fields.get("flash")
        )

    def notify(self, token: str, message: str) -> None:
        """A notice for the session's next page (``resume`` takes it)."""
        key = self._key(token)
        pipe = self.store.pipeline()
        pipe.hset(key, "flash", message[:300])
        pipe.expire(key, self.idle_seconds)  # never a key without a TTL, even if it just ended
        pipe.execute()

    def end(self, token: str) -> None:
        self.store.redis.delete(self._key(token))
