"""Verifications made ahead of a measurement, through the service's own code.

``Seeder`` builds otp-service in-process from the same production settings as the
gunicorn instance (``create_app`` with a Telnyx transport that answers like the sandbox
and keeps each message's code), and creates verifications with the service's own
``VerificationService.create``: the same Lua scripts, keys and field layout the HTTP
path writes, without paying the HTTP path twice. Two processes share the work.

Requests are spread over three profiles (issue 18): ``default`` (the environment's
key) and two made by ``make_profiles`` through the service's own ``ProfileService``, each
with a key of its own. Seeded verifications go round-robin over them, and each remembers
its profile and the key that sees it.

``clone`` fills Redis up to a million verifications fast: it copies the keys of one real
verification (DUMP/RESTORE, so type, encoding and TTL are the service's own) under new
phone tags, in a server-side loop.
"""

from __future__ import annotations

import copy
import json
import multiprocessing
import re
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import redis

__all__ = [
    "BenchProfile",
    "Seeded",
    "Seeder",
    "clone",
    "flush_keeping_profiles",
    "make_profiles",
    "memory_per_verification",
]

_CODE = re.compile(r"\b(\d{4,10})\b")
# The two profiles made besides ``default``: settings of their own, as apps would have.
PROFILE_FIELDS = (
    {"name": "bench-shop", "app_name": "Shop"},
    {"name": "bench-bank", "app_name": "Bank", "ttl_seconds": 300},
)
# Keys that belong to no verification: left out of the memory per verification. The
# outbox (a worker keeps it empty) and the shard's list of timer buckets are one key each
# for all; the insights' counters are one hash an hour; the buckets' lists of expiring
# verifications are per verification, and counted.
NOT_PER_VERIFICATION = (b"{profiles}", b"{audit}", b"{webhooks}", b"{ins:")
SHARED_KEY_ENDS = (b"}:x", b"}:t")  # a shard's outbox, its timer buckets' names


@dataclass(frozen=True)
class BenchProfile:
    id: str
    key: str  # a client key of this profile


@dataclass(frozen=True)
class Seeded:
    id: str
    phone: str
    code: str
    message_id: str
    profile: str = "default"
    key: str = ""  # the client key that sees it (its profile's)


def make_profiles(env: Mapping[str, str], default_key: str) -> list[BenchProfile]:
    """``default`` and two new profiles with a key each, in ``env``'s Redis."""
    from otp_service import create_app

    app = create_app(dict(env))
    service = app.extensions["otp"].profiles
    try:
        made = [BenchProfile("default", default_key)]
        for fields in PROFILE_FIELDS:
            profile_id = service.create(fields, actor="bench")["id"]
            key = service.create_key(profile_id, actor="bench")["data"]["key"]
            made.append(BenchProfile(profile_id, key))
        return made
    finally:
        app.extensions["otp"].close()


def flush_keeping_profiles(client: redis.Redis) -> None:
    """FLUSHALL, but the profiles and their keys come back as they were (same version:
    the running workers' rings stay as they are). One MULTI/EXEC: a ring polling while
    the keys came back one by one could load the version with the keys still missing,
    and refuse every key (401) until the next change."""
    kept = [(key, client.dump(key)) for key in client.scan_iter(match="*{profiles}*")]
    pipe = client.pipeline(transaction=True)
    pipe.flushall()
    for key, value in kept:
        pipe.restore(key, 0, value)
    pipe.execute()


