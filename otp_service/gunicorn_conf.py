"""gunicorn settings, shared by `otp-service serve` and the Dockerfile
(``gunicorn -c python:otp_service.gunicorn_conf 'otp_service:create_app()'``).

Every value can be overridden from the environment; see the README's configuration table.
Also here: a deadline for request bodies (``pre_request``), Prometheus multiprocess mode
(every worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR, emptied when the
master starts; a dead worker's live files are cleaned up) and JSON logs for gunicorn's
own messages too.
"""

import contextlib
import os
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import time

from gunicorn.glogging import Logger

from otp_service import errors
from otp_service.logs import log_config

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# SIGTERM: stop accepting, let in-flight requests finish for up to this long, then exit.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
keepalive = 5
accesslog = None  # the app logs one JSON line per request itself (api/access_log.py)


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise SystemExit(f"otp-service: {name} must be between 0 and 300 seconds (got {raw!r})")
    return value


_body_read_timeout = _seconds("OTP_BODY_READ_TIMEOUT_SECONDS", 5.0)


class _Logger(Logger):
    """gunicorn's logger without its access log. With ``logconfig_dict`` set (below)
    gunicorn counts its access log as on and builds the line's fields (every environ
    variable among them) for every request, though nothing prints them: about a tenth of
    a worker's CPU under load."""

    access_log_enabled = False  # Logger.access returns at once


logger_class = _Logger
proc_name = "otp-service"
# gunicorn's control socket lives in $HOME by default, shared by every instance: off.
control_socket_disable = True

# The metrics directory this master made itself (none given): removed when it exits.
_own_metrics_dirs: list[str] = []

logconfig_dict = log_config(os.environ.get("OTP_LOG_LEVEL", "INFO"))


class _BodyDeadline:
    """The client's socket as gunicorn's body reader sees it during one request.

    gthread hands a connection to a thread with the body unread and reads it (blocking,
    with no time limit) when the app asks: a client that stops sending would hold the
    thread for as long as it likes. Here what has arrived is read at once; waiting for
    more is bounded by the deadline, and only half of a worker's threads may wait at the
    same time (the others stay free for requests that came whole, /healthz among them).
    Past either limit the request fails with 408 and the connection closes."""

    def __init__(self, sock: socket.socket, req: object, deadline: float) -> None:
        self.sock = sock
        self.req = req
        self.deadline = deadline

    def recv(self, size: int) -> bytes:
        self.sock.setblocking(False)
        try:
            return self.sock.recv(size)
        except (BlockingIOError, ssl.SSLWantReadError):
            pass  # nothing more has arrived yet
        finally:
            self.sock.setblocking(True)  # as gthread expects
        remaining = self.deadline - time.monotonic()
        # a client that is sending its body gets it here within moments (under load its
        # packets may trail the headers): that short wait needs no slot
        grace = min(BODY_GRACE_SECONDS, remaining)
        if grace > 0:
            try:
                self.sock.settimeout(grace)
                return self.sock.recv(size)
            except TimeoutError:
                remaining = self.deadline - time.monotonic()
            finally:
                self.sock.settimeout(None)
        if remaining > 0 and _body_waits.acquire(blocking=False):
            try:
                self.sock.settimeout(remaining)
                return self.sock.recv(size)
            except TimeoutError:
                pass
            finally:
                self.sock.settimeout(None)
                _body_waits.release()
        self.req.must_close = True  # the rest of the body may still come: no keep-alive
        # gunicorn closes the connection on the worker's main loop, waiting up to 2 s for
        # the client to close first; this client would not
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RD)
        raise errors.RequestTimeout(
            f"the request body did not arrive within {_body_read_timeout:g} s: send it "
            "with the headers"
        )

    def __getattr__(self, name: str) -> object:
        return getattr(self.sock, name)


# How long a body may keep a thread waiting without one of the slots below.
BODY_GRACE_SECONDS = 0.2
# each worker process has its own (forked) copy
_body_waits = threading.BoundedSemaphore(max(1, threads // 2))


def pre_request(worker, req):  # noqa: ANN001, ANN201
    """The body has until the deadline to arrive (it is read through ``req.unreader``)."""
    unreader = getattr(req, "unreader", None)
    if isinstance(getattr(unreader, "sock", None), socket.socket):
        deadline = time.monotonic() + _body_read_timeout
        unreader.sock = _BodyDeadline(unreader.sock, req, deadline)


def post_request(worker, req, environ, resp):  # noqa: ANN001, ANN201
    """The connection's own socket again, for its next request (the unreader is the
    connection's, not the request's)."""
    unreader = getattr(req, "unreader", None)
    wrapped = getattr(unreader, "sock", None)
    if isinstance(wrapped, _BodyDeadline):
        unreader.sock = wrapped.sock


def post_worker_init(worker):  # noqa: ANN001, ANN201
    """A worker quits once, however many quit signals reach it.

    A terminal's Ctrl-C reaches the master and its workers alike (`serve` runs gunicorn in
    the terminal's process group), and the master then sends each worker SIGQUIT as well.
    gthread's handler for the second signal, run while the first one still held the thread
    pool's shutdown lock, waited for that lock for ever: the worker hung until the master
    killed it GUNICORN_GRACEFUL_TIMEOUT later ("Worker (pid:…) was sent SIGKILL!")."""
    handle_quit = worker.handle_quit
    quitting = False

    def quit_once(sig, frame):  # noqa: ANN001, ANN202
        nonlocal quitting
        if quitting:
            return  # the first one's handler is under way, and exits the worker
        quitting = True
        handle_quit(sig, frame)

    signal.signal(signal.SIGINT, quit_once)
    signal.signal(signal.SIGQUIT, quit_once)


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """The workers' metrics directory, before any worker is forked (and imports
    prometheus_client): the one given in PROMETHEUS_MULTIPROC_DIR, else a new temporary
    one, gone when the master exits. Here and not at import, so that reading these
    settings (the bench, the tests) leaves no directory behind.

    A fresh start: samples of an earlier run must not be added to this one's. The
    files of processes still running stay: an `otp-service worker` sharing the directory
    (`serve` starts one before gunicorn) counts its sends and fallbacks there."""
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not metrics_dir:
        metrics_dir = tempfile.mkdtemp(prefix="otp-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        _own_metrics_dirs.append(metrics_dir)
    os.makedirs(metrics_dir, exist_ok=True)  # one named but not made yet
    for entry in os.listdir(metrics_dir):
        path = os.path.join(metrics_dir, entry)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif not _running(_writer_pid(entry)):
            os.remove(path)


def _writer_pid(name: str) -> int | None:
    """The process that writes a prometheus_client file ('<kind>_<pid>.db')."""
    stem, _, pid = name.removesuffix(".db").rpartition("_")
    return int(pid) if stem and pid.isdigit() else None


def _running(pid: int | None) -> bool:
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's, alive
    return True


def child_exit(server, worker):  # noqa: ANN001, ANN201
    # not at the top: prometheus_client picks its value class when first imported, and
    # that must come after on_starting set PROMETHEUS_MULTIPROC_DIR
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ANN001, ANN201
    """The metrics directory this master made goes with it, unless a new master it
    started (USR2, an upgrade in place) goes on with the same workers' files."""
    if getattr(server, "reexec_pid", 0):
        return
    for metrics_dir in _own_metrics_dirs:
        shutil.rmtree(metrics_dir, ignore_errors=True)
