"""A deleted profile's data, removed by the worker.

Deleting a profile revokes its keys at once, so nothing can reach its verifications and
TOTP factors any more; verifications expire by themselves, but a factor has no expiry
and keeps its subject's name. ``profile_delete.lua`` notes the profile in a set; the
worker runs ``ProfilePurge`` at every pass, which SCANs for the profile's keys (all end
with its id) and unlinks them, a batch a pass, deletes any webhook endpoint of the
profile still there (the delete removes them after the profile: Redis lost in between
left them, and the API cannot reach them any more), then forgets the profile. A worker
that dies mid-scan leaves the profile noted: another scans it again (unlinking twice is
harmless).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from itertools import islice

import redis

from otp_service.store.profiles import ProfileStore
from otp_service.store.webhooks import WebhookStore

__all__ = ["ProfilePurge"]

log = logging.getLogger(__name__)

BATCH = 500  # keys unlinked a pass
LOOK_EVERY_MS = 30_000  # how often an idle worker asks whether a profile was deleted


class ProfilePurge:
    """A chore of the worker: at most one batch of one deleted profile's keys a call;
    how many keys it removed (0: nothing to do)."""

    def __init__(
        self,
        store: ProfileStore,
        look_every_ms: int = LOOK_EVERY_MS,
        webhooks: WebhookStore | None = None,
    ) -> None:
        self.store = store
        self.webhooks = webhooks
        self.look_every_ms = look_every_ms
        self._scan: tuple[str, Iterator[str]] | None = None
        self._looked = -float("inf")  # time.monotonic, ms

    def __call__(self) -> int:
        if self._scan is None:
            tick = time.monotonic() * 1000
            if tick - self._looked < self.look_every_ms:
                return 0
            self._looked = tick
            pending = self.store.to_purge()
            if not pending:
                return 0
            self._scan = (pending[0], self.store.data_keys(pending[0]))
        profile_id, keys = self._scan
        try:
            batch = list(islice(keys, BATCH))
            if batch:
                self.store.unlink(batch)
            if len(batch) < BATCH:  # the scan is over: every key of it is gone
                if self.webhooks is not None:
                    self.webhooks.delete_profile_endpoints(profile_id)
                self.store.purged(profile_id)
                self._scan = None
                self._looked = -float("inf")  # another may be waiting
                log.info("profile %s deleted: its data is removed from Redis", profile_id)
        except redis.exceptions.RedisError:
            self._scan = None  # a broken scan starts again from the beginning
            raise
        return max(len(batch), 1)
