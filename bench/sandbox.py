"""The Telnyx sandbox as `make bench` runs it: quiet, and with HTTP/1.1 keep-alive.

``otp-service sandbox`` logs a line per request and closes every connection (HTTP/1.0):
under load that costs the machine more than the calls it stands in for. Here the same
sandbox app is served without the access log and with keep-alive, so the pooled httpx
clients of otp-service and ``baseline-send`` reuse their connections as they would with
Telnyx. Configured by ``SANDBOX_*`` like the sandbox (``SANDBOX_SIGNING_KEY`` fixes the
webhook key); no webhook URL is set, so no webhook traffic competes with the measurement.

    python -m bench.sandbox --port 8101
"""

from __future__ import annotations

import argparse
import signal

from werkzeug.serving import WSGIRequestHandler, make_server

from otp_service.sandbox.app import create_app
from otp_service.sandbox.config import SandboxConfig


class _KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    config = SandboxConfig.from_env()
    config.max_messages = 200_000  # the bench reads codes back from the outbox
    app = create_app(config)
    server = make_server(
        options.host, options.port, app, threaded=True, request_handler=_KeepAliveHandler
    )
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["sandbox"].close()
        server.server_close()


if __name__ == "__main__":
    main()
