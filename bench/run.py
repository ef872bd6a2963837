"""`make bench`: does otp-service run close to its stack's limit?

    python -m bench.run [--rounds 9] [--seconds 1] [--connections N] [--out bench]

Starts everything on loopback (bench/stack.py), makes two profiles besides ``default``
in each Redis (bench/seed.py), and spreads every call over the three, then:

1. throughput: in each of ``--rounds`` rounds, drives each call right after a run of its
   baseline — baseline-check then check (wrong code), baseline-check then check (right
   code), baseline-check then get, baseline-check then webhook ingest, baseline-send then
   create — each for ``--seconds`` with the same generator and connection count. A
   call's ratio is the median over rounds of its req/s divided by its baseline's req/s
   measured around it (the mean of the baseline's run just before it and the next one).
   The `otp-service worker` is stopped while a call is timed and catches up before the
   next run; two more rounds of the calls that write events then run with it
   delivering beside them (their ratios printed, not judged);
2. Redis round trips per call, counted by a proxy in front of Redis (bench/proxy.py);
3. Redis memory per pending verification (``MEMORY USAGE`` over 10 000 of them);
4. flatness: get and check against a Redis holding 10³ verifications and one holding
   10⁶, in alternation (up to 7 rounds; each checks every verification up to 4 times
   with a wrong code, and gives the attempts back between runs: all stay pending).

Prints the table, writes ``results.json``, ``results.md`` and (with matplotlib)
``results.png`` to ``--out``, and exits 1 when a target is missed, saying which.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from bench import events
from bench.cpu import CpuMeter
from bench.load import Requests, RoundResult, run_round
from bench.proxy import CountingProxy
from bench.seed import (
    BenchProfile,
    Seeded,
    Seeder,
    clone,
    flush_keeping_profiles,
    make_profiles,
    memory_per_verification,
)
from bench.stack import ADMIN_KEY, CLIENT_KEY, FROM_NUMBER, SANDBOX_KEY, Stack
from bench.workloads import Calls, PhoneNumbers, delivery_events, restamped, wrong_code
from otp_service.ids import TAG_LENGTH
from otp_service.store import Store

# Each call right after its baseline: a call's ratio is taken against the baseline's
# runs just before and just after it, seconds apart, so that the machine's speed (which
# drifts by tens of percent here within a minute) is nearly the same for both.
ORDER = (
    "baseline-check",
    "check-wrong",
    "baseline-check",
    "check-right",
    "baseline-check",
    "get",
    "baseline-check",
    "webhook",
    "baseline-send",
    "create",
)
# After the timed rounds, a few more of the calls that write events, with the worker
# delivering them on the same cores (reported beside the targets, not judged).
COLOCATED = (
    "baseline-check",
    "check-right",
    "baseline-check",
    "webhook",
    "baseline-send",
    "create",
)
COLOCATED_ROUNDS = 2
# call -> (its baseline, the least ratio to it), from the issue
RATIO_TARGETS = {
    "check-wrong": ("baseline-check", 0.8),
    "check-right": ("baseline-check", 0.8),
    "get": ("baseline-check", 0.8),
    "webhook": ("baseline-check", 0.7),
    "create": ("baseline-send", 0.6),
}
# call -> (comparison, limit) on Redis round trips per call
ROUND_TRIP_TARGETS = {
    "check-wrong": ("==", 1),
    "check-right": ("==", 1),
    "get": ("==", 1),
    "create": ("<=", 2),
    "webhook": ("<=", 2),
}
MEMORY_TARGET = 400  # bytes per pending verification
MEMORY_VERIFICATIONS = 10_000
FLATNESS_TARGET = 0.10  # cost per request may change this much from 10³ to 10⁶ stored
FLAT_SMALL, FLAT_LARGE = 1_000, 1_000_000
FLAT_SECONDS = 1.5  # per run: each size is measured once a round, so runs are longer
FLAT_ROUNDS = 8  # even: as many rounds with each size measured first
WRONG_CHECKS_PER_VERIFICATION = 4  # the 5th wrong code fails the verification
ROUND_TRIP_CALLS = 50
BUSY_MACHINE = 0.10  # above this share of the CPUs used by others, say the run was noisy


_STARTED = time.monotonic()


def _log(message: str) -> None:
    """A progress line, with the seconds since the bench started (where the time goes)."""
    print(f"[{time.monotonic() - _STARTED:4.0f} s] {message}", flush=True)


def _expect(status: int, must: bytes = b"") -> Callable[[int, bytes], bool]:
    def check(got: int, body: bytes) -> bool:
        return got == status and must in body

    return check


# what a successful answer of each call looks like
EXPECT = {
    "baseline-check": _expect(200),
    "baseline-send": _expect(201),
    "check-wrong": _expect(200, b'"valid":false'),
    "check-right": _expect(200, b'"valid":true'),
    "get": _expect(200),
    "webhook": _expect(200),
    "create": _expect(201),
}


@dataclass
class CallResult:
    name: str
    rounds: list[RoundResult] = field(default_factory=list)
    available: bool = True
    note: str = ""

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.rounds) if self.rounds else 0.0

    def latency(self, p: float) -> float:
        merged = RoundResult(self.name)
        for r in self.rounds:
            merged.latencies.extend(r.latencies)
        return merged.percentile(p)

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.rounds)


def _around(result: RoundResult, baseline: CallResult) -> list[RoundResult]:
    """The baseline's runs just before and just after ``result``."""
    before = [r for r in baseline.rounds if r.sequence < result.sequence]
    after = [r for r in baseline.rounds if r.sequence > result.sequence]
    return before[-1:] + after[:1]


