"""Brute force and races under real concurrency: gunicorn (2 workers x 8 threads), real
Redis, real HTTP, many client threads at once. The atomic Lua steps must hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.service import Service, start_service, stop_service

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = start_service(tmp_path_factory.mktemp("concurrency"))
    yield service
    stop_service(service)


def in_parallel(service: Service, count: int, call: Any) -> list[httpx.Response]:
    """``count`` calls at once, each on its own connection."""
    headers = {"Authorization": "Bearer dev-client-key"}

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=service.url, timeout=30, headers=headers) as http:
            return call(http)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def sent_to(service: Service, phone: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{service.sandbox_url}/_sandbox/messages", params={"to": phone})
    return response.json()["data"]


def test_100_concurrent_wrong_checks_count_exactly_5(service: Service):
    phone = "+13125550141"
    vid = service.http.post("/v1/verifications", json={"phone_number": phone}).json()["id"]
    code = service.code_for(phone)
    wrong = "000000" if code != "000000" else "111111"
    responses = in_parallel(
        service, 100, lambda http: http.post(f"/v1/verifications/{vid}/check", json={"code": wrong})
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 5, 429: 95}
    remaining = sorted(r.json()["attempts_remaining"] for r in responses if r.status_code == 200)
    assert remaining == [0, 1, 2, 3, 4]
    right = service.http.post(f"/v1/verifications/{vid}/check", json={"code": code})
    assert right.status_code == 429
    assert right.json()["code"] == "max_attempts_reached"


def test_50_concurrent_creates_for_one_number_send_one_sms(service: Service):
    phone = "+13125550142"
    responses = in_parallel(
        service, 50, lambda http: http.post("/v1/verifications", json={"phone_number": phone})
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 1
    assert statuses[429] == 49
    assert {r.json()["reason"] for r in responses if r.status_code == 429} == {"resend_cooldown"}
    assert len(sent_to(service, phone)) == 1


def test_20_concurrent_right_checks_approve_exactly_once(service: Service):
    phone = "+13125550143"
    vid = service.http.post("/v1/verifications", json={"phone_number": phone}).json()["id"]
    code = service.code_for(phone)
    responses = in_parallel(
        service, 20, lambda http: http.post(f"/v1/verifications/{vid}/check", json={"code": code})
    )
    assert {r.status_code for r in responses} == {200}
    # one approval; the others get its answer again, marked replayed (a lost answer's retry)
    [approved] = [r.json() for r in responses if "Idempotent-Replayed" not in r.headers]
    assert approved["status"] == "approved"
    assert {r.text for r in responses} == {responses[0].text}


def test_50_concurrent_creates_with_one_idempotency_key_are_one(service: Service):
    phone = "+13125550144"
    headers = {"Idempotency-Key": "concurrent-key-1"}
    responses = in_parallel(
        service,
        50,
        lambda http: http.post("/v1/verifications", json={"phone_number": phone}, headers=headers),
    )
    assert {r.status_code for r in responses} == {201}
    bodies = {r.text for r in responses}
    assert len(bodies) == 1
    assert len(sent_to(service, phone)) == 1
