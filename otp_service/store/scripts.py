"""Redis: every key name, and the Lua scripts registered once, one typed method each.

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
    otp:{guard}:*    the SMS-pumping guard's shared counters (guard.py), one window each;
                     a profile's own after the kind, like a number's keys; an end user's
                     IP and device only as keyed digests
    otp:{optouts}:*  the opt-out index: every number (zset by time), one zset per
                     source, number -> source (hash); for listing, not for enforcing
    otp:{audit}:log  stream: the admin audit log (audit.py), capped, oldest trimmed first
    otp:{T}:x        stream: the outbox — events written by the scripts that cause them
                     (lua/include/outbox.lua), read by the worker (events/)
    otp:{T}:t        zset: the shard's timer buckets due ('<bucket>:<profile>' -> the
                     bucket's end, ms): a worker fires a bucket once it is past
    otp:{T}:t:<b>:<p>  list: the tags of the numbers whose verification of profile <p>
                     expires in bucket <b> (TIMER_BUCKET_MS wide; 18 bytes each, where a
                     zset would take ~130): their expiry events (timer_fire.lua)
    otp:{T}:t:<b>:<p>:r<w>  list: the tags of the numbers whose latest send's no-receipt
                     timer (<w> ms) ends in bucket <b> (only where the profile falls back
                     on a missing receipt): receipt_timer.lua
    otp:{console}:s:<d>  hash: a console session (admin/sessions.py), <d> the digest of
                     its cookie; expires when idle

A service calls a script as it calls a function — ``store.check(tag, suffix, digest, now,
limits) -> CheckOutcome`` — and never builds a list of Lua arguments itself; the script's
own header (``lua/<name>.lua``) says what each argument and reply means.

``P`` is the phone tag (see ``ids.py``), ``I`` a digest of (client key id, idempotency key),
``S`` a TOTP factor subject's tag (``ids.SubjectTagger``), ``T`` the slot tag of ``P`` or
``S`` on a cluster (``slots.py``: one outbox and one timer zset per slot), ``o`` on one
Redis (one of each in all).
The scripts live in ``lua/*.lua`` and are registered with ``register_script`` (EVALSHA,
reloaded by redis-py on NOSCRIPT).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis
from redis.cluster import RedisCluster

from otp_service.ids import DEFAULT_PROFILE
from otp_service.store.redis_shortcuts import evalsha_on_pool, send_to_cluster
from otp_service.store.redis_url import client_for
from otp_service.store.slots import slot_tag, slot_tags

__all__ = [
    "HISTORY_MAX",
    "SCRIPTS",
    "Batch",
    "CancelOutcome",
    "CheckLimits",
    "CheckOutcome",
    "CreateOutcome",
    "FactorCheck",
    "FallbackOutcome",
    "FallbackRequest",
    "GuardCounter",
    "IdempotencyClaim",
    "NewFactor",
    "NewVerification",
    "PhoneCaps",
    "ProfileKeys",
    "RecordOutcome",
    "ScriptCall",
    "SendOutcome",
    "Store",
    "StoredVerification",
    "connect",
]

HISTORY_MAX = 20  # delivery events kept per verification

log = logging.getLogger(__name__)

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
    "profile_create",
    "profile_update",
    "profile_delete",
    "profile_key_create",
    "profile_key_revoke",
    "profile_keys_used",
    "timer_fire",
    "fallback",
    "receipt_timer",
    "webhook_endpoint_save",
    "webhook_enqueue",
    "webhook_claim",
    "webhook_finish",
    "webhook_first",
    "webhook_retry",
    "webhook_page",
    "history_index",
    "history_replace",
    "history_late_hold",
    "history_late_list",
    "audit_open",
    "audit_due",
    "audit_close",
)
# The shard of one Redis: no slot rule, one outbox and one timer zset in all.
SINGLE_SHARD = "o"
TIMER_BUCKET_MS = 10_000  # expiry events go out within this (and the worker's pass) of it


@dataclass(frozen=True)
class ScriptCall:
    """One script with its keys and arguments, to run alone or in a ``Batch``."""

    name: str
    keys: list[str]
    args: list[Any]


# -- what the verification scripts take and answer ---------------------------------------
@dataclass(frozen=True)
class GuardCounter:
    """One of the SMS-pumping guard's shared counters (guard.lua)."""

    reason: str
    key: str
    limit: int
    window_end: int  # ms
    mode: str = "enforce"  # or "shadow": count, and report what would have been refused


