"""``client.messaging_profile_metrics``: high-level metrics of every profile."""

from __future__ import annotations

from typing import Any

from .._pagination import Page
from ._base import Resource


class MessagingProfileMetrics(Resource):
    def list(
        self,
        *,
        time_frame: str | None = None,
        page_number: int | None = None,
        page_size: int | None = None,
        **extra: Any,
    ) -> Page:
        """``time_frame``: one of 1h, 3h, 24h (default), 3d, 7d, 30d."""
        return self._op("GetProfileMetrics", locals())
