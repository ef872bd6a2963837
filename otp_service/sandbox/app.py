"""The sandbox Flask app and the ``Sandbox`` object that holds its state and workers."""

from __future__ import annotations

import threading

from flask import Flask, current_app

from .config import SandboxConfig
from .faults import Faults
from .spec import operations
from .state import SandboxState
from .validation import build_validators
from .webhooks import WebhookDispatcher

__all__ = ["Sandbox", "create_app", "current_sandbox"]


class Sandbox:
    """Everything one sandbox instance owns: state, validators, faults, webhook workers."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = SandboxState(config.seed, config.max_messages)
        self.faults = Faults()
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
        return self.config.public_key

    def reset(self) -> None:
        """Seeded state again; no faults, no pending or logged webhooks."""
        self.webhooks.clear()
        self.faults.clear()
        self.store.reset()

    def hold(self, seconds: float) -> None:
        """Sleep for a latency fault, but not past shutdown."""
        if seconds > 0:
            self.stopping.wait(seconds)

    def close(self) -> None:
        self.stopping.set()
        self.webhooks.close()


def create_app(config: SandboxConfig | None = None) -> Flask:
    """A sandbox app; ``app.extensions["sandbox"].close()`` stops its webhook workers."""
    from . import api, helpers

    app = Flask(__name__)
    app.extensions["sandbox"] = Sandbox(config or SandboxConfig())
    api.init_app(app)
    helpers.init_app(app)
    return app


def current_sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]
