"""otp-service: one-time codes over SMS and WhatsApp through Telnyx, on your own machines."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

__all__ = ["App", "Services", "build_services", "create_app"]


class App(Flask):
    """Flask, remembering which hooks and views it may call as they are.

    Flask's ``ensure_sync`` asks ``inspect`` whether a function is a coroutine each time
    it calls a hook or a view — half a dozen times a request — and the answer never
    changes for a function.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._callables: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._callables[func]
        except KeyError:
            synced = self._callables[func] = super().ensure_sync(func)
            return synced


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
    from otp_service import api, errors
    from otp_service.config import Settings
    from otp_service.logs import AccessLog
    from otp_service.middleware import Requests

    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    app = App(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["otp"] = build_services(settings, telnyx_transport=telnyx_transport, clock=clock)
    errors.init_app(app)
    api.register(app)
    access = AccessLog(settings.access_log_flush_ms / 1000) if settings.access_log else None
    app.wsgi_app = Requests(app.wsgi_app, access)  # type: ignore[method-assign]

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
