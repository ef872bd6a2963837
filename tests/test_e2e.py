"""End to end over real HTTP: `otp-service serve` as `make run` starts it — gunicorn, the
sandbox and an embedded redis-server — then the README's walkthrough, then SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from otp_service.redis_server import free_port

pytestmark = pytest.mark.e2e

PHONE = "+13125550199"


class Service:
    def __init__(self, process: subprocess.Popen[bytes], url: str, sandbox_url: str) -> None:
        self.process = process
        self.url = url
        self.sandbox_url = sandbox_url
        self.http = httpx.Client(
            base_url=url, timeout=10, headers={"Authorization": "Bearer dev-client-key"}
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}")
            try:
                if self.http.get("/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("the service did not become ready")

    def code_for(self, phone: str) -> str:
        messages = httpx.get(f"{self.sandbox_url}/_sandbox/messages", params={"to": phone}).json()
        return re.search(r"\d{6}", messages["data"][0]["text"]).group(0)


def start_service(tmp_path: Path, **extra_env: str) -> Service:
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTP_", "TELNYX_", "REDIS_"))}
    env.update(
        OTP_ENV="development",
        PORT=str(port),
        OTP_DATA_DIR=str(tmp_path / "data"),
        TELNYX_BASE_URL=f"http://127.0.0.1:{sandbox_port}/v2",
        OTP_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        **extra_env,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "otp_service.cli", "serve"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    service = Service(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}")
    try:
        service.wait_ready()
    except AssertionError:
        stop_service(service)
        raise
    return service


def stop_service(service: Service) -> None:
    service.http.close()
    if service.process.poll() is None:
        service.process.send_signal(signal.SIGTERM)
        try:
            service.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            raise


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
    assert again.status_code == 409
    assert again.json()["code"] == "already_approved"


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
