"""End to end over real HTTP: `otp-service serve` as `make run` starts it — gunicorn, the
sandbox and an embedded redis-server — then the README's walkthrough, then SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from otp_service import metrics
from tests.support.service import Service, start_service, stop_service

pytestmark = pytest.mark.e2e

PHONE = "+13125550199"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # a value set in the environment of `serve` reaches the workers
    service = start_service(tmp_path_factory.mktemp("e2e"), OTP_APP_NAME="E2E Shop")
    yield service
    stop_service(service)


def test_readme_walkthrough(service: Service):
    created = service.http.post("/v1/verifications", json={"phone_number": PHONE})
    assert created.status_code == 201, created.text
    vid = created.json()["id"]
    code = service.code_for(PHONE)
    text = httpx.get(f"{service.sandbox_url}/_sandbox/messages").json()["data"][0]["text"]
    assert "E2E Shop" in text
    wrong = "000000" if code != "000000" else "111111"

    check = service.http.post(f"/v1/verifications/{vid}/check", json={"code": wrong})
    assert check.json() == {"id": vid, "status": "pending", "valid": False, "attempts_remaining": 4}
    check = service.http.post(f"/v1/verifications/{vid}/check", json={"code": code})
    assert check.json()["status"] == "approved"
    again = service.http.post(f"/v1/verifications/{vid}/check", json={"code": code})
    assert again.json() == check.json()  # within a minute: the approval's answer again
    assert again.headers["Idempotent-Replayed"] == "true"
    again = service.http.post(f"/v1/verifications/{vid}/check", json={"code": wrong})
    assert again.status_code == 409
    assert again.json()["code"] == "already_approved"


def test_metrics_add_up_every_worker_after_the_walkthrough(service: Service):
    phone = "+13125550198"
    for _ in range(4):  # several requests, so that both workers are likely to serve some
        service.http.get(f"/v1/verifications/{'a' * 32}")
    created = service.http.post("/v1/verifications", json={"phone_number": phone})
    assert created.status_code == 201
    route = "/v1/verifications/<verification_id>"
    created_total = re.compile(
        r'otp_verifications_created_total\{channel="sms",country="US",sender_type="long_code"\}'
        r" [2-9]"
    )
    approved = 'otp_checks_total{factor="sms",result="approved"} 1.0'
    not_found = f'otp_http_requests_total{{method="GET",route="{route}",status="404"}} 4.0'

    def counted(text: str) -> bool:
        return bool(created_total.search(text)) and approved in text and not_found in text

    # each worker writes its counts within FLUSH_SECONDS (metrics.py)
    deadline = time.monotonic() + metrics.FLUSH_SECONDS + 5
    text = service.http.get("/metrics").text
    while not counted(text) and time.monotonic() < deadline:
        time.sleep(0.1)
        text = service.http.get("/metrics").text
    assert created_total.search(text), text[:2000]
    assert approved in text
    assert not_found in text
    assert phone not in text


def test_logs_are_json_lines_with_masked_numbers(service: Service):
    retry = service.http.post("/v1/verifications", json={"phone_number": PHONE})  # 429: too soon
    request_id = retry.headers["X-Request-ID"]
    deadline = time.monotonic() + 5  # request lines are written in batches (100 ms)
    while True:
        entries = [json.loads(line) for line in service.log_lines() if line.startswith("{")]
        requests = [e for e in entries if e.get("msg") == "request"]
        if any(e["request_id"] == request_id for e in requests) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert any(e["request_id"] == request_id for e in requests), "no line for the last request"
    creates = [e for e in requests if e["route"] == "/v1/verifications"]
    assert {e["phone"] for e in creates} >= {"+1312****199"}
    assert all({"ts", "level", "request_id", "status", "duration_ms"} <= set(e) for e in requests)
    text = "\n".join(service.log_lines())
    assert PHONE not in text
    assert "dev-client-key" not in text


def test_a_chunked_body_is_read_whole_and_held_to_the_limit(service: Service):
    # bodies without a Content-Length take Werkzeug's path, which enforces the limit as it
    # reads; the others are read from the WSGI input directly (api/http.py: raw_body)
    phone = "+13125550197"

    def chunks(body: bytes, size: int = 7) -> Iterator[bytes]:
        yield from (body[i : i + size] for i in range(0, len(body), size))

    body = json.dumps({"phone_number": phone}).encode()
    headers = {"Content-Type": "application/json"}
    created = service.http.post("/v1/verifications", content=chunks(body), headers=headers)
    assert created.status_code == 201, created.text
    assert created.request.headers["Transfer-Encoding"] == "chunked"
    vid = created.json()["id"]
    code = json.dumps({"code": service.code_for(phone)}).encode()
    path = f"/v1/verifications/{vid}/check"
    check = service.http.post(path, content=chunks(code), headers=headers)
    assert check.json()["status"] == "approved"

    huge = b'{"phone_number": "' + b"1" * 20000 + b'"}'
    refused = service.http.post("/v1/verifications", content=chunks(huge, 4096), headers=headers)
    assert refused.status_code == 413
    assert refused.json()["code"] == "payload_too_large"


def test_sigterm_lets_an_in_flight_request_finish(tmp_path: Path):
    # request lines wait 10 s for their batch here: only the exit can have written them
    service = start_service(tmp_path, OTP_ACCESS_LOG_FLUSH_MS="10000")
    try:
        httpx.post(
            f"{service.sandbox_url}/_sandbox/faults", json={"latency_ms": 1500, "count": 1}
        ).raise_for_status()
        result: dict[str, httpx.Response] = {}

        def create() -> None:
            result["response"] = service.http.post(
                "/v1/verifications", json={"phone_number": "+13125550197"}
            )

        worker = threading.Thread(target=create)
        worker.start()
        time.sleep(0.5)  # the request is now waiting on Telnyx
        service.process.send_signal(signal.SIGTERM)
        worker.join(30)
        assert result["response"].status_code == 201
        assert service.process.wait(30) == 0
        # its request line was still waiting for its batch when the worker exited
        request_id = result["response"].headers["X-Request-ID"]
        assert any(f'"request_id":"{request_id}"' in line for line in service.log_lines())
    finally:
        stop_service(service)


def test_sigterm_stops_every_process(tmp_path: Path):
    service = start_service(tmp_path)
    pgid = service.process.pid
    stop_service(service)
    assert service.process.returncode == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError("processes of the service are still running after SIGTERM")


def test_production_without_secrets_refuses_to_start_with_one_line():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTP_", "TELNYX_", "REDIS_"))}
    env["OTP_ENV"] = "production"
    result = subprocess.run(
        [sys.executable, "-m", "otp_service.cli", "serve"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert lines == ["otp-service: OTP_SECRET is required when OTP_ENV=production"]