@dataclass(frozen=True)
class PhoneCaps:
    """create.lua's per-number caps: fixed hour and day windows (a cap of 10**9: none);
    the service's over every profile's sends, and a profile's own over its sends."""

    mode: str
    hour: int
    hour_cap: int
    hour_end: int
    day: int
    day_cap: int
    day_end: int
    profile_mode: str = "off"
    profile_hour_cap: int = 10**9
    profile_day_cap: int = 10**9


@dataclass(frozen=True)
class NewVerification:
    """What create.lua writes for a new code (see its header)."""

    phone: str
    suffix: str  # the random half of a new verification's id
    digest: bytes  # the code's HMAC
    ttl_ms: int
    max_sends: int
    cooldown_ms: int
    channel: str  # its stored letter
    keep_ms: int  # how long an ended verification stays readable
    token: str  # names the undo record only this create may roll back
    caps: PhoneCaps
    # the request's own choices, kept for its fallback's (None: the profile's)
    locale: str | None = None
    app_name: str | None = None
    code_length: int | None = None


@dataclass(frozen=True)
class FallbackRequest:
    """What fallback.lua needs to reserve a fallback send (see its header)."""

    trigger_send: int  # the send that failed or got no receipt: still the latest?
    digest: bytes  # the new code's HMAC
    max_sends: int
    max_fallbacks: int
    token: str  # names the undo record
    caps: PhoneCaps
    no_receipt_ms: int = 0  # the new send's no-receipt timer, from now (0: none)


@dataclass(frozen=True)
class FallbackOutcome:
    """reserved, or why not (fallback.lua's outcomes, or ``guard`` naming the cap in
    ``detail``); a reserved send's text is in the latest send's own locale and app name
    (None: the profile's)."""

    outcome: str
    detail: str
    locale: str | None = None
    app_name: str | None = None


@dataclass(frozen=True)
class CreateOutcome:
    """created | resent, or why not (cooldown, max_sends, locked, opted_out,
    phone_hourly, phone_daily) with ``until`` (ms) where it applies; and the guard's
    verdict: ok, refused or shadow, naming the counter."""

    outcome: str
    detail: str
    suffix: str
    guard: str
    counter: GuardCounter | None


@dataclass(frozen=True)
class SendOutcome:
    """What record.lua notes of a send: Telnyx's message id and status where known."""

    message_id: str
    sender: str  # SenderInfo.encode(), '' when none was chosen
    status: str
    errors_json: str  # '' for none
    failed: bool = False  # the verification fails for good (the recipient opted out)
    because: str = ""  # why this sender, when not the configured order ('cb')
    fallback: str = ""  # a fallback send's trigger (verification.fallback_sent)


@dataclass(frozen=True)
class StoredVerification:
    """view.lua's fields (``verification.record`` names them) and the number's history."""

    values: list[bytes | None]
    history: list[bytes]


@dataclass(frozen=True)
class RecordOutcome:
    recorded: bool  # False: the verification ended while its code was sent
    verification: StoredVerification


@dataclass(frozen=True)
class CheckLimits:
    max_attempts: int
    failure_limit: int
    lockout_ms: int
    replay_ms: int  # how long the approving code is answered 'approved' again


@dataclass(frozen=True)
class CheckOutcome:
    """approved | wrong | inactive with the verification's suffix, status letter (x:
    expired) and failed attempts (``detail`` 'again': the approving code, checked again
    within ``replay_ms``); or not_found | already_approved | max_attempts | locked
    (``detail``: locked until, ms)."""

    outcome: str
    detail: str
    suffix: str = ""
    status: bytes = b""
    attempts: int = 0


@dataclass(frozen=True)
class CancelOutcome:
    outcome: str  # canceled | unchanged | already_approved | not_found
    verification: StoredVerification | None


@dataclass(frozen=True)
class IdempotencyClaim:
    state: str  # new | conflict | running | done
    status: int = 0
    body: str = ""


# -- what the factor scripts take and answer ---------------------------------------------
@dataclass(frozen=True)
class NewFactor:
    suffix: str
    subject: str
    issuer: str
    label: str
    algorithm: str
    digits: int
    period: int
    ciphertext: bytes
    expires_at: int  # ms
    ttl_ms: int
    max_factors: int


@dataclass(frozen=True)
class FactorCheck:
    mode: str  # verify | check
    step: int
    matched_step: int | None
    max_attempts: int
    failure_limit: int
    lockout_ms: int


def _scope(profile: str) -> str:
    return "" if profile == DEFAULT_PROFILE else f":{profile}"


