"""Telnyx or Redis failing: a clear 502/503, and a defined state afterwards."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service import create_app
from otp_service.store.redis_server import RedisServer, free_port
from otp_service.store.scripts import Batch, Store
from otp_service.telnyx.webhooks import public_key_b64, sign_webhook
from tests.api.console.test_console_http import csrf_of, sign_in
from tests.conftest import ADMIN_KEY, ApiClient, FakeClock, Sandbox, data_keys, make_env

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


def caught_up(redis_client: Any) -> None:
    """Once Redis has resumed: it has run what it was sent while it was stopped."""
    redis_client.ping()
    time.sleep(0.1)
    redis_client.ping()


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
    caught_up(redis_client)


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


def redis_contents(redis_client: Any) -> dict[bytes, Any]:
    """What Redis holds, by key, but the audit log and the insights' counters (compared
    by value: a hash's DUMP depends on its dict's internal order)."""
    read = {
        b"string": redis_client.get,
        b"hash": redis_client.hgetall,
        b"set": redis_client.smembers,
        b"list": lambda key: redis_client.lrange(key, 0, -1),
        b"zset": lambda key: redis_client.zrange(key, 0, -1, withscores=True),
        b"stream": lambda key: redis_client.xrange(key),
    }
    return {
        key: read[redis_client.type(key)](key)
        for key in data_keys(redis_client)
        if b"{audit}" not in key
    }


PROFILE = "/v1/admin/profiles/{profile}"
ENDPOINT = "/v1/admin/profiles/{profile}/webhooks/{endpoint}"
# Every admin change of profiles, their keys, webhook endpoints and deliveries: the script
# its one write runs in, and the request.
ADMIN_CHANGES = [
    ("profile_create", "POST", "/v1/admin/profiles", {"name": "Shop"}),
    ("profile_update", "PATCH", PROFILE, {"name": "Shop 2"}),
    ("profile_delete", "DELETE", PROFILE, None),
    ("profile_key_create", "POST", PROFILE + "/keys", None),
    ("profile_key_revoke", "DELETE", PROFILE + "/keys/{key}", None),
    ("webhook_endpoint_save", "POST", PROFILE + "/webhooks", {"url": "http://127.0.0.1:9/h"}),
    ("webhook_endpoint_save", "PATCH", ENDPOINT, {"enabled": False}),
    ("webhook_endpoint_save", "DELETE", ENDPOINT, None),
    ("webhook_endpoint_save", "POST", ENDPOINT + "/rotate-secret", None),
    ("webhook_enqueue", "POST", ENDPOINT + "/test", None),
    ("webhook_retry", "POST", ENDPOINT + "/deliveries/{delivery}/retry", None),
]


@pytest.fixture
def impatient_admin(redis_server: RedisServer, redis_client, sandbox, clock) -> Iterator[ApiClient]:
    """An admin client of an app whose Redis calls give up after 0.3 s."""
    app = create_app(make_env(f"{redis_server.url}?socket_timeout=0.3", sandbox), clock=clock)
    yield ApiClient(app.test_client(), ADMIN_KEY)
    app.extensions["otp"].close()


@pytest.mark.parametrize(
    ("script", "method", "path", "body"),
    ADMIN_CHANGES,
    ids=[f"{method} {path.removeprefix('/v1/admin/')}" for _, method, path, _ in ADMIN_CHANGES],
)
def test_an_admin_change_whose_answer_was_lost_is_not_made(
    impatient_admin, redis_server, redis_client, monkeypatch, script, method, path, body
):
    """Redis paused as the change went out, past the app's timeout (503), then resumed and
    ran it: it must change nothing, so that the 503, and the audit log that has no entry
    of the change, are true, and the operator's retry is a plain change."""
    admin = impatient_admin

    def targets() -> dict[str, str]:
        made = admin.post("/v1/admin/profiles", json={"name": "p"}).get_json()["data"]["id"]
        hooks = f"/v1/admin/profiles/{made}/webhooks"
        endpoint = admin.post(hooks, json={"url": "http://127.0.0.1:9/h"}).get_json()["data"]
        ping = admin.post(f"{hooks}/{endpoint['id']}/test").get_json()["data"]
        key = admin.post(f"/v1/admin/profiles/{made}/keys").get_json()["data"]
        return {
            "profile": made,
            "endpoint": endpoint["id"],
            "delivery": ping["id"],
            "key": key["id"],
        }

    def change(values: dict[str, str]):
        return admin.flask.open(
            path.format(**values),
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )

    assert change(targets()).status_code < 300  # its script is loaded
    values = targets()
    before = redis_contents(redis_client)
    logged = redis_client.xlen("otp:{audit}:log")
    run, pid = Store.run, redis_server.process.pid

    def pausing(store: Store, name: str, keys: list[str], args: list[Any]) -> Any:
        if name == script:
            os.kill(pid, signal.SIGSTOP)
        return run(store, name, keys, args)

    monkeypatch.setattr(Store, "run", pausing)
    try:
        lost = change(values)
    finally:
        os.kill(pid, signal.SIGCONT)
        monkeypatch.undo()
    caught_up(redis_client)
    assert lost.status_code == 503
    assert lost.get_json()["code"] == "storage_unavailable"
    assert redis_contents(redis_client) == before
    entries = redis_client.xrange("otp:{audit}:log")[logged:]
    assert [e[b"result"] for _, e in entries] in ([], [b"storage_unavailable"])
    assert change(values).status_code < 300


