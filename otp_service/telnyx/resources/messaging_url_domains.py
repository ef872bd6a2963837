"""``client.messaging_url_domains``: domains allowed in message links."""

from __future__ import annotations

from typing import Any

from .._pagination import Page
from ._base import Resource


class MessagingUrlDomains(Resource):
    def list(
        self, *, page_number: int | None = None, page_size: int | None = None, **extra: Any
    ) -> Page:
        return self._op("ListMessagingUrlDomains", locals())
