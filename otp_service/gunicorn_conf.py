"""gunicorn settings, shared by `otp-service serve` and the Dockerfile
(``gunicorn -c python:otp_service.gunicorn_conf 'otp_service:create_app()'``).

Every value can be overridden from the environment; see the README's configuration table.
Also here: Prometheus multiprocess mode (every worker writes its samples to files in
PROMETHEUS_MULTIPROC_DIR, emptied when the master starts; a dead worker's live files are
cleaned up) and JSON logs for gunicorn's own messages too.
"""

import os
import shutil
import tempfile

from gunicorn.glogging import Logger

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# SIGTERM: stop accepting, let in-flight requests finish for up to this long, then exit.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
keepalive = 5
accesslog = None  # the app logs one JSON line per request itself (api/access_log.py)


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

# Set before any worker imports prometheus_client (the workers are forked after this).
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="otp-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

_level = os.environ.get("OTP_LOG_LEVEL", "INFO").upper()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "otp_service.logs.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": _level, "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
}


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """A fresh start: samples of an earlier run must not be added to this one's."""
    for entry in os.listdir(_metrics_dir):
        path = os.path.join(_metrics_dir, entry)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)


def child_exit(server, worker):  # noqa: ANN001, ANN201
    # not at the top: prometheus_client picks its value class when first imported, and
    # that must come after PROMETHEUS_MULTIPROC_DIR is set above
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ANN001, ANN201
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
