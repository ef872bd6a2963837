"""What each measured call sends, pre-built, and how its answer is judged.

Every call is a real one answering its real status: a create for a number that has no
verification yet (201), a check with a wrong code on a pending verification that has
attempts left (200, ``valid: false``), a check with the right code (200, ``valid:
true``; each uses one verification up), a get (200), and a Telnyx delivery event signed
with the webhook key the service trusts (200, applied to the verification that sent the
message). Requests are spread over the bench's three profiles: a check, a get and a
webhook go with the verification's own profile (its key; a receipt's URL carries
``?profile=`` as a profile's sends ask Telnyx to), creates take the keys in turn.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.load import build_request
from bench.seed import Seeded
from otp_service.telnyx.webhooks import sign_webhook

__all__ = [
    "Calls",
    "Event",
    "PhoneNumbers",
    "delivery_events",
    "restamped",
    "webhook_path",
    "wrong_code",
]

# Area codes of big US cities; exchanges 2xx-9xx except N11 and 555 (fictional and the
# sandbox's magic numbers); libphonenumber is asked about a sample of each block.
FAILED_EVERY = 20  # one bench receipt in this many says delivery_failed
AREA_CODES = (415, 312, 212, 617, 646, 718, 213, 305, 404, 206, 512, 303)


class PhoneNumbers:
    """Distinct valid US numbers, never the same one twice in a run."""

    def __init__(self) -> None:
        self._numbers = self._generate()

    @staticmethod
    def _generate() -> Iterator[str]:
        for area in AREA_CODES:
            for exchange in range(201, 1000):
                if exchange % 100 == 11 or exchange == 555:
                    continue
                probe = f"+1{area}{exchange}{exchange % 10000:04d}"
                if not phonenumbers.is_valid_number(phonenumbers.parse(probe)):
                    continue
                for line in range(10000):
                    yield f"+1{area}{exchange}{line:04d}"

    def take(self, count: int) -> list[str]:
        return [next(self._numbers) for _ in range(count)]


def wrong_code(code: str) -> str:
    """A code of the same length that is not ``code``."""
    return "".join(str((int(c) + 1) % 10) for c in code)


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class Calls:
    """Request bytes for one server (``host:port``), with the client keys of its profiles."""

    def __init__(self, port: int, client_keys: Sequence[str]) -> None:
        self.host = f"127.0.0.1:{port}"
        self.keys = list(client_keys)

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def json_auth(self, key: str) -> dict[str, str]:
        return {**self.auth(key), "Content-Type": "application/json"}

    def _post(self, path: str, body: Any, headers: Mapping[str, str]) -> bytes:
        raw = json.dumps(body, separators=(",", ":")).encode()
        return build_request("POST", path, host=self.host, body=raw, headers=dict(headers))

    # otp-service
    def create(self, phones: Sequence[str]) -> list[bytes]:
        """Each profile's key in turn."""
        return [
            self._post(
                "/v1/verifications",
                {"phone_number": p},
                self.json_auth(self.keys[i % len(self.keys)]),
            )
            for i, p in enumerate(phones)
        ]

    def check(self, seeds: Sequence[Seeded], *, right: bool) -> list[bytes]:
        return [
            self._post(
                f"/v1/verifications/{s.id}/check",
                {"code": s.code if right else wrong_code(s.code)},
                self.json_auth(s.key),
            )
            for s in seeds
        ]

    def get(self, seeds: Sequence[Seeded]) -> list[bytes]:
        return [
            build_request(
                "GET", f"/v1/verifications/{s.id}", host=self.host, headers=self.auth(s.key)
            )
            for s in seeds
        ]

    def webhooks(self, events: Sequence[Event], key: Ed25519PrivateKey) -> list[bytes]:
        """Each event signed now (Telnyx's tolerance is 5 minutes), to its profile's URL."""
        now = int(time.time())
        out = []
        for event in events:
            headers = {"Content-Type": "application/json", "User-Agent": "telnyx-webhooks"}
            headers.update(sign_webhook(event.body, key, now))
            out.append(build_request("POST", event.path, host=self.host, body=event.body,
                                     headers=headers))  # fmt: skip
        return out

    # baselines
    def baseline_check(self, seeds: Sequence[Seeded]) -> list[bytes]:
        headers = {"Content-Type": "application/json"}
        return [self._post(f"/check/{s.id}", {"code": s.code}, headers) for s in seeds]

    def baseline_send(self, phones: Sequence[str]) -> list[bytes]:
        headers = {"Content-Type": "application/json"}
        return [self._post("/send", {"phone_number": p}, headers) for p in phones]


@dataclass(frozen=True)
class Event:
    """A Telnyx webhook body and the path it is posted to (its profile's)."""

    path: str
    body: bytes


def webhook_path(profile: str) -> str:
    """Where Telnyx posts a receipt: a profile's sends carry their profile in the URL."""
    if profile == "default":
        return "/v1/webhooks/telnyx"
    return f"/v1/webhooks/telnyx?profile={profile}"


def delivery_events(
    seeds: Sequence[Seeded], template: Mapping[str, Any], per_message: int = 2
) -> list[Event]:
    """Telnyx webhook bodies: ``message.sent`` then ``message.finalized`` for each seeded
    message, ``per_message`` events each, every event with its own id. One message in
    ``FAILED_EVERY`` is finalized ``delivery_failed`` (the fallback policy sends it again
    on WhatsApp); the others ``delivered``."""
    statuses = [("message.sent", "sent"), ("message.finalized", "delivered")]
    now_ms = time.time() * 1000
    out = []
    for round_ in range(per_message):
        event_type, status = statuses[min(round_, len(statuses) - 1)]
        for number, seed in enumerate(seeds):
            payload = copy.deepcopy(dict(template))
            payload["id"] = seed.message_id
            if event_type == "message.finalized" and number % FAILED_EVERY == 0:
                status = "delivery_failed"
                payload["errors"] = [{"code": "40008", "title": "Undeliverable"}]
            elif event_type == "message.finalized":
                status = "delivered"
            to = dict((payload.get("to") or [{}])[0], phone_number=seed.phone, status=status)
            payload["to"] = [to]
            payload["text"] = "hidden"
            stamp = _iso(now_ms + round_)
            payload["sent_at"] = stamp
            if event_type == "message.finalized":
                payload["completed_at"] = stamp
            event = {
                "data": {
                    "record_type": "event",
                    "id": str(uuid.uuid4()),
                    "event_type": event_type,
                    "occurred_at": stamp,
                    "payload": payload,
                },
                "meta": {"attempt": 1, "delivered_to": "http://127.0.0.1/v1/webhooks/telnyx"},
            }
            body = json.dumps(event, separators=(",", ":")).encode()
            out.append(Event(webhook_path(seed.profile), body))
    return out


def restamped(events: Sequence[Event]) -> list[Event]:
    """The events as if they happened now (their receipts' times are the state changes
    the webhooks' latency is measured from; built ahead, they would be minutes old)."""
    stamp = _iso(time.time() * 1000)
    out = []
    for event in events:
        body = json.loads(event.body)
        data = body["data"]
        data["occurred_at"] = data["payload"]["sent_at"] = stamp
        if data["event_type"] == "message.finalized":
            data["payload"]["completed_at"] = stamp
        out.append(Event(event.path, json.dumps(body, separators=(",", ":")).encode()))
    return out