def test_an_admin_change_whose_audit_note_was_lost_is_neither_tried_nor_filed_later(
    impatient_admin, redis_server, redis_client, monkeypatch
):
    """Redis paused as the note that a change is under way went out (admin/audit.py):
    503, nothing tried; resumed, it must not write the note, or the worker would file a
    change never tried as unconfirmed."""
    admin = impatient_admin
    assert admin.post("/v1/admin/profiles", json={"name": "a"}).status_code == 201  # loaded
    run, pid = Store.run, redis_server.process.pid

    def pausing(store: Store, name: str, keys: list[str], args: list[Any]) -> Any:
        if name == "audit_open":
            os.kill(pid, signal.SIGSTOP)
        return run(store, name, keys, args)

    monkeypatch.setattr(Store, "run", pausing)
    try:
        lost = admin.post("/v1/admin/profiles", json={"name": "b"})
    finally:
        os.kill(pid, signal.SIGCONT)
        monkeypatch.undo()
    caught_up(redis_client)
    assert (lost.status_code, lost.get_json()["code"]) == (503, "storage_unavailable")
    assert redis_client.hlen("otp:{audit}:open") == 0
    names = [p["name"] for p in admin.get("/v1/admin/profiles").get_json()["data"]]
    assert "b" not in names
    results = [e["result"] for e in admin.get("/v1/admin/audit").get_json()["data"]]
    assert results[0] in ("storage_unavailable", "created")  # the refusal, if Redis took it
    assert results.count("created") == 1


def test_an_admin_change_is_made_by_a_redis_whose_clock_is_ahead(admin, monkeypatch):
    """Redis's clock ahead of the service's by more than the timeout: the change answers
    'late' in time; it is run again without a deadline, and made."""
    monkeypatch.setattr(Store, "deadline", lambda _store: 1)  # long past, on Redis's clock
    made = admin.post("/v1/admin/profiles", json={"name": "Shop"})
    assert made.status_code == 201
    profile = made.get_json()["data"]["id"]
    assert admin.get(f"/v1/admin/profiles/{profile}").status_code == 200
    [entry] = admin.get("/v1/admin/audit").get_json()["data"]
    assert (entry["action"], entry["result"]) == ("profile.create", "created")


OPTOUT = "/v1/admin/opt-outs/" + PHONE
IMPORT = "/v1/admin/opt-outs/import"


@contextmanager
def paused_under(monkeypatch: pytest.MonkeyPatch, pid: int, script: str) -> Iterator[None]:
    """Redis stops (SIGSTOP) as a batch holding ``script`` goes out, and resumes once the
    app has given up on its answer: it then runs what it was sent."""
    execute = Batch.execute

    def pausing(batch: Batch) -> list[Any]:
        if not any(queued and queued[0] == script for *_, queued in batch.calls):
            return execute(batch)
        os.kill(pid, signal.SIGSTOP)
        try:
            return execute(batch)
        finally:
            os.kill(pid, signal.SIGCONT)

    with monkeypatch.context() as patched:
        patched.setattr(Batch, "execute", pausing)
        yield


def optout_total(admin: ApiClient) -> int:
    return admin.get("/v1/admin/opt-outs").get_json()["meta"]["total_results"]


