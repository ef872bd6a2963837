"""The top of the sandbox: ``create_app`` builds a Flask app around a new ``Sandbox`` and
wires the ``/v2`` API and the ``/_sandbox`` helper routes into it.
"""

from __future__ import annotations

from flask import Flask

from . import api, helper_routes
from .config import SandboxConfig
from .core import Sandbox

__all__ = ["create_app"]


def create_app(config: SandboxConfig | None = None) -> Flask:
    """A sandbox app; ``app.extensions["sandbox"].close()`` stops its webhook workers."""
    app = Flask(__name__)
    app.extensions["sandbox"] = Sandbox(config or SandboxConfig())
    api.init_app(app)
    helper_routes.init_app(app)
    return app