@dataclass(frozen=True)
class ProfileKeys:
    """The Redis keys of profiles and their API keys (one hash slot)."""

    version: str  # a counter, bumped with every change: workers poll it
    profiles: str  # hash: profile id -> JSON
    keys: str  # hash: key id -> JSON (profile id, SHA-256 digest, prefix, created_at)
    used: str  # hash: key id -> last used (ms)
    purge: str  # set: profiles deleted whose data the worker has still to remove
    base: str

    def of_profile(self, profile_id: str) -> str:
        """Set of one profile's key ids."""
        return f"{self.base}:keys:{profile_id}"


def connect(
    url: str, *, timeout: float = 2.0, client_name: str | None = None
) -> redis.Redis | RedisCluster:
    """A pooled client for ``url``: one Redis, a Redis Cluster or a Sentinel-managed
    master (the URL forms are in ``store/redis_url.py``). Reconnects once on a dropped
    connection, never retries after a timeout (a script may have run: running it twice
    could count an attempt twice)."""
    return client_for(url, timeout=timeout, client_name=client_name)


def _load_script(name: str) -> str:
    """A script's source, with the shared chunks named by its ``-- include:`` lines first
    (and theirs before them, each chunk once)."""
    lua = resources.files("otp_service.store").joinpath("lua")
    chunks: dict[str, str] = {}

    def add_includes(source: str) -> None:
        for line in source.splitlines():
            if line.startswith("-- include:"):
                include = line.split(":", 1)[1].strip()
                if include not in chunks:
                    text = lua.joinpath("include", f"{include}.lua").read_text()
                    add_includes(text)
                    chunks[include] = text

    source = lua.joinpath(f"{name}.lua").read_text()
    add_includes(source)
    return "\n".join([*chunks.values(), source])


