"""The processes `make bench` runs on loopback: redis-server, the sandbox, and gunicorn
serving otp-service and the two baselines with otp-service's own gunicorn settings."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service.store.redis_server import RedisServer, free_port
from otp_service.telnyx.webhooks import public_key_b64

__all__ = ["Process", "Stack", "CLIENT_KEY", "SECRET"]

CLIENT_KEY = "bench-client-key-0123456789"
ADMIN_KEY = "bench-admin-key-0123456789"
SECRET = "bench-secret-" + "0" * 40
FACTOR_KEY = "bench-factor-key-" + "1" * 40
SANDBOX_KEY = "bench-sandbox-key"
FROM_NUMBER = "+13125550100"
WHATSAPP_FROM = "+13125550101"
# issue 20: a code that failed to arrive (a failed receipt; FAILED_EVERY of the bench's
# receipts are) is sent again on WhatsApp. No receipt within 10 minutes counts too: every
# create writes its timer (in the memory measured), and none comes due within the run.
FALLBACK = {
    "on": ["delivery_failed", "sending_failed", "no_receipt"],
    "no_receipt_seconds": 600,
    "to": "whatsapp",
    "max_fallbacks": 1,
}
ROOT = Path(__file__).resolve().parent.parent
UNREACHED_CAPS = ("KEY_MINUTE", "PREFIX_HOUR", "COUNTRY_HOUR", "GLOBAL_DAY")
NO_CAP = 10**9
NICE = 10  # the webhook worker's (under SCHED_IDLE too) and receiver's (see Stack._start)


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when the bench dies (Linux), so nothing lingers."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Process:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        log: Path,
        niceness: int = 0,
        idle: bool = False,
    ) -> None:
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            args,
            env=dict(env),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
        if niceness:
            os.setpriority(os.PRIO_PROCESS, self.process.pid, niceness)
        if idle:
            # background work: the CPU the measured processes leave, as `chrt --idle 0`
            # would run it (nice alone where SCHED_IDLE is not allowed)
            with contextlib.suppress(AttributeError, OSError):
                os.sched_setscheduler(self.process.pid, os.SCHED_IDLE, os.sched_param(0))

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            try:
                httpx.get(url, timeout=1.0)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    message = f"{self.name} did not answer {url}:\n{self.tail()}"
                    raise RuntimeError(message) from None
                time.sleep(0.1)

    def tail(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()


class Stack:
    """Everything the bench talks to, started in a scratch directory; ``stop`` ends it.

    Two redis-servers: ``main`` behind otp-service, the baselines and (through the
    round-trip counting proxy) ``otp-service-counted``; ``large`` behind
    ``otp-service-large``, which the flatness measurement fills with 10⁶ verifications
    while ``main`` holds 10³, so both sizes can be measured in alternation.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[Process] = []
        self.redis: dict[str, RedisServer] = {}
        seed = secrets.token_bytes(32)
        self.signing_key = Ed25519PrivateKey.from_private_bytes(seed)
        self.signing_seed = base64.b64encode(seed).decode()
        self.public_key = public_key_b64(self.signing_key)
        self.ports: dict[str, int] = {}
        self.worker: Process | None = None

    # -- configuration ------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OTP_", "TELNYX_", "REDIS_", "SANDBOX_", "GUNICORN_"))
            and k not in ("HOST", "PORT", "WEB_CONCURRENCY")
        }
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def service_env(self, redis_url: str | None = None) -> dict[str, str]:
        """otp-service's production configuration (README, `OTP_ENV=production`)."""
        return {
            "OTP_ENV": "production",
            "REDIS_URL": redis_url or self.redis_url(),
            "OTP_SECRET": SECRET,
            "OTP_FACTOR_KEY": FACTOR_KEY,
            "OTP_API_KEYS": f"bench:{CLIENT_KEY}",
            "OTP_ADMIN_KEYS": f"bench-admin:{ADMIN_KEY}",
            "TELNYX_API_KEY": SANDBOX_KEY,
            "TELNYX_BASE_URL": self.telnyx_base_url,
            "TELNYX_PUBLIC_KEYS": self.public_key,
            "TELNYX_FROM_NUMBER": FROM_NUMBER,
            "OTP_WHATSAPP_FROM": WHATSAPP_FROM,
            "OTP_FALLBACK": json.dumps(FALLBACK),
            "HOST": "127.0.0.1",  # production binds 0.0.0.0 by default: loopback only here
            # The SMS-pumping guard keeps enforcing (its counting is part of a create's
            # cost) but with caps no bench reaches: it creates ~50 000 verifications for
            # numbers that share prefixes, from one API key, within minutes.
            **{f"OTP_LIMIT_{cap}": str(NO_CAP) for cap in UNREACHED_CAPS},
            # the bench's webhook receiver is on loopback (production refuses that else)
            "OTP_WEBHOOK_TRUSTED_NETWORKS": "127.0.0.0/8",
        }

    def redis_url(self, name: str = "main") -> str:
        return self.redis[name].url

    @property
    def telnyx_base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sandbox']}/v2"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    # -- processes ----------------------------------------------------------------------
    def start(self, counted_redis: Callable[[str], str]) -> None:
        """Start everything; ``counted_redis(redis_url)`` answers the URL through which
        ``otp-service-counted`` reaches the main Redis (the counting proxy)."""
        try:
            self._start(counted_redis)
        except BaseException:
            self.stop()
            raise

    def _start(self, counted_redis: Callable[[str], str]) -> None:
        for name in ("main", "large"):
            # TCP on loopback, like a Redis on another host; no AOF: the bench measures
            # the service, not the disk
            server = RedisServer(self.workdir / name, unix_socket=False, appendonly=False)
            server.start()
            self.redis[name] = server
        self.ports["sandbox"] = free_port()
        env = self.base_env()
        env.update(SANDBOX_API_KEY=SANDBOX_KEY, SANDBOX_SIGNING_KEY=self.signing_seed)
        sandbox = self._spawn(
            "sandbox",
            [sys.executable, "-m", "bench.sandbox", "--port", str(self.ports["sandbox"])],
            env,
        )
        sandbox.wait_http(self.url("sandbox") + "/_sandbox/public_key")
        service = "otp_service:create_app()"
        instances = {
            "otp-service": (service, self.redis_url()),
            "baseline-check": ("bench.baselines:create_check_app()", self.redis_url()),
            "baseline-send": ("bench.baselines:create_send_app()", self.redis_url()),
            "otp-service-counted": (service, counted_redis(self.redis_url())),
            "otp-service-large": (service, self.redis_url("large")),
        }
        for name, (app, redis_url) in instances.items():
            self.start_gunicorn(name, app, self.service_env(redis_url))
        # the webhook receiver (bench/receiver.py), at nice 10: a customer's backend on
        # another host would not take these cores, and starved (SCHED_IDLE) it would
        # time the worker's posts out. The worker runs under SCHED_IDLE: background work
        # gets the CPU the API leaves (the latency printed shows the cost).
        self.ports["receiver"] = free_port()
        receiver_args = [
            sys.executable,
            "-m",
            "bench.receiver",
            "--port",
            str(self.ports["receiver"]),
        ]
        self._spawn("receiver", receiver_args, self.base_env(), NICE)
        for process in self.processes[1:]:
            path = "/stats" if process.name == "receiver" else "/healthz"
            process.wait_http(self.url(process.name) + path)
        # one `otp-service worker` on the main Redis: events, timers, webhook deliveries
        env = self.base_env()
        env.update(self.service_env(self.redis_url()))
        self.worker = self._spawn(
            "worker",
            [sys.executable, "-m", "otp_service.cli", "worker", "--name", "bench"],
            env,
            NICE,
            idle=True,
        )

    def start_gunicorn(
        self, name: str, app: str, app_env: Mapping[str, str], niceness: int = 0
    ) -> Process:
        """``app`` under gunicorn with ``otp_service/gunicorn_conf.py``, as the Dockerfile
        runs the service; only the port differs."""
        self.ports[name] = free_port()
        env = self.base_env()
        env.update(app_env)
        env.update(HOST="127.0.0.1", PORT=str(self.ports[name]), GUNICORN_LOG_LEVEL="warning")
        args = [sys.executable, "-m", "gunicorn", "-c", "python:otp_service.gunicorn_conf", app]
        return self._spawn(name, args, env, niceness)

    def _spawn(
        self,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        niceness: int = 0,
        idle: bool = False,
    ) -> Process:
        process = Process(name, args, env, self.workdir / f"{name}.log", niceness, idle)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        for server in self.redis.values():
            server.stop()
        self.redis.clear()