# An operator's opt-out changes: (action, method, path, body, opted out before it?).
OPTOUT_CHANGES = [
    ("optout.add", "PUT", OPTOUT, None, False),
    ("optout.remove", "DELETE", OPTOUT, None, True),
    ("optouts.import", "POST", IMPORT, f"phone_number\r\n{PHONE}\r\n", False),
]


@pytest.mark.parametrize(
    ("action", "method", "path", "body", "opted_out"),
    OPTOUT_CHANGES,
    ids=[change[0] for change in OPTOUT_CHANGES],
)
def test_an_operators_optout_change_whose_answer_was_lost_is_not_made(
    impatient_admin, redis_server, redis_client, monkeypatch, action, method, path, body, opted_out
):
    """Redis paused as the opt-out change went out, past the app's timeout (503), then
    resumed and ran it: neither the number's marker nor the list's index changes, the
    number gets codes (or is refused them) as before, the audit log records the 503, and
    the operator's retry is a plain change."""
    admin = impatient_admin
    client = ApiClient(admin.flask)  # the client key, on the same app

    def change():
        return admin.flask.open(
            path,
            method=method,
            data=body,
            headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "text/csv"},
        )

    assert admin.put(f"/v1/admin/opt-outs/{OTHER}").status_code == 201  # scripts loaded
    assert admin.delete(f"/v1/admin/opt-outs/{OTHER}").status_code == 204
    if opted_out:
        assert admin.put(OPTOUT).status_code == 201
    before, listed = redis_contents(redis_client), optout_total(admin)
    logged = redis_client.xlen("otp:{audit}:log")

    with paused_under(monkeypatch, redis_server.process.pid, "optout_mark"):
        lost = change()
    caught_up(redis_client)

    assert lost.status_code == 503
    assert lost.get_json()["code"] == "storage_unavailable"
    assert redis_contents(redis_client) == before
    assert admin.get(OPTOUT).status_code == (200 if opted_out else 404)
    assert optout_total(admin) == listed
    [(_id, entry)] = redis_client.xrange("otp:{audit}:log")[logged:]
    assert (entry[b"action"], entry[b"result"], entry[b"status"]) == (
        action.encode(),
        b"storage_unavailable",
        b"503",
    )
    if action == "optouts.import":
        assert json.loads(entry[b"detail"]) == {"received": 1, "added": 0, "already_present": 0}
    assert create(client).status_code == (409 if opted_out else 201)  # as before it

    retry = change()
    assert retry.status_code == {"PUT": 201, "DELETE": 204, "POST": 200}[method]
    assert admin.get(OPTOUT).status_code == (404 if opted_out else 200)
    assert optout_total(admin) == listed + (-1 if opted_out else 1)


@pytest.mark.parametrize(
    ("action", "method", "path", "body", "opted_out"),
    OPTOUT_CHANGES,
    ids=[change[0] for change in OPTOUT_CHANGES],
)
def test_an_operators_optout_change_is_made_by_a_redis_whose_clock_is_ahead(
    admin, monkeypatch, action, method, path, body, opted_out
):
    """Redis's clock ahead of the service's by more than the timeout: both of the change's
    scripts answer 'late' in time; they are run again without a deadline, and made."""
    if opted_out:
        assert admin.put(OPTOUT).status_code == 201
    monkeypatch.setattr(Store, "deadline", lambda _store: 1)  # long past, on Redis's clock
    made = admin.flask.open(
        path,
        method=method,
        data=body,
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "text/csv"},
    )
    assert made.status_code == {"PUT": 201, "DELETE": 204, "POST": 200}[method]
    assert admin.get(OPTOUT).status_code == (404 if opted_out else 200)
    assert optout_total(admin) == (0 if opted_out else 1)
    entry = admin.get("/v1/admin/audit").get_json()["data"][0]
    assert (entry["action"], entry["status"]) == (action, made.status_code)