def _ratios(call: CallResult, baseline: CallResult) -> list[float]:
    """Per run: the call's req/s over the mean of the baseline's runs around it."""
    out = []
    for result in call.rounds:
        around = [r.rps for r in _around(result, baseline) if r.rps]
        if around and result.rps:
            out.append(result.rps / statistics.mean(around))
    return out


def _cpu_ratios(call: CallResult, baseline: CallResult) -> list[float]:
    """Per run: the baseline's CPU per call (mean of the runs around) over the call's:
    how many of this call the CPU one baseline call takes would pay for."""
    out = []
    for result in call.rounds:
        around = [c for r in _around(result, baseline) if (c := r.cpu_per_call)]
        if around and result.cpu_per_call:
            out.append(statistics.mean(around) / result.cpu_per_call)
    return out


class Bench:
    def __init__(self, stack: Stack, options: argparse.Namespace, proxy: CountingProxy) -> None:
        self.stack = stack
        self.options = options
        self.proxy = proxy
        self.redis = redis.Redis.from_url(stack.redis_url("main"))
        self.large_redis = redis.Redis.from_url(stack.redis_url("large"))
        self.redis_version = self.redis.info("server")["redis_version"]
        self.phones = PhoneNumbers()
        self.template = self._message_template()
        # three profiles in each Redis: default and two made now (each with a key)
        self.profiles: dict[str, list[BenchProfile]] = {
            name: make_profiles(stack.service_env(stack.redis_url(name)), CLIENT_KEY)
            for name in ("main", "large")
        }
        self.seeders = {
            name: Seeder(stack.service_env(stack.redis_url(name)), self.template, profiles)
            for name, profiles in self.profiles.items()
        }
        self.calls = {
            name: Calls(stack.ports[name], [p.key for p in self.profiles[_redis_of(name)]])
            for name in stack.ports
            if name not in ("sandbox", "receiver")
        }
        # every event of the three profiles goes to the receiver while all is measured
        # (subscribed once the pools are seeded: see ``subscribe``)
        self.receiver = stack.url("receiver") + "/hooks"
        self.endpoints: list[str] = []
        self.results = {name: CallResult(name) for name in ORDER}
        # the same calls with the worker delivering beside them (COLOCATED)
        self.colocated = {name: CallResult(name) for name in set(COLOCATED)}
        self.paused = False  # the worker stopped while a call is timed
        self._sequence = 0  # runs recorded so far
        self.cpu = CpuMeter()
        main_store = Store(self.redis)
        self.outbox, self.webhooks = events.OutboxStore(main_store), events.WebhookStore(main_store)
        self.settled_seconds = 0.0  # waited, untimed, for the worker between runs

    def subscribe(self) -> None:
        """The endpoints, made after the seeding: seeded creates are set-up, not
        measured, and delivering their events (two each, some 150 000 of them) beside
        the seeding would take most of a minute of the two cores and slow the seeding."""
        self.endpoints = events.subscribe(
            self.stack.url("otp-service"),
            ADMIN_KEY,
            [p.id for p in self.profiles["main"]],
            self.receiver,
        )

    def backlog_left(self) -> bool:
        """Whether the worker has events to hand over or deliveries due within a minute
        (in flight ones included)."""
        later = int(time.time() * 1000) + 60_000
        store = self.outbox.store
        waiting = sum(self.outbox.pending(shard) for shard in store.shards())
        return bool(waiting or self.webhooks.due_count(later))

    def settle(self, limit: float = 120.0) -> None:
        """Wait, untimed, until the worker has caught up: each run is measured beside the
        delivery of its own events, not of the runs' (or the seeding's) before it."""
        started = time.monotonic()
        while self.backlog_left() and time.monotonic() - started < limit:
            time.sleep(0.05)
        self.settled_seconds += time.monotonic() - started

    def _message_template(self) -> dict[str, Any]:
        """A message as the sandbox answers a send: what seeded sends answer and webhook
        events carry."""
        response = httpx.post(
            self.stack.telnyx_base_url + "/messages/long_code",
            headers={"Authorization": f"Bearer {SANDBOX_KEY}"},
            json={"from": FROM_NUMBER, "to": self.phones.take(1)[0], "text": "000000"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["data"]

    def seed(self, count: int, redis_name: str = "main") -> list[Seeded]:
        return self.seeders[redis_name].seed(self.phones.take(count))

    def measure(
        self, name: str, server: str, requests: Requests, seconds: float | None = None
    ) -> RoundResult:
        worker = self.stack.worker
        if self.paused and worker is not None:
            os.kill(worker.pid, signal.SIGSTOP)
        try:
            return self._measure(name, server, requests, seconds)
        finally:
            if self.paused and worker is not None:
                os.kill(worker.pid, signal.SIGCONT)

    def _measure(
        self, name: str, server: str, requests: Requests, seconds: float | None
    ) -> RoundResult:
        self.cpu.start()
        result = run_round(
            name,
            "127.0.0.1",
            self.stack.ports[server],
            requests,
            connections=self.options.connections,
            duration=self.options.seconds if seconds is None else seconds,
            check=EXPECT[name],
            reconnect_every=self.options.reconnect_every,
        )
        result.other_load, result.own_cpu = self.cpu.stop()
        if result.failed:
            _log(f"{name} on {server}: {result.failed} calls failed, e.g. {result.first_failure}")
        return result

    # -- 1. throughput ------------------------------------------------------------------
    def throughput(self) -> None:
        o = self.options
        svc = self.calls["otp-service"]
        bc, bs = self.calls["baseline-check"], self.calls["baseline-send"]
        _log("warming up and sizing the pools …")
        warm = self.seed(2000)
        self.settle()  # the seeding's events delivered: the warm rates size the pools
        rate = self.measure(
            "baseline-check", "baseline-check", Requests(bc.baseline_check(warm), cycle=True), 1
        ).rps
        self.measure("get", "otp-service", Requests(svc.get(warm), cycle=True), 1)
        checks = Requests(svc.check(warm, right=False), cycle=False)
        check_rate = self.measure("check-wrong", "otp-service", checks, 1).rps
        sends = Requests(bs.baseline_send(self.phones.take(3000)), cycle=False)
        send_rate = self.measure("baseline-send", "baseline-send", sends, 1).rps
        creates = Requests(svc.create(self.phones.take(3000)), cycle=False)
        self.measure("create", "otp-service", creates, 1)
        webhooks = self._webhooks_available(warm)

        # a right check uses a verification up, a wrong one one of its attempts; a pool
        # that runs dry ends its round early, which costs accuracy, not correctness
        rounds = o.rounds + COLOCATED_ROUNDS
        need = math.ceil(1.25 * max(check_rate, 0.5 * rate) * o.seconds * rounds)
        started = time.monotonic()
        right = self.seed(need)
        wrong = self.seed(math.ceil(need / WRONG_CHECKS_PER_VERIFICATION))
        _log(
            f"seeded {len(right) + len(wrong)} verifications in "
            f"{time.monotonic() - started:.1f} s (baseline-check warm rate {rate:.0f}/s)"
        )
        self.subscribe()
        wrong_checks = svc.check(wrong, right=False)
        sources = {
            "baseline-check": Requests(bc.baseline_check(wrong), cycle=True),
            "check-wrong": Requests(wrong_checks * WRONG_CHECKS_PER_VERIFICATION, cycle=False),
            "check-right": Requests(svc.check(right, right=True), cycle=False),
            "get": Requests(svc.get(wrong), cycle=True),
        }
        events = delivery_events(right + wrong, self.template, per_message=2)
        per_round_sends = math.ceil(2 * max(send_rate, 200) * o.seconds)
        per_round_events = math.ceil(1.5 * max(rate, check_rate) * o.seconds)

        def source_of(name: str) -> Requests:
            nonlocal events
            if name == "create":
                return Requests(svc.create(self.phones.take(per_round_sends)), cycle=False)
            if name == "baseline-send":
                phones = self.phones.take(per_round_sends)
                return Requests(bs.baseline_send(phones), cycle=False)
            if name == "webhook":  # signed now: Telnyx's tolerance is 5 minutes
                chunk, events = events[:per_round_events], events[per_round_events:]
                signed = svc.webhooks(restamped(chunk), self.stack.signing_key)
                return Requests(signed, cycle=False)
            return sources[name]

        # the timed rounds: the worker stopped while a call runs, and caught up before the
        # next (an API's cost, with its events written; the worker is measured apart)
        self.paused = True
        for number in range(1, o.rounds + 1):
            for name in ORDER:
                if name != "webhook" or webhooks:
                    self._record(number, name, source_of(name))
        # one more run of each baseline, so that every call has its baseline after it too
        self._record(o.rounds + 1, "baseline-check", sources["baseline-check"])
        self._record(o.rounds + 1, "baseline-send", source_of("baseline-send"))
        self.paused = False
        # then the calls that write events with the worker delivering them beside (the
        # webhooks' latency under load is taken from these rounds)
        httpx.post(self.stack.url("receiver") + "/reset", timeout=10).raise_for_status()
        for number in range(1, COLOCATED_ROUNDS + 1):
            for name in COLOCATED:
                if name != "webhook" or webhooks:
                    self._record(number, name, source_of(name), self.colocated, "beside")
        self._record(
            COLOCATED_ROUNDS + 1,
            "baseline-check",
            sources["baseline-check"],
            self.colocated,
            "beside",
        )
        self._record(
            COLOCATED_ROUNDS + 1,
            "baseline-send",
            source_of("baseline-send"),
            self.colocated,
            "beside",
        )

    def _record(
        self,
        number: int,
        name: str,
        source: Requests,
        results: dict[str, CallResult] | None = None,
        label: str = "round",
    ) -> None:
        server = name if name.startswith("baseline") else "otp-service"
        self.settle()
        result = self.measure(name, server, source)
        result.sequence = self._sequence
        self._sequence += 1
        (self.results if results is None else results)[name].rounds.append(result)
        line = (
            f"{label} {number}  {name:<15} {result.rps:7.0f} req/s  p50 {result.p50:6.2f} ms  "
            f"p99 {result.p99:6.2f} ms  generator CPU {result.generator_cpu:4.0%}"
        )
        if result.other_load is not None:
            line += f"  other processes {result.other_load:4.0%} of the CPUs"
        if result.failed:
            line += f"  FAILED {result.failed}: {result.first_failure}"
        if result.exhausted:
            line += "  (used up its prepared requests)"
        _log(line)

    def _webhooks_available(self, seeds: Sequence[Seeded]) -> bool:
        svc = self.calls["otp-service"]
        probe = svc.webhooks(delivery_events(seeds[:1], self.template, 1), self.stack.signing_key)
        result = run_round(
            "webhook",
            "127.0.0.1",
            self.stack.ports["otp-service"],
            Requests(probe, cycle=False),
            connections=1,
            duration=5,
            check=EXPECT["webhook"],
        )
        if result.failed and result.first_failure.startswith("404"):
            self.results["webhook"].available = False
            self.results["webhook"].note = "POST /v1/webhooks/telnyx answers 404"
            _log("webhook ingest: not available (POST /v1/webhooks/telnyx answers 404), skipped")
            return False
        if result.failed:
            raise RuntimeError(f"webhook ingest refused a signed event: {result.first_failure}")
        events = delivery_events(seeds[1:], self.template, per_message=1)
        warm = Requests(svc.webhooks(events, self.stack.signing_key), cycle=False)
        self.measure("webhook", "otp-service", warm, 1)
        return True

    # -- 2. round trips -----------------------------------------------------------------
    def round_trips(self, calls: int = ROUND_TRIP_CALLS) -> dict[str, float | None]:
        """Round trips per call, over ``calls`` sequential calls of each kind made on one
        keep-alive connection to ``otp-service-counted`` (so on one warm worker)."""
        _log(f"counting Redis round trips over {calls} calls of each kind …")
        seeds = self.seed(3 * calls)
        right, wrong, messages = seeds[:calls], seeds[calls : 2 * calls], seeds[2 * calls :]
        phones = self.phones.take(calls)
        events = delivery_events(messages, self.template, per_message=1)
        counted = self.calls["otp-service-counted"]
        keys = counted.keys
        out: dict[str, float | None] = {}
        with httpx.Client(base_url=self.stack.url("otp-service-counted"), timeout=10) as http:

            def webhook(i: int) -> httpx.Response:
                signed = counted.webhooks([events[i]], self.stack.signing_key)[0]
                head, _, body = signed.partition(b"\r\n\r\n")
                sent = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
                for name in ("Host", "Content-Length"):
                    sent.pop(name)
                return http.post(events[i].path, content=body, headers=sent)

            def check(i: int, seed: Seeded, code: str) -> httpx.Response:
                return http.post(
                    f"/v1/verifications/{seed.id}/check",
                    json={"code": code},
                    headers=Calls.auth(seed.key),
                )

            def create(i: int) -> httpx.Response:
                body = {"phone_number": phones[i]}
                return http.post(
                    "/v1/verifications", json=body, headers=Calls.auth(keys[i % len(keys)])
                )

            kinds: dict[str, tuple[int, Callable[[int], httpx.Response]]] = {
                "check-wrong": (200, lambda i: check(i, wrong[i], wrong_code(wrong[i].code))),
                "check-right": (200, lambda i: check(i, right[i], right[i].code)),
                "get": (200, lambda i: http.get(f"/v1/verifications/{wrong[i].id}",
                                                headers=Calls.auth(wrong[i].key))),
                "create": (201, create),
                "webhook": (200, webhook),
            }  # fmt: skip
            for name, (expected, call) in kinds.items():
                # the first call warms the worker up: Redis connection made, scripts loaded
                if call(0).status_code == 404 and name == "webhook":
                    out[name] = None
                    continue
                self.proxy.reset()
                for i in range(1, calls):
                    response = call(i)
                    if response.status_code != expected:
                        raise RuntimeError(f"{name}: {response.status_code} {response.text}")
                out[name] = self.proxy.round_trips / (calls - 1)
        return out

    # -- 2b. events -----------------------------------------------------------------------
    def events(self) -> dict[str, Any]:
        """The webhooks of the throughput rounds (latency), then the worker's delivery rate
        against a bare loop of POSTs."""
        stats_url = self.receiver.rsplit("/", 1)[0] + "/stats"
        main = self.stack.service_env(self.stack.redis_url())
        services = events.build_services(events.Settings.from_env(main))
        try:
            started = time.monotonic()
            _log("events: waiting for the worker to deliver the rounds' webhooks …")
            while self.backlog_left() and time.monotonic() - started < 300:
                time.sleep(0.5)
            backlog = round(time.monotonic() - started, 1)
            latency = events.latency(events.receiver_stats(stats_url))
            _log(
                f"events: {latency['events']} webhooks of the rounds, state change → "
                f"receiver p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms "
                f"(backlog gone {backlog} s after the rounds)"
            )
            bare = events.bare_loop_rate(self.receiver)
            count = max(500, int(bare * 4))
            rate = events.worker_rate(services, self.endpoints[0], "default", self.receiver, count)
        finally:
            services.close()
        ratio = rate / bare
        _log(
            f"events: one worker {rate:.0f} deliveries/s, "
            f"bare loop {bare:.0f} POSTs/s: {ratio:.2f}×"
        )
        return {
            "latency": latency,
            "backlog_seconds": backlog,
            "settled_seconds": round(self.settled_seconds, 1),
            "worker_rate": round(rate, 1),
            "bare_loop_rate": round(bare, 1),
            "deliveries": count,
            "ratio": round(ratio, 3),
            "target": events.DELIVERY_RATE_TARGET,
            "passed": ratio >= events.DELIVERY_RATE_TARGET,
        }

    # -- 3. memory ----------------------------------------------------------------------
    def memory(self) -> tuple[dict[str, Any], list[Seeded]]:
        """Bytes per pending verification, on the ``large`` Redis before it is filled; its
        outbox handed over first (a worker keeps it empty: its entries are not kept)."""
        _log(f"measuring Redis memory over {MEMORY_VERIFICATIONS} pending verifications …")
        client = self.large_redis
        flush_keeping_profiles(client)
        before = client.info("memory")["used_memory"]
        seeds = self.seed(MEMORY_VERIFICATIONS, "large")
        large = self.stack.service_env(self.stack.redis_url("large"))
        services = events.build_services(events.Settings.from_env(large))
        try:
            events.drain(services, "bench-memory")
        finally:
            services.close()
        after = client.info("memory")["used_memory"]
        keys, total = memory_per_verification(client)
        result = {
            "verifications": MEMORY_VERIFICATIONS,
            "keys": keys,
            "memory_usage_bytes": total,
            "bytes_per_verification": round(total / MEMORY_VERIFICATIONS, 1),
            "used_memory_per_verification": round((after - before) / MEMORY_VERIFICATIONS, 1),
            "sample": _describe_keys(client, seeds[0].id[:16]),
        }
        return result, seeds

    # -- 4. flatness --------------------------------------------------------------------
    def flatness(self, large_seeds: Sequence[Seeded]) -> dict[str, Any]:
        """get and check-wrong on otp-service (10³ verifications stored) and on
        otp-service-large (10⁶), alternating, each normalised to its own req/s."""
        o = self.options
        flush_keeping_profiles(self.redis)
        small = self.seed(FLAT_SMALL)
        large = list(large_seeds[:FLAT_SMALL])
        started = time.monotonic()
        tag = large_seeds[-1].id[:16]
        template_keys = sorted(self.large_redis.scan_iter(match=f"*{{{tag}}}*"))
        clone(self.large_redis, template_keys, tag, FLAT_LARGE - len(large_seeds))
        sizes = {"small": self.redis.dbsize(), "large": self.large_redis.dbsize()}
        _log(
            f"flatness: {sizes['small']} keys behind otp-service, {sizes['large']} behind "
            f"otp-service-large (filled in {time.monotonic() - started:.1f} s) …"
        )
        servers = {"small": "otp-service", "large": "otp-service-large"}
        seeds = {"small": small, "large": large}
        gets = {k: Requests(self.calls[servers[k]].get(seeds[k]), cycle=True) for k in seeds}
        stores = {"small": Store(self.redis), "large": Store(self.large_redis)}
        for size in servers:  # otp-service-large has served nothing yet: warm it (untimed)
            self.measure("get", servers[size], gets[size], 0.5)
        runs: dict[tuple[str, str], list[RoundResult]] = {}
        for number in range(min(o.rounds, FLAT_ROUNDS)):
            order = ("small", "large") if number % 2 == 0 else ("large", "small")
            for name in ("get", "check-wrong"):
                for size in order:
                    if name == "get":
                        source = gets[size]
                    else:
                        # every verification up to 4 times, a wrong code each time (the
                        # 5th fails it); its attempts are given back after the run
                        checks = self.calls[servers[size]].check(seeds[size], right=False)
                        source = Requests(checks * WRONG_CHECKS_PER_VERIFICATION, cycle=False)
                    result = self.measure(name, servers[size], source, FLAT_SECONDS)
                    runs.setdefault((name, size), []).append(result)
                    if name == "check-wrong":
                        _restore_attempts(stores[size], seeds[size])
        out: dict[str, Any] = {"verifications": {"small": FLAT_SMALL, "large": FLAT_LARGE},
                               "keys": sizes, "change": {}}  # fmt: skip
        out["cpu_change"] = {}
        for name in ("get", "check-wrong"):
            pairs = list(zip(runs[(name, "small")], runs[(name, "large")], strict=True))
            # cost per request is 1/req/s: large cost / small cost - 1, per round
            changes = [s.rps / big.rps - 1 for s, big in pairs]
            cpu_changes = [
                big.cpu_per_call / s.cpu_per_call - 1
                for s, big in pairs
                if s.cpu_per_call and big.cpu_per_call
            ]
            out[name] = {
                "small_rps": round(statistics.median(r.rps for r in runs[(name, "small")]), 1),
                "large_rps": round(statistics.median(r.rps for r in runs[(name, "large")]), 1),
                "rounds_change": [round(c, 3) for c in changes],
                "rounds_cpu_change": [round(c, 3) for c in cpu_changes],
                "failed": sum(r.failed for r in runs[(name, "small")] + runs[(name, "large")]),
            }
            out["change"][name] = round(statistics.median(_order_cancelled(changes)), 3)
            if cpu_changes:
                out["cpu_change"][name] = round(statistics.median(_order_cancelled(cpu_changes)), 3)
        return out


def _order_cancelled(changes: Sequence[float]) -> list[float]:
    """Per-round changes of the flatness step taken two rounds at a time — one that
    measured the small Redis first, one the large — as the geometric mean of the pair:
    on a machine where the second run of a round is faster (up to ±14 % seen), a plain
    median of rounds lands on one order's side; a pair cancels it. Rounds without a
    partner (an odd count) count alone."""
    pairs = [
        math.sqrt((1 + changes[i]) * (1 + changes[i + 1])) - 1
        for i in range(0, len(changes) - 1, 2)
    ]
    return pairs + list(changes[len(pairs) * 2 :]) if pairs else list(changes)


def _redis_of(server: str) -> str:
    """The Redis a server of the stack talks to (``large``, or ``main``)."""
    return "large" if server == "otp-service-large" else "main"


def _restore_attempts(store: Store, seeds: Sequence[Seeded]) -> None:
    """Outside the timed runs: the verifications' failed attempts (and the numbers'
    consecutive failures) back to none, so that the next run's wrong codes are checked
    against pending verifications again."""
    pipe = store.pipeline()
    for seed in seeds:
        key = store.phone_key(seed.id[:TAG_LENGTH], seed.profile)
        pipe.hset(key, mapping={"at": 0, "nf": 0})
    pipe.execute()


def _describe_keys(client: redis.Redis, tag: str) -> list[dict[str, Any]]:
    """Each key of one verification: type, encoding, fields and bytes (for the report)."""
    out = []
    for key in sorted(client.scan_iter(match=f"*{{{tag}}}*")):
        kind = client.type(key).decode()
        entry: dict[str, Any] = {
            "key": key.decode(errors="replace"),
            "type": kind,
            "encoding": client.object("encoding", key).decode(),
            "bytes": client.memory_usage(key, samples=0),
        }
        if kind == "hash":
            entry["fields"] = {
                k.decode(errors="replace"): len(v) for k, v in client.hgetall(key).items()
            }
        out.append(entry)
    return out


# -- the report ------------------------------------------------------------------------
def _fmt(value: float | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def report(
    bench: Bench,
    trips: dict[str, float | None],
    memory: dict[str, Any],
    flat: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    failures: list[str] = []
    rows = []
    loads = [
        r.other_load
        for result in bench.results.values()
        for r in result.rounds
        if r.other_load is not None
    ]
    other_load = statistics.median(loads) if loads else None
    busy = other_load is not None and other_load > BUSY_MACHINE
    for name in bench.results:  # each call once, in the order of ORDER
        result = bench.results[name]
        row: dict[str, Any] = {"call": name, "available": result.available}
        if result.rounds:
            row.update(
                rps=round(result.rps, 1),
                p50_ms=round(result.latency(50), 2),
                p99_ms=round(result.latency(99), 2),
                failed_requests=result.failed,
                rounds_rps=[round(r.rps, 1) for r in result.rounds],
                cpu_ms_per_call=[
                    None if r.cpu_per_call is None else round(r.cpu_per_call * 1000, 3)
                    for r in result.rounds
                ],
                generator_cpu=round(max(r.generator_cpu for r in result.rounds), 3),
                other_load=[
                    None if r.other_load is None else round(r.other_load, 3) for r in result.rounds
                ],
            )
        if name in RATIO_TARGETS and result.available:
            baseline, target = RATIO_TARGETS[name]
            ratios = _ratios(result, bench.results[baseline])
            ratio = statistics.median(ratios) if ratios else None
            cpu_ratios = _cpu_ratios(result, bench.results[baseline])
            cpu_ratio = statistics.median(cpu_ratios) if cpu_ratios else None
            # on a machine others keep busy, req/s follow their load: judge by CPU per call
            judged_by = "cpu_ratio" if busy and cpu_ratio is not None else "ratio"
            verdict = cpu_ratio if judged_by == "cpu_ratio" else ratio
            row.update(
                baseline=baseline,
                baseline_rps=round(bench.results[baseline].rps, 1),
                ratio=None if ratio is None else round(ratio, 3),
                rounds_ratio=[round(x, 3) for x in ratios],
                cpu_ratio=None if cpu_ratio is None else round(cpu_ratio, 3),
                rounds_cpu_ratio=[round(x, 3) for x in cpu_ratios],
                target=target,
                judged_by=judged_by,
                passed=verdict is not None and verdict >= target,
            )
            if not row["passed"]:
                what = "by CPU per call" if judged_by == "cpu_ratio" else "in req/s"
                failures.append(
                    f"{name}: {_fmt(verdict, '.2f')}× {baseline} {what} (target ≥ {target}×)"
                )
        if result.failed:
            first = next(r.first_failure for r in result.rounds if r.failed)
            failures.append(f"{name}: {result.failed} calls did not succeed, e.g. {first}")
        rows.append(row)

    round_trips = {}
    for name, (op, limit) in ROUND_TRIP_TARGETS.items():
        value = trips.get(name)
        passed = None if value is None else (value == limit if op == "==" else value <= limit)
        round_trips[name] = {"round_trips": value, "target": f"{op} {limit}", "passed": passed}
        if passed is False:
            failures.append(f"{name}: {value:.2f} Redis round trips per call (target {op} {limit})")

    memory = dict(memory, target=MEMORY_TARGET)
    memory["passed"] = memory["bytes_per_verification"] <= MEMORY_TARGET
    if not memory["passed"]:
        failures.append(
            f"memory: {memory['bytes_per_verification']:.0f} B per pending verification "
            f"(target ≤ {MEMORY_TARGET} B)"
        )
    flat = dict(flat, target=FLATNESS_TARGET)
    judged = "cpu_change" if busy and flat["cpu_change"] else "change"
    flat["judged_by"] = judged
    flat["passed"] = all(abs(v) <= FLATNESS_TARGET for v in flat[judged].values())
    for name, change in flat[judged].items():
        if abs(change) > FLATNESS_TARGET:
            what = "CPU per call" if judged == "cpu_change" else "time per request"
            failures.append(
                f"flatness: {name} costs {change:+.0%} {what} with 10⁶ verifications "
                f"stored than with 10³ (target within ±{FLATNESS_TARGET:.0%})"
            )
        if flat[name]["failed"]:
            failures.append(f"flatness: {flat[name]['failed']} {name} calls did not succeed")

    o = bench.options
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "redis": bench.redis_version,
        },
        "settings": {
            "rounds": o.rounds,
            "seconds_per_call": o.seconds,
            "connections": o.connections,
            "reconnect_every": o.reconnect_every,
            "gunicorn": _gunicorn_settings(),
        },
        "calls": rows,
        "colocated": colocated(bench),
        "round_trips": round_trips,
        "memory": memory,
        "flatness": flat,
        "other_load": None if other_load is None else round(other_load, 3),
        "elapsed_seconds": round(elapsed, 1),
        "failures": failures,
    }


def colocated(bench: Bench) -> dict[str, Any]:
    """The calls that write events, run with the worker delivering them on the same
    cores: ratios to their baselines (no target; the targets are the timed rounds')."""
    out = {}
    for name in ("check-right", "webhook", "create"):
        result = bench.colocated[name]
        baseline = bench.colocated[RATIO_TARGETS[name][0]]
        ratios = _ratios(result, baseline)
        if result.rounds and baseline.rounds:
            out[name] = {
                "rps": round(result.rps, 1),
                "baseline_rps": round(baseline.rps, 1),
                "ratio": round(statistics.median(ratios), 3) if ratios else None,
                "rounds_ratio": [round(x, 3) for x in ratios],
            }
    return out


def _gunicorn_settings() -> dict[str, Any]:
    from otp_service import gunicorn_conf

    return {k: getattr(gunicorn_conf, k) for k in ("workers", "threads", "worker_class")}


def table(results: dict[str, Any]) -> str:
    lines = [
        "| call | req/s | p50 ms | p99 ms | baseline | baseline req/s | ratio | CPU ratio "
        "| target | |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for row in results["calls"]:
        if not row["available"]:
            lines.append(f"| {row['call']} | not available | | | | | | | | |")
            continue
        verdict = {True: "pass", False: "**FAIL**", None: ""}[row.get("passed")]

        def mark(key: str, row: dict[str, Any] = row) -> str:
            text = _fmt(row.get(key), ".2f")
            return f"**{text}**" if row.get("judged_by") == key else text

        target = f"≥ {row['target']:.1f}" if row.get("target") else ""
        lines.append(
            f"| {row['call']} | {_fmt(row.get('rps'), '.0f')} | {_fmt(row.get('p50_ms'), '.2f')}"
            f" | {_fmt(row.get('p99_ms'), '.2f')} | {row.get('baseline', '')} | "
            f"{_fmt(row.get('baseline_rps'), '.0f')} | {mark('ratio')} | {mark('cpu_ratio')} | "
            f"{target} | {verdict} |"
        )
    lines.append("")
    lines.append(
        "ratio: req/s ÷ the baseline's req/s around it; CPU ratio: the baseline's CPU per "
        "call (all processes of the bench) ÷ the call's; median of rounds; the verdict "
        "uses the bold one (CPU ratio when other processes kept the machine busy)."
    )
    trips = ", ".join(
        f"{name} {_fmt(v['round_trips'], '.2f')} ({v['target']})"
        for name, v in results["round_trips"].items()
    )
    lines.append(f"Redis round trips per call: {trips}.")
    m = results["memory"]
    lines.append(
        f"Redis memory per pending verification: {m['bytes_per_verification']:.0f} B "
        f"(target ≤ {m['target']}; MEMORY USAGE summed over the {m['keys']} keys of "
        f"{m['verifications']} verifications; used_memory grew "
        f"{m['used_memory_per_verification']:.0f} B per verification)."
    )
    f = results["flatness"]
    changes = ", ".join(
        f"{name} {f['change'][name]:+.1%} ({f[name]['small_rps']:.0f} → "
        f"{f[name]['large_rps']:.0f} req/s)"
        for name in f["change"]
    )
    cpu = ", ".join(f"{name} {value:+.1%}" for name, value in f["cpu_change"].items())
    lines.append(
        f"Cost per request with 10⁶ verifications stored vs 10³: {changes}; CPU per call "
        f"{cpu or 'n/a'} (target within ±{f['target']:.0%}; judged by "
        f"{'CPU per call' if f['judged_by'] == 'cpu_change' else 'req/s'})."
    )
    s = results["settings"]
    g = s["gunicorn"]
    lines.append(
        f"{results['machine']['cpus']} CPUs, Python {results['machine']['python']}, Redis "
        f"{results['machine']['redis']}; gunicorn {g['workers']} workers × {g['threads']} "
        f"threads ({g['worker_class']}); {s['connections']} connections; {s['rounds']} "
        f"rounds × {s['seconds_per_call']:g} s per call; {results['elapsed_seconds']:.0f} s "
        "in all."
    )
    if results["other_load"] is not None and results["other_load"] > BUSY_MACHINE:
        lines.append(
            f"Warning: other processes used {results['other_load']:.0%} of the CPUs during "
            "the median run: the ratios are noisy; run again on a quiet machine."
        )
    return "\n".join(lines)


def events_table(results: dict[str, Any]) -> str:
    e, h = results["events"], results["history"]
    lat = e["latency"]
    return "\n".join(
        [
            f"Webhooks (an endpoint per profile, every event; expiries not timed): "
            f"{lat['events']} delivered; state change → receiver's answer p50 "
            f"{_fmt(lat['p50_ms'], '.1f')} ms, p99 {_fmt(lat['p99_ms'], '.1f')} ms over the "
            "rounds with the worker beside the calls; it was stopped while the timed rounds "
            f"ran and caught up between runs in {e['settled_seconds']:.0f} s all told.",
            "With the worker delivering their events beside them on the same cores (no "
            "target): "
            + ", ".join(
                f"{name} {c['rps']:.0f} req/s, {_fmt(c['ratio'], '.2f')}× {RATIO_TARGETS[name][0]}"
                for name, c in results.get("colocated", {}).items()
            )
            + ".",
            f"One worker: {e['worker_rate']:.0f} deliveries/s vs a bare loop of pooled httpx "
            f"POSTs {e['bare_loop_rate']:.0f}/s: {e['ratio']:.2f}× (target ≥ {e['target']}×) "
            f"{'pass' if e['passed'] else '**FAIL**'}.",
            f"History: {h['bytes_per_verification']:.0f} B of Redis per ended verification "
            f"over {h['verifications']} (target ≤ {h['target']} B) "
            f"{'pass' if h['passed'] else '**FAIL**'}.",
        ]
    )


def chart(results: dict[str, Any], path: Path) -> bool:
    """A PNG: each call's req/s next to its baseline's, and the ratios against targets."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [r for r in results["calls"] if r.get("ratio") is not None]
    if not rows:
        return False
    names = [r["call"] for r in rows]
    x = list(range(len(rows)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.bar([i - 0.2 for i in x], [r["baseline_rps"] for r in rows], 0.4, label="baseline",
             color="#b0b0b0")  # fmt: skip
    left.bar([i + 0.2 for i in x], [r["rps"] for r in rows], 0.4, label="otp-service",
             color="#3366aa")  # fmt: skip
    left.set_xticks(x, names, rotation=20)
    left.set_ylabel("req/s (median of rounds)")
    left.set_title("Each call next to its baseline")
    left.legend()
    width = 0.38
    for offset, key, label in ((-0.2, "ratio", "req/s ratio"), (0.2, "cpu_ratio", "CPU ratio")):
        values = [r.get(key) or 0 for r in rows]
        colors = [
            ("#339933" if r["passed"] else "#cc3333") if r["judged_by"] == key else "#b0b0b0"
            for r in rows
        ]
        right.bar([i + offset for i in x], values, width, color=colors, label=label)
        for i, value in zip(x, values, strict=True):
            right.text(i + offset, value + 0.02, f"{value:.2f}", ha="center", fontsize=8)
    for i, r in zip(x, rows, strict=True):
        right.hlines(r["target"], i - 0.4, i + 0.4, colors="black", linestyles="dashed")
    right.set_xticks(x, names, rotation=20)
    right.set_ylabel("ratio to baseline (dashed: target)")
    right.set_title("otp-service ÷ baseline (coloured: the one judged)")
    top = max(max(r.get("ratio") or 0, r.get("cpu_ratio") or 0) for r in rows)
    right.set_ylim(0, max(1.15, top + 0.15))
    fig.suptitle(f"make bench, {results['generated_at']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    gunicorn = _gunicorn_settings()
    parser = argparse.ArgumentParser(description="otp-service against its stack's limit")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "9")))
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "1"))
    )
    parser.add_argument(
        "--connections", type=int, default=gunicorn["workers"] * gunicorn["threads"]
    )
    parser.add_argument("--reconnect-every", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    options = parser.parse_args(argv)
    if options.rounds < 3:
        parser.error("--rounds must be at least 3 (ratios are medians of alternating rounds)")
    started = time.monotonic()
    proxies: list[CountingProxy] = []

    def counted(url: str) -> str:
        upstream = httpx.URL(url)
        proxies.append(CountingProxy((upstream.host, upstream.port or 6379)).start())
        return f"redis://127.0.0.1:{proxies[-1].port}/0"

    with tempfile.TemporaryDirectory(prefix="otp-bench-") as tmp:
        stack = Stack(Path(tmp))
        _log("starting two redis-servers, the sandbox, otp-service and the baselines …")
        try:
            stack.start(counted_redis=counted)
            bench = Bench(stack, options, proxies[0])
            bench.throughput()
            trips = bench.round_trips()
            event_results = bench.events()
            memory, large_seeds = bench.memory()
            flat = bench.flatness(large_seeds)
            _log(f"history: ending {len(large_seeds)} verifications and weighing their records …")
            large = stack.service_env(stack.redis_url("large"))
            history = events.history_bytes(large, large_seeds)
            _log(f"history: {history['bytes_per_verification']:.0f} B per ended verification")
        finally:
            stack.stop()
            for proxy in proxies:
                proxy.stop()
    results = report(bench, trips, memory, flat, time.monotonic() - started)
    results["events"] = event_results
    results["history"] = history
    if not event_results["passed"]:
        results["failures"].append(
            f"events: one worker delivers {event_results['ratio']:.2f}× a bare loop of POSTs "
            f"(target ≥ {event_results['target']}×)"
        )
    if not history["passed"]:
        results["failures"].append(
            f"history: {history['bytes_per_verification']:.0f} B per ended verification "
            f"(target ≤ {history['target']} B)"
        )
    text = table(results) + "\n" + events_table(results)
    print("\n" + text + "\n")
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (options.out / "results.md").write_text(text + "\n")
    drawn = chart(results, options.out / "results.png")
    _log(
        f"wrote {options.out}/results.json, results.md"
        + (" and results.png" if drawn else " (no chart: matplotlib is not installed)")
    )
    for row in results["calls"]:
        if not row["available"]:
            _log(f"not measured: {row['call']} ({bench.results[row['call']].note})")
    if results["failures"]:
        _log("TARGETS MISSED:\n  " + "\n  ".join(results["failures"]))
        return 1
    _log("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
