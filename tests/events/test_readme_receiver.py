"""The README's webhook receiver, run as the README prints it (its secret and port filled
in), in a process of its own: the endpoint's test ping and an approval reach it over real
HTTP, verify with the endpoint's secret, and are printed; it answers both 204, and a
body signed with another secret 400."""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from otp_service.store.redis_server import free_port
from tests.conftest import ApiClient, Sandbox
from tests.events.conftest import drain

ROOT = Path(__file__).resolve().parents[2]
BASE = "/v1/admin/profiles/default/webhooks"
PHONE = "+13125550123"


def readme_receiver() -> str:
    """The README's receiver: the first Python block after its introduction."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("A receiver, in a few lines of Python")
    found = re.search(r"```python\n(.*?)```", readme[start:], re.DOTALL)
    assert found, "the README's receiver has no Python block"
    return found.group(1)


def filled(code: str, secret: str, port: int) -> str:
    """``code`` with the endpoint's secret and a free port where the README has
    placeholders (each exactly once, so that the README cannot drift from this test)."""
    for placeholder, value in (('"whsec_…"', repr(secret)), ("9000", str(port))):
        assert code.count(placeholder) == 1, placeholder
        code = code.replace(placeholder, value)
    return code


def _listening(port: int, process: subprocess.Popen[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the README's receiver does not listen")


@pytest.fixture
def readme_endpoint(admin: ApiClient) -> Iterator[tuple[dict, subprocess.Popen[str]]]:
    """An endpoint made as the README makes it, and the README's receiver behind it."""
    port = free_port()
    made = admin.post(
        BASE,
        json={"url": f"http://127.0.0.1:{port}/hooks", "events": ["verification.approved"]},
    )
    assert made.status_code == 201, made.get_json()
    endpoint = made.get_json()["data"]
    code = filled(readme_receiver(), endpoint["secret"], port)
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _listening(port, process)
        yield endpoint, process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_readmes_receiver_prints_the_ping_and_the_approval(
    admin: ApiClient, client: ApiClient, sandbox: Sandbox, worker, readme_endpoint
):
    endpoint, process = readme_endpoint
    assert admin.post(f"{BASE}/{endpoint['id']}/test").status_code == 202
    created = client.post("/v1/verifications", json={"phone_number": PHONE}).get_json()
    code = sandbox.last_code(PHONE)
    check = client.post(f"/v1/verifications/{created['id']}/check", json={"code": code})
    assert check.get_json()["status"] == "approved"
    drain(worker)

    deliveries = admin.get(f"{BASE}/{endpoint['id']}/deliveries").get_json()["data"]
    assert sorted((d["event_type"], d["status"], d["last_status_code"]) for d in deliveries) == [
        ("ping", "succeeded", 204),
        ("verification.approved", "succeeded", 204),
    ]
    # a body signed with another secret is answered 400 and not printed
    forged = b'{"type":"verification.approved","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    now = datetime.now(UTC)
    signature = Webhook("whsec_" + base64.b64encode(b"another secret" * 2).decode()).sign(
        "msg_forged", now, forged
    )
    headers = {
        "webhook-id": "msg_forged",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    url = endpoint["url"]
    assert httpx.post(url, content=forged, headers=headers, timeout=10).status_code == 400
    process.kill()
    out, err = process.communicate(timeout=10)
    assert "Traceback" not in err
    assert sorted(line.rstrip() for line in out.splitlines()) == [
        "ping",
        f"verification.approved {created['id']} approved",
    ]