@contextmanager
def stalled_between_scripts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An operator's opt-out change whose Redis stalls between its two scripts: the first
    runs in time, the second only past the change's deadline, and the app gives up on
    the answer (as it does when a read waits longer than its timeout)."""
    execute = Batch.execute

    def stalling(batch: Batch) -> list[Any]:
        scripts = [queued for *_, queued in batch.calls if queued]
        if not scripts or scripts[0][0] not in ("optout_mark", "optout_index"):
            return execute(batch)
        deadline = scripts[0][2][-1]
        if not deadline:
            return execute(batch)
        first, rest = Batch(batch.store), Batch(batch.store)
        first.calls, rest.calls = batch.calls[:1], batch.calls[1:]
        execute(first)
        time.sleep(max(0.0, deadline / 1000 - time.time()) + 0.05)  # Redis stalls
        assert execute(rest) == [b"late"]
        raise redis.exceptions.TimeoutError("Timeout reading from socket")

    with monkeypatch.context() as patched:
        patched.setattr(Batch, "execute", stalling)
        yield


@pytest.mark.parametrize(("method", "opted_out"), [("PUT", False), ("DELETE", True)])
def test_an_optout_change_cut_short_between_its_scripts_is_put_right_by_its_retry(
    impatient_admin, monkeypatch, method, opted_out
):
    """One Redis, paused between the number's marker and the list's index past the
    change's deadline: the operator gets 503 and retries; the marker (what a create
    checks) and the list (what operators see and export) then agree."""
    admin = impatient_admin
    if opted_out:
        assert admin.put(OPTOUT).status_code == 201
    with stalled_between_scripts(monkeypatch):
        lost = admin.put(OPTOUT) if method == "PUT" else admin.delete(OPTOUT)
    assert lost.status_code == 503
    retry = admin.put(OPTOUT) if method == "PUT" else admin.delete(OPTOUT)
    assert retry.status_code == {"PUT": 200, "DELETE": 204}[method], retry.get_json()
    marked = admin.get(OPTOUT).status_code == 200
    assert marked is not opted_out
    assert optout_total(admin) == int(marked)  # listed exactly when opted out


def test_a_stop_whose_answer_was_lost_is_still_made(
    redis_server, redis_client, sandbox, clock, monkeypatch
):
    """An inbound STOP is not an operator's call: Redis paused as it was written (503,
    Telnyx will retry), then resumed and ran it, and the number is opted out all the
    same. A STOP is never dropped."""
    key = Ed25519PrivateKey.generate()
    env = make_env(
        f"{redis_server.url}?socket_timeout=0.3", sandbox, TELNYX_PUBLIC_KEYS=public_key_b64(key)
    )
    app = create_app(env, clock=clock)
    client, admin = ApiClient(app.test_client()), ApiClient(app.test_client(), ADMIN_KEY)
    stop = {
        "data": {
            "event_type": "message.received",
            "id": "5f2bd0a6-8f0b-4b43-9d64-4f0e4d3b3a1e",
            "occurred_at": "2027-01-15T08:00:00.000Z",
            "record_type": "event",
            "payload": {
                "id": "b1f6a1f8-4d3e-4b8e-9a57-0c1d2e3f4a5b",
                "direction": "inbound",
                "from": {"phone_number": PHONE},
                "to": [{"phone_number": "+13125550100"}],
                "text": "STOP",
            },
        }
    }
    raw = json.dumps(stop).encode()

    def post_stop():
        headers = {"Content-Type": "application/json", **sign_webhook(raw, key)}
        return client.flask.post("/v1/webhooks/telnyx", data=raw, headers=headers)

    try:
        assert admin.put(f"/v1/admin/opt-outs/{OTHER}").status_code == 201  # scripts loaded
        with paused_under(monkeypatch, redis_server.process.pid, "optout_mark"):
            lost = post_stop()
        caught_up(redis_client)
        assert lost.status_code == 503
        found = admin.get(OPTOUT)
        assert found.status_code == 200
        assert found.get_json()["source"] == "inbound_stop"
        assert optout_total(admin) == 2  # OTHER's and this one: listed too
        assert create(client).status_code == 409
        retried = post_stop()  # Telnyx's retry of the event
        assert (retried.status_code, retried.get_json()["result"]) == (200, "duplicate")
    finally:
        app.extensions["otp"].close()


def test_with_redis_paused_the_operators_reads_answer_503_not_500(
    impatient, redis_server, redis_client
):
    """Redis paused past the app's timeout (the answers time out: not the refused
    connections of a stopped Redis): the operator's reads of profiles, keys, webhooks and
    their deliveries, insights and the history answer 503 storage_unavailable, and their
    console pages say so."""
    app = impatient.flask.application
    admin = ApiClient(app.test_client(), ADMIN_KEY)
    profile = admin.post("/v1/admin/profiles", json={"name": "p"}).get_json()["data"]["id"]
    hooks = f"/v1/admin/profiles/{profile}/webhooks"
    endpoint = admin.post(hooks, json={"url": "http://127.0.0.1:9/h"}).get_json()["data"]["id"]
    vid = create(impatient).get_json()["id"]
    console = app.test_client()
    assert sign_in(console).status_code == 303
    reads = [
        ("GET", "/v1/admin/profiles"),
        ("GET", f"/v1/admin/profiles/{profile}"),
        ("GET", f"/v1/admin/profiles/{profile}/keys"),
        ("POST", f"/v1/admin/profiles/{profile}/preview"),
        ("GET", hooks),
        ("GET", f"{hooks}/{endpoint}"),
        ("GET", f"{hooks}/{endpoint}/deliveries"),
        ("GET", "/v1/admin/insights/routes"),
        ("GET", "/v1/admin/insights/summary?group_by=country"),
        ("GET", "/v1/admin/verifications?phone_number=%2B13125550123"),
        ("GET", "/v1/admin/verifications?profile=default&status=expired"),
        ("GET", f"/v1/admin/verifications/{vid}"),
        ("GET", "/v1/admin/audit"),
    ]
    pages = [
        "/console/overview",
        "/console/profiles",
        f"/console/profiles/{profile}",
        f"/console/webhooks?profile={profile}",
        f"/console/webhooks/{profile}/{endpoint}",
        "/console/verifications",
        f"/console/verifications/{vid}",
    ]
    with redis_paused(redis_server, redis_client):
        answers = {
            path: admin.flask.open(
                path,
                method=method,
                json={} if method == "POST" else None,
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            for method, path in reads
        }
        shown = {path: console.get(path) for path in pages}
    for path, answer in answers.items():
        assert (answer.status_code, answer.mimetype) == (503, "application/problem+json"), path
        assert answer.get_json()["code"] == "storage_unavailable", path
    for path, page in shown.items():
        assert page.status_code == 503, path
        assert "Storage unavailable" in page.get_data(as_text=True), path


# Routes that answer without Redis when it is down: Telnyx's data passed through (the
# sandbox here), and requests refused by their validation before any storage is asked.
SERVED_WITHOUT_REDIS = {
    ("GET", "/v1/admin/messaging-profiles"): 200,
    ("GET", "/v1/admin/mobile-phone-numbers"): 200,
    ("GET", "/v1/admin/mobile-phone-numbers/<number_id>"): 404,
    ("GET", "/v1/admin/phone-numbers"): 200,
    ("GET", "/v1/admin/phone-numbers/<number_id>"): 200,
    ("GET", "/v1/admin/phone-numbers/bulk-updates/<order_id>"): 404,
    ("GET", "/v1/admin/short-codes"): 200,
    ("GET", "/v1/admin/insights/summary"): 422,  # no group_by
    ("GET", "/v1/factors"): 422,  # no subject
}
SECONDARY = "1c0dfc8f-9f42-41c8-81b4-fa8267f2798a"  # a messaging profile of the sandbox
# A body each route accepts, so that the request gets as far as the storage.
BODIES = {
    ("POST", "/v1/admin/profiles"): {"name": "Shop"},
    ("PATCH", "/v1/admin/profiles/<profile_id>"): {"name": "Shop 2"},
    ("POST", "/v1/admin/profiles/<profile_id>/preview"): {"locale": "en"},
    ("POST", "/v1/admin/profiles/<profile_id>/webhooks"): {"url": "http://127.0.0.1:9/hooks"},
    ("PATCH", "/v1/admin/profiles/<profile_id>/webhooks/<endpoint_id>"): {"enabled": False},
    ("POST", "/v1/admin/profiles/<profile_id>/webhooks/<endpoint_id>/replay"): {
        "since": "2026-01-01T00:00:00Z"
    },
    ("POST", "/v1/factors"): {"type": "totp", "subject": "user-2", "issuer": "A", "label": "b"},
    ("POST", "/v1/factors/<factor_id>/check"): {"code": "123456"},
    ("POST", "/v1/factors/<factor_id>/verify"): {"code": "123456"},
    ("POST", "/v1/verifications"): {"phone_number": OTHER},
    ("POST", "/v1/verifications/<verification_id>/check"): {"code": "123456"},
    ("POST", "/v1/verifications/check"): {"phone_number": PHONE, "code": "123456"},
    ("PATCH", "/v1/admin/phone-numbers/<number_id>"): {"messaging_profile_id": SECONDARY},
    ("POST", "/v1/admin/phone-numbers/bulk-updates"): {
        "messaging_profile_id": SECONDARY,
        "numbers": ["+13125550100"],
    },
}


def _routes(app: Any, prefix: str, values: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(method, rule, path with ``values`` for its variables) of every route under prefix."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith(prefix):
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule.rule, path


def test_with_redis_down_every_route_answers_503_or_without_it_never_500(
    sandbox, redis_server, redis_client, clock
):
    """Every route of the API and the console, Redis stopped: a 503 storage_unavailable
    (the console's page says so), or, for the routes that need no Redis, their answer."""
    key = Ed25519PrivateKey.generate()
    app = create_app(
        make_env(redis_server.url, sandbox, TELNYX_PUBLIC_KEYS=public_key_b64(key)), clock=clock
    )
    try:
        admin = ApiClient(app.test_client(), ADMIN_KEY)
        client = ApiClient(app.test_client())
        profile = admin.post("/v1/admin/profiles", json={"name": "p"}).get_json()["data"]["id"]
        values = {
            "profile_id": profile,
            "key_id": admin.post(f"/v1/admin/profiles/{profile}/keys").get_json()["data"]["id"],
            "endpoint_id": admin.post(
                "/v1/admin/profiles/default/webhooks", json={"url": "http://127.0.0.1:9/h"}
            ).get_json()["data"]["id"],
            "verification_id": create(client).get_json()["id"],
            "factor_id": client.post(
                "/v1/factors", json=BODIES[("POST", "/v1/factors")]
            ).get_json()["id"],
            "delivery_id": "dlv_" + "0" * 24,
            "phone_number": PHONE,
            "number_id": "8546663190378825878",
            "order_id": "unknown",
            "filename": "missing.js",
        }
        console = app.test_client()
        assert sign_in(console).status_code == 303
        token = csrf_of(console.get("/console/profiles"))
        receipt = json.dumps({"data": {"event_type": "message.sent", "id": "e-1", "payload": {
            "id": "m-1", "to": [{"phone_number": PHONE, "status": "sent"}]}}}).encode()  # fmt: skip
        redis_server.stop()
        answers = {}
        for method, rule, path in _routes(app, "/v1/", values):
            if rule == "/v1/webhooks/telnyx":
                headers = {"Content-Type": "application/json", **sign_webhook(receipt, key)}
                response = app.test_client().post(path, data=receipt, headers=headers)
            elif rule == "/v1/admin/opt-outs/import":
                response = admin.flask.post(
                    path,
                    data=b"phone_number\n+13125550199\n",
                    headers={"Content-Type": "text/csv", "Authorization": f"Bearer {ADMIN_KEY}"},
                )
            else:
                body = BODIES.get((method, rule))
                response = admin.flask.open(
                    path, method=method, json=body, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
                )
            problem = response.get_json(silent=True) or {}
            answers[(method, rule)] = (response.status_code, problem.get("code"))
        expected = {
            route: (SERVED_WITHOUT_REDIS[route], answers[route][1])
            if route in SERVED_WITHOUT_REDIS
            else (503, "storage_unavailable")
            for route in answers
        }
        assert answers == expected
        assert len(answers) >= 50  # every route of the API (53 today)

        pages = {}
        for method, rule, path in _routes(app, "/console", values):
            data = {"csrf_token": token} if method == "POST" else None
            response = console.open(path, method=method, data=data)
            pages[(method, rule)] = response.status_code
            assert response.status_code != 500, (method, rule)
            if response.status_code == 503:
                assert "Storage unavailable" in response.get_data(as_text=True)
        assert pages.pop(("GET", "/console/sign-in")) == 200
        # signing in (its own form's token): a session cannot be stored
        del pages[("POST", "/console/sign-in")]
        assert sign_in(app.test_client()).status_code == 503
        assert pages.pop(("GET", "/console/static/<path:filename>")) == 404
        assert set(pages.values()) == {503}
    finally:
        redis_server.start()
        app.extensions["otp"].close()
