"""Nothing is lost: a receiver down for a while gets everything once it is back; a worker
killed with SIGKILL mid-delivery is replaced by another that delivers; the outbox (and
what a dead worker held of it) survives a Redis restart, and a running worker rides out
Redis going away mid-pass; `make run` runs a worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from otp_service import create_app
from otp_service.events import worker as worker_module
from otp_service.events.worker import RETRY_SCHEDULE
from otp_service.store.outbox import OutboxStore
from otp_service.store.redis_server import RedisServer
from tests.conftest import ADMIN_KEY, ApiClient, FakeClock, Sandbox, make_env
from tests.events.conftest import Receiver, drain
from tests.events.test_fallback import FALLBACK, ROUTES, SMS, sender_fault
from tests.support.service import start_service, stop_service
from tests.support.workers import loopback_worker

BASE = "/v1/admin/profiles/default/webhooks"
FALLBACK_AND_EXPIRY = ("verification.fallback_sent", "verification.expired")


def approve(client: ApiClient, sandbox: Sandbox, phone: str) -> dict[str, Any]:
    created = client.post("/v1/verifications", json={"phone_number": phone}).get_json()
    code = sandbox.last_code(phone)
    answer = client.post(f"/v1/verifications/{created['id']}/check", json={"code": code})
    assert answer.get_json()["status"] == "approved"
    return answer.get_json()


def subscribe(admin: ApiClient, receiver: Receiver) -> dict[str, Any]:
    body = {"url": receiver.url, "events": ["verification.approved"]}
    answer = admin.post(BASE, json=body)
    assert answer.status_code == 201
    return answer.get_json()["data"]


def test_a_receiver_down_for_a_while_gets_every_event_once_it_is_back(
    admin, client, sandbox, worker, receiver: Receiver, clock: FakeClock
):
    subscribe(admin, receiver)
    receiver.default = 503
    phones = [f"+1312555{n:04d}" for n in range(1, 9)]
    approved = {approve(client, sandbox, phone)["id"] for phone in phones}
    drain(worker)
    for delay in RETRY_SCHEDULE[:3]:
        clock.advance(delay * 1.2)
        drain(worker)
    assert receiver.received == []
    receiver.default = 200
    clock.advance(RETRY_SCHEDULE[3] * 1.2)
    drain(worker)
    assert {r.json["data"]["id"] for r in receiver.received} == approved
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(set(ids)) == len(approved)
    # every attempt of one event carried the same webhook-id
    tried: dict[str, set[str]] = {}
    for r in receiver.started:
        tried.setdefault(r.json["data"]["id"], set()).add(r.headers["webhook-id"])
    assert all(len(names) == 1 for names in tried.values())


def _worker_process(redis_url: str, env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    child_env = {**os.environ, **env, "REDIS_URL": redis_url}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "otp_service.cli",
            "worker",
            "--name",
            name,
            "--timeout-seconds",
            "4",
            "--lease-seconds",
            "5",
        ],
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def subscribed_app(
    server: RedisServer, sandbox: Sandbox, receiver: Receiver
) -> tuple[dict[str, str], Any, ApiClient]:
    """(its environment, an app on ``server`` whose default profile sends approvals to
    ``receiver``, a client of it)."""
    env = make_env(server.url, sandbox)
    app = create_app(env)
    subscribe(ApiClient(app.test_client(), ADMIN_KEY), receiver)
    return env, app, ApiClient(app.test_client())


def test_a_worker_killed_mid_delivery_is_taken_over_by_another(
    aof_redis: RedisServer, sandbox: Sandbox, receiver: Receiver
):
    env, app, client = subscribed_app(aof_redis, sandbox, receiver)
    receiver.delays = [3.0]  # the first attempt hangs: the worker is mid-delivery
    first = _worker_process(aof_redis.url, env, "first")
    second = None
    try:
        approved = approve(client, sandbox, "+13125550123")
        _wait(lambda: receiver.started, 15, "the first worker's attempt")
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        sent_by_first = receiver.started[0].headers["webhook-id"]
        second = _worker_process(aof_redis.url, env, "second")
        _wait(
            lambda: (
                receiver.received
                and receiver.received[-1].json["data"]["id"] == approved["id"]
                and len(receiver.started) >= 2
            ),
            20,
            "the second worker",
        )
        assert receiver.started[-1].headers["webhook-id"] == sent_by_first
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)
        app.extensions["otp"].close()


def test_the_outbox_and_a_dead_workers_share_of_it_survive_a_redis_restart(
    aof_redis: RedisServer, sandbox: Sandbox, receiver: Receiver
):
    env, app, client = subscribed_app(aof_redis, sandbox, receiver)
    held = approve(client, sandbox, "+13125550123")
    outbox = OutboxStore(app.extensions["otp"].store)
    [shard] = outbox.busy_shards(int(time.time() * 1000))
    taken = outbox.read(shard, "dies-before-acknowledging", 100)
    assert [e.type for e in taken][-1] == "verification.approved"
    waiting = approve(client, sandbox, "+13125550124")
    app.extensions["otp"].close()

    aof_redis.stop()  # SIGTERM: Redis writes its AOF out and stops
    aof_redis.start()

    app = create_app(env)
    services = app.extensions["otp"]
    runner = loopback_worker(services, "after-restart", threads=2, timeout=2.0, lease_ms=300)
    try:
        time.sleep(0.4)  # the dead worker's entries have been idle past the lease
        drain(runner)
        got = {r.json["data"]["id"] for r in receiver.received}
        assert got == {held["id"], waiting["id"]}
    finally:
        runner.close()
        services.close()


def test_make_run_starts_a_worker_that_delivers(tmp_path: Path, receiver: Receiver):
    service = start_service(tmp_path)
    try:
        admin = httpx.Client(
            base_url=service.url, headers={"Authorization": "Bearer dev-admin-key"}, timeout=10
        )
        body = {"url": receiver.url, "events": ["verification.approved"]}
        assert admin.post(BASE, json=body).status_code == 201
        phone = "+13125550123"
        created = service.http.post("/v1/verifications", json={"phone_number": phone}).json()
        code = service.code_for(phone)
        check = service.http.post(f"/v1/verifications/{created['id']}/check", json={"code": code})
        assert check.json()["status"] == "approved"
        [got] = receiver.wait_for(1, timeout=15)
        assert got.json["data"]["id"] == created["id"]
        admin.close()
    finally:
        stop_service(service)


def test_a_batch_to_a_slow_receiver_is_not_sent_again_by_a_second_worker(
    app, admin, receiver: Receiver, clock: FakeClock
):
    """A worker begins no post it could not end before the batch's lease does, and gives
    the rest back: one still posting a batch when its lease ended had it claimed and sent
    again by another worker, each of them, the ones it had delivered already too (it
    records a batch when the whole of it is done). Here one thread, 0.5 s a post at most,
    a 1.5 s lease, and a receiver taking 0.4 s an answer: a batch of six takes 2.4 s."""
    services = app.extensions["otp"]
    made = admin.post(BASE, json={"url": receiver.url}).get_json()["data"]
    for _ in range(6):
        admin.post(f"{BASE}/{made['id']}/test")  # pings, due at once
    receiver.delays = [0.4] * 6
    workers = [
        loopback_worker(services, name, clock=clock, timeout=0.5, lease_ms=1500)
        for name in ("first", "second")
    ]
    try:
        started = time.monotonic()
        first = threading.Thread(target=workers[0].deliver_due)
        first.start()
        time.sleep(max(0.0, 1.6 - (time.monotonic() - started)))
        clock.advance(1.6)  # the time that passed: the first worker's leases ended
        workers[1].deliver_due()
        first.join()
        while any(w.deliver_due() for w in workers):
            pass
    finally:
        for w in workers:
            w.close()
    sent = [r.headers["webhook-id"] for r in receiver.started]
    assert len(sent) == 6 and len(set(sent)) == 6


def test_events_beyond_a_pass_are_stored_due_and_each_delivered_once(
    app, admin, client, receiver: Receiver, clock: FakeClock
):
    """Handed over more events than a pass has time to post (a receiver taking 0.4 s an
    answer, one thread, a 1.5 s lease: two), a worker posts those and stores the rest due
    now: they are claimed, with a lease, and delivered like retries, each once."""
    admin.post(BASE, json={"url": receiver.url, "events": ["verification.canceled"]})
    runner = loopback_worker(
        app.extensions["otp"], "small", clock=clock, timeout=0.5, lease_ms=1500
    )
    try:
        for n in range(5):
            phone = f"+1312555{n:04d}"
            created = client.post("/v1/verifications", json={"phone_number": phone}).get_json()
            client.post(f"/v1/verifications/{created['id']}/cancel")
        receiver.delays = [0.4] * 5
        runner.run_once()
        assert len(receiver.started) < 5  # the rest were stored due, not posted late
        drain(runner)
    finally:
        runner.close()
    sent = [r.headers["webhook-id"] for r in receiver.started]
    assert len(sent) == len(set(sent)) == 5


def _outage(server: RedisServer, how: str, seconds: float) -> None:
    """Redis gone for ``seconds``: stopped (SIGTERM: it writes its AOF out) or killed
    (SIGKILL: what it wrote to the AOF before answering stays), then started again."""
    if how == "kill":
        server.kill()
    else:
        server.stop()
    time.sleep(seconds)
    server.start()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_running_worker_rides_out_redis_outages_and_loses_nothing(
    aof_redis: RedisServer, sandbox: Sandbox, receiver: Receiver, monkeypatch, how: str
):
    """A worker thread running (``Worker.run``) while Redis goes away twice: in the middle
    of a pass that is posting the first events, and as timers fall due. Once Redis is back
    (its AOF), every event is delivered (retries of a receiver's 503s included), each
    no-receipt timer sends its fallback once, each expiry fires, every ended verification
    is in the history and the insights, a deleted profile's data is purged, and the worker
    never stopped."""
    monkeypatch.setattr(worker_module, "RECLAIM_EVERY_MS", 300)  # held entries: at once
    clock = FakeClock(time.time())
    env = make_env(
        aof_redis.url,
        sandbox,
        OTP_ROUTES=json.dumps(ROUTES),
        OTP_FALLBACK=json.dumps(FALLBACK),  # a no-receipt fallback after 20 s
    )
    app = create_app(env, clock=clock)
    services = app.extensions["otp"]
    admin = ApiClient(app.test_client(), ADMIN_KEY)
    client = ApiClient(app.test_client())
    assert admin.post(BASE, json={"url": receiver.url}).status_code == 201
    sender_fault(sandbox, SMS, "dropped")  # no receipt for any SMS
    phones = [f"+1312555{n:04d}" for n in range(1, 5)]
    approved = approve(client, sandbox, phones[0])["id"]
    pending = [
        client.post("/v1/verifications", json={"phone_number": phone}).get_json()["id"]
        for phone in phones[1:]
    ]
    # a deleted profile's verification: the worker's purge removes it, outages or not
    gone = admin.post("/v1/admin/profiles", json={"name": "Gone"}).get_json()["data"]["id"]
    key = admin.post(f"/v1/admin/profiles/{gone}/keys").get_json()["data"]["key"]
    own = ApiClient(app.test_client(), key)
    assert own.post("/v1/verifications", json={"phone_number": "+13125550199"}).status_code == 201
    assert admin.delete(f"/v1/admin/profiles/{gone}").status_code == 204
    receiver.delays = [1.0]  # the first post is under way when Redis goes
    receiver.statuses = [503] * 3  # and a few are retried
    runner = loopback_worker(
        services, "rides-out", clock=clock, threads=2, timeout=2.0, lease_ms=1500
    )
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait(lambda: receiver.started, 10, "the worker's first post")
        _outage(aof_redis, how, 1.0)
        clock.advance(31)  # past every no-receipt timer
        _wait(lambda: all(len(sandbox.messages(p)) == 2 for p in phones[1:]), 20, "fallbacks")
        clock.advance(700)  # past every expiry
        _outage(aof_redis, how, 0.5)
        want = {("verification.created", vid) for vid in [approved, *pending]}
        want |= {("verification.approved", approved)}
        want |= {(kind, vid) for vid in pending for kind in FALLBACK_AND_EXPIRY}
        deadline = time.monotonic() + 30
        while not want <= {(r.json["type"], r.json["data"]["id"]) for r in receiver.received}:
            assert time.monotonic() < deadline, "events lost"
            clock.advance(RETRY_SCHEDULE[0] * 1.2)  # the 503'd ones' next attempts
            time.sleep(0.2)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(10)
        runner.close()
    assert [len(sandbox.messages(p)) for p in phones] == [1, 2, 2, 2]  # each fallback once
    for vid, outcome in [(approved, "approved")] + [(vid, "expired") for vid in pending]:
        record = admin.get(f"/v1/admin/verifications/{vid}")
        assert record.status_code == 200
        assert record.get_json()["data"]["status"] == outcome
    rows = admin.get("/v1/admin/insights/summary?group_by=profile").get_json()["data"]
    [row] = [r for r in rows if r["profile"] == "default"]
    assert row["verifications"] >= 4 and row["approved"] >= 1  # at least once
    assert list(services.store.redis.scan_iter(match=f"*{gone}*")) == []
    services.close()


def test_an_endpoint_deleted_after_redis_came_back_with_older_data_gets_nothing_more(
    tmp_path: Path, aof_redis: RedisServer, sandbox: Sandbox, receiver: Receiver
):
    """Redis comes back without its last endpoint change (a failover to a replica that
    was behind, a restored copy), and the operator deletes the endpoint at once: the
    worker's next pass must see the delete and post it nothing more (its cache of the
    endpoints is read again when their version moves)."""
    clock = FakeClock(time.time())
    app = create_app(make_env(aof_redis.url, sandbox), clock=clock)
    services = app.extensions["otp"]
    admin = ApiClient(app.test_client(), ADMIN_KEY)
    endpoint = f"{BASE}/{admin.post(BASE, json={'url': receiver.url}).get_json()['data']['id']}"
    runner = loopback_worker(services, "caching", clock=clock, timeout=2.0)
    try:
        receiver.statuses = [503]
        assert admin.post(f"{endpoint}/test").status_code == 202  # fails: due again in ~5 s
        drain(runner)
        aof_redis.stop()
        shutil.copytree(aof_redis.data_dir, tmp_path / "copy")
        aof_redis.start()
        assert admin.patch(endpoint, json={"description": "hooks"}).status_code == 200
        assert admin.post(f"{endpoint}/test").status_code == 202
        drain(runner)  # the worker has read the endpoints as changed
        assert len(receiver.started) == 2

        aof_redis.stop()
        shutil.rmtree(aof_redis.data_dir)
        shutil.copytree(tmp_path / "copy", aof_redis.data_dir)
        aof_redis.start()  # the change and the second ping are lost; the first one is due
        assert admin.delete(endpoint).status_code == 204
        clock.advance(RETRY_SCHEDULE[0] * 1.2)
        drain(runner)
        assert len(receiver.started) == 2  # nothing posted to the deleted endpoint
    finally:
        runner.close()
        services.close()
