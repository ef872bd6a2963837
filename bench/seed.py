"""Verifications made ahead of a measurement, through the service's own code.

``Seeder`` builds otp-service in-process from the same production settings as the
gunicorn instance (``create_app`` with a Telnyx transport that answers like the sandbox
and keeps each message's code), and creates verifications with the service's own
``VerificationService.create``: the same Lua scripts, keys and field layout the HTTP
path writes, without paying the HTTP path twice. Two processes share the work.

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

__all__ = ["Seeded", "Seeder", "clone", "memory_per_verification"]

_CODE = re.compile(r"\b(\d{4,10})\b")


@dataclass(frozen=True)
class Seeded:
    id: str
    phone: str
    code: str
    message_id: str


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
    env: Mapping[str, str], template: Mapping[str, Any], phones: Sequence[str], threads: int
) -> list[Seeded]:
    from otp_service import create_app
    from otp_service.verification import CreateRequest

    texts: dict[str, str] = {}

    def telnyx(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        texts[body.get("to")] = body.get("text") or ""
        return httpx.Response(200, json=_sandbox_like(template, body))

    app = create_app(dict(env), telnyx_transport=httpx.MockTransport(telnyx))
    service = app.extensions["otp"].verifications

    def one(phone: str) -> Seeded:
        body = service.create(CreateRequest(phone_number=phone), client_id="bench").body
        match = _CODE.search(texts[phone])
        if not match:
            raise RuntimeError(f"no code in the message {texts[phone]!r}")
        message_id = (body.get("delivery") or {}).get("message_id") or ""
        return Seeded(body["id"], phone, match.group(1), message_id)

    try:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, phones))
    except Exception as exc:  # the service's errors may not survive pickling
        raise RuntimeError(f"seeding failed: {type(exc).__name__}: {exc}") from None
    finally:
        app.extensions["otp"].close()


class Seeder:
    """Creates pending verifications for given numbers; ``seed`` returns them in order."""

    def __init__(
        self, env: Mapping[str, str], template: Mapping[str, Any], processes: int = 2
    ) -> None:
        self.env = dict(env)
        self.template = dict(template)
        self.processes = processes

    def seed(self, phones: Sequence[str], threads: int = 4) -> list[Seeded]:
        if not phones:
            return []
        parts = [list(phones[i :: self.processes]) for i in range(self.processes)]
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
        pipe.memory_usage(key, samples=0)
        keys += 1
        if len(pipe) >= 1000:
            total += sum(v or 0 for v in pipe.execute())
    total += sum(v or 0 for v in pipe.execute())
    return keys, total
