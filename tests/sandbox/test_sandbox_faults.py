"""Injected faults: queued through /_sandbox/faults or per request through headers."""

from __future__ import annotations

import time

import httpx
import pytest

from otp_service.sandbox import FROM_NUMBERS, PROFILE_IDS, SandboxServer
from otp_service.sandbox.magic import MAGIC_NUMBERS

FROM = FROM_NUMBERS[PROFILE_IDS["primary"]][0]
TO = "+13125559876"
SMS = {"from": FROM, "to": TO, "text": "code 123456"}


def outbox(helpers: httpx.Client) -> list[dict]:
    return helpers.get("/messages").json()["data"]


def test_429_fault_answers_retry_after_once_and_stores_nothing(
    api: httpx.Client, helpers: httpx.Client
) -> None:
    assert helpers.post("/faults", json={"status": 429, "retry_after": 7}).status_code == 201
    limited = api.post("/messages/long_code", json=SMS)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json()["errors"][0]["code"] == "10011"
    assert outbox(helpers) == []
    assert api.post("/messages/long_code", json=SMS).status_code == 200


@pytest.mark.parametrize(("status", "code"), [(500, "10007"), (503, "10007")])
def test_server_error_fault_applies_to_count_requests(
    api: httpx.Client, helpers: httpx.Client, status: int, code: str
) -> None:
    helpers.post("/faults", json={"status": status, "count": 2})
    answers = [api.post("/messages/long_code", json=SMS) for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].json()["errors"][0]["code"] == code
    assert len(outbox(helpers)) == 1


def test_fault_only_hits_requests_under_its_path_prefix(
    api: httpx.Client, helpers: httpx.Client
) -> None:
    helpers.post("/faults", json={"status": 503, "path_prefix": "/v2/messages"})
    assert api.get("/messaging_profiles").status_code == 200
    assert (
        api.post(
            "/messages/number_pool", json={**SMS, "messaging_profile_id": PROFILE_IDS["primary"]}
        ).status_code
        == 503
    )


def test_fault_can_carry_its_own_telnyx_errors(api: httpx.Client, helpers: httpx.Client) -> None:
    errors = [{"code": "40011", "title": "Too many requests", "detail": "carrier limit"}]
    helpers.post("/faults", json={"status": 429, "errors": errors})
    assert api.post("/messages/long_code", json=SMS).json()["errors"] == errors


def test_faults_are_listed_and_cleared(api: httpx.Client, helpers: httpx.Client) -> None:
    helpers.post("/faults", json={"status": 500, "count": 0})
    assert helpers.get("/faults").json()["data"][0]["status"] == 500
    assert api.get("/short_codes").status_code == 500
    assert api.get("/short_codes").status_code == 500  # count 0: until cleared
    assert helpers.delete("/faults").status_code == 204
    assert api.get("/short_codes").status_code == 200


@pytest.mark.parametrize(
    "fault",
    [{"status": 200}, {"count": 1}, {"status": 500, "count": -1}, {"status": 500, "bogus": 1}],
)
def test_malformed_faults_are_refused(helpers: httpx.Client, fault: dict) -> None:
    assert helpers.post("/faults", json=fault).status_code == 400


@pytest.mark.parametrize("status", ["429", "500", "503"])
def test_fault_header_fails_just_that_request(
    api: httpx.Client, helpers: httpx.Client, status: str
) -> None:
    response = api.post("/messages/long_code", json=SMS, headers={"X-Sandbox-Fault": status})
    assert response.status_code == int(status)
    assert response.json()["errors"][0]["code"]
    assert outbox(helpers) == []


def wait_for_outbox(helpers: httpx.Client, count: int) -> list[dict]:
    deadline = time.monotonic() + 3
    while len(found := outbox(helpers)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def test_latency_beyond_the_client_timeout_still_stores_the_message(
    sandbox: SandboxServer, helpers: httpx.Client
) -> None:
    helpers.post("/faults", json={"latency_ms": 1500})
    with (
        httpx.Client(
            base_url=sandbox.base_url,
            headers={"Authorization": f"Bearer {sandbox.api_key}"},
            timeout=0.3,
        ) as slow,
        pytest.raises(httpx.ReadTimeout),
    ):
        slow.post("/messages/long_code", json=SMS)
    assert [m["to"] for m in wait_for_outbox(helpers, 1)] == [TO]


def test_timeout_header_holds_the_answer_but_accepts_the_message(
    sandbox: SandboxServer, helpers: httpx.Client
) -> None:
    headers = {
        "Authorization": f"Bearer {sandbox.api_key}",
        "X-Sandbox-Fault": "timeout",
        "X-Sandbox-Latency-Ms": "1500",
    }
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(sandbox.base_url + "/messages/long_code", json=SMS, headers=headers, timeout=0.3)
    assert len(wait_for_outbox(helpers, 1)) == 1


def test_latency_header_delays_a_successful_answer(api: httpx.Client) -> None:
    started = time.monotonic()
    response = api.get("/short_codes", headers={"X-Sandbox-Latency-Ms": "200"})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    ("effect", "final"),
    [
        ("delivery_failed", "delivery_failed"),
        ("sending_failed", "sending_failed"),
        ("delayed", "delivered"),
        ("dropped", None),
    ],
)
def test_a_sender_fault_decides_how_that_senders_messages_end(
    api: httpx.Client, helpers: httpx.Client, effect: str, final: str | None
) -> None:
    fault = {"from": FROM, "effect": effect, "delay_seconds": 5}
    assert helpers.post("/sender_faults", json=fault).status_code == 201
    assert helpers.get("/sender_faults").json()["data"][0]["effect"] == effect
    assert api.post("/messages/long_code", json=SMS).status_code == 200
    other = FROM_NUMBERS[PROFILE_IDS["primary"]][1]
    assert api.post("/messages/long_code", json={**SMS, "from": other}).status_code == 200
    by_sender = {m["from"]: m["final_status"] for m in outbox(helpers)}
    assert by_sender == {FROM: final, other: "delivered"}  # one sender only
    assert helpers.delete("/sender_faults").status_code == 204
    assert helpers.get("/sender_faults").json()["data"] == []


def test_a_sender_fault_with_a_rate_is_seeded(api: httpx.Client, helpers: httpx.Client) -> None:
    def run() -> list[str | None]:
        helpers.post("/reset")
        fault = {"from": FROM, "effect": "delivery_failed", "rate": 0.5, "seed": 3}
        helpers.post("/sender_faults", json=fault)
        for _ in range(20):
            api.post("/messages/long_code", json=SMS)
        return [m["final_status"] for m in outbox(helpers)]

    first = run()
    assert first == run()
    assert 0 < first.count("delivery_failed") < 20


@pytest.mark.parametrize(
    "body",
    [
        {"effect": "dropped"},
        {"from": FROM, "effect": "lost"},
        {"from": FROM, "effect": "dropped", "rate": 2},
    ],
)
def test_a_bad_sender_fault_is_refused(helpers: httpx.Client, body: dict) -> None:
    assert helpers.post("/sender_faults", json=body).status_code == 400


def test_magic_numbers_drop_or_delay_the_receipt(api: httpx.Client, helpers: httpx.Client) -> None:
    for name in ("no_receipt", "late_receipt"):
        api.post("/messages/long_code", json={**SMS, "to": MAGIC_NUMBERS[name]})
    finals = {m["to"]: m["final_status"] for m in outbox(helpers)}
    assert finals == {MAGIC_NUMBERS["no_receipt"]: None, MAGIC_NUMBERS["late_receipt"]: "delivered"}
