"""The admin audit log: which admin key changed what, when, and how it ended.

One Redis stream (``otp:{audit}:log``, a hash slot of its own, built in ``store.py``),
capped at ``AUDIT_MAX`` entries: Redis trims the oldest first (approximately, in whole
nodes, so a few more may be kept). Each entry holds:

    at       ms since the epoch, by the service's clock
    key_id   the admin key's configured id (``g.key_id``), or ``cli`` — never the key
    action   one of ``ACTIONS``
    target   what was changed: a phone number, a Telnyx number id, a profile id, ``*``
    result   the outcome (``updated``, ``added``, ``exists``, ``removed``, ``accepted``,
             ``completed``) or, for a failure, the problem ``code`` it answered
    status   the HTTP status it answered (the CLI records the same)
    detail   JSON: what was asked (profile, product, counts), Telnyx's status and codes

Phone numbers are kept in entries (operators need them); logs mask them (``mask``).
Every admin change runs inside ``AuditLog.audited``, so a failure is recorded too.

A change that never gets to record its end (its process killed, or Redis lost between
the change and its entry) must not vanish from the log: ``audited`` first notes the
change as open (``otp:{audit}:open``, one hash field), and its entry removes the note in
the same step (``audit_close.lua``). A note still there ``open_for`` after it was
written (by Redis's clock: hosts' clocks need not agree) is filed by the worker
(``UnfinishedChanges``) as an entry with result ``unconfirmed`` and status 0: the
change may or may not have been made.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from otp_service import errors
from otp_service.admin.page import Page
from otp_service.errors import REDIS_UNAVAILABLE, ServiceError
from otp_service.phones import mask_phone
from otp_service.store import Store
from otp_service.timefmt import iso_time

__all__ = [
    "ACTIONS",
    "AUDIT_MAX",
    "CLI_KEY_ID",
    "AuditEntry",
    "AuditFilter",
    "AuditLog",
    "UnfinishedChanges",
    "mask",
]

log = logging.getLogger(__name__)

CLI_KEY_ID = "cli"  # the key id of changes made with `otp-service ...`

AUDIT_MAX = 10_000
ACTIONS = (
    "phone_number.update",
    "phone_numbers.bulk_update",
    "optout.add",
    "optout.remove",
    "optouts.sync",
    "optouts.import",
    "optouts.export",
    "profile.create",
    "profile.update",
    "profile.delete",
    "profile_key.create",
    "profile_key.revoke",
    "webhook.create",
    "webhook.update",
    "webhook.delete",
    "webhook.rotate_secret",
    "webhook.test",
    "webhook.disable",
    "webhook_delivery.retry",
    "webhook.replay",
    "console.sign_in",
    "console.sign_out",
)
TARGET_MAX = 128  # characters of a target kept (ids come from URLs)
_SCAN_CHUNK = 500
# How long a change may take before the worker files it as unconfirmed: longer than any
# admin call's Redis and Telnyx time bounds (a send's is 80 s), with room to spare.
OPEN_FOR_MS = 5 * 60_000
UNCONFIRMED = "unconfirmed"  # the result of a change whose end was never recorded


def mask(value: str) -> str:
    """A target fit for logs: phone numbers masked (``phones.mask_phone``), ids as they are."""
    return mask_phone(value) if value.startswith("+") else value


@dataclass(frozen=True)
class AuditFilter:
    """Which entries a listing keeps: ``None`` keeps any."""

    action: str | None = None
    key_id: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: int  # ms
    key_id: str
    action: str
    target: str
    result: str
    status: int
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso_time(self.at),
            "key_id": self.key_id,
            "action": self.action,
            "target": self.target,
            "result": self.result,
            "status": self.status,
            "detail": self.detail,
        }


class AuditLog:
    def __init__(
        self, store: Store, clock: Callable[[], float] = time.time, max_entries: int = AUDIT_MAX
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_entries = max_entries
        self.key = store.audit_key()
        self.open_key = store.audit_open_key()

    def record(
        self,
        *,
        key_id: str,
        action: str,
        target: str,
        result: str,
        status: int,
        detail: dict[str, Any] | None = None,
        token: str | None = None,
        only_if_open: bool = False,
    ) -> str:
        """Append one entry; its id (the stream's, ``<ms>-<seq>``). ``token``: the open
        change it ends (``audited``), closed in the same step; ``only_if_open``: written
        only if that change is still open ('' if not)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        fields = {
            "at": int(self.clock() * 1000),
            "key_id": key_id,
            "action": action,
            "target": target[:TARGET_MAX],
            "result": result,
            "status": status,
            "detail": json.dumps(detail or {}, separators=(",", ":"), sort_keys=True),
        }
        if token is None:
            entry_id = self.store.redis.xadd(
                self.key, fields, maxlen=self.max_entries, approximate=True
            )
        else:
            pairs = [item for pair in fields.items() for item in pair]
            entry_id = self.store.run(
                "audit_close",
                [self.key, self.open_key],
                [token, 1 if only_if_open else 0, self.max_entries, *pairs],
            )
        return _redis_str(entry_id) if entry_id else ""

    def _open(
        self, key_id: str, action: str, target: str, detail: dict[str, Any], open_for_ms: int
    ) -> str:
        """Note a change as under way, before it is tried; its token. Its time to end
        is on Redis's clock (``audit_open.lua``)."""
        token = secrets.token_hex(8)
        note = {
            "at": int(self.clock() * 1000),
            "key_id": key_id,
            "action": action,
            "target": target[:TARGET_MAX],
            "detail": detail,
        }
        self.store.run_in_time(
            "audit_open",
            [self.open_key],
            [token, json.dumps(note, separators=(",", ":")), open_for_ms],
        )
        return token

    def file_unfinished(self) -> int:
        """File every change open past its time (by Redis's clock) as ``unconfirmed``;
        how many."""
        due = self.store.run("audit_due", [self.open_key], [])
        filed = 0
        for token, raw in zip(due[0::2], due[1::2], strict=True):
            note = json.loads(raw)
            detail = {**note["detail"], "started_at": iso_time(note["at"])}
            log.warning(
                "admin %s %r by %s: its end was never recorded (filed as %s)",
                note["action"],
                mask(note["target"]),
                note["key_id"],
                UNCONFIRMED,
            )
            entry = self.record(
                key_id=note["key_id"],
                action=note["action"],
                target=note["target"],
                result=UNCONFIRMED,
                status=0,
                detail=detail,
                token=_redis_str(token),
                only_if_open=True,
            )
            filed += bool(entry)
        return filed

    def list(
        self,
        *,
        action: str | None = None,
        key_id: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[AuditEntry], int]:
        """One page of entries, newest first, and how many match in all."""
        redis = self.store.redis
        if action is None and key_id is None:
            total = redis.xlen(self.key)
            rows = redis.xrevrange(self.key, count=offset + limit) if offset < total else []
            return [_entry(row) for row in rows[offset:]], total
        matching: list[AuditEntry] = []
        high = "+"
        while True:  # the log is capped, so this scan is bounded
            rows = redis.xrevrange(self.key, max=high, count=_SCAN_CHUNK)
            for row in rows:
                entry = _entry(row)
                if (action is None or entry.action == action) and (
                    key_id is None or entry.key_id == key_id
                ):
                    matching.append(entry)
            if len(rows) < _SCAN_CHUNK:
                break
            high = "(" + _redis_str(rows[-1][0])
        return matching[offset : offset + limit], len(matching)

    def since(self, start_ms: int) -> list[AuditEntry]:
        """Every entry written at ``start_ms`` or later by the service's clock, oldest
        first: read newest first, in chunks, until one is older (the log is capped, so
        this is bounded). By ``at``, not by stream id: ids are Redis's clock."""
        found: list[AuditEntry] = []
        high = "+"
        while True:
            rows = self.store.redis.xrevrange(self.key, max=high, count=_SCAN_CHUNK)
            for row in rows:
                entry = _entry(row)
                if entry.at < start_ms:
                    return found[::-1]
                found.append(entry)
            if len(rows) < _SCAN_CHUNK:
                return found[::-1]
            high = "(" + _redis_str(rows[-1][0])

    def list_page(self, page: Page, where: AuditFilter) -> dict[str, Any]:
        """A page of the log, newest first, as the API answers it."""
        entries, total = self.list(
            action=where.action, key_id=where.key_id, offset=page.offset, limit=page.size
        )
        return {"data": [e.to_dict() for e in entries], "meta": page.meta(total)}

    @contextmanager
    def audited(
        self,
        actor: str,
        action: str,
        target: str,
        detail: dict[str, Any],
        open_for_ms: int = OPEN_FOR_MS,
    ) -> Iterator[dict[str, Any]]:
        """Record one entry for the block: ``outcome`` (result, status, detail) as the
        block set it, or the problem code and status it raised. ``open_for_ms``: how long
        the block may take before the worker files it as unconfirmed."""
        outcome: dict[str, Any] = {"result": "ok", "status": 200, "detail": {}}
        record = functools.partial(self.record, key_id=actor, action=action, target=target)
        try:
            # no Redis for the note: 503 (recorded if Redis takes that), nothing tried
            token = self._open(actor, action, target, detail, open_for_ms)
            record = functools.partial(record, token=token)
            yield outcome
        except Exception as exc:
            problem = _as_problem(exc)
            failure = {**detail, **outcome["detail"]}
            for name in ("provider_status", "provider_codes"):
                if name in problem.extra:
                    failure[name] = problem.extra[name]
            log.warning("admin %s %r by %s failed: %s", action, mask(target), actor, problem.code)
            try:
                record(result=problem.code, status=problem.status, detail=failure)
            except Exception:  # the failure itself stands; do not hide it (the worker
                # files the open change as unconfirmed)
                log.exception("audit entry for a failed %s not written", action)
            raise
        log.info("admin %s %r by %s: %s", action, mask(target), actor, outcome["result"])
        detail = {**detail, **outcome["detail"]}
        record(result=outcome["result"], status=outcome["status"], detail=detail)


class UnfinishedChanges:
    """A chore of the worker: now and then, file the admin changes whose end was never
    recorded (``AuditLog.file_unfinished``); how many it filed."""

    def __init__(self, audit: AuditLog, look_every_ms: int = 30_000) -> None:
        self.audit = audit
        self.look_every_ms = look_every_ms
        self._looked = -float("inf")  # time.monotonic, ms: not the clock, which tests move

    def __call__(self) -> int:
        tick = time.monotonic() * 1000
        if tick - self._looked < self.look_every_ms:
            return 0
        self._looked = tick
        return self.audit.file_unfinished()


def _as_problem(exc: Exception) -> ServiceError:
    """The problem an exception answers, to record its code and status."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, REDIS_UNAVAILABLE):
        return errors.StorageUnavailable()
    return errors.InternalError()


def _redis_str(value: Any) -> str:
    """A stream id, field or value as text (Redis answers bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(row: tuple[Any, dict[Any, Any]]) -> AuditEntry:
    entry_id, raw = row
    fields = {_redis_str(k): _redis_str(v) for k, v in raw.items()}
    return AuditEntry(
        id=_redis_str(entry_id),
        at=int(fields.get("at", 0)),
        key_id=fields.get("key_id", ""),
        action=fields.get("action", ""),
        target=fields.get("target", ""),
        result=fields.get("result", ""),
        status=int(fields.get("status", 0)),
        detail=json.loads(fields.get("detail") or "{}"),
    )
