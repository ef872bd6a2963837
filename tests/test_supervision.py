"""`otp-service serve` keeps its embedded redis-server and the Telnyx sandbox running: a
child killed with SIGKILL is started again at the same address, and what Redis held
(its append-only file) is still there."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.service import Service, start_service, stop_service

pytestmark = pytest.mark.e2e

RECOVERY_BOUND = 15  # seconds: the first restart comes after a short pause


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = start_service(tmp_path_factory.mktemp("supervision"))
    yield service
    stop_service(service)


def _child_pid(service: Service, marker: str) -> int:
    """The pid of the child of `serve` whose command line contains ``marker``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == service.process.pid and marker in cmdline:
            return int(entry.name)
    raise AssertionError(f"no child of serve runs {marker!r}")


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}/cmdline").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # gone, or a zombie until serve reaps it


def _eventually(request: object, bound: float = RECOVERY_BOUND) -> httpx.Response:
    """Call ``request`` until it answers 2xx or ``bound`` seconds have passed."""
    deadline = time.monotonic() + bound
    while True:
        try:
            response = request()  # type: ignore[operator]
            if response.is_success or time.monotonic() > deadline:
                return response
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def test_a_killed_redis_server_is_restarted_and_keeps_the_verifications(service: Service):
    phone = "+13125550181"
    created = service.http.post("/v1/verifications", json={"phone_number": phone})
    assert created.status_code == 201, created.text
    vid = created.json()["id"]
    redis_pid = _child_pid(service, "redis-server")

    _kill(redis_pid)

    assert _eventually(lambda: service.http.get("/readyz")).status_code == 200
    assert _child_pid(service, "redis-server") != redis_pid
    found = _eventually(lambda: service.http.get(f"/v1/verifications/{vid}"))
    assert found.status_code == 200, found.text
    assert found.json()["status"] == "pending"
    code = service.code_for(phone)
    check = service.http.post(f"/v1/verifications/{vid}/check", json={"code": code})
    assert check.json()["status"] == "approved"
    assert any("redis-server" in line and "restart" in line for line in service.log_lines())


def test_a_killed_sandbox_is_restarted_and_its_webhooks_still_verify(service: Service):
    sandbox_pid = _child_pid(service, "otp_service.cli sandbox")

    _kill(sandbox_pid)

    phone = "+13125550182"
    created = _eventually(
        lambda: service.http.post("/v1/verifications", json={"phone_number": phone})
    )
    assert created.status_code == 201, created.text
    vid = created.json()["id"]
    # the restarted sandbox signs its delivery webhook with the key the workers trust
    deadline = time.monotonic() + RECOVERY_BOUND
    while True:
        delivery = service.http.get(f"/v1/verifications/{vid}").json()["delivery"]
        if delivery["status"] == "delivered" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert delivery["status"] == "delivered"
    assert any("sandbox" in line and "restart" in line for line in service.log_lines())


def test_ctrl_c_stops_serve_and_its_children_without_restarting_them(tmp_path: Path):
    service = start_service(tmp_path)
    children = [_child_pid(service, "redis-server"), _child_pid(service, "cli sandbox")]
    try:
        os.killpg(service.process.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
        assert service.process.wait(30) == 0
    finally:
        stop_service(service)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert not [line for line in service.log_lines() if "restart" in line]


def test_a_second_serve_of_the_same_data_directory_stops_and_leaves_the_first_alone(
    tmp_path: Path,
):
    """A second `make run` in the same checkout (one already runs in another terminal)
    started its own redis-server on the first one's socket and AOF, failed to bind the
    port, and on its way out removed the socket: the first one answered 503
    storage_unavailable from then on. It now stops before starting anything."""
    (tmp_path / "first").mkdir()
    first = start_service(tmp_path / "first")
    try:
        phone = "+13125550183"
        created = first.http.post("/v1/verifications", json={"phone_number": phone})
        assert created.status_code == 201, created.text
        second_dir = tmp_path / "second"
        second_dir.mkdir()
        try:
            second = start_service(second_dir, OTP_DATA_DIR=str(tmp_path / "first" / "data"))
        except AssertionError as exc:
            assert "serve exited" in str(exc)
        else:
            stop_service(second)
            pytest.fail("a second serve started on the first one's data directory")
        log = (second_dir / "serve.log").read_text()
        assert "a redis-server already listens on" in log
        assert "another OTP_DATA_DIR" in log

        assert first.http.get("/readyz").status_code == 200
        vid = created.json()["id"]
        check = first.http.post(
            f"/v1/verifications/{vid}/check", json={"code": first.code_for(phone)}
        )
        assert check.json()["status"] == "approved"
    finally:
        stop_service(first)


# Put first on PYTHONPATH, it makes a thread pool's shutdown hold the pool's lock for a
# moment: a second quit signal then lands while the first one's handler holds it, as it
# does by chance (a few times in ten) when the terminal's SIGINT and the master's SIGQUIT
# reach a gunicorn worker together.
HOLD_THE_POOL_LOCK = """
import concurrent.futures.thread as thread
import time

_shutdown = thread.ThreadPoolExecutor.shutdown


def shutdown(self, wait=True, *, cancel_futures=False):
    with self._shutdown_lock:
        time.sleep(0.5)
    return _shutdown(self, wait, cancel_futures=cancel_futures)


thread.ThreadPoolExecutor.shutdown = shutdown
"""


def test_ctrl_c_stops_the_gunicorn_workers_at_once_though_each_gets_two_signals(
    tmp_path: Path,
):
    """Ctrl-C reaches gunicorn's workers from the terminal (SIGINT) and from the master
    (SIGQUIT). gthread's handler, run for the second while the first holds the thread
    pool's shutdown lock, waited for that lock for ever: the worker hung until the master
    killed it GUNICORN_GRACEFUL_TIMEOUT (20 s) later. A worker now quits once."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HOLD_THE_POOL_LOCK)
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    service = start_service(tmp_path, PYTHONPATH=path)
    try:
        time.sleep(2)  # both workers have booted
        started = time.monotonic()
        os.killpg(service.process.pid, signal.SIGINT)
        assert service.process.wait(30) == 0
        assert time.monotonic() - started < 10
    finally:
        stop_service(service)
    assert not [line for line in service.log_lines() if "SIGKILL" in line]


def test_the_workers_counters_reach_metrics(service: Service):
    """serve gives gunicorn and its worker one metrics directory: what the worker counts
    as it hands a create's events over (route health) is on the API's /metrics."""
    created = service.http.post("/v1/verifications", json={"phone_number": "+13125550177"})
    assert created.status_code == 201, created.text
    counted = re.compile(r'otp_route_events_total\{[^}]*outcome="sent"[^}]*\} [1-9]')
    deadline = time.monotonic() + RECOVERY_BOUND
    while time.monotonic() < deadline:
        if counted.search(service.http.get("/metrics").text):
            return
        time.sleep(0.2)
    raise AssertionError("the worker's route events never reached /metrics")
