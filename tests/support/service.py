"""Real processes for tests: `otp-service serve` as `make run` starts it (gunicorn, the
Telnyx sandbox, an embedded redis-server), talked to over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from otp_service.store.redis_server import free_port


class Service:
    def __init__(
        self, process: subprocess.Popen[bytes], url: str, sandbox_url: str, log_path: Path
    ) -> None:
        self.process = process
        self.url = url
        self.sandbox_url = sandbox_url
        self.log_path = log_path
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

    def log_lines(self) -> list[str]:
        """What the service wrote to stderr (the sandbox's lines included)."""
        return self.log_path.read_text(errors="replace").splitlines()

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
    )
    env.update(extra_env)  # any of the above included
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "otp_service.cli", "serve"],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    service = Service(
        process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}", log_path
    )
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
