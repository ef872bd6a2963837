"""The history of ended verifications and the insights: what the worker keeps of each
event, searched and summed through the admin API; on one Redis and on a cluster."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service.delivery import Sender
from otp_service.history.recorder import LATE_RETRY_SECONDS, Recorder
from otp_service.sandbox.magic import MAGIC_NUMBERS
from otp_service.sandbox.seed import PROFILE_IDS
from otp_service.store import history as history_store
from otp_service.store.outbox import OutboxStore
from otp_service.store.scripts import TIMER_BUCKET_MS
from otp_service.telnyx.webhooks import public_key_b64
from tests.conftest import ApiClient, FakeClock, Sandbox
from tests.profiles.conftest import make_key, make_profile
from tests.support.receipts import finalized, post_signed
from tests.support.workers import loopback_worker

pytestmark = pytest.mark.topologies("single", "cluster")

PHONE = "+13125550123"
KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def env(env: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    env["TELNYX_PUBLIC_KEYS"] = ",".join([env["TELNYX_PUBLIC_KEYS"], public_key_b64(KEY)])
    if "many_numbers" in request.keywords:  # hundreds of numbers of one prefix
        env["OTP_LIMIT_PREFIX_HOUR"] = "0"
    return env


@pytest.fixture
def worker(app: Any, clock: FakeClock) -> Any:
    runner = loopback_worker(app.extensions["otp"], "history", clock=clock, threads=2)
    yield runner
    runner.close()


def drain(worker: Any) -> None:
    for _ in range(50):
        if not worker.run_once():
            return


def create(client: ApiClient, phone: str = PHONE) -> dict[str, Any]:
    answer = client.post("/v1/verifications", json={"phone_number": phone})
    assert answer.status_code in (200, 201), answer.get_json()
    return answer.get_json()


def check(client: ApiClient, vid: str, code: str) -> dict[str, Any]:
    return client.post(f"/v1/verifications/{vid}/check", json={"code": code}).get_json()


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def receipt(client: ApiClient, message_id: str, phone: str, status: str, **extra: Any) -> None:
    answer = post_signed(client.flask, finalized(message_id, phone, status, **extra), KEY)
    assert answer.status_code == 200


def test_an_approved_verification_is_kept_with_its_sends_checks_and_timeline(
    client, admin, sandbox: Sandbox, worker, clock: FakeClock
):
    created = create(client)
    clock.advance(40)
    resent = create(client)  # a resend: two sends
    code = sandbox.last_code(PHONE)
    clock.advance(5)
    check(client, created["id"], wrong(code))
    clock.advance(5)
    assert check(client, created["id"], code)["status"] == "approved"
    drain(worker)

    found = admin.get("/v1/admin/verifications", query_string={"phone_number": PHONE})
    assert found.status_code == 200
    [record] = found.get_json()["data"]
    assert record["id"] == created["id"]
    assert record["status"] == "approved"
    assert record["phone_number"] == "+1312****123"  # masked: no number in the history
    assert record["country"] == "US"
    assert record["failed_attempts"] == 1
    assert [s["sender"]["type"] for s in record["sends"]] == ["long_code", "long_code"]
    first, second = (_ms(s["at"]) for s in record["sends"])
    assert first == _ms(created["created_at"])
    assert second - first == 40_000  # the resend, 40 s later
    assert resent["sends"] == 2
    assert [c["valid"] for c in record["checks"]] == [False, True]

    one = admin.get(f"/v1/admin/verifications/{created['id']}").get_json()["data"]
    events = [e["event"] for e in one["timeline"]]
    assert events[0] == "created" and events[-1] == "approved"
    assert events.count("sent") == 2 and events.count("check") == 2


def test_every_format_of_the_number_finds_it_and_another_number_does_not(
    client, admin, sandbox, worker, clock
):
    created = create(client)
    client.post(f"/v1/verifications/{created['id']}/cancel")
    drain(worker)
    for form in ("+13125550123", "+1 312 555 0123", "+1 (312) 555-0123", "+1-312-555-0123"):
        answer = admin.get("/v1/admin/verifications", query_string={"phone_number": form})
        assert [r["id"] for r in answer.get_json()["data"]] == [created["id"]], form
        assert answer.get_json()["data"][0]["status"] == "canceled"
    other = admin.get("/v1/admin/verifications", query_string={"phone_number": "+13125550124"})
    assert other.get_json()["data"] == []
    bad = admin.get("/v1/admin/verifications", query_string={"phone_number": "not a number"})
    assert bad.status_code == 422


def test_browsing_filters_by_profile_status_and_time(client, admin, sandbox, worker, clock):
    profile = admin.post("/v1/admin/profiles", json={"name": "shop"}).get_json()["data"]["id"]
    key = admin.post(f"/v1/admin/profiles/{profile}/keys").get_json()["data"]["key"]
    shop = ApiClient(client.flask, key)
    first = create(client, "+13125550111")
    client.post(f"/v1/verifications/{first['id']}/cancel")
    clock.advance(3600)
    second = create(shop, "+13125550112")
    assert check(shop, second["id"], sandbox.last_code("+13125550112"))["status"] == "approved"
    drain(worker)

    def ids(**params: str) -> list[str]:
        answer = admin.get("/v1/admin/verifications", query_string=params)
        assert answer.status_code == 200, answer.get_json()
        return [r["id"] for r in answer.get_json()["data"]]

    assert ids() == [second["id"], first["id"]]  # newest first
    assert ids(profile=profile) == [second["id"]]
    assert ids(profile="default") == [first["id"]]
    assert ids(status="canceled") == [first["id"]]
    assert ids(created_after=second["created_at"]) == [second["id"]]
    assert ids(created_before=second["created_at"]) == [first["id"]]
    page = admin.get("/v1/admin/verifications", query_string={"limit": "1"}).get_json()
    assert [r["id"] for r in page["data"]] == [second["id"]]
    after = ids(limit="1", cursor=page["meta"]["next_cursor"])
    assert after == [first["id"]]
    assert admin.get("/v1/admin/verifications", query_string={"status": "x"}).status_code == 422


def test_a_number_with_more_records_than_the_limit_is_paged_with_next_cursor(
    client, admin, sandbox, worker, clock
):
    made = []
    for _ in range(3):
        created = create(client)
        client.post(f"/v1/verifications/{created['id']}/cancel")
        made.append(created["id"])
        clock.advance(60)
    drain(worker)

    seen, cursor = [], None
    for _ in range(3):
        params = {"phone_number": PHONE, "limit": "2"}
        if cursor:
            params["cursor"] = cursor
        answer = admin.get("/v1/admin/verifications", query_string=params)
        assert answer.status_code == 200, answer.get_json()
        seen += [r["id"] for r in answer.get_json()["data"]]
        cursor = answer.get_json()["meta"]["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]  # newest first, each once, none left out
    forged = {"phone_number": PHONE, "cursor": "not a cursor"}
    assert admin.get("/v1/admin/verifications", query_string=forged).status_code == 422


@pytest.mark.parametrize(
    "cursor",
    [
        "²/1-1",  # a digit to str.isdigit, not to int()
        "{day}/1-2-3",  # not a stream entry id
        "{day}/1-",
        "{day}/²",
        "{day}/0-0",  # nothing is before the first entry id
        "{day}/99999999999999999999999-0",  # past Redis's 64 bits
        "99999999/1-1",  # a day far ahead: nothing an answer gave, and days to walk back
    ],
)
def test_a_forged_cursor_is_refused_with_422(client, admin, sandbox, worker, clock, cursor):
    created = create(client)
    client.post(f"/v1/verifications/{created['id']}/cancel")
    drain(worker)
    day = int(clock() * 1000) // 86_400_000
    started = time.monotonic()
    answer = admin.get("/v1/admin/verifications", query_string={"cursor": cursor.format(day=day)})
    assert time.monotonic() - started < 5
    assert answer.status_code == 422, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == "invalid_request"
    assert list(answer.get_json()["errors"]) == ["cursor"]


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"created_before": "9999-12-31T23:59:59Z"}, True),
        ({"created_after": "1970-01-01T00:00:00Z", "status": "canceled"}, True),
        ({"created_before": "1970-01-01T00:00:00Z"}, False),
    ],
)
def test_a_search_reads_only_the_days_the_history_can_hold(
    client, admin, sandbox, worker, clock, params, found
):
    """Dates far out answer at once (no day outside OTP_HISTORY_DAYS is read), and rightly."""
    created = create(client)
    client.post(f"/v1/verifications/{created['id']}/cancel")
    drain(worker)
    started = time.monotonic()
    answer = admin.get("/v1/admin/verifications", query_string=params)
    assert time.monotonic() - started < 5
    assert answer.status_code == 200, answer.get_json()
    assert [r["id"] for r in answer.get_json()["data"]] == ([created["id"]] if found else [])
    assert answer.get_json()["meta"]["next_cursor"] is None


def test_expired_and_failed_verifications_are_kept(client, admin, sandbox, worker, clock):
    expiring = create(client, "+13125550131")
    failing = create(client, "+13125550132")
    code = sandbox.last_code("+13125550132")
    for _ in range(5):
        check(client, failing["id"], wrong(code))
    clock.advance(600 + TIMER_BUCKET_MS / 1000)
    drain(worker)  # the expiry fires, then its event is handed over
    drain(worker)
    statuses = {
        r["id"]: r["status"] for r in admin.get("/v1/admin/verifications").get_json()["data"]
    }
    assert statuses == {expiring["id"]: "expired", failing["id"]: "failed"}


def test_a_pending_verification_is_not_in_the_history_and_an_unknown_id_is_404(
    client, admin, sandbox, worker
):
    created = create(client)
    drain(worker)
    assert admin.get("/v1/admin/verifications").get_json()["data"] == []
    assert admin.get(f"/v1/admin/verifications/{created['id']}").status_code == 404
    assert admin.get("/v1/admin/verifications/nonsense").status_code == 404


def test_the_history_keeps_no_number_and_no_code(client, admin, sandbox, worker, redis_client):
    created = create(client)
    code = sandbox.last_code(PHONE)
    check(client, created["id"], code)
    drain(worker)
    for key in redis_client.keys("*hist*:r"):
        for _id, fields in redis_client.xrange(key):
            raw = fields[b"r"]
            assert b"5550123" not in raw
            assert code.encode() not in raw


def test_retention_expires_the_history_with_redis_ttls(
    client, admin, sandbox, worker, redis_client, settings
):
    created = create(client)
    client.post(f"/v1/verifications/{created['id']}/cancel")
    drain(worker)
    [stream] = redis_client.keys("*hist*:r")
    ttl_days = redis_client.ttl(stream) / 86_400
    # the test clock is in 2027; Redis's own clock is now: the key expires at its day's
    # end + OTP_HISTORY_DAYS on the test clock, so its TTL is at least that far out
    assert ttl_days >= settings.history_days
    index = [k for k in redis_client.keys("*hist*:x:*")]
    assert index and all(redis_client.ttl(k) == redis_client.ttl(stream) for k in index)


def test_a_record_leaves_the_history_after_the_retention_on_the_test_clock(
    client, admin, sandbox, worker, clock: FakeClock, settings
):
    created = create(client)
    client.post(f"/v1/verifications/{created['id']}/cancel")
    drain(worker)
    clock.advance((settings.history_days - 1) * 86_400)
    found = admin.get("/v1/admin/verifications", query_string={"phone_number": PHONE})
    assert [r["id"] for r in found.get_json()["data"]] == [created["id"]]
    assert admin.get(f"/v1/admin/verifications/{created['id']}").status_code == 200
    clock.advance(2 * 86_400)  # past OTP_HISTORY_DAYS after its day ended
    for params in ({"phone_number": PHONE}, {}):
        assert admin.get("/v1/admin/verifications", query_string=params).get_json()["data"] == []
    assert admin.get(f"/v1/admin/verifications/{created['id']}").status_code == 404


def test_summary_numbers_match_a_seeded_run_whose_truth_is_known(
    client, admin, sandbox, worker, clock
):
    """6 verifications: 4 delivered (after 2 s, 2 s, 4 s, 30 s), 1 failed delivery, 1
    without receipt; 3 approved (after 10 s, 10 s, 20 s), 1 canceled; one refused by the
    country allowlist. Conversion 3/6, delivery rate 4/6."""
    made = [create(client, f"+1312555020{n}") for n in range(6)]
    for n, seconds in enumerate((2, 2, 4, 30)):
        delivered_at = made[n]["created_at"]  # the send's time, plus the delay
        at = _plus(delivered_at, seconds)
        receipt(
            client,
            made[n]["delivery"]["message_id"],
            f"+1312555020{n}",
            "delivered",
            occurred_at=at,
            cost={"amount": "0.0051", "currency": "USD"},
        )
    receipt(client, made[4]["delivery"]["message_id"], "+13125550204", "delivery_failed")
    for n, seconds in ((0, 10), (1, 10), (2, 20)):
        clock.advance(seconds - (10 if n else 0))
        code = sandbox.last_code(f"+1312555020{n}")
        assert check(client, made[n]["id"], code)["status"] == "approved"
    client.post(f"/v1/verifications/{made[5]['id']}/cancel")
    drain(worker)

    answer = admin.get("/v1/admin/insights/summary", query_string={"group_by": "country"})
    assert answer.status_code == 200, answer.get_json()
    [us] = answer.get_json()["data"]
    assert us["country"] == "US"
    assert us["verifications"] == 6
    assert us["sends"] == 6
    assert us["delivered"] == 4
    assert us["delivery_rate"] == round(4 / 6, 4)
    assert us["approved"] == 3
    assert us["conversion_rate"] == 0.5
    assert us["canceled"] == 1
    assert us["time_to_delivery_seconds"] == {"p50": 2, "p95": 34}
    assert us["time_to_approval_seconds"] == {"p50": 13, "p95": 21}
    assert us["cost"] == {"USD": round(4 * 0.0051, 6)}

    by_sender = admin.get("/v1/admin/insights/summary", query_string={"group_by": "sender"})
    [row] = by_sender.get_json()["data"]
    assert row["sender"] == "long_code:+13125550100"
    routes = admin.get("/v1/admin/insights/routes").get_json()["data"]
    [route] = routes
    assert route["windows"]["1h"]["approved"] == 3
    assert route["windows"]["7d"]["verifications"] == 6


def test_guard_refusals_are_counted_by_reason(client, admin, sandbox, worker, clock):
    phone = "+13125550301"
    create(client, phone)
    assert client.post("/v1/verifications", json={"phone_number": phone}).status_code == 429
    answer = admin.get("/v1/admin/insights/summary", query_string={"group_by": "profile"})
    [row] = answer.get_json()["data"]
    assert row["guard_refusals"] == {"resend_cooldown": 1}


def test_summary_refuses_bad_queries(admin):
    assert admin.get("/v1/admin/insights/summary").status_code == 422
    assert (
        admin.get("/v1/admin/insights/summary", query_string={"group_by": "planet"}).status_code
        == 422
    )
    backwards = {
        "group_by": "country",
        "from": "2027-01-02T00:00:00Z",
        "to": "2027-01-01T00:00:00Z",
    }
    assert admin.get("/v1/admin/insights/summary", query_string=backwards).status_code == 422


def test_route_health_last_hour_is_never_just_an_hour_begun(client, admin, sandbox, worker, clock):
    """The counters are hourly: "1h" is the hour under way and the one before it, so a
    look at 12:05 still shows what happened at 11:50; two hours on it is gone from "1h",
    not from "24h"."""
    clock.advance(3600 - clock() % 3600 - 600)  # ten minutes before an hour ends
    created = create(client)
    assert check(client, created["id"], sandbox.last_code(PHONE))["status"] == "approved"
    drain(worker)

    def approved(window: str) -> int:
        [route] = admin.get("/v1/admin/insights/routes").get_json()["data"]
        return route["windows"][window]["approved"]

    assert approved("1h") == 1
    clock.advance(900)  # five minutes into the next hour
    assert (approved("1h"), approved("24h")) == (1, 1)
    clock.advance(3600)
    assert (approved("1h"), approved("24h")) == (0, 1)


def test_route_health_refuses_any_query_parameter_and_says_it_takes_none(admin):
    answer = admin.get("/v1/admin/insights/routes", query_string={"window": "1h"})
    assert answer.status_code == 422
    assert answer.get_json()["code"] == "invalid_request"
    assert answer.get_json()["errors"] == {
        "window": ["unknown; this route takes no query parameters"]
    }
    documented = yaml.safe_load(admin.flask.get("/openapi.yaml").get_data())["paths"]
    assert "422" in documented["/v1/admin/insights/routes"]["get"]["responses"]


@pytest.mark.many_numbers
def test_an_ended_verification_costs_at_most_250_bytes_of_redis(
    client, admin, sandbox, worker, redis_client, redis_topology
):
    """The budget: the day's stream and the numbers' indexes, over 300 verifications."""
    count = 300
    for n in range(count):
        created = create(client, f"+1312556{n:04d}")
        client.post(f"/v1/verifications/{created['id']}/cancel")
        if n % 50 == 49:
            drain(worker)
    drain(worker)
    keys = [k for k in redis_client.keys("*") if b"{hist:" in k]
    total = sum(redis_client.memory_usage(k, samples=0) for k in keys)
    assert (
        len(admin.get("/v1/admin/verifications", query_string={"limit": "100"}).get_json()["data"])
        == 100
    )
    assert total / count <= 250, f"{total / count:.0f} bytes per ended verification"


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _plus(iso: str, seconds: int) -> str:
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_two_number_pools_of_one_route_are_measured_apart(app, admin, sandbox, worker):
    """A pool's sends are counted under its messaging profile as well as the number it
    picked: the route health names it, and an adaptive route ranks each pool on its own."""
    pools = [
        {"type": "number_pool", "messaging_profile_id": PROFILE_IDS[name]}
        for name in ("primary", "secondary")
    ]
    route = {"order": "adaptive", "exploration": 0, "senders": pools}  # no random pick
    shop = make_profile(admin, routes={"US": route})
    own = ApiClient(app.test_client(), make_key(admin, shop["id"])["key"])
    created = create(own)
    assert created["sender"]["messaging_profile_id"] == PROFILE_IDS["primary"]
    assert check(own, created["id"], sandbox.last_code(PHONE))["status"] == "approved"
    drain(worker)

    [route] = admin.get("/v1/admin/insights/routes").get_json()["data"]
    assert route["sender"] == {
        "type": "number_pool",
        "from": created["sender"]["from"],
        "messaging_profile_id": PROFILE_IDS["primary"],
    }
    assert route["windows"]["1h"]["approved"] == 1
    ranker = app.extensions["otp"].verifications.delivery.ranker
    ranker.refresh()
    first, second = (
        Sender("number_pool", messaging_profile_id=PROFILE_IDS[name])
        for name in ("primary", "secondary")
    )
    assert ranker.measured(shop["id"], "US", "sms", first) == (1, 1)
    assert ranker.measured(shop["id"], "US", "sms", second) == (0, 0)


def test_a_receipt_after_the_approval_is_added_to_the_record(
    client, admin, sandbox, worker, clock, redis_client
):
    """The user typed the code before the carrier's report came: the record, written at
    the approval, gets the report once it comes — one record still, found every way."""
    created = create(client)
    clock.advance(4)
    assert check(client, created["id"], sandbox.last_code(PHONE))["status"] == "approved"
    drain(worker)
    [before] = admin.get("/v1/admin/verifications").get_json()["data"]
    assert before["sends"][0]["delivery_status"] is None

    clock.advance(3)
    delivered_at = _plus(created["created_at"], 6)
    receipt(client, created["delivery"]["message_id"], PHONE, "delivered", occurred_at=delivered_at)
    drain(worker)

    [browsed] = admin.get("/v1/admin/verifications").get_json()["data"]
    [searched] = admin.get(
        "/v1/admin/verifications", query_string={"phone_number": PHONE}
    ).get_json()["data"]
    one = admin.get(f"/v1/admin/verifications/{created['id']}").get_json()["data"]
    for record in (browsed, searched, one):
        assert record["id"] == created["id"] and record["status"] == "approved"
        [send] = record["sends"]
        assert (send["delivery_status"], send["seconds_to_delivery"]) == ("delivered", 6.0)
        assert [c["valid"] for c in record["checks"]] == [True]  # the rest is as it was
        assert record["approved_send"] == 1
    assert "delivered" in [e["event"] for e in one["timeline"]]
    # still one entry in the day's stream: the amended record is kept beside it
    [stream] = [k for k in redis_client.keys("*{hist:*}:r")]
    assert redis_client.xlen(stream) == 1
    # the same report again (Telnyx retries) changes nothing
    receipt(client, created["delivery"]["message_id"], PHONE, "delivered", occurred_at=delivered_at)
    drain(worker)
    assert admin.get("/v1/admin/verifications").get_json()["data"] == [browsed]


def test_an_unconfirmed_receipt_after_the_approval_is_added_and_its_cost_counted(
    client, admin, sandbox, worker, clock
):
    """Telnyx could not confirm delivery (delivery_unconfirmed: no public event) after the
    user had typed the code: the record says so, and the message's cost is counted."""
    created = create(client)
    assert check(client, created["id"], sandbox.last_code(PHONE))["status"] == "approved"
    drain(worker)
    clock.advance(30)
    receipt(
        client,
        created["delivery"]["message_id"],
        PHONE,
        "delivery_unconfirmed",
        cost={"amount": "0.0051", "currency": "USD"},
    )
    drain(worker)
    [record] = admin.get("/v1/admin/verifications").get_json()["data"]
    assert record["status"] == "approved"
    assert record["sends"][0]["delivery_status"] == "delivery_unconfirmed"
    rows = admin.get("/v1/admin/insights/summary", query_string={"group_by": "country"})
    [us] = rows.get_json()["data"]
    assert (us["delivered"], us["cost"]) == (0, {"USD": 0.0051})


