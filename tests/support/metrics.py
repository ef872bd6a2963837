"""A metric's value as this process has counted it (its pending counts written first:
``otp_service.metrics`` hands them to prometheus_client in batches)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from otp_service import metrics


def sample(name: str, **labels: str) -> float:
    metrics.flush()
    return REGISTRY.get_sample_value(name, labels) or 0.0
