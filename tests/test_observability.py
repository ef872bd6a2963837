"""Metrics and logs: what operators see, and what they must never see."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from werkzeug.test import EnvironBuilder

from otp_service import metrics
from otp_service.api.access_log import AccessLog, flush_access_logs
from otp_service.logs import JsonFormatter
from otp_service.store.redis_server import free_port
from tests.conftest import ApiClient, Sandbox
from tests.support.metrics import sample

PHONE = "+13125550181"


def test_a_create_and_checks_are_counted(client: ApiClient, sandbox: Sandbox):
    created = sample(
        "otp_verifications_created_total", channel="sms", sender_type="long_code", country="US"
    )
    accepted = sample("otp_sends_total", sender_type="long_code", outcome="accepted")
    telnyx = sample("otp_telnyx_requests_total", operation="CreateLongCodeMessage", outcome="200")
    wrong = sample("otp_checks_total", factor="sms", result="wrong")
    approved = sample("otp_checks_total", factor="sms", result="approved")

    vid = client.post("/v1/verifications", json={"phone_number": PHONE}).get_json()["id"]
    code = sandbox.last_code(PHONE)
    client.post(
        f"/v1/verifications/{vid}/check", json={"code": "000000" if code != "000000" else "1" * 6}
    )
    client.post(f"/v1/verifications/{vid}/check", json={"code": code})

    assert (
        sample(
            "otp_verifications_created_total", channel="sms", sender_type="long_code", country="US"
        )
        == created + 1
    )
    assert sample("otp_sends_total", sender_type="long_code", outcome="accepted") == accepted + 1
    assert (
        sample("otp_telnyx_requests_total", operation="CreateLongCodeMessage", outcome="200")
        == telnyx + 1
    )
    assert sample("otp_checks_total", factor="sms", result="wrong") == wrong + 1
    assert sample("otp_checks_total", factor="sms", result="approved") == approved + 1
    assert (
        sample("otp_telnyx_request_duration_seconds_count", operation="CreateLongCodeMessage") >= 1
    )


def test_refusals_and_http_requests_are_counted(client: ApiClient, sandbox: Sandbox):
    cooldown = sample("otp_rate_limited_total", reason="resend_cooldown", mode="enforce")
    requests_429 = sample(
        "otp_http_requests_total", route="/v1/verifications", method="POST", status="429"
    )
    client.post("/v1/verifications", json={"phone_number": PHONE})
    client.post("/v1/verifications", json={"phone_number": PHONE})
    assert (
        sample("otp_rate_limited_total", reason="resend_cooldown", mode="enforce") == cooldown + 1
    )
    assert (
        sample("otp_http_requests_total", route="/v1/verifications", method="POST", status="429")
        == requests_429 + 1
    )


def test_a_made_up_request_method_gets_no_series_of_its_own(client: ApiClient):
    """Methods label the request counter; a client's own tokens must not grow the series."""
    method = "X" + uuid.uuid4().hex[:12].upper()
    other = sample("otp_http_requests_total", route="unmatched", method="other", status="405")
    assert client.flask.open("/healthz", method=method).status_code == 405
    assert (
        sample("otp_http_requests_total", route="unmatched", method="other", status="405")
        == other + 1
    )
    assert method not in client.flask.get("/metrics").get_data(as_text=True)


def test_metrics_endpoint_serves_prometheus_text_without_personal_data(
    client: ApiClient, sandbox: Sandbox
):
    vid = client.post("/v1/verifications", json={"phone_number": PHONE}).get_json()["id"]
    response = client.flask.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    for name in (
        "otp_verifications_created_total",
        "otp_checks_total",
        "otp_sends_total",
        "otp_telnyx_requests_total",
        "otp_telnyx_request_duration_seconds_bucket",
        "otp_http_requests_total",
    ):
        assert name in text
    assert PHONE not in text and PHONE[1:] not in text
    assert vid not in text


def test_redis_errors_are_counted(client: ApiClient, redis_server):
    before = sample("otp_redis_errors_total", kind="ConnectionError")
    redis_server.stop()
    try:
        assert client.get(f"/v1/verifications/{'a' * 32}").status_code == 503
    finally:
        redis_server.start()
    assert sample("otp_redis_errors_total", kind="ConnectionError") == before + 1


