"""Telnyx or Redis failing: a clear 502/503, and a defined state afterwards."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from otp_service import create_app
from otp_service.store.redis_server import RedisServer, free_port
from tests.conftest import ApiClient, FakeClock, Sandbox, make_env

PHONE = "+13125550123"
OTHER = "+13125550124"


def create(client: ApiClient):
    return client.post("/v1/verifications", json={"phone_number": PHONE})


@pytest.fixture
def impatient(redis_server: RedisServer, redis_client, sandbox, clock) -> Iterator[ApiClient]:
    """A client of an app whose Redis calls give up after 0.3 s."""
    app = create_app(make_env(f"{redis_server.url}?socket_timeout=0.3", sandbox), clock=clock)
    yield ApiClient(app.test_client())
    app.extensions["otp"].close()


@contextmanager
def redis_paused(redis_server: RedisServer, redis_client: Any) -> Iterator[None]:
    """Redis stops (SIGSTOP) for the block; then it resumes and runs what it was sent
    meanwhile, after the app gave up on the answers."""
    pid = redis_server.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
    redis_client.ping()
    time.sleep(0.1)
    redis_client.ping()


@pytest.mark.parametrize("status", [500, 503])
def test_telnyx_5xx_is_502_and_nothing_is_stored(client, sandbox: Sandbox, redis_client, status):
    sandbox.fault(status=status, count=5)
    response = create(client)
    assert response.status_code == 502
    problem = response.get_json()
    assert problem["code"] == "provider_error"
    assert problem["provider_status"] == status
    assert redis_client.keys("*") == []
    sandbox.http.delete("/_sandbox/faults")
    assert create(client).status_code == 201


def test_failed_resend_gives_back_the_previous_code(client, sandbox, clock: FakeClock):
    vid = create(client).get_json()["id"]
    code = sandbox.last_code(PHONE)
    clock.advance(30)
    sandbox.fault(status=500, count=5)
    assert create(client).status_code == 502
    sandbox.http.delete("/_sandbox/faults")
    body = client.get(f"/v1/verifications/{vid}").get_json()
    assert body["sends"] == 1
    check = client.post(f"/v1/verifications/{vid}/check", json={"code": code})
    assert check.get_json()["valid"] is True


def test_telnyx_timeout_is_503_and_the_new_code_stands(client, sandbox, redis_client):
    sandbox.fault(latency_ms=3000, count=1)  # the app's Telnyx timeout is 2 s
    response = create(client)
    assert response.status_code == 503
    problem = response.get_json()
    assert problem["code"] == "provider_unavailable"
    vid = problem["verification_id"]
    body = client.get(f"/v1/verifications/{vid}").get_json()
    assert body["status"] == "pending"
    assert body["delivery"]["status"] is None
    assert body["delivery"]["errors"][0]["code"] == "provider_timeout"
    # Telnyx did take it: the code in the message that arrives works, and it went out once
    [message] = sandbox.messages(PHONE)
    check = client.post(f"/v1/verifications/{vid}/check", json={"code": sandbox.last_code(PHONE)})
    assert check.get_json()["valid"] is True
    assert len(sandbox.messages(PHONE)) == 1


def test_telnyx_unreachable_is_503_and_nothing_is_stored(env, clock, redis_client):
    env["TELNYX_BASE_URL"] = f"http://127.0.0.1:{free_port()}/v2"
    app = create_app(env, clock=clock)
    try:
        response = create(ApiClient(app.test_client()))
        assert response.status_code == 503
        assert response.get_json()["code"] == "provider_unavailable"
        assert "verification_id" not in response.get_json()
        assert redis_client.keys("*") == []
    finally:
        app.extensions["otp"].close()


def test_redis_down_is_503_and_the_service_recovers(client, sandbox, redis_server):
    vid = create(client).get_json()["id"]
    redis_server.stop()
    try:
        response = client.get(f"/v1/verifications/{vid}")
        assert response.status_code == 503
        assert response.get_json()["code"] == "storage_unavailable"
        assert create(client).status_code == 503
        assert client.flask.get("/readyz").status_code == 503
        assert client.flask.get("/healthz").status_code == 200
    finally:
        redis_server.start()
    assert client.flask.get("/readyz").status_code == 200
    assert (
        client.post("/v1/verifications", json={"phone_number": "+13125550124"}).status_code == 201
    )


def test_a_redis_that_lost_its_scripts_gets_them_again(client, sandbox, redis_client):
    """A restarted or failed-over Redis has no scripts: the next call loads its script and
    is answered, and runs once (the refused EVALSHA did not run)."""
    vid = create(client).get_json()["id"]
    wrong = "000000" if sandbox.last_code(PHONE) != "000000" else "111111"
    redis_client.script_flush()
    response = client.post(f"/v1/verifications/{vid}/check", json={"code": wrong})
    assert response.status_code == 200
    assert response.get_json()["attempts_remaining"] == 4  # counted once
    redis_client.script_flush()
    assert client.get(f"/v1/verifications/{vid}").get_json()["attempts_remaining"] == 4


def test_redis_closing_the_connections_costs_the_caller_nothing(client, sandbox, redis_client):
    """Redis dropped the app's pooled connections (a restart, an idle timeout, a proxy):
    the next calls open new ones and are answered; a check still counts once."""
    vid = create(client).get_json()["id"]
    wrong = "000000" if sandbox.last_code(PHONE) != "000000" else "111111"
    assert redis_client.client_kill_filter(_type="normal", skipme=True) >= 1
    response = client.post(f"/v1/verifications/{vid}/check", json={"code": wrong})
    assert response.status_code == 200
    assert response.get_json()["attempts_remaining"] == 4
    redis_client.client_kill_filter(_type="normal", skipme=True)
    assert client.get(f"/v1/verifications/{vid}").get_json()["attempts_remaining"] == 4


def test_a_connection_that_breaks_under_a_script_is_retried_once(app, client, sandbox, monkeypatch):
    """The pooled connection passed its check, then broke as the EVALSHA went out (the
    server closed it meanwhile): the store reconnects once and sends it again."""
    vid = create(client).get_json()["id"]
    wrong = "000000" if sandbox.last_code(PHONE) != "000000" else "111111"
    pool = app.extensions["otp"].store.redis.connection_pool
    get_connection = pool.get_connection
    broken = []

    def breaking(*args, **kwargs):
        connection = get_connection(*args, **kwargs)
        if not broken:
            connection.connect()
            connection._sock.shutdown(socket.SHUT_RDWR)
            broken.append(connection)
        return connection

    monkeypatch.setattr(pool, "get_connection", breaking)
    response = client.post(f"/v1/verifications/{vid}/check", json={"code": wrong})
    assert broken
    assert response.status_code == 200
    assert response.get_json()["attempts_remaining"] == 4  # sent again, counted once


def test_redis_lost_after_the_send_is_503_naming_the_verification(
    client, sandbox, redis_server, monkeypatch
):
    from otp_service.delivery import Delivery

    original = Delivery.send

    def send_then_lose_redis(self, message):
        result = original(self, message)
        redis_server.stop()
        return result

    monkeypatch.setattr(Delivery, "send", send_then_lose_redis)
    try:
        response = create(client)
    finally:
        redis_server.start()
    assert response.status_code == 503
    problem = response.get_json()
    assert problem["code"] == "storage_unavailable"
    assert len(problem["verification_id"]) == 32
    assert len(sandbox.messages(PHONE)) == 1


@pytest.mark.parametrize("by", ["id", "phone_number"])
def test_a_check_whose_answer_was_lost_approves_its_retry(
    impatient, sandbox, redis_server, redis_client, clock, by
):
    """Redis approved the code after the app gave up (503): the client's retry with the
    same code is answered as the approval was, for a minute; any other code is 409."""
    vid = create(impatient).get_json()["id"]
    code = sandbox.last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    warm_up = {"phone_number": OTHER, "code": code}  # check.lua loaded before the pause
    assert impatient.post("/v1/verifications/check", json=warm_up).status_code == 404

    def check(code: str):
        if by == "id":
            return impatient.post(f"/v1/verifications/{vid}/check", json={"code": code})
        body = {"phone_number": PHONE, "code": code}
        return impatient.post("/v1/verifications/check", json=body)

    with redis_paused(redis_server, redis_client):
        lost = check(code)
    assert lost.status_code == 503
    assert lost.get_json()["code"] == "storage_unavailable"
    [key] = redis_client.keys("*:v")
    assert redis_client.hget(key, "st") == b"a"  # Redis did approve it

    retry = check(code)
    assert retry.status_code == 200
    assert retry.get_json() == {
        "id": vid,
        "status": "approved",
        "valid": True,
        "attempts_remaining": 5,
    }
    assert retry.headers["Idempotent-Replayed"] == "true"
    other = check(wrong)
    assert other.status_code == 409
    assert other.get_json()["code"] == "already_approved"
    clock.advance(60)
    late = check(code)
    assert late.status_code == 409
    assert late.get_json()["code"] == "already_approved"


def test_a_create_whose_answer_was_lost_leaves_nothing_behind(
    impatient, sandbox, redis_server, redis_client
):
    """Redis ran the create after the app gave up (503, no SMS sent): nothing of it
    stays, so the client's retry is a plain create, not a 429 cooldown."""
    warm_up = impatient.post("/v1/verifications", json={"phone_number": OTHER})
    assert warm_up.status_code == 201  # the scripts loaded before the pause
    before = {key: redis_client.dump(key) for key in redis_client.keys("*")}
    with redis_paused(redis_server, redis_client):
        lost = create(impatient)
    assert lost.status_code == 503
    assert lost.get_json()["code"] == "storage_unavailable"
    assert "verification_id" not in lost.get_json()
    assert {key: redis_client.dump(key) for key in redis_client.keys("*")} == before
    assert sandbox.messages(PHONE) == []

    retry = create(impatient)
    assert retry.status_code == 201
    assert retry.get_json()["sends"] == 1
    assert len(sandbox.messages(PHONE)) == 1