def _sandbox_like(template: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer the sandbox gave in ``template``, for the message in ``body``."""
    data = copy.deepcopy(dict(template))
    data["id"] = str(uuid.uuid4())
    data["text"] = body.get("text")
    to = data.get("to") or [{}]
    to[0] = dict(to[0], phone_number=body.get("to"), status="queued")
    data["to"] = to
    return {"data": data}


def _seed_part(
    env: Mapping[str, str],
    template: Mapping[str, Any],
    jobs: Sequence[tuple[str, BenchProfile]],
    threads: int,
) -> list[Seeded]:
    from otp_service import create_app
    from otp_service.verification import CreateRequest

    texts: dict[str, str] = {}

    def telnyx(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        texts[body.get("to")] = body.get("text") or ""
        return httpx.Response(200, json=_sandbox_like(template, body))

    app = create_app(dict(env), telnyx_transport=httpx.MockTransport(telnyx))
    services = app.extensions["otp"]

    def one(job: tuple[str, BenchProfile]) -> Seeded:
        phone, profile = job
        settings = services.profiles.settings_for(profile.id)
        request = CreateRequest(phone_number=phone)
        body = services.verifications.create(request, client_id="bench", profile=settings).body
        match = _CODE.search(texts[phone])
        if not match:
            raise RuntimeError(f"no code in the message {texts[phone]!r}")
        message_id = (body.get("delivery") or {}).get("message_id") or ""
        return Seeded(body["id"], phone, match.group(1), message_id, profile.id, profile.key)

    try:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, jobs))
    except Exception as exc:  # the service's errors may not survive pickling
        raise RuntimeError(f"seeding failed: {type(exc).__name__}: {exc}") from None
    finally:
        app.extensions["otp"].close()


class Seeder:
    """Creates pending verifications for given numbers, round-robin over ``profiles``;
    ``seed`` returns them in order."""

    def __init__(
        self,
        env: Mapping[str, str],
        template: Mapping[str, Any],
        profiles: Sequence[BenchProfile],
        processes: int = 2,
    ) -> None:
        self.env = dict(env)
        self.template = dict(template)
        self.profiles = list(profiles)
        self.processes = processes

    def seed(self, phones: Sequence[str], threads: int = 4) -> list[Seeded]:
        if not phones:
            return []
        jobs = [(phone, self.profiles[i % len(self.profiles)]) for i, phone in enumerate(phones)]
        parts = [jobs[i :: self.processes] for i in range(self.processes)]
        context = multiprocessing.get_context("fork")
        with context.Pool(self.processes) as pool:
            results = pool.starmap(
                _seed_part, [(self.env, self.template, part, threads) for part in parts if part]
            )
        by_phone = {s.phone: s for part in results for s in part}
        return [by_phone[p] for p in phones]


# Copies one verification's keys under ``count`` new tags ('z' and 15 digits: the length
# of a real tag). ARGV: count, first index, then (key head, key tail, pttl, dump) per key.
_CLONE = """
local count, first = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = first, first + count - 1 do
  local tag = string.format('z%015d', i)
  for k = 3, #ARGV, 4 do
    redis.call('RESTORE', ARGV[k] .. tag .. ARGV[k + 1], ARGV[k + 2], ARGV[k + 3], 'REPLACE')
  end
end
return count
"""


def clone(client: redis.Redis, template_keys: Sequence[bytes], tag: str, count: int) -> None:
    """Add ``count`` verifications shaped like the one whose keys carry ``{tag}``."""
    args: list[Any] = []
    for key in template_keys:
        head, _, tail = key.partition(tag.encode())
        pttl = client.pttl(key)
        args += [head, tail, max(pttl, 0), client.dump(key)]
    script = client.register_script(_CLONE)
    batch = 20_000
    for first in range(0, count, batch):
        script(args=[min(batch, count - first), first, *args])


def memory_per_verification(client: redis.Redis, match: str = "*") -> tuple[int, int]:
    """(keys, bytes): the sum of ``MEMORY USAGE`` over every key matching ``match``."""
    total = keys = 0
    pipe = client.pipeline(transaction=False)
    for key in client.scan_iter(match=match, count=1000):
        if any(part in key for part in NOT_PER_VERIFICATION) or key.endswith(SHARED_KEY_ENDS):
            continue
        pipe.memory_usage(key, samples=0)
        keys += 1
        if len(pipe) >= 1000:
            total += sum(v or 0 for v in pipe.execute())
    total += sum(v or 0 for v in pipe.execute())
    return keys, total