def read_as_another_worker(services: Any, clock: FakeClock) -> list[Any]:
    """What a worker A reads of the outbox now, with the delivery histories as they are
    now: its record written later (``Recorder(...)(entries)``) knows only that."""
    outbox = OutboxStore(services.store)
    entries = [
        entry
        for shard in outbox.busy_shards(int(clock() * 1000))
        for entry in outbox.read(shard, "worker-a", 100)
    ]
    return outbox.with_history(entries, {entry.entry_id for entry in entries})


def test_a_receipt_handled_while_another_worker_writes_the_record_is_added(
    app, client, admin, sandbox, worker, clock
):
    """Worker A read the approval (and the delivery history) before the carrier's report
    came, and writes its record only after worker B handled the report: B found no record
    to amend then, so it waits for it and amends it once A has written it."""
    services = app.extensions["otp"]
    created = create(client)
    assert check(client, created["id"], sandbox.last_code(PHONE))["status"] == "approved"
    a_read = read_as_another_worker(services, clock)
    assert "verification.approved" in [entry.type for entry in a_read]

    receipt(client, created["delivery"]["message_id"], PHONE, "delivered")
    drain(worker)  # B: the report, and no record yet
    Recorder(services.history.history, services.history.insights)(a_read)  # A writes
    [written] = admin.get("/v1/admin/verifications").get_json()["data"]
    assert written["sends"][0]["delivery_status"] is None  # what A knew

    time.sleep(LATE_RETRY_SECONDS)  # B looks again
    drain(worker)
    [record] = admin.get("/v1/admin/verifications").get_json()["data"]
    assert (record["id"], record["status"]) == (created["id"], "approved")
    assert record["sends"][0]["delivery_status"] == "delivered"


