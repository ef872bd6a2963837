"""Running the sandbox: ``main()`` for the CLI, ``SandboxServer`` for tests (in a thread)."""

from __future__ import annotations

import logging
import signal
import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .config import SandboxConfig
from .core import Sandbox

__all__ = ["SandboxServer", "main"]


class SandboxServer:
    """A sandbox on 127.0.0.1 (a free port by default) served by a background thread.

    ``with SandboxServer(SandboxConfig(webhook_delay=0.05)) as sb: httpx.post(sb.base_url
    + "/messages", ...)``; leaving the block stops the server and the webhook workers.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet: bool = True,
    ) -> None:
        self.config = config or SandboxConfig()
        self.host = host
        self.app = create_app(self.config)
        self.sandbox: Sandbox = self.app.extensions["sandbox"]
        self._requested_port = port
        self._quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox server is not running")
        return self._server.port

    @property
    def url(self) -> str:
        """The root URL, where ``/_sandbox`` lives."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The Telnyx API base URL (``.../v2``)."""
        return f"{self.url}/v2"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def public_key(self) -> str:
        return self.sandbox.public_key

    def reset(self) -> None:
        self.sandbox.reset()

    def start(self) -> SandboxServer:
        handler = _QuietHandler if self._quiet else None
        self._server = make_server(
            self.host, self._requested_port, self.app, threaded=True, request_handler=handler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self._server.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sandbox.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _Handler(WSGIRequestHandler):
    """HTTP/1.1, so pooled clients keep their connections as they would with Telnyx."""

    protocol_version = "HTTP/1.1"


class _QuietHandler(_Handler):
    """No access log line per request (tests and benchmarks make thousands)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def main(
    host: str = "127.0.0.1",
    port: int = 8001,
    config: SandboxConfig | None = None,
    *,
    access_log: bool = True,
) -> None:
    """Serve the sandbox until Ctrl-C; settings from ``SANDBOX_*`` unless ``config`` is given.
    Without ``access_log`` no line is written per request (`make bench`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = config or SandboxConfig.from_env()
    app = create_app(config)
    handler = _Handler if access_log else _QuietHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    root = f"http://{host}:{server.port}"
    print(f"Telnyx sandbox listening on {root}/v2", flush=True)
    print(f"  API key (Bearer):   {config.api_key}", flush=True)
    print(f"  webhook public key: {config.public_key}", flush=True)
    print(f"  webhook fallback:   {config.webhook_url or '(none: message/profile URL only)'}")
    print(f"  helper routes:      {root}/_sandbox", flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly when a supervisor asks
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.extensions["sandbox"].close()
        server.server_close()
