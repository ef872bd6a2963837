"""The cluster changing under traffic: a slot migration, a manual failover, a master lost.

A thread creates verifications (one number each, so a number's SMS count is one create's)
and checks them, while the test moves slots or masters around. What we guarantee:

- a create answers 201 and sends exactly one SMS, or answers 503 ``storage_unavailable``;
- a 503 before the send sent nothing, and the same create retried once the cluster has
  settled sends exactly one; a 503 after the send (the master died between the two round
  trips) leaves the verification whose code was sent, so its retry sends no second SMS;
- every code that was sent still approves its verification afterwards.

MOVED/ASK/TRYAGAIN during a migration are followed by redis-py (the command did not run);
a slot that stays half-moved longer than redis-py's redirect budget answers 503. A manual
failover (CLUSTER FAILOVER) loses nothing: the master stops taking writes until its
replica has caught up. A lost master is a forced failover: replication is asynchronous,
so the last writes before the crash could be lost in general; on loopback the replica is
microseconds behind and this test expects nothing lost.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.crc import key_slot

from otp_service.ids import PhoneTagger
from tests.conftest import SECRET, ApiClient, Sandbox
from tests.support.redis_topology import SLOTS, LocalCluster

TRANSIENT = (503, "storage_unavailable")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Its own cluster, with a replica per master: these tests change its shape."""
    topology = LocalCluster(tmp_path_factory.mktemp("ha-cluster"), replicas_per_master=1)
    topology.start()
    yield topology
    topology.stop()


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """Hundreds of creates from one key and one number prefix: only the per-key cap stays
    (so the guard's script still goes out beside create.lua), out of reach."""
    env.update(
        OTP_LIMIT_KEY_MINUTE="1000000",
        OTP_LIMIT_PREFIX_HOUR="0",
        OTP_LIMIT_COUNTRY_HOUR="0",
        OTP_LIMIT_GLOBAL_DAY="0",
    )
    return env


def phones(slots: set[int] | None, count: int, start: int = 0) -> list[str]:
    """``count`` numbers (+1 312 2xx xxxx) whose tag is in ``slots`` (any slot if None)."""
    tagger = PhoneTagger(SECRET.encode())
    found: list[str] = []
    n = start
    while len(found) < count:
        phone = f"+1312{2000000 + n}"
        n += 1
        if slots is None or key_slot(tagger.tag(phone).encode()) in slots:
            found.append(phone)
    return found


def one_by_one(numbers: list[str]) -> Callable[[], str | None]:
    remaining = iter(numbers)
    return lambda: next(remaining, None)


def slot_of(phone: str) -> int:
    return key_slot(PhoneTagger(SECRET.encode()).tag(phone).encode())


@dataclass
class Traffic:
    """Creates a verification per number, checks every other one at once, from a thread;
    ``next_number`` gives the numbers (None: no more)."""

    app: Any
    sandbox: Sandbox
    next_number: Callable[[], str | None]
    creates: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    checks: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self, warm_up: int = 10) -> Traffic:
        self.thread.start()
        self._wait_for(warm_up)
        return self

    def finish(self, more: int = 0) -> None:
        self._wait_for(len(self.creates) + more)
        self.stop.set()
        self.thread.join(30)
        if self.error is not None:
            raise self.error

    def _wait_for(self, creates: int) -> None:
        deadline = time.monotonic() + 20
        while len(self.creates) < creates and time.monotonic() < deadline:
            if not self.thread.is_alive():
                return
            time.sleep(0.01)

    def _run(self) -> None:
        client = ApiClient(self.app.test_client())
        try:
            while not self.stop.is_set():
                phone = self.next_number()
                if phone is None:
                    return
                response = client.post("/v1/verifications", json={"phone_number": phone})
                self.creates[phone] = (response.status_code, response.get_json())
                if response.status_code == 201 and len(self.creates) % 2 == 0:
                    vid = response.get_json()["id"]
                    code = self.sandbox.last_code(phone)
                    check = client.post(f"/v1/verifications/{vid}/check", json={"code": code})
                    self.checks[phone] = (check.status_code, check.get_json())
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def outcomes(self) -> Counter[tuple[int, str]]:
        return Counter((status, body.get("code", "")) for status, body in self.creates.values())


def sent(sandbox: Sandbox) -> dict[str, list[dict[str, Any]]]:
    by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in sandbox.messages():
        by_number[message["to"]].append(message)
    return by_number