def test_a_held_receipt_outlives_the_worker_that_held_it(
    app, client, admin, sandbox, worker, clock
):
    """Worker B held the report for the record worker A is writing, then died: the
    receipt is held in Redis, and another worker's look (a new process: nothing in its
    memory) puts it in the record once A has written it."""
    services = app.extensions["otp"]
    created = create(client)
    assert check(client, created["id"], sandbox.last_code(PHONE))["status"] == "approved"
    a_read = read_as_another_worker(services, clock)

    receipt(client, created["delivery"]["message_id"], PHONE, "delivered")
    drain(worker)  # B: the report, and no record yet; B is killed now
    [held] = services.history.history.held_receipts()
    assert held.sends[0][3] == "delivered" and not held.over
    Recorder(services.history.history, services.history.insights)(a_read)  # A writes

    c = Recorder(services.history.history, services.history.insights)  # a worker started anew
    assert c.amend_waiting() == 1
    [record] = admin.get("/v1/admin/verifications").get_json()["data"]
    assert record["sends"][0]["delivery_status"] == "delivered"
    assert services.history.history.held_receipts() == []  # let go once in the record


def test_a_receipt_held_for_a_record_that_never_comes_is_let_go_after_its_wait(app, monkeypatch):
    """No worker writes the record (its verification's end was never handed over): the
    held receipt goes once its wait is over on Redis's clock, and nothing is amended."""
    monkeypatch.setattr(history_store, "LATE_WAIT_MS", 300)
    store = app.extensions["otp"].history.history
    recorder = Recorder(store, app.extensions["otp"].history.insights)
    sends = [[0, "long_code", "+13125550100", "delivered", [], 2.0]]
    assert store.hold("nrecord-that-never-comes", None, 1_800_000_000_000, sends)
    assert recorder.amend_waiting() == 0
    [held] = store.held_receipts()  # still waiting
    assert (held.record_id, held.sends, held.over) == ("nrecord-that-never-comes", sends, False)
    time.sleep(LATE_RETRY_SECONDS)  # the next look, past the wait
    assert recorder.amend_waiting() == 0
    assert store.held_receipts() == []
    assert store.redis.exists(store.late_key()) == 0


