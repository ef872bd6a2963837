"""An admin change whose end was never recorded (its process killed mid-change, or Redis
lost between the change and its entry) still reaches the audit log: noted as under way
before it is tried, and filed by the worker as ``unconfirmed`` once it has been open
longer than any change can take."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from otp_service import create_app
from otp_service.admin.audit import OPEN_FOR_MS, UNCONFIRMED, AuditLog, UnfinishedChanges
from otp_service.admin.optouts import SYNC_OPEN_MS
from tests.admin.conftest import audit_entries
from tests.conftest import ADMIN_KEY, ApiClient, FakeClock, Sandbox
from tests.support.workers import loopback_worker

PHONE = "+13125550123"


@pytest.fixture
def real_time_app(env: dict[str, str]) -> Any:
    """The app on a clock that starts at the real time (the killed process's clock) and
    then moves only when the test says so."""
    app = create_app(env, clock=FakeClock(time.time()))
    yield app
    app.extensions["otp"].close()


def wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def pass_time(app: Any, redis_client: Any, seconds: float) -> None:
    """``seconds`` pass for the changes under way (their time to end is on Redis's clock,
    which a test cannot move: it is moved back instead) and for the app's clock."""
    open_key = app.extensions["otp"].store.audit_open_key()
    for token, value in redis_client.hgetall(open_key).items():
        until, note = value.split(b" ", 1)
        redis_client.hset(open_key, token, b"%d %s" % (int(until) - int(seconds * 1000), note))
    app.extensions["otp"].audit.clock.advance(seconds)


def look_now(worker: Any) -> None:
    """The worker's next pass looks for unfinished changes (not 30 s later)."""
    [chore] = [c for c in worker.chores if isinstance(c, UnfinishedChanges)]
    chore._looked = -float("inf")


def test_a_change_whose_process_was_killed_is_filed_as_unconfirmed(
    real_time_app: Any, env: dict[str, str], sandbox: Sandbox, redis_client: Any
):
    services = real_time_app.extensions["otp"]
    admin = ApiClient(real_time_app.test_client(), ADMIN_KEY)
    open_key = services.store.audit_open_key()
    # the sync's first call to Telnyx takes 30 s: the command is killed while it waits
    sandbox.fault(latency_ms=30_000, count=1, path_prefix="/v2/messaging_optouts")
    command = subprocess.Popen(
        [sys.executable, "-m", "otp_service.cli", "optouts", "sync"],
        env={**os.environ, **env, "TELNYX_TIMEOUT_SECONDS": "60"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: redis_client.hlen(open_key) == 1)
        time.sleep(0.2)  # well into its call to Telnyx
    finally:
        command.send_signal(signal.SIGKILL)
        command.wait(10)
    assert audit_entries(admin, action="optouts.sync") == []

    worker = loopback_worker(services, "w1", clock=services.audit.clock)
    try:
        worker.run_once()  # within the time a change may take: still under way
        pass_time(real_time_app, redis_client, OPEN_FOR_MS / 1000 + 1)  # a sync takes longer
        look_now(worker)
        worker.run_once()
        assert audit_entries(admin, action="optouts.sync") == []
        pass_time(real_time_app, redis_client, SYNC_OPEN_MS / 1000)
        look_now(worker)
        worker.run_once()
    finally:
        worker.close()
    [entry] = audit_entries(admin, action="optouts.sync")
    assert (entry["key_id"], entry["target"]) == ("cli", "*")
    assert (entry["result"], entry["status"]) == (UNCONFIRMED, 0)
    assert entry["detail"]["started_at"] < entry["at"]
    assert redis_client.hlen(open_key) == 0
    worker = loopback_worker(services, "w2", clock=services.audit.clock)
    try:
        worker.run_once()  # filed once only
    finally:
        worker.close()
    assert len(audit_entries(admin, action="optouts.sync")) == 1


def test_a_change_that_ended_leaves_nothing_open_and_nothing_to_file(
    real_time_app: Any, redis_client: Any
):
    services = real_time_app.extensions["otp"]
    admin = ApiClient(real_time_app.test_client(), ADMIN_KEY)
    assert admin.put(f"/v1/admin/opt-outs/{PHONE}").status_code == 201
    assert admin.delete(f"/v1/admin/opt-outs/{PHONE}").status_code == 204
    assert admin.delete(f"/v1/admin/opt-outs/{PHONE}").status_code == 404  # a failure too
    assert redis_client.hlen(services.store.audit_open_key()) == 0
    pass_time(real_time_app, redis_client, OPEN_FOR_MS / 1000 + 1)
    assert services.audit.file_unfinished() == 0
    results = [e["result"] for e in audit_entries(admin)]
    assert results == ["optout_not_found", "removed", "added"]


def test_a_change_filed_while_it_runs_still_records_its_end_and_an_ended_one_is_not_filed(
    real_time_app: Any, redis_client: Any
):
    """The change's own end and the worker's filing race. The worker first: its
    ``unconfirmed`` entry stands and the change's end is recorded after it (two entries).
    The change first: the worker finds the note gone and writes nothing."""
    audit = real_time_app.extensions["otp"].audit
    with audit.audited("ops", "optout.add", PHONE, {}) as outcome:
        pass_time(real_time_app, redis_client, OPEN_FOR_MS / 1000 + 1)  # a slow change
        assert redis_client.hlen(audit.store.audit_open_key()) == 1
        assert audit.file_unfinished() == 1  # filed while it still runs
        outcome["result"], outcome["status"] = "added", 201
    assert [e.result for e in audit.list()[0]] == ["added", UNCONFIRMED]
    # and a note the change closed is not filed, whatever the clock says
    with audit.audited("ops", "optout.remove", PHONE, {}) as outcome:
        outcome["result"], outcome["status"] = "removed", 204
    pass_time(real_time_app, redis_client, OPEN_FOR_MS / 1000 + 1)
    assert audit.file_unfinished() == 0
    assert [e.result for e in audit.list()[0]] == ["removed", "added", UNCONFIRMED]


def test_a_change_under_way_is_not_filed_by_a_worker_whose_clock_is_ahead(real_time_app: Any):
    """The writer's clock is 10 minutes behind the worker's: the change has just begun,
    and is judged by Redis's clock, not by either host's."""
    writer = real_time_app.extensions["otp"].audit
    worker = AuditLog(writer.store, clock=FakeClock(writer.clock() + 600))
    with writer.audited("cli", "optout.add", PHONE, {}) as outcome:
        assert worker.file_unfinished() == 0
        outcome["result"], outcome["status"] = "added", 201
    assert [e.result for e in writer.list()[0]] == ["added"]
