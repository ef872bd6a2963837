"""What the console's tests share: a worker driven by the test clock, signed Telnyx
receipts, ids that are the same at every run (for screenshots), and ``seed_traffic``,
six hours of verifications whose outcomes the tests know."""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service import ids
from otp_service.events.worker import Worker
from otp_service.telnyx.webhooks import public_key_b64, sign_webhook
from tests.conftest import ApiClient, FakeClock, Sandbox
from tests.support.workers import loopback_worker

KEY = Ed25519PrivateKey.generate()  # signs the tests' Telnyx receipts
# US through a short code, CA through a long code, elsewhere a pool: three senders
ROUTES = {
    "US": [{"type": "short_code", "from": "22395"}],
    "CA": [{"type": "long_code", "from": "+13125550120"}],
    "*": [{"type": "number_pool", "messaging_profile_id": "1c0dfc8f-9f42-41c8-81b4-fa8267f2798a"}],
}
PREFIXES = ("+131255502", "+131255502", "+131255502", "+161355502", "+49151123450")


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TELNYX_PUBLIC_KEYS"] = ",".join([env["TELNYX_PUBLIC_KEYS"], public_key_b64(KEY)])
    env["OTP_ROUTES"] = json.dumps(ROUTES)
    env["OTP_LIMIT_PHONE_HOUR"] = "3"  # a second refusal reason, soon reached
    return env


@pytest.fixture
def worker(app: Any, clock: FakeClock) -> Iterator[Worker]:
    runner = loopback_worker(app.extensions["otp"], "console", clock=clock, threads=2)
    runner.rng = random.Random(21)  # the retries' jitter: the same at every run
    yield runner
    runner.close()


def drain(worker: Worker) -> None:
    for _ in range(50):
        if not worker.run_once():
            return
    raise AssertionError("the worker still had work after 50 passes")


@pytest.fixture
def steady_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids (verifications, profiles, endpoints) from a counter, not the CSPRNG: the
    screenshots are the same at every run."""
    counter = itertools.count(1)

    def suffix() -> str:
        return ids.b32(next(counter).to_bytes(10, "big"))

    monkeypatch.setattr("otp_service.ids.new_suffix", suffix)
    monkeypatch.setattr("otp_service.profiles.service.new_suffix", suffix)
    monkeypatch.setattr("otp_service.events.endpoints.new_suffix", suffix)


def receipt(
    client: ApiClient, message_id: str, phone: str, status: str, at: str, codes: tuple = ()
) -> None:
    """A signed ``message.finalized`` from "Telnyx"."""
    body = {
        "data": {
            "event_type": "message.finalized",
            "id": str(uuid.uuid4()),
            "occurred_at": at,
            "record_type": "event",
            "payload": {
                "id": message_id,
                "direction": "outbound",
                "to": [{"phone_number": phone, "status": status}],
                "errors": [{"code": c, "title": "Message delivery failed"} for c in codes],
            },
        }
    }
    payload = json.dumps(body).encode()
    headers = {**sign_webhook(payload, KEY, int(time.time())), "Content-Type": "application/json"}
    answer = client.flask.post("/v1/webhooks/telnyx", data=payload, headers=headers)
    assert answer.status_code == 200


def _plus(iso: str, seconds: int) -> str:
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


@dataclass
class Traffic:
    """What ``seed_traffic`` made: every verification by id, with its number and outcome."""

    phones: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)

    def of(self, outcome: str) -> list[str]:
        return [vid for vid, seen in self.outcomes.items() if seen == outcome]


def seed_traffic(
    client: ApiClient, sandbox: Sandbox, clock: FakeClock, worker: Worker, hours: int = 6
) -> Traffic:
    """``hours`` hours of traffic, five verifications an hour (three US, one CA, one DE),
    the clock moving forward: most delivered (every third hour CA's receipt is a
    failure), US 0 and CA approved, US 1 approved after a wrong code in even hours and
    left to expire in odd ones, US 2 canceled, DE never checked (expires). Refusals: US 0
    asked for again at once (resend_cooldown) every hour; in the last hour a number asked
    for four times (phone_hourly)."""
    seen = Traffic()
    for hour in range(hours):
        started = clock.now
        for i, prefix in enumerate(PREFIXES):
            phone = f"{prefix}{hour}{i}"
            answer = client.post("/v1/verifications", json={"phone_number": phone})
            assert answer.status_code == 201, (phone, answer.get_json())
            made = answer.get_json()
            vid = made["id"]
            seen.phones[vid] = phone
            failed = i == 3 and hour % 3 == 0
            receipt(
                client,
                made["delivery"]["message_id"],
                phone,
                "delivery_failed" if failed else "delivered",
                _plus(made["created_at"], 2 + i),
                ("40008",) if failed else (),
            )
            code = sandbox.last_code(phone)
            clock.advance(10)  # the code arrives, the user types it
            if i == 0:
                again = client.post("/v1/verifications", json={"phone_number": phone})
                assert again.status_code == 429
                seen.refusals["resend_cooldown"] = seen.refusals.get("resend_cooldown", 0) + 1
            if i in (0, 3) or (i == 1 and hour % 2 == 0):
                if i == 1:
                    client.post(f"/v1/verifications/{vid}/check", json={"code": _wrong(code)})
                checked = client.post(f"/v1/verifications/{vid}/check", json={"code": code})
                assert checked.get_json()["status"] == "approved"
                seen.outcomes[vid] = "approved"
            elif i == 2:
                assert client.post(f"/v1/verifications/{vid}/cancel").status_code == 200
                seen.outcomes[vid] = "canceled"
            else:
                seen.outcomes[vid] = "expired"
            clock.advance(50)
        if hour == hours - 1:  # a number asked for four times in an hour
            phone = "+13125550399"
            for attempt in range(4):
                answer = client.post("/v1/verifications", json={"phone_number": phone})
                if attempt == 3:
                    assert answer.status_code == 429, answer.get_json()
                    break
                assert answer.status_code in (200, 201), answer.get_json()
                if attempt == 0:
                    seen.phones[answer.get_json()["id"]] = phone
                    seen.outcomes[answer.get_json()["id"]] = "expired"
                clock.advance(61)
            seen.refusals["phone_hourly"] = 1
        clock.advance(3600 - (clock.now - started))
        drain(worker)  # the expiries fire, then their events are handed over
        drain(worker)
    return seen
