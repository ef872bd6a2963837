"""gunicorn settings, shared by `otp-service serve` and the Dockerfile
(``gunicorn -c python:otp_service.gunicorn_conf 'otp_service:create_app()'``).

Every value can be overridden from the environment; see the README's configuration table.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# In-flight requests get this long to finish after SIGTERM before workers are killed.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "otp-service"
# gunicorn's control socket lives in $HOME by default, shared by every instance: off.
control_socket_disable = True
