"""HTTP: the only package that knows Flask, WSGI and marshmallow. Views parse,
authenticate, call a service and render; nothing else."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx
from flask import Flask

from otp_service.api import (
    admin,
    console,
    endpoints,
    factors,
    history,
    ops,
    problems,
    profiles,
    verifications,
    webhooks,
)
from otp_service.api.access_log import AccessLog
from otp_service.api.flask_shortcuts import App
from otp_service.api.middleware import RequestMiddleware
from otp_service.config import Settings
from otp_service.services import build_services

__all__ = ["create_app"]


def create_app(
    config: Settings | Mapping[str, str] | None = None,
    *,
    telnyx_transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> Flask:
    """Build the app from ``config``: Settings, a mapping of environment variables (tests),
    or None for the process environment."""
    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    app = App("otp_service")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["otp"] = build_services(settings, telnyx_transport=telnyx_transport, clock=clock)
    problems.init_app(app)
    for view in (
        ops,
        verifications,
        factors,
        webhooks,
        admin,
        profiles,
        endpoints,
        history,
        console,
    ):
        app.register_blueprint(view.bp)
    access = AccessLog(settings.access_log_flush_ms / 1000) if settings.access_log else None
    app.wsgi_app = RequestMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, access, app.extensions["otp"]
    )
    return app
