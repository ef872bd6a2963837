"""What every request handler needs: the ``Sandbox`` (one instance's state, validators,
faults and webhook workers), ``current_sandbox()`` and ``json_response``.

It sits below the routes and handlers and above the parts it owns, so they all import it
without a cycle.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app

from .config import SandboxConfig
from .faults import Faults, SenderFaults
from .spec import operations
from .state import SandboxState
from .validation import build_validators
from .webhooks import WebhookDispatcher

__all__ = ["Sandbox", "current_sandbox", "json_response"]


class Sandbox:
    """Everything one sandbox instance owns: state, validators, faults, webhook workers."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(config.seed, config.max_messages)
        self.faults = Faults()
        self.sender_faults = SenderFaults()
        self.validators = build_validators(operations())
        self.webhooks = WebhookDispatcher(
            config.signing_key,
            max_attempts=config.webhook_max_attempts,
            retry_delay=config.webhook_retry_delay,
            timeout=config.webhook_timeout,
            workers=config.webhook_workers,
        )
        self.stopping = threading.Event()  # wakes requests held back by latency faults

    @property
    def public_key(self) -> str:
        """The base64 Ed25519 public key that verifies this sandbox's webhooks."""
        return self.config.public_key

    def reset(self) -> None:
        """Seeded state again; no faults, no pending or logged webhooks."""
        self.webhooks.clear()
        self.faults.clear()
        self.sender_faults.clear()
        self.state.reset()

    def hold(self, seconds: float) -> None:
        """Sleep for a latency fault, but not past shutdown."""
        if seconds > 0:
            self.stopping.wait(seconds)

    def close(self) -> None:
        """Wake held requests and stop the webhook workers."""
        self.stopping.set()
        self.webhooks.close()


def current_sandbox() -> Sandbox:
    """The sandbox of the app serving this request."""
    return current_app.extensions["sandbox"]


def json_response(body: Any, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """``body`` as a JSON response."""
    return Response(
        json.dumps(body), status=status, mimetype="application/json", headers=dict(headers or {})
    )