def test_a_look_at_held_receipts_takes_a_bounded_number(app, monkeypatch):
    """However many receipts wait, a worker's look reads at most LATE_LOOK_MAX of them;
    once those are let go, the next look gets the rest."""
    monkeypatch.setattr(history_store, "LATE_WAIT_MS", 300)
    store = app.extensions["otp"].history.history
    sends = [[0, "long_code", "+13125550100", "delivered", [], 2.0]]
    for n in range(5):
        assert store.hold(f"nrecord-{n}", None, 1_800_000_000_000, sends)
    first = store.held_receipts(limit=3)
    assert len(first) == 3
    time.sleep(0.35)  # their wait is over: the recorder would let them go
    for held in store.held_receipts(limit=3):
        assert held.over and store.let_go(held)
    rest = store.held_receipts(limit=3)
    assert len(rest) == 2
    assert {h.record_id for h in rest}.isdisjoint({h.record_id for h in first})


def test_every_late_receipt_that_waits_for_the_record_is_added(
    app, client, admin, sandbox, worker, clock
):
    """Two sends, both reported only after the approval, each in its own batch of worker
    B, while worker A, which read the approval before either report, has not written the
    record yet: both receipts wait, and the record gets both (not only the first's)."""
    services = app.extensions["otp"]
    created = create(client)
    clock.advance(40)
    resent = create(client)  # a resend: two sends
    assert check(client, created["id"], sandbox.last_code(PHONE))["status"] == "approved"
    a_read = read_as_another_worker(services, clock)

    receipt(client, created["delivery"]["message_id"], PHONE, "delivered")
    drain(worker)  # B: the first send's report, and no record yet
    receipt(client, resent["delivery"]["message_id"], PHONE, "delivered")
    drain(worker)  # B: the second send's report, still no record
    Recorder(services.history.history, services.history.insights)(a_read)  # A writes

    time.sleep(LATE_RETRY_SECONDS)  # B looks again
    drain(worker)
    [record] = admin.get("/v1/admin/verifications").get_json()["data"]
    assert [send["delivery_status"] for send in record["sends"]] == ["delivered", "delivered"]


