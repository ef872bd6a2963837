"""Verify profiles and their API keys in Redis: every key in the ``{profiles}`` slot.

    otp:{profiles}:version        moved in the same step as every change, to Redis's clock
                                  (ms) or one more (lua/include/version.lua)
    otp:{profiles}:all            hash: profile id -> JSON (name, overrides, times)
    otp:{profiles}:keys           hash: key id -> JSON (profile id, SHA-256 hex, prefix, time)
    otp:{profiles}:keys:<profile> set: the profile's key ids (deleting a profile revokes them)
    otp:{profiles}:used           hash: key id -> last used (ms), written by the refresher
    otp:{profiles}:purge          set: deleted profiles whose data is still to be removed

Workers poll ``version`` (one round trip) and read everything else in one more when it
moved (``snapshot``). A key is stored only as its digest; its plaintext never reaches Redis.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from otp_service.store.scripts import Store

__all__ = ["ProfileSnapshot", "ProfileStore", "StoredKey"]


@dataclass(frozen=True)
class StoredKey:
    id: str
    profile_id: str
    digest: str  # SHA-256 of the key, hex
    prefix: str  # the key's first 12 characters, to recognise it
    created_at: int  # ms
    last_used_at: int | None = None  # ms

    def to_json(self) -> str:
        fields = {
            "profile_id": self.profile_id,
            "digest": self.digest,
            "prefix": self.prefix,
            "created_at": self.created_at,
        }
        return json.dumps(fields, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class ProfileSnapshot:
    """Everything workers cache, read at one version."""

    version: int
    profiles: dict[str, dict[str, Any]]  # id -> the stored JSON, parsed
    keys: dict[str, StoredKey]  # key id -> key


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _version(value: Any) -> int:
    return int(value) if value is not None else 0


class ProfileStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.profile_keys()

    # -- reads ---------------------------------------------------------------------------
    def version(self) -> int:
        """The change counter: one round trip."""
        return _version(self.store.redis.get(self.keys.version))

    def snapshot(self) -> ProfileSnapshot:
        """Every profile and key, at one version: one round trip (MULTI/EXEC, one slot)."""
        pipe = self.store.redis.pipeline(transaction=True)
        pipe.get(self.keys.version)
        pipe.hgetall(self.keys.profiles)
        pipe.hgetall(self.keys.keys)
        pipe.hgetall(self.keys.used)
        version, profiles, keys, used = pipe.execute()
        last_used = {_text(k): int(v) for k, v in used.items()}
        stored = {}
        for raw_id, raw in keys.items():
            key_id = _text(raw_id)
            stored[key_id] = _key(key_id, raw, last_used.get(key_id))
        return ProfileSnapshot(
            version=_version(version),
            profiles={_text(k): json.loads(v) for k, v in profiles.items()},
            keys=stored,
        )

    def get(self, profile_id: str) -> str | None:
        """A profile's stored JSON, as stored (``update`` compares it)."""
        raw = self.store.redis.hget(self.keys.profiles, profile_id)
        return None if raw is None else _text(raw)

    def list_keys(self, profile_id: str) -> list[StoredKey]:
        """A profile's keys (two round trips: the ids, then their records)."""
        ids = sorted(_text(i) for i in self.store.redis.smembers(self.keys.of_profile(profile_id)))
        if not ids:
            return []
        pipe = self.store.pipeline()
        pipe.hmget(self.keys.keys, ids)
        pipe.hmget(self.keys.used, ids)
        records, used = pipe.execute()
        return [
            _key(key_id, raw, None if seen is None else int(seen))
            for key_id, raw, seen in zip(ids, records, used, strict=True)
            if raw is not None
        ]

    # -- changes (each bumps the version in the same atomic step; ``run_in_time``: none is
    # made by a Redis that runs it after the call gave up) ------------------------------
    def create(self, profile_id: str, record: str) -> bool:
        k = self.keys
        return bool(
            self.store.run_in_time("profile_create", [k.profiles, k.version], [profile_id, record])
        )

    def update(self, profile_id: str, read: str, record: str) -> int:
        """1 done, 0 no such profile, -1 changed since ``read`` was read."""
        k = self.keys
        return int(
            self.store.run_in_time(
                "profile_update", [k.profiles, k.version], [profile_id, read, record]
            )
        )

    def delete(self, profile_id: str) -> bool:
        """Delete the profile and revoke its keys in one step."""
        k = self.keys
        keys = [k.profiles, k.version, k.keys, k.used, k.of_profile(profile_id), k.purge]
        return bool(self.store.run_in_time("profile_delete", keys, [profile_id]))

    # -- a deleted profile's data (the worker removes it: profiles/purge.py) -------------
    def to_purge(self) -> list[str]:
        """Deleted profiles whose verifications and factors may still be in Redis."""
        return sorted(_text(p) for p in self.store.redis.smembers(self.keys.purge))

    def data_keys(self, profile_id: str) -> Iterator[str]:
        """The keys of the profile's own data: every per-number and per-subject key ends
        with its id (``store/scripts.py``: ``_scope``). One SCAN over every master."""
        pattern = f"{self.store.prefix}:{{*}}:*:{profile_id}"
        return (_text(k) for k in self.store.redis.scan_iter(match=pattern, count=1000))

    def unlink(self, keys: list[str]) -> None:
        self.store.redis.unlink(*keys)  # on a cluster, split by slot by redis-py

    def purged(self, profile_id: str) -> None:
        self.store.redis.srem(self.keys.purge, profile_id)

    def add_key(self, key: StoredKey) -> bool:
        """False when the profile does not exist (any more)."""
        k = self.keys
        keys = [k.profiles, k.version, k.keys, k.of_profile(key.profile_id)]
        return bool(
            self.store.run_in_time(
                "profile_key_create", keys, [key.profile_id, key.id, key.to_json()]
            )
        )

    def revoke_key(self, profile_id: str, key_id: str) -> bool:
        k = self.keys
        keys = [k.version, k.keys, k.used, k.of_profile(profile_id)]
        return bool(self.store.run_in_time("profile_key_revoke", keys, [key_id]))

    def record_use(self, used: dict[str, int]) -> None:
        """Last-used times (ms) of keys, one round trip; keys since revoked are skipped."""
        if used:
            args: list[Any] = [part for item in sorted(used.items()) for part in item]
            self.store.run("profile_keys_used", [self.keys.keys, self.keys.used], args)


def _key(key_id: str, raw: Any, last_used: int | None) -> StoredKey:
    fields = json.loads(raw)
    return StoredKey(
        id=key_id,
        profile_id=fields["profile_id"],
        digest=fields["digest"],
        prefix=fields["prefix"],
        created_at=int(fields["created_at"]),
        last_used_at=last_used,
    )
