"""otp-service: one-time codes over SMS and WhatsApp through Telnyx, on your own machines."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response

__all__ = ["Services", "build_services", "create_app"]


@dataclass
class Services:
    """What the views reach through ``current_app.extensions["otp"]``."""

    settings: Any
    store: Any
    telnyx: Any
    verifications: Any
    factors: Any
    optouts: Any
    events: Any
    webhook_keys: list[Any]
    audit: Any = None
    admin: Any = None

    def close(self) -> None:
        self.telnyx.close()
        self.store.close()


def create_app(
    config: Mapping[str, str] | Any | None = None,
    *,
    telnyx_transport: Any = None,
    clock: Callable[[], float] = time.time,
) -> Flask:
    """Build the app from ``config``: Settings, a mapping of environment variables (tests),
    or None for the process environment."""
    from otp_service import api, errors, logs
    from otp_service.config import Settings

    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["otp"] = build_services(settings, telnyx_transport=telnyx_transport, clock=clock)
    errors.init_app(app)
    logs.init_app(app, access_log=settings.access_log)
    api.register(app)

    @app.after_request
    def _no_store(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def build_services(
    settings: Any, *, telnyx_transport: Any = None, clock: Callable[[], float] = time.time
) -> Services:
    """Everything the app (and the CLI's operator commands) work with, built from Settings."""
    from otp_service.admin import AdminService
    from otp_service.audit import AuditLog
    from otp_service.config import ConfigError
    from otp_service.delivery import Delivery
    from otp_service.events import WebhookEvents
    from otp_service.factors import FactorService
    from otp_service.ids import PhoneTagger
    from otp_service.metrics import observe_telnyx
    from otp_service.optouts import OptOutStore
    from otp_service.store import Store, connect
    from otp_service.telnyx import TelnyxClient, load_public_key
    from otp_service.verification import VerificationService

    if not settings.redis_url:
        raise ConfigError(
            "REDIS_URL is not set: start the service with `otp-service serve`, which starts "
            "an embedded redis-server, or point REDIS_URL at one"
        )
    store = Store(connect(settings.redis_url), prefix=settings.key_prefix)
    telnyx = TelnyxClient(
        settings.telnyx_api_key,
        base_url=settings.telnyx_base_url,
        timeout=settings.telnyx_timeout,
        transport=telnyx_transport,
        observer=observe_telnyx,
    )
    delivery = Delivery.from_settings(telnyx, settings)
    tagger = PhoneTagger(settings.secret)
    optouts = OptOutStore(store, tagger, clock)
    audit = AuditLog(store, clock)
    return Services(
        settings=settings,
        store=store,
        telnyx=telnyx,
        factors=FactorService(settings, store, clock=clock),
        verifications=VerificationService(settings, store, delivery, optouts, clock=clock),
        optouts=optouts,
        events=WebhookEvents(store, tagger, optouts, clock),
        webhook_keys=[load_public_key(key) for key in settings.telnyx_public_keys],
        audit=audit,
        admin=AdminService(telnyx, optouts, audit, clock),
    )