def test_a_failure_report_after_a_cancel_is_added_and_a_kept_status_is_not_replaced(
    client, admin, sandbox, worker, clock
):
    created = create(client)
    receipt(client, created["delivery"]["message_id"], PHONE, "sent")  # not final
    client.post(f"/v1/verifications/{created['id']}/cancel")
    drain(worker)
    [before] = admin.get("/v1/admin/verifications").get_json()["data"]
    assert before["sends"][0]["delivery_status"] == "sent"

    failure = [{"code": "40008", "title": "Undeliverable"}]
    receipt(client, created["delivery"]["message_id"], PHONE, "delivery_failed", errors=failure)
    drain(worker)
    [after] = admin.get("/v1/admin/verifications").get_json()["data"]
    assert after["status"] == "canceled"
    assert after["sends"][0]["delivery_status"] == "delivery_failed"
    assert after["sends"][0]["errors"] == ["40008"]  # Telnyx's error codes came with it


def test_a_record_a_late_receipt_replaced_keeps_its_place_in_the_browse(
    client, admin, sandbox, worker, clock
):
    """A cursor goes on where its page stopped: a record that a late receipt amended keeps
    its place, so a reader paging through meanwhile still sees it, once, and the order
    browsed does not change."""
    made = {}
    for phone in ("+13125550111", "+13125550112", "+13125550113"):
        created = create(client, phone)
        client.post(f"/v1/verifications/{created['id']}/cancel")
        made[created["id"]] = (created, phone)
        clock.advance(60)
    drain(worker)
    order = [r["id"] for r in admin.get("/v1/admin/verifications").get_json()["data"]]
    assert sorted(order) == sorted(made)

    def page(cursor: str | None = None) -> tuple[list[str], str | None]:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        answer = admin.get("/v1/admin/verifications", query_string=params).get_json()
        return [r["id"] for r in answer["data"]], answer["meta"]["next_cursor"]

    seen, cursor = page()
    assert seen == order[:1]
    created, phone = made[order[-1]]  # the last one browsed gets its report now
    receipt(client, created["delivery"]["message_id"], phone, "delivered")
    drain(worker)
    while cursor:
        ids, cursor = page(cursor)
        seen += ids
    assert seen == order  # each once, none left out
    browsed = admin.get("/v1/admin/verifications").get_json()["data"]
    assert [r["id"] for r in browsed] == order
    assert browsed[-1]["sends"][0]["delivery_status"] == "delivered"


