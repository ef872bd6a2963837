"""Everything the views and the CLI's operator commands work with, built from Settings.

No Flask here: ``api.create_app`` puts a ``Services`` in ``app.extensions["otp"]``, and
``otp-service numbers|optouts …`` builds one of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from nacl.signing import VerifyKey

from otp_service.admin import (
    AuditLog,
    ConsoleSessions,
    NumbersAdmin,
    OptOutAdmin,
    UnfinishedChanges,
)
from otp_service.config import Settings
from otp_service.delivery import AdaptiveRanker, Delivery, DeliveryConfig
from otp_service.errors import ConfigError
from otp_service.events.catalog import Renderer
from otp_service.events.endpoints import EndpointService
from otp_service.events.http import EndpointPoster
from otp_service.events.worker import BUSY_SHARDS_EVERY_MS, LEASE_MS, Worker
from otp_service.factors import FactorService, factor_object
from otp_service.history import HistoryService, Recorder
from otp_service.ids import PhoneTagger
from otp_service.inbound import InboundEvents
from otp_service.metrics import observe_telnyx
from otp_service.profiles import KeyRing, ProfileService
from otp_service.profiles.purge import ProfilePurge
from otp_service.store import Store, connect
from otp_service.store.history import HistoryStore
from otp_service.store.insights import InsightsStore
from otp_service.store.optouts import OptOutStore
from otp_service.store.outbox import OutboxEntry, OutboxStore
from otp_service.store.profiles import ProfileStore
from otp_service.store.webhooks import WebhookStore
from otp_service.telnyx import TelnyxClient, load_public_key
from otp_service.verification import VerificationService
from otp_service.verification.fallback import Fallbacks

__all__ = ["Services", "build_services", "build_worker", "event_renderer"]


@dataclass
class Services:
    """What the views reach through ``current_app.extensions["otp"]``."""

    settings: Settings
    store: Store
    telnyx: TelnyxClient
    verifications: VerificationService
    factors: FactorService
    optouts: OptOutStore
    inbound: InboundEvents
    webhook_keys: list[VerifyKey]
    audit: AuditLog
    numbers_admin: NumbersAdmin
    optout_admin: OptOutAdmin
    profiles: ProfileService
    endpoints: EndpointService
    history: HistoryService
    console_sessions: ConsoleSessions

    def close(self) -> None:
        self.profiles.close()
        self.telnyx.close()
        self.store.close()


def build_services(
    settings: Settings,
    *,
    telnyx_transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> Services:
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
    insights = InsightsStore(store, settings.history_days)
    delivery = Delivery(
        telnyx,
        settings.delivery
        or DeliveryConfig.default(
            from_number=settings.telnyx_from_number,
            messaging_profile_id=settings.telnyx_messaging_profile_id,
        ),
        webhook_url=settings.webhook_url,
        # adaptive routes: conversion per route, read by a thread every 30 s when used
        ranker=AdaptiveRanker(lambda: insights.route_totals(int(clock() * 1000)), clock=clock),
    )
    tagger = PhoneTagger(settings.secret)
    optouts = OptOutStore(store, tagger, clock)
    audit = AuditLog(store, clock)
    # the ring's refresher polls on a client of its own: requests never queue behind it
    ring_client = connect(settings.redis_url, client_name="otp-profile-keys")
    ring_store = Store(ring_client, prefix=settings.key_prefix)
    ring = KeyRing(ProfileStore(ring_store), settings, clock=clock)
    profiles = ProfileService(
        settings, ProfileStore(store), ring, audit, clock, webhooks=WebhookStore(store)
    )
    return Services(
        settings=settings,
        store=store,
        telnyx=telnyx,
        factors=FactorService(settings, store, clock=clock),
        verifications=VerificationService(
            settings,
            store,
            delivery,
            optouts,
            clock=clock,
            profile_ids=ring.profile_ids,
            insights=insights,
        ),
        optouts=optouts,
        inbound=InboundEvents(store, tagger, optouts, clock, keywords=settings.keywords),
        webhook_keys=[load_public_key(key) for key in settings.telnyx_public_keys],
        audit=audit,
        numbers_admin=NumbersAdmin(telnyx, audit),
        optout_admin=OptOutAdmin(telnyx, optouts, audit, clock),
        profiles=profiles,
        endpoints=EndpointService(settings, WebhookStore(store), audit, profiles.get, clock=clock),
        console_sessions=ConsoleSessions(store, clock),
        history=HistoryService(
            HistoryStore(store, settings.history_days),
            InsightsStore(store, settings.history_days),
            tagger,
            settings.history_days,
            clock,
        ),
    )


def event_renderer(services: Services) -> Renderer:
    """The API object an outbox entry's event carries (``events/`` imports no service)."""

    def render(entry: OutboxEntry) -> dict[str, Any] | None:
        if entry.kind == "v" and isinstance(entry.snapshot, list):
            values = [None if v is False else str(v).encode() for v in entry.snapshot]
            profile = services.profiles.settings_for(entry.profile)
            return services.verifications.event_object(
                entry.tag, values, entry.history, profile, entry.at
            )
        if entry.kind == "f" and isinstance(entry.snapshot, dict):
            fields = {k: str(v) for k, v in entry.snapshot.items()}
            return factor_object(entry.tag + fields.pop("_id", ""), fields)
        return None

    return render


def build_worker(
    services: Services,
    name: str,
    *,
    clock: Callable[[], float] = time.time,
    threads: int = 16,
    poster: EndpointPoster | None = None,
    sweep_every_ms: int = BUSY_SHARDS_EVERY_MS,
    lease_ms: int = LEASE_MS,
) -> Worker:
    """An ``otp-service worker`` over ``services``' Redis."""
    recorder = Recorder(services.history.history, services.history.insights)
    return Worker(
        outbox=OutboxStore(services.store),
        webhooks=services.endpoints.store,
        endpoints=services.endpoints,
        render=event_renderer(services),
        poster=poster
        or EndpointPoster(
            production=services.settings.is_production,
            trusted=services.settings.webhook_trusted_networks,
        ),
        audit=services.audit,
        name=name,
        clock=clock,
        threads=threads,
        sweep_every_ms=sweep_every_ms,
        lease_ms=lease_ms,
        consumers=(recorder, Fallbacks(services.verifications, services.profiles.settings_for)),
        chores=(
            ProfilePurge(ProfileStore(services.store), webhooks=services.endpoints.store),
            UnfinishedChanges(services.audit),
            recorder.amend_waiting,
        ),
    )