def test_request_ids_are_echoed_or_made(client: ApiClient):
    given = "req-" + uuid.uuid4().hex
    response = client.flask.get("/healthz", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given
    made = client.flask.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces"
    assert len(made.headers["X-Request-ID"]) == 32
    # the id goes into the request line as it is: only whole tokens are kept (a test
    # client cannot send a newline in a header; a WSGI environ can hold one)
    for bad in ("trace-1\n", 'x"}{"level":"error'):
        environ = EnvironBuilder(path="/healthz").get_environ()
        environ["HTTP_X_REQUEST_ID"] = bad
        sent: dict[str, str] = {}

        def start_response(_status, headers, _exc_info=None, sent=sent):  # noqa: ANN001, ANN202
            sent.update(headers)

        b"".join(client.flask.application(environ, start_response))
        assert len(sent["X-Request-ID"]) == 32
    unmatched = client.flask.get("/no/such/route", headers={"X-Request-ID": given})
    assert unmatched.status_code == 404
    assert unmatched.headers.getlist("X-Request-ID") == [given]
    assert unmatched.headers.getlist("Cache-Control") == ["no-store"]


def test_made_request_ids_are_hex_and_differ_in_a_forked_worker(client: ApiClient):
    """gunicorn forks its workers: each must make ids of its own, not its parent's."""

    def made() -> str:
        return client.flask.get("/healthz").headers["X-Request-ID"]

    ids = {made() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then out without running pytest's teardown
        signal.alarm(20)  # a child stuck on a lock some thread held at the fork dies
        os.close(read_end)
        os.write(write_end, " ".join(made() for _ in range(5)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [made() for _ in range(5)]
    assert len(child) == 5
    assert not set(child) & set(parent)


def test_each_request_is_one_json_line_with_a_masked_number(client, sandbox, capsys):
    capsys.readouterr()
    body = client.post(
        "/v1/verifications",
        json={"phone_number": PHONE},
        headers={"X-Request-ID": "trace-1"},
    ).get_json()
    [line] = [line for line in capsys.readouterr().err.splitlines() if '"msg":"request"' in line]
    entry = json.loads(line)
    assert entry["logger"] == "otp_service.request"
    assert entry["level"] == "info"
    assert entry["request_id"] == "trace-1"
    assert entry["route"] == "/v1/verifications"
    assert entry["method"] == "POST"
    assert entry["status"] == 201
    assert entry["duration_ms"] >= 0
    assert entry["verification_id"] == body["id"]
    assert entry["phone"] == "+1312****181"
    written = datetime.fromisoformat(entry["ts"])
    assert written.utcoffset() == timedelta(0)
    assert abs(written.timestamp() - time.time()) < 60
    assert PHONE not in line
    assert sandbox.last_code(PHONE) not in line


def test_other_records_are_json_too():
    record = logging.makeLogRecord(
        {"name": "otp_service.x", "levelname": "WARNING", "msg": "a %s", "args": ("b",)}
    )
    record.reason = "resend_cooldown"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "a b"
    assert entry["level"] == "warning"
    assert entry["reason"] == "resend_cooldown"


def test_the_request_line_can_be_switched_off(env, clock, capsys, sandbox):
    from otp_service import create_app

    app = create_app({**env, "OTP_ACCESS_LOG": "off"}, clock=clock)
    try:
        capsys.readouterr()
        app.test_client().get("/healthz")
        assert '"msg":"request"' not in capsys.readouterr().err
    finally:
        app.extensions["otp"].close()


def _request_ids_in(text: str) -> list[str]:
    return [json.loads(line)["request_id"] for line in text.splitlines() if '"request"' in line]


def test_request_lines_are_written_in_batches_by_a_thread_of_their_own(capsys):
    flush_access_logs()
    capsys.readouterr()
    log = AccessLog(flush_interval=0.05)
    for n in range(3):
        log.write(f"batch-{n}", "GET", "/healthz", 200, 0.001, {})
    assert any(t.name == "otp-access-log" for t in threading.enumerate())
    written: list[str] = []
    deadline = time.monotonic() + 5
    while len(written) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
        written += _request_ids_in(capsys.readouterr().err)
    assert written == ["batch-0", "batch-1", "batch-2"]  # by the thread, in order


def test_a_request_line_carries_its_requests_time_not_its_writes(monkeypatch, capsys):
    """Lines are made by the flusher, later: their time is the request's."""
    flush_access_logs()
    capsys.readouterr()
    log = AccessLog(flush_interval=60)
    monkeypatch.setattr(time, "time", lambda: 1767254400.25)  # 2026-01-01T08:00:00.250Z
    log.write("then", "GET", "/healthz", 200, 0.001, {"verification_id": "v1"})
    monkeypatch.setattr(time, "time", lambda: 1767254461.0)
    log.flush()
    monkeypatch.undo()
    (line,) = capsys.readouterr().err.splitlines()
    written = json.loads(line)
    assert written["ts"] == "2026-01-01T08:00:00.250+00:00"
    assert written["request_id"] == "then"
    assert written["verification_id"] == "v1"


def test_request_lines_are_written_at_once_with_a_flush_interval_of_0(capsys):
    flush_access_logs()
    capsys.readouterr()
    AccessLog(flush_interval=0).write("at-once", "GET", "/healthz", 200, 0.001, {})
    assert _request_ids_in(capsys.readouterr().err) == ["at-once"]


def test_waiting_request_lines_are_written_at_exit(tmp_path):
    script = (
        "from otp_service.api.access_log import AccessLog\n"
        "log = AccessLog(flush_interval=60)\n"
        "log.write('last-words', 'GET', '/healthz', 200, 0.001, {})\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _request_ids_in(done.stderr) == ["last-words"]


def test_a_forked_child_does_not_write_its_parents_waiting_lines_again(capfd):
    flush_access_logs()
    capfd.readouterr()
    log = AccessLog(flush_interval=60)
    log.write("parent-1", "GET", "/healthz", 200, 0.001, {})
    log.write("parent-2", "GET", "/healthz", 200, 0.001, {})
    pid = os.fork()
    if pid == 0:  # the child: a line of its own, all it has written, then out
        signal.alarm(20)
        log.write("child-1", "GET", "/healthz", 200, 0.001, {})
        flush_access_logs()
        sys.stderr.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    log.flush()
    sys.stderr.flush()
    assert sorted(_request_ids_in(capfd.readouterr().err)) == ["child-1", "parent-1", "parent-2"]


def _batch_metrics() -> tuple[CollectorRegistry, Counter, Histogram]:
    registry = CollectorRegistry()  # not the service's: nothing else counts here
    counter = Counter("batch_test", "counted in batches", ["kind"], registry=registry)
    histogram = Histogram(
        "batch_test_seconds", "observed in batches", ["kind"], buckets=(0.1, 1), registry=registry
    )
    return registry, counter, histogram


def test_counts_from_many_threads_arrive_whole_at_the_flush():
    registry, counter, histogram = _batch_metrics()

    def work() -> None:
        for n in range(2000):
            metrics.child(counter, "t").inc()
            metrics.child(histogram, "t").observe(0.05 if n % 2 else 0.5)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    metrics.flush()
    assert registry.get_sample_value("batch_test_total", {"kind": "t"}) == 16000
    counts = {"le": "0.1", "kind": "t"}, {"le": "1.0", "kind": "t"}
    assert registry.get_sample_value("batch_test_seconds_bucket", counts[0]) == 8000
    assert registry.get_sample_value("batch_test_seconds_bucket", counts[1]) == 16000
    assert registry.get_sample_value("batch_test_seconds_sum", {"kind": "t"}) == pytest.approx(
        8000 * 0.55
    )


def test_counts_are_written_by_a_thread_of_their_own_without_a_flush():
    registry, counter, _ = _batch_metrics()
    metrics.child(counter, "later").inc(3)
    assert any(t.name == "otp-metrics" for t in threading.enumerate())
    deadline = time.monotonic() + metrics.FLUSH_SECONDS + 5
    while registry.get_sample_value("batch_test_total", {"kind": "later"}) != 3:
        assert time.monotonic() < deadline, "the pending count was never written"
        time.sleep(0.05)


def _multiprocess_count(directory: Path, name: str, labels: dict[str, str]) -> float | None:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return registry.get_sample_value(name, labels)


def _counted_by(script: str, directory: Path, result: str) -> float | None:
    """otp_checks_total{factor=sms,result} after ``script`` ran in multiprocess mode."""
    run_env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run([sys.executable, "-c", script], env=run_env, capture_output=True)
    assert done.returncode == 0, done.stderr
    labels = {"factor": "sms", "result": result}
    return _multiprocess_count(directory, "otp_checks_total", labels)


def test_pending_counts_are_written_at_exit(tmp_path):
    """A gunicorn worker that exits (a restart, SIGTERM) writes what it had counted."""
    script = (
        "from otp_service import metrics\nmetrics.child(metrics.CHECKS, 'sms', 'approved').inc(5)\n"
    )
    assert _counted_by(script, tmp_path, "approved") == 5


def test_a_forked_worker_does_not_count_its_parents_pending_counts_again(tmp_path):
    """gunicorn forks its workers: each writes its own counts, none of its parent's."""
    script = (
        "import os\n"
        "from otp_service import metrics\n"
        "checks = metrics.child(metrics.CHECKS, 'sms', 'wrong')\n"
        "checks.inc(3)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    checks.inc()\n"
        "    metrics.flush()\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
    )
    assert _counted_by(script, tmp_path, "wrong") == 4


def test_gunicorn_builds_no_access_log_of_its_own(tmp_path):
    """The app writes the request line; gunicorn's access log is off, so it does not build
    the line's fields for every request either."""
    probe = (
        "from gunicorn.config import Config\n"
        "import otp_service.gunicorn_conf as conf\n"
        "cfg = Config()\n"
        "for name in cfg.settings:\n"
        "    if hasattr(conf, name):\n"
        "        cfg.set(name, getattr(conf, name))\n"
        "log = cfg.logger_class(cfg)\n"
        "print(log.access_log_enabled)\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_gunicorn_empties_the_metrics_directory_but_for_processes_still_running(tmp_path):
    """An `otp-service worker` sharing gunicorn's metrics directory (serve starts it first)
    keeps its counters; what processes gone left behind is not added to this run's."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for pid in (gone.pid, alive.pid):
            (tmp_path / f"counter_{pid}.db").write_bytes(b"\0" * 8)
        (tmp_path / "gauge_livesum_1.db").write_bytes(b"\0" * 8)  # pid 1 (init) is alive
        probe = "import otp_service.gunicorn_conf as conf\nconf.on_starting(None)\n"
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        subprocess.run([sys.executable, "-c", probe], env=env, check=True)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [f"counter_{alive.pid}.db", "gauge_livesum_1.db"]
        )
    finally:
        alive.kill()
        alive.wait()


def test_reading_the_gunicorn_settings_makes_no_metrics_directory(tmp_path):
    """The bench and the tests import gunicorn_conf for its settings: that alone must
    neither name nor make a metrics directory (nothing would ever remove it)."""
    probe = (
        "import os\n"
        "import otp_service.gunicorn_conf as conf\n"
        "print(os.environ.get('PROMETHEUS_MULTIPROC_DIR'), conf.workers)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["TMPDIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[0] == "None"
    assert list(tmp_path.iterdir()) == []


def test_gunicorn_alone_makes_its_workers_metrics_directory_and_removes_it(
    tmp_path, env: dict[str, str]
):
    """Started as the Dockerfile starts it, without PROMETHEUS_MULTIPROC_DIR: the master
    makes one directory for its workers before it forks them (/metrics counts every
    request, whichever worker took it) and removes it when it stops."""
    port = free_port()
    run_env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    run_env.update(env, TMPDIR=str(tmp_path), HOST="127.0.0.1", PORT=str(port))
    run_env.update(WEB_CONCURRENCY="2", GUNICORN_LOG_LEVEL="warning")
    args = [sys.executable, "-m", "gunicorn", "-c", "python:otp_service.gunicorn_conf"]
    server = subprocess.Popen([*args, "otp_service:create_app()"], env=run_env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        (made,) = list(tmp_path.glob("otp-metrics-*"))
        assert list(made.glob("counter_*.db"))  # what the workers counted so far
        for _ in range(30):  # a connection each: either worker may take it
            httpx.get(f"{base}/healthz", timeout=5).raise_for_status()
        # each worker writes its counts within FLUSH_SECONDS (metrics.py)
        deadline = time.monotonic() + metrics.FLUSH_SECONDS + 5
        while True:
            text = httpx.get(f"{base}/metrics", timeout=5).text
            served = sum(
                float(line.rpartition(" ")[2])
                for line in text.splitlines()
                if line.startswith("otp_http_requests_total{") and 'route="/healthz"' in line
            )
            if served == 31 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert served == 31
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert list(tmp_path.glob("otp-metrics-*")) == []


def test_the_metrics_directory_stays_for_a_new_master_started_by_usr2(tmp_path):
    """gunicorn's upgrade in place (USR2) starts a new master with the same environment,
    whose workers write to the same directory: the old master's exit leaves it; a plain
    exit removes it."""
    probe = (
        "import os, types\n"
        "import otp_service.gunicorn_conf as conf\n"
        "conf.on_starting(None)\n"
        "made = os.environ['PROMETHEUS_MULTIPROC_DIR']\n"
        "conf.on_exit(types.SimpleNamespace(reexec_pid=12345))\n"
        "print(os.path.isdir(made))\n"
        "conf.on_exit(types.SimpleNamespace(reexec_pid=0))\n"
        "print(os.path.isdir(made))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["TMPDIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"]
    assert list(tmp_path.iterdir()) == []
