"""Profile API keys: their form, and ``KeyRing``, every process's cache of them.

A key is ``otpk_`` + 32 base32 characters (160 random bits), shown once when created and
stored only as its SHA-256 digest. Finding a presented key's profile must not cost a Redis
round trip, so each process keeps every profile and every key digest in memory: a daemon
thread polls one version counter every ``REFRESH_SECONDS`` (one round trip) and reloads
everything (one more) when it moved. A revoked key or a deleted profile is therefore
refused by every worker of every instance within ``REFRESH_SECONDS`` plus two round
trips: the documented bound is 2 seconds. While Redis is unreachable the last loaded ring
keeps serving (nothing can be revoked then either). Every change moves the version to a
value it never held (``lua/include/version.lua``), so a Redis that comes back without its
last changes cannot bring it back to the version a ring holds: the next poll reloads.

The thread starts on first use in each process, and again in a forked child (gunicorn
forks its workers): the ring remembers the pid it started in. Last-used times are kept in
memory and written by the thread, at most once per poll, so a request adds no round trip.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from otp_service.config import Settings
from otp_service.ids import DEFAULT_PROFILE, b32, new_suffix
from otp_service.profiles.settings import ProfileSettings, effective
from otp_service.store.profiles import ProfileSnapshot, ProfileStore, StoredKey

__all__ = [
    "KEY_ID_PATTERN",
    "KEY_PREFIX",
    "REFRESH_SECONDS",
    "KeyRing",
    "Ring",
    "digest_of",
    "new_key",
    "new_key_id",
]

log = logging.getLogger(__name__)

KEY_PREFIX = "otpk_"
SHOWN_PREFIX = 12  # characters of a key listed to tell keys apart: otpk_ + 7
REFRESH_SECONDS = 0.5
REVOCATION_BOUND_SECONDS = 2.0  # what the README promises; the tests hold it
KEY_ID_PREFIX = "key_"
KEY_ID_PATTERN = r"key_[a-z2-7]{16}"


def new_key() -> str:
    return KEY_PREFIX + b32(secrets.token_bytes(20))


def new_key_id() -> str:
    return KEY_ID_PREFIX + new_suffix()


def digest_of(key: str) -> bytes:
    """The SHA-256 digest auth compares (``api/auth.py`` hashes the presented key so)."""
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class Ring:
    """One loaded version: profiles' effective settings, keys by digest."""

    version: int
    profiles: dict[str, ProfileSettings]
    by_digest: dict[bytes, tuple[str, str]]  # digest -> (key id, profile id)
    ids: tuple[str, ...] = (DEFAULT_PROFILE,)  # every profile's, the default's first


# Every ring of the process, so that a forked child resets them all (weakly held: an app
# that is gone takes its ring with it).
_RINGS: weakref.WeakSet[KeyRing] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for ring in list(_RINGS):
        ring._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


class KeyRing:
    def __init__(
        self,
        store: ProfileStore,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        interval: float = REFRESH_SECONDS,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.interval = interval
        self._ring: Ring | None = None
        self._used: dict[str, int] = {}  # key id -> ms, not yet written
        self._lock = threading.Lock()  # one load at a time
        self._stop = threading.Event()
        self._pid: int | None = None  # the process the thread runs in
        self._failing = False
        _RINGS.add(self)

    # -- the hot path ---------------------------------------------------------------------
    def current(self) -> Ring:
        """The loaded ring; loads it (once, synchronously) if it never was."""
        if self._pid != os.getpid():
            self._start()
        ring = self._ring
        if ring is None:
            with self._lock:
                if self._ring is None:
                    self._install(self.store.snapshot())
                ring = self._ring
            assert ring is not None
        return ring

    def resolve(self, digest: bytes) -> tuple[str, str] | None:
        """(key id, profile id) of a key's digest, or None; remembers the use."""
        found = self.current().by_digest.get(digest)
        if found is not None:
            self._used[found[0]] = int(self.clock() * 1000)
        return found

    def settings_for(self, profile_id: str) -> ProfileSettings | None:
        return self.current().profiles.get(profile_id)

    def profile_ids(self) -> tuple[str, ...]:
        """Every profile's id, the default's first (the service's per-number caps read
        the number's counts in each)."""
        return self.current().ids

    # -- refreshing -----------------------------------------------------------------------
    def refresh(self) -> bool:
        """One poll: write the last-used times, reload if the version moved. Whether it
        reloaded."""
        used, self._used = self._used, {}
        if used:
            try:
                self.store.record_use(used)
            except Exception:
                for key_id, at in used.items():  # kept for the next poll
                    self._used[key_id] = max(at, self._used.get(key_id, 0))
                raise
        ring = self._ring
        if ring is not None and self.store.version() == ring.version:
            return False
        self.reload()
        return True

    def reload(self) -> None:
        """Read everything now (after a change made in this process: read your writes)."""
        with self._lock:
            self._install(self.store.snapshot())

    def _install(self, snapshot: ProfileSnapshot) -> None:
        # Whatever its version: loads are one at a time (``_lock``), so this is the
        # latest read, and a version lower than the ring's is Redis back with older data.
        profiles = {
            profile_id: effective(self.settings, profile_id, stored)
            for profile_id, stored in snapshot.profiles.items()
        }
        by_digest = {
            bytes.fromhex(key.digest): (key.id, key.profile_id)
            for key in snapshot.keys.values()
            if key.profile_id in profiles
        }
        ids = (DEFAULT_PROFILE, *sorted(profiles))
        self._ring = Ring(snapshot.version, profiles, by_digest, ids)

    def _poll_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # Redis away: keep serving the last ring
            if not self._failing:
                log.warning("profile keys not refreshed, serving the last loaded: %r", exc)
            self._failing = True
            return
        if self._failing:
            log.info("profile keys refreshed again")
        self._failing = False

    def _start(self) -> None:
        with self._lock:
            pid = os.getpid()
            if self._pid == pid or self._stop.is_set():
                return
            self._pid = pid
            thread = threading.Thread(
                target=_refresh_loop,
                args=(weakref.ref(self), pid),
                name="otp-profile-keys",
                daemon=True,
            )
            thread.start()

    def _forked(self) -> None:
        """In a forked child: the parent's thread is not here; start one on first use.
        The ring loaded in the parent is kept (the thread reloads it if it moved)."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pid = None
        self._used = {}

    def close(self) -> None:
        """Stop the refresher and close the ring's own Redis client."""
        self._stop.set()
        self.store.store.close()


def _refresh_loop(ref: weakref.ref[KeyRing], pid: int) -> None:
    """The refresher: holds the ring weakly, ends with it, its ``close`` or a fork."""
    while True:
        ring = ref()
        if ring is None or ring._pid != pid or ring._stop.is_set():
            return
        stop, interval = ring._stop, ring.interval
        del ring
        if stop.wait(interval):
            return
        ring = ref()
        if ring is None or ring._pid != pid:
            return
        ring._poll_quietly()
        del ring


def stored_key(profile_id: str, key: str, now_ms: int) -> StoredKey:
    """What Redis keeps of a new key: its digest and first characters, never the key."""
    return StoredKey(
        id=new_key_id(),
        profile_id=profile_id,
        digest=digest_of(key).hex(),
        prefix=key[:SHOWN_PREFIX],
        created_at=now_ms,
    )
