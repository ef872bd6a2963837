"""A test's worker: the service's own (``build_worker``), posting to loopback receivers as
development allows, and looking at every slot at every pass (a cluster's events are
found at once)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from otp_service.events.http import EndpointPoster
from otp_service.events.worker import Worker
from otp_service.services import Services, build_worker

__all__ = ["loopback_worker"]


def loopback_worker(
    services: Services,
    name: str,
    *,
    clock: Callable[[], float] = time.time,
    threads: int = 1,
    timeout: float = 1.0,
    **options: Any,
) -> Worker:
    """``options``: build_worker's others (``lease_ms``, ``sweep_every_ms``)."""
    options.setdefault("sweep_every_ms", 0)
    poster = EndpointPoster(production=False, timeout=timeout)
    return build_worker(services, name, clock=clock, threads=threads, poster=poster, **options)