def test_a_record_two_workers_amend_at_once_is_replaced_by_one_and_read_again_by_the_other(
    app, client, worker
):
    """Two workers read the record, both replace it: the second finds it no longer the one
    it read (nothing written), reads it again and has nothing to add."""
    created = create(client)
    client.post(f"/v1/verifications/{created['id']}/cancel")
    drain(worker)
    history = app.extensions["otp"].history.history
    [(_, record)] = history.newest(before_day=99_999, after_day=0, cursor=None, budget=5)[0]
    day = record.ended_at // 86_400_000
    first, second = history.find(record.id, day, day), history.find(record.id, day, day)
    assert first is not None and second is not None and first == second
    delivered = [[*record.sends[0][:3], "delivered", [], 2.0]]
    assert history.replace(*first[:2], first[3], replace(record, sends=delivered))
    failed = [[*record.sends[0][:3], "delivery_failed", ["40008"], None]]
    assert not history.replace(*second[:2], second[3], replace(record, sends=failed))
    again = history.find(record.id, day, day)
    assert again is not None and again[2].sends == delivered


def test_a_create_refused_for_good_is_kept_as_failed_with_telnyxs_code(admin, client, worker):
    """The recipient had sent STOP (40300): 409, and the history says so when asked about
    the number ("never got a code")."""
    phone = MAGIC_NUMBERS["opted_out"]
    assert client.post("/v1/verifications", json={"phone_number": phone}).status_code == 409
    drain(worker)
    found = admin.get("/v1/admin/verifications", query_string={"phone_number": phone})
    [record] = found.get_json()["data"]
    assert (record["status"], record["failed_attempts"]) == ("failed", 0)
    [send] = record["sends"]
    assert (send["delivery_status"], send["errors"]) == (None, ["40300"])
    rows = admin.get("/v1/admin/insights/summary", query_string={"group_by": "country"})
    [us] = rows.get_json()["data"]
    assert (us["verifications"], us["failed"], us["delivery_failed"]) == (1, 1, 1)