class Store:
    """Key names and registered scripts over one Redis client."""

    def __init__(self, client: redis.Redis, prefix: str = "otp") -> None:
        self.redis = client
        self.prefix = prefix
        self._scripts = {name: client.register_script(_load_script(name)) for name in SCRIPTS}
        self.timeout_ms = _socket_timeout_ms(client)
        # one Redis (or Sentinel's master): EVALSHA straight on a pooled connection
        self._pool = None if isinstance(client, RedisCluster) else client.connection_pool
        self.cluster = isinstance(client, RedisCluster)

    # -- keys ---------------------------------------------------------------------------
    # A profile's keys of a number: the profile's id after the kind, in the number's slot
    # (the default profile's have none: the keys of an install without profiles).
    def phone_key(self, tag: str, profile: str = DEFAULT_PROFILE) -> str:
        return f"{self.prefix}:{{{tag}}}:v{_scope(profile)}"

    def code_length_of(self, tag: str, profile: str = DEFAULT_PROFILE) -> int | None:
        """The code length the number's latest send asked for (create.lua's 'cl'); None
        when it asked for none (the profile's)."""
        found = self.redis.hget(self.phone_key(tag, profile), "cl")
        return int(found) if found else None

    def history_key(self, tag: str, profile: str = DEFAULT_PROFILE) -> str:
        return f"{self.prefix}:{{{tag}}}:h{_scope(profile)}"

    def parked_key(self, tag: str, profile: str = DEFAULT_PROFILE) -> str:
        return f"{self.prefix}:{{{tag}}}:q{_scope(profile)}"

    def undo_key(self, tag: str, profile: str = DEFAULT_PROFILE) -> str:
        return f"{self.prefix}:{{{tag}}}:u{_scope(profile)}"

    def optout_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:o"

    def idempotency_key(self, tag: str) -> str:
        return f"{self.prefix}:{{{tag}}}:i"

    def factor_key(self, tag: str, suffix: str, profile: str = DEFAULT_PROFILE) -> str:
        return f"{self.prefix}:{{{tag}}}:f:{suffix}{_scope(profile)}"

    def subject_key(self, tag: str, profile: str = DEFAULT_PROFILE) -> str:
        return f"{self.prefix}:{{{tag}}}:s{_scope(profile)}"

    def guard_key(
        self, kind: str, subject: str, window: int, profile: str = DEFAULT_PROFILE
    ) -> str:
        """A guard counter; all of them share the {guard} slot (see guard.py)."""
        return f"{self.prefix}:{{guard}}:{kind}{_scope(profile)}:{subject}:{window}"

    def event_key(self, tag: str, event_id: str) -> str:
        return f"{self.prefix}:{{{tag}}}:e:{event_id}"

    def optout_index_keys(self, sources: tuple[str, ...]) -> list[str]:
        """[all numbers, number -> source, one zset per source], all in one slot."""
        base = f"{self.prefix}:{{optouts}}"
        return [f"{base}:all", f"{base}:source"] + [f"{base}:{name}" for name in sources]

    # The outbox and the timers: one of each per hash slot on a cluster ("shards"), one in
    # all on one Redis.
    def shard(self, tag: str) -> str:
        """The shard of a number's or subject's keys."""
        return slot_tag(tag) if self.cluster else SINGLE_SHARD

    def shards(self) -> tuple[str, ...]:
        """Every shard there can be."""
        return slot_tags() if self.cluster else (SINGLE_SHARD,)

    def outbox_key(self, shard: str) -> str:
        return f"{self.prefix}:{{{shard}}}:x"

    def timers_key(self, shard: str) -> str:
        return f"{self.prefix}:{{{shard}}}:t"

    def timer_bucket(self, tag: str, profile: str, due_ms: int) -> tuple[str, str, int]:
        """(the bucket's list key, its name in the shard's timers, its end ms)."""
        bucket = due_ms // TIMER_BUCKET_MS
        name = f"{bucket}:{profile}"
        return f"{self.timers_key(self.shard(tag))}:{name}", name, (bucket + 1) * TIMER_BUCKET_MS

    def receipt_bucket(
        self, tag: str, profile: str, now: int, window_ms: int
    ) -> tuple[str, str, int]:
        """The bucket of a no-receipt timer set at ``now``: (its list key, its name in
        the timers, its end). The name carries the window (``<bucket>:<profile>:r<ms>``):
        receipt_timer.lua needs it to tell whose timer it fires."""
        key, name, end = self.timer_bucket(tag, profile, now + window_ms)
        return f"{key}:r{window_ms}", f"{name}:r{window_ms}", end

    def audit_key(self) -> str:
        """The admin audit log: one stream in a slot of its own."""
        return f"{self.prefix}:{{audit}}:log"

    def audit_open_key(self) -> str:
        """The admin changes under way (admin/audit.py), in the audit log's slot."""
        return f"{self.prefix}:{{audit}}:open"

    def console_session_key(self, digest: str) -> str:
        """A console session, by the digest of its cookie (never the cookie itself)."""
        return f"{self.prefix}:{{console}}:s:{digest}"

    def profile_keys(self) -> ProfileKeys:
        """Every profile key, all in the {profiles} slot (``store/profiles.py``)."""
        base = f"{self.prefix}:{{profiles}}"
        return ProfileKeys(
            version=f"{base}:version",
            profiles=f"{base}:all",
            keys=f"{base}:keys",
            used=f"{base}:used",
            purge=f"{base}:purge",
            base=base,
        )

    # -- scripts ------------------------------------------------------------------------
    def sha(self, name: str) -> str:
        return self._scripts[name].sha

    def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run script ``name`` now: one round trip (EVALSHA; loaded again on NOSCRIPT).

        The EVALSHA is sent as it is; redis-py's Script (an import, tuple copies and
        three calls a run) is used only when the server does not know the script."""
        script = self._scripts[name]
        try:
            if self._pool is not None:
                return evalsha_on_pool(self._pool, script.sha, keys, args)
            return self.redis.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            pass  # a restarted or new server: not run
        try:
            return script(keys=keys, args=args)  # loads it, then runs it
        except redis.exceptions.NoScriptError:
            # loaded, then the EVALSHA reconnected to another node (a failover): not run
            return script(keys=keys, args=args)

    def run_in_time(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """``run`` for a change its caller gives up on when this call times out (an
        operator's, answered 503): the script gets that moment as its last argument
        (``lua/include/deadline.lua``) and, run later (Redis was paused with the command
        queued, and resumed), writes nothing and answers 'late'. So the 503 is true, the
        audit log holds no change that was not made, and a retry is a plain change. A
        'late' that does arrive means Redis's clock is ahead of ours: run once more
        without a deadline."""
        answer = self.run(name, keys, [*args, self.deadline()])
        if answer == b"late":
            log.warning("Redis's clock is ahead of this host's: %s ran again", name)
            answer = self.run(name, keys, [*args, 0])
        return answer

    def run_all(self, calls: Sequence[ScriptCall], *, in_time: bool) -> list[Any]:
        """Scripts that make one change together, in one round trip (``Batch``); each takes
        a deadline as its last argument (``lua/include/deadline.lua``), given here.

        ``in_time``: an operator's change, as ``run_in_time``: all get the same deadline
        and, run past it, write nothing and answer 'late' (on one Redis a later one of
        them is past it too: TIME only moves on). One whose 'late' does arrive (Redis's
        clock ahead of ours, or the deadline fell between two of them) is run once more
        without a deadline. Otherwise 0: never late (an opt-out a recipient or Telnyx
        asked for is never dropped)."""
        deadline = self.deadline() if in_time else 0
        batch = self.batch()
        for call in calls:
            batch.script(call.name, call.keys, [*call.args, deadline])
        answers = batch.execute()
        late = [i for i, answer in enumerate(answers) if answer == b"late"]
        if late:
            names = ", ".join(calls[i].name for i in late)
            log.warning("'late' answered in time (Redis's clock ahead?): %s ran again", names)
            again = self.batch()
            for i in late:
                again.script(calls[i].name, calls[i].keys, [*calls[i].args, 0])
            for i, answer in zip(late, again.execute(), strict=True):
                answers[i] = answer
        return answers

    def deadline(self) -> int:
        """When a call made now times out (ms, on this host's clock; 0: never), for a
        script to write nothing past it."""
        # a millisecond early: Redis compares whole milliseconds, and one that resumed in
        # the millisecond the call gave up in (its TIME truncated to this deadline) ran a
        # change whose 503 had been answered; a script run in that millisecond before
        # the give-up answers 'late' in time, and is run again
        return int(time.time() * 1000) + self.timeout_ms - 1 if self.timeout_ms else 0

    def batch(self) -> Batch:
        return Batch(self)

    def pipeline(self) -> Any:
        """Plain commands in one round trip (no scripts: use ``batch`` for those). On a
        cluster redis-py may send them again after a timeout: reads and idempotent
        writes only."""
        return self.redis.pipeline(transaction=False)

    # -- verifications (store/lua/{create,record,undo,check,get,cancel}.lua) ------------
    def create(
        self,
        tag: str,
        new: NewVerification,
        now: int,
        counters: Sequence[GuardCounter],
        profile: str = DEFAULT_PROFILE,
        other_profiles: Sequence[str] = (),
        no_receipt_ms: int = 0,
    ) -> CreateOutcome:
        """The guard's shared counters and the create itself, side by side: one round trip.
        ``other_profiles``: every other profile, whose sends to the number count against
        the service's per-number caps too. ``no_receipt_ms``: the send's no-receipt
        timer (0: none).

        The scripts are given the moment this call times out (on this host's clock): run
        later than that, they write nothing, so a create whose answer was lost (Redis
        paused, then resumed) leaves no pending verification without its SMS. A 'late'
        answer that does arrive means Redis's clock is ahead of ours: run once more
        without a deadline."""
        deadline = self.deadline()
        bucket_key, bucket, bucket_end = self.timer_bucket(tag, profile, now + new.ttl_ms)
        receipt_key, receipt, receipt_end = self.receipt_bucket(tag, profile, now, no_receipt_ms)
        keys = [
            self.phone_key(tag, profile),
            self.optout_key(tag),
            self.undo_key(tag, profile),
            self.timers_key(self.shard(tag)),
            bucket_key,
            receipt_key,
        ]
        keys += [self.phone_key(tag, other) for other in other_profiles if other != profile]
        timer = (bucket, bucket_end, receipt if no_receipt_ms else "", receipt_end)
        outcome = self._create(keys, new, now, counters, deadline, timer)
        if outcome.outcome == "late":
            log.warning("Redis's clock is ahead of this host's: a create ran again")
            outcome = self._create(keys, new, now, counters, 0, timer)
        return outcome

    def _create(
        self,
        keys: list[str],
        new: NewVerification,
        now: int,
        counters: Sequence[GuardCounter],
        deadline: int,
        timer: tuple[str, int, str, int],
    ) -> CreateOutcome:
        batch = self.batch()
        if counters:
            guard_args: list[Any] = [deadline]
            for counter in counters:
                guard_args += [counter.limit, counter.window_end, counter.mode]
            batch.script("guard", [c.key for c in counters], guard_args)
        caps = new.caps
        batch.script(
            "create",
            keys,
            [
                now,
                new.phone,
                new.suffix,
                new.digest,
                new.ttl_ms,
                new.max_sends,
                new.cooldown_ms,
                new.channel,
                new.keep_ms,
                new.token,
                caps.mode,
                caps.hour,
                caps.hour_cap,
                caps.hour_end,
                caps.day,
                caps.day_cap,
                caps.day_end,
                deadline,
                caps.profile_mode,
                caps.profile_hour_cap,
                caps.profile_day_cap,
                *timer,
                new.locale or "",
                new.app_name or "",
                new.code_length or "",
            ],
        )
        *guarded, (outcome, detail, *created) = batch.execute()
        verdict, counter = "ok", None
        if guarded:
            verdict = guarded[0][0].decode()
            if outcome == b"late" and verdict in ("ok", "shadow"):
                self.refund_guard(counters)  # the deadline fell between the two scripts
            if verdict == "late":
                verdict = "ok"  # not counted: the deadline fell between the two scripts
            elif verdict != "ok":
                counter = counters[int(guarded[0][1]) - 1]
        return CreateOutcome(
            outcome.decode(),
            detail.decode(),
            created[0].decode() if created else "",
            verdict,
            counter,
        )

    def refund_guard(self, counters: Sequence[GuardCounter]) -> None:
        """Give back what guard.lua counted for a create that did not send after all."""
        if counters:
            self.run("guard_refund", [c.key for c in counters], [])

    def undo_create(
        self,
        tag: str,
        token: str,
        counters: Sequence[GuardCounter] = (),
        profile: str = DEFAULT_PROFILE,
        due: int = 0,
    ) -> None:
        """Roll back what create.lua (and guard.lua) did for a send that provably did not
        happen: one round trip. ``due``: the expiry it set (its timer goes too)."""
        bucket_key, bucket, _end = self.timer_bucket(tag, profile, due)
        batch = self.batch().script(
            "undo",
            [
                self.phone_key(tag, profile),
                self.undo_key(tag, profile),
                self.timers_key(self.shard(tag)),
                bucket_key,
            ],
            [token, bucket],
        )
        if counters:
            batch.script("guard_refund", [c.key for c in counters], [])
        batch.execute()

    def _record_call(
        self, tag: str, suffix: str, token: str, send: SendOutcome, now: int, profile: str
    ) -> ScriptCall:
        return ScriptCall(
            "record",
            [
                self.phone_key(tag, profile),
                self.undo_key(tag, profile),
                self.history_key(tag, profile),
                self.parked_key(tag, profile),
                self.outbox_key(self.shard(tag)),
            ],
            [
                suffix,
                token,
                send.message_id,
                send.sender,
                send.status,
                now,
                send.errors_json,
                "f" if send.failed else "",
                HISTORY_MAX,
                send.because,
                send.fallback,
            ],
        )

    def record_send(
        self,
        tag: str,
        suffix: str,
        token: str,
        send: SendOutcome,
        now: int,
        profile: str = DEFAULT_PROFILE,
    ) -> RecordOutcome:
        """Note the send's outcome: from now on its code stands."""
        call = self._record_call(tag, suffix, token, send, now, profile)
        outcome, _detail, history, values = self.run(call.name, call.keys, call.args)
        return RecordOutcome(outcome != b"gone", StoredVerification(values, history))

    def record_failed_send(
        self,
        tag: str,
        suffix: str,
        token: str,
        send: SendOutcome,
        now: int,
        counters: Sequence[GuardCounter],
        also: Sequence[ScriptCall],
        profile: str = DEFAULT_PROFILE,
    ) -> tuple[bool, list[Any]]:
        """Fail the verification of a send refused for good, with ``also`` (an opt-out's
        writes) and the guard's refund, in one round trip; (failed it? — not when it had
        ended meanwhile, or another took its place —, the replies of ``also``)."""
        batch = self.batch().call(self._record_call(tag, suffix, token, send, now, profile))
        for call in also:
            batch.call(call)
        if counters:
            batch.script("guard_refund", [c.key for c in counters], [])
        replies = batch.execute()
        return replies[0][0] != b"gone", replies[1 : 1 + len(also)]

    def fallback(
        self,
        tag: str,
        suffix: str,
        request: FallbackRequest,
        now: int,
        counters: Sequence[GuardCounter] = (),
        profile: str = DEFAULT_PROFILE,
        other_profiles: Sequence[str] = (),
    ) -> FallbackOutcome:
        """Reserve a fallback send (fallback.lua) beside the guard's shared counters: one
        round trip."""
        receipt_key, receipt, receipt_end = self.receipt_bucket(
            tag, profile, now, request.no_receipt_ms
        )
        keys = [
            self.phone_key(tag, profile),
            self.optout_key(tag),
            self.undo_key(tag, profile),
            self.timers_key(self.shard(tag)),
            receipt_key,
            self.history_key(tag, profile),
        ]
        keys += [self.phone_key(tag, other) for other in other_profiles if other != profile]
        caps = request.caps
        batch = self.batch()
        if counters:
            guard_args: list[Any] = [0]
            for counter in counters:
                guard_args += [counter.limit, counter.window_end, counter.mode]
            batch.script("guard", [c.key for c in counters], guard_args)
        batch.script(
            "fallback",
            keys,
            [
                suffix,
                request.trigger_send,
                now,
                request.digest,
                request.max_sends,
                request.max_fallbacks,
                request.token,
                caps.mode,
                caps.hour,
                caps.hour_cap,
                caps.day,
                caps.day_cap,
                caps.profile_mode,
                caps.profile_hour_cap,
                caps.profile_day_cap,
                receipt if request.no_receipt_ms else "",
                receipt_end,
            ],
        )
        *guarded, (outcome, detail, *text) = batch.execute()
        verdict = guarded[0][0].decode() if guarded else "ok"
        if outcome != b"reserved":
            if verdict != "refused":
                self.refund_guard(counters)
            return FallbackOutcome(outcome.decode(), detail.decode())
        if verdict == "refused":
            counter = counters[int(guarded[0][1]) - 1]
            self.undo_create(tag, request.token, (), profile)
            return FallbackOutcome("guard", counter.reason)
        locale, app_name = (value.decode() or None for value in text)
        return FallbackOutcome("reserved", detail.decode(), locale, app_name)

    def fire_receipt_timer(
        self, tag: str, bucket_end: int, window_ms: int, now: int, profile: str
    ) -> ScriptCall:
        """The call that fires one no-receipt timer (receipt_timer.lua), for a batch."""
        return ScriptCall(
            "receipt_timer",
            [
                self.phone_key(tag, profile),
                self.history_key(tag, profile),
                self.outbox_key(self.shard(tag)),
            ],
            [bucket_end, window_ms, now],
        )

    def check(
        self,
        tag: str,
        suffix: str,
        digest: bytes,
        now: int,
        limits: CheckLimits,
        profile: str = DEFAULT_PROFILE,
    ) -> CheckOutcome:
        """Check a code of the number's pending verification (``suffix`` '': whichever)."""
        outcome, detail, *rest = self.run(
            "check",
            [
                self.phone_key(tag, profile),
                self.history_key(tag, profile),
                self.outbox_key(self.shard(tag)),
            ],
            [
                now,
                suffix,
                digest,
                limits.max_attempts,
                limits.failure_limit,
                limits.lockout_ms,
                limits.replay_ms,
            ],
        )
        if not rest:
            return CheckOutcome(outcome.decode(), detail.decode())
        found, status, attempts = rest
        return CheckOutcome(
            outcome.decode(), detail.decode(), found.decode(), status, int(attempts)
        )

    def get(
        self, tag: str, suffix: str, profile: str = DEFAULT_PROFILE
    ) -> StoredVerification | None:
        found = self.run(
            "get", [self.phone_key(tag, profile), self.history_key(tag, profile)], [suffix]
        )
        if found is None:
            return None
        values, history = found
        return StoredVerification(values, history)

    def cancel(
        self, tag: str, suffix: str, now: int, profile: str = DEFAULT_PROFILE
    ) -> CancelOutcome:
        outcome, _detail, *rest = self.run(
            "cancel",
            [
                self.phone_key(tag, profile),
                self.history_key(tag, profile),
                self.outbox_key(self.shard(tag)),
            ],
            [suffix, now],
        )
        if outcome in (b"not_found", b"already_approved"):
            return CancelOutcome(outcome.decode(), None)
        history, values = rest
        return CancelOutcome(outcome.decode(), StoredVerification(values, history))

    # -- idempotency keys (store/lua/idempotency_claim.lua) ------------------------------
    def claim_idempotency_key(
        self, tag: str, fingerprint: str, running_ms: int
    ) -> IdempotencyClaim:
        state, *rest = self.run(
            "idempotency_claim", [self.idempotency_key(tag)], [fingerprint, running_ms]
        )
        if state == b"done":
            return IdempotencyClaim("done", int(rest[0]), rest[1].decode())
        return IdempotencyClaim(state.decode())

    def finish_idempotency_key(
        self, tag: str, status: int, body: dict[str, Any], ttl_s: int
    ) -> None:
        """Keep the answer under its key, for the retries to replay."""
        key = self.idempotency_key(tag)
        pipe = self.pipeline()
        pipe.hset(key, mapping={"st": "done", "status": status, "body": json.dumps(body)})
        pipe.expire(key, ttl_s)
        pipe.execute()

    def release_idempotency_key(self, tag: str) -> None:
        self.redis.delete(self.idempotency_key(tag))

    # -- Telnyx's webhooks (store/lua/{delivery_event,link_click}.lua) --------------------
    def apply_delivery_event(
        self,
        tag: str,
        event_id: str,
        *,
        message_id: str,
        status: str,
        occurred_at: int,
        errors_json: str,
        event_type: str,
        dedupe_ms: int,
        profile: str = DEFAULT_PROFILE,
        cost_json: str = "",
    ) -> str:
        """applied | duplicate | parked | unknown | … (see delivery_event.lua)."""
        outcome = self.run(
            "delivery_event",
            [
                self.phone_key(tag, profile),
                self.event_key(tag, event_id),
                self.undo_key(tag, profile),
                self.history_key(tag, profile),
                self.parked_key(tag, profile),
                self.outbox_key(self.shard(tag)),
            ],
            [
                message_id,
                status,
                occurred_at,
                errors_json,
                event_type,
                dedupe_ms,
                HISTORY_MAX,
                cost_json,
            ],
        )
        return outcome.decode()

    def count_link_click(
        self,
        tag: str,
        event_id: str,
        message_id: str,
        dedupe_ms: int,
        profile: str = DEFAULT_PROFILE,
    ) -> str:
        """counted | duplicate | unknown."""
        outcome = self.run(
            "link_click",
            [self.phone_key(tag, profile), self.event_key(tag, event_id)],
            [message_id, dedupe_ms],
        )
        return outcome.decode()

    # -- TOTP factors (store/lua/factor_*.lua) --------------------------------------------
    def create_factor(
        self, tag: str, factor: NewFactor, now: int, profile: str = DEFAULT_PROFILE
    ) -> str:
        """created | too_many."""
        outcome, _detail = self.run(
            "factor_create",
            [self.factor_key(tag, factor.suffix, profile), self.subject_key(tag, profile)],
            [
                now,
                factor.expires_at,
                factor.ttl_ms,
                factor.max_factors,
                factor.suffix,
                factor.subject,
                factor.issuer,
                factor.label,
                factor.algorithm,
                factor.digits,
                factor.period,
                factor.ciphertext,
            ],
        )
        return outcome.decode()

    def check_factor(
        self,
        tag: str,
        suffix: str,
        check: FactorCheck,
        now: int,
        profile: str = DEFAULT_PROFILE,
    ) -> tuple[str, bytes]:
        """(outcome, detail): see factor_check.lua."""
        outcome, detail = self.run(
            "factor_check",
            [
                self.factor_key(tag, suffix, profile),
                self.subject_key(tag, profile),
                self.outbox_key(self.shard(tag)),
            ],
            [
                check.mode,
                now,
                check.step,
                "" if check.matched_step is None else check.matched_step,
                check.max_attempts,
                check.failure_limit,
                check.lockout_ms,
                suffix,
            ],
        )
        return outcome.decode(), detail

    def delete_factor(
        self, tag: str, suffix: str, now: int, profile: str = DEFAULT_PROFILE
    ) -> bool:
        """False when there was no such factor."""
        outcome = self.run(
            "factor_delete",
            [
                self.factor_key(tag, suffix, profile),
                self.subject_key(tag, profile),
                self.outbox_key(self.shard(tag)),
            ],
            [now, suffix],
        )
        return outcome != b"not_found"

    # -- plumbing -------------------------------------------------------------------------
    def ping(self) -> bool:
        if isinstance(self.redis, RedisCluster):  # every master, not one chosen node
            return bool(self.redis.ping(target_nodes=RedisCluster.PRIMARIES))
        return bool(self.redis.ping())

    def close(self) -> None:
        self.redis.close()


def _socket_timeout_ms(client: redis.Redis | RedisCluster) -> int:
    """How long the client waits for an answer (ms; 0: for ever)."""
    if isinstance(client, RedisCluster):
        kwargs = client.nodes_manager.connection_kwargs
    else:
        kwargs = client.connection_pool.connection_kwargs
    timeout = kwargs.get("socket_timeout")
    return int(timeout * 1000) if timeout else 0


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
        sha = self.store.sha(name)
        self.calls.append((("EVALSHA", sha, len(keys), *keys, *args), {}, (name, keys, args)))
        return self

    def call(self, call: ScriptCall) -> Batch:
        return self.script(call.name, call.keys, call.args)

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
        return send_to_cluster(
            client,
            [
                (args, options, script[1][0] if script else None)
                for args, options, script in self.calls
            ],
        )


class _Capture:
    """Turns a redis-py command method call into its (args, options), for ``Batch``."""

    def execute_command(self, *args: Any, **options: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return args, options

    def __getattr__(self, name: str) -> Any:
        method = getattr(redis.Redis, name)
        return method.__get__(self)
