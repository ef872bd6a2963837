"""Routing that learns: a simulated run of verifications through the sandbox, where one
configured sender delivers far less than the other; the adaptive route moves the traffic
to the better one once both are measured, explores a little, and never leaves its list.
The service runs in process (Flask's test client), the sandbox over HTTP, the worker pass
by pass (it keeps the counters the ranking reads); seeded throughout."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from otp_service.delivery import AdaptiveRanker, RouteOrder, Sender
from tests.conftest import FakeClock, Sandbox
from tests.support.workers import loopback_worker

pytestmark = pytest.mark.topologies("single", "cluster")

WORSE, BETTER = "+13125550100", "+13125550120"
RUNS = 1000


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    route = {
        "order": "adaptive",
        "min_sends": 20,
        "exploration": 0.1,
        "senders": [{"type": "long_code", "from": WORSE}, {"type": "long_code", "from": BETTER}],
    }
    env["OTP_ROUTES"] = json.dumps({"US": route})
    for cap in ("PREFIX_HOUR", "COUNTRY_HOUR", "GLOBAL_DAY", "KEY_MINUTE"):
        env[f"OTP_LIMIT_{cap}"] = "0"
    return env


def _code(message: dict[str, Any]) -> str:
    return next(word for word in message["text"].split() if word.isdigit())


def test_an_adaptive_route_moves_traffic_to_the_sender_that_converts(
    app: Any, client, sandbox: Sandbox, clock: FakeClock
):
    for sender, rate, seed in ((WORSE, 0.6, 1), (BETTER, 0.05, 2)):
        fault = {"from": sender, "effect": "delivery_failed", "rate": rate, "seed": seed}
        sandbox.http.post("/_sandbox/sender_faults", json=fault).raise_for_status()
    services = app.extensions["otp"]
    ranker = services.verifications.delivery.ranker
    ranker.rng = random.Random(7)
    ranker.refresh()
    # a cluster's pass over every slot at every pass: each batch of events is counted
    worker = loopback_worker(services, "adaptive", clock=clock, timeout=10.0)
    chosen: list[str] = []
    reasons: Counter[str] = Counter()
    try:
        for n in range(RUNS):
            phone = f"+1312557{n:04d}"
            created = client.post("/v1/verifications", json={"phone_number": phone}).get_json()
            chosen.append(created["sender"]["from"])
            reasons[created["sender"]["chosen_because"].split(":")[0]] += 1
            [message] = sandbox.messages(phone)
            if message["final_status"] == "delivered":  # the user got it, and types it
                answer = client.post(
                    f"/v1/verifications/{created['id']}/check", json={"code": _code(message)}
                )
                assert answer.get_json()["status"] == "approved"
            if n % 50 == 49:
                while worker.run_once():
                    pass
                ranker.refresh()
    finally:
        worker.close()

    assert set(chosen) == {WORSE, BETTER}  # never a sender outside the route
    first, last = Counter(chosen[:100]), Counter(chosen[-300:])
    assert first[WORSE] >= 80  # configured order until both are measured
    assert last[BETTER] >= 0.8 * 300  # then the better one, but for exploration
    assert 0 < last[WORSE] <= 0.2 * 300
    assert reasons["adaptive"] > RUNS / 2 and reasons["exploration"] > 0


def test_the_ranker_orders_by_conversion_once_every_sender_is_measured():
    a, b = (
        Sender("long_code", from_="+13125550100"),
        Sender("number_pool", messaging_profile_id="x"),
    )
    stats = {
        ("default", "US", "sms"): {
            "long_code:+13125550100": (100.0, 30.0),
            "number_pool:+13125550111:x": (60.0, 50.0),
            "number_pool:+13125550112:x": (60.0, 50.0),
            "number_pool:+13125550113:y": (500.0, 0.0),  # another pool of the route's
        }
    }
    ranker = AdaptiveRanker(lambda: stats, rng=random.Random(1))
    ranker.refresh()
    rule = RouteOrder(min_sends=100, exploration=0.0)
    assert ranker.order("default", "US", "sms", (a, b), rule) == (
        (b, a),
        "adaptive: conversion 0.83 over 120 sends",
    )
    few = RouteOrder(min_sends=101, exploration=0.0)
    assert ranker.order("default", "US", "sms", (a, b), few) == ((a, b), "configured order")
    always = RouteOrder(min_sends=100, exploration=1.0)
    assert ranker.order("default", "US", "sms", (a, b), always) == ((a, b), "exploration")