def settle(traffic: Traffic, client: ApiClient, sandbox: Sandbox) -> dict[str, int]:
    """The guarantees above, checked for every number the traffic touched: retry what got
    a 503 once, then every number has had exactly one SMS and its code approves."""
    unexpected = {
        phone: (status, body)
        for phone, (status, body) in {**traffic.creates, **traffic.checks}.items()
        if status not in (200, 201) and (status, body.get("code")) != TRANSIENT
    }
    assert unexpected == {}
    before = sent(sandbox)
    failed = [phone for phone, (status, _body) in traffic.creates.items() if status == 503]
    sent_anyway = [phone for phone in failed if before.get(phone)]
    for phone in failed:
        retried = client.post("/v1/verifications", json={"phone_number": phone})
        if phone in sent_anyway:  # its verification stands, with the code already sent
            assert retried.status_code == 429, retried.get_json()
        else:
            assert retried.status_code == 201, retried.get_json()
    after = sent(sandbox)
    counts = {phone: len(after.get(phone, [])) for phone in traffic.creates}
    assert {phone: n for phone, n in counts.items() if n != 1} == {}
    for phone in traffic.creates:
        status, body = traffic.checks.get(phone, (0, {}))
        if status == 200 and body.get("valid"):
            continue  # approved during the traffic
        code = sandbox.last_code(phone)
        check = client.post("/v1/verifications/check", json={"phone_number": phone, "code": code})
        assert (check.status_code, check.get_json().get("valid")) == (200, True), phone
    return {"creates": len(traffic.creates), "503": len(failed), "sent_anyway": len(sent_anyway)}


def asking_calls(node: Any) -> int:
    stats = node.client.info("commandstats")
    return int(stats.get("cmdstat_asking", {}).get("calls", 0))


def test_slots_migrated_under_traffic_lose_and_duplicate_nothing(
    app: Any, client: ApiClient, sandbox: Sandbox, cluster: LocalCluster
) -> None:
    source = cluster.owner(0)
    target = next(node for node in cluster.masters() if node is not source)
    moving = list(range(16))  # the first master's, moved one after the other
    waiting: dict[int, list[str]] = defaultdict(list)
    for phone in phones(set(moving), 4 * len(moving)):
        waiting[slot_of(phone)].append(phone)
    elsewhere = (phone for phone in phones(None, 2000, 300_000) if slot_of(phone) >= len(moving))
    now_moving: list[int | None] = [None]

    def next_number() -> str | None:
        """A number of the slot being moved, while it has some; else of another slot."""
        slot = now_moving[0]
        if slot is not None and waiting[slot]:
            return waiting[slot].pop()
        return next(elsewhere, None)

    for slot in moving:  # one verification in each slot before it moves: keys to move
        phone = waiting[slot].pop()
        assert client.post("/v1/verifications", json={"phone_number": phone}).status_code == 201
    asking_before = asking_calls(target)
    traffic = Traffic(app, sandbox, next_number).start(warm_up=3)
    moved = 0
    for slot in moving:
        now_moving[0] = slot
        # half-moved for a while: requests meet ASK and TRYAGAIN, and retry through them
        moved += cluster.migrate_slot(slot, target, batch=1, between=lambda: time.sleep(0.04))
        now_moving[0] = None
    traffic.finish(more=10)

    assert all(cluster.owner(slot) is target for slot in moving)
    assert moved >= len(moving)
    assert asking_calls(target) > asking_before  # requests met the half-moved slots
    outcome = settle(traffic, client, sandbox)
    assert outcome["sent_anyway"] == 0  # a refused redirect never comes after the send
    for slot in moving:  # put them back: later tests expect the start layout
        cluster.migrate_slot(slot, source)


def test_a_manual_failover_under_traffic_loses_and_duplicates_nothing(
    app: Any, client: ApiClient, sandbox: Sandbox, cluster: LocalCluster
) -> None:
    numbers = phones(None, 400, start=100_000)
    master = cluster.owner(slot_of(numbers[0]))
    [replica] = cluster.replicas_of(master)

    traffic = Traffic(app, sandbox, one_by_one(numbers)).start()
    cluster.failover(replica)
    traffic.finish(more=20)

    assert replica in cluster.masters() and master not in cluster.masters()
    outcome = settle(traffic, client, sandbox)
    assert outcome["503"] == 0, outcome  # the old master held writes until the switch


def test_a_lost_master_is_replaced_and_nothing_is_lost_or_sent_twice(
    app: Any, client: ApiClient, sandbox: Sandbox, cluster: LocalCluster
) -> None:
    numbers = phones(None, 1000, start=200_000)
    victim = cluster.owner(SLOTS - 1)
    [replica] = cluster.replicas_of(victim)
    # the master dies while this number's SMS is with Telnyx: between the two round trips
    trigger = next(phone for phone in numbers[20:] if cluster.owner(slot_of(phone)) is victim)
    delivery = app.extensions["otp"].verifications.delivery
    send = delivery.send

    def send_then_lose_the_master(*args: Any, **kwargs: Any) -> Any:
        result = send(*args, **kwargs)
        message = args[0] if args else next(iter(kwargs.values()))
        if getattr(message, "to", message) == trigger:
            victim.server.kill()
        return result

    delivery.send = send_then_lose_the_master
    traffic = Traffic(app, sandbox, one_by_one(numbers)).start()
    deadline = time.monotonic() + 20
    while trigger not in traffic.creates and time.monotonic() < deadline:
        time.sleep(0.01)
    assert traffic.creates[trigger][0] == 503  # sent, but not recorded
    cluster.wait_ok(timeout=20)  # the replica is elected once the others agree it failed
    assert cluster.owner(SLOTS - 1) is replica
    traffic.finish(more=20)
    delivery.send = send

    outcome = settle(traffic, client, sandbox)
    assert outcome["503"] > outcome["sent_anyway"] >= 1, outcome
    assert client.flask.get("/readyz").status_code == 200
