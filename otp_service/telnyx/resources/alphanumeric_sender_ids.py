"""``client.alphanumeric_sender_ids``: alphanumeric sender IDs (``"ACME"`` as the sender)."""

from __future__ import annotations

from typing import Any

from .._pagination import Page
from ._base import Resource


class AlphanumericSenderIds(Resource):
    def list(
        self,
        *,
        messaging_profile_id: str | None = None,
        filter: dict[str, Any] | None = None,
        page_number: int | None = None,
        page_size: int | None = None,
        **extra: Any,
    ) -> Page:
        return self._op("ListAlphanumericSenderIds", locals(), filters=("messaging_profile_id",))

    def create(
        self,
        *,
        alphanumeric_sender_id: str,
        messaging_profile_id: str,
        us_long_code_fallback: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("CreateAlphanumericSenderId", locals())

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("GetAlphanumericSenderId", locals())

    def delete(self, id: str) -> dict[str, Any] | None:
        return self._op("DeleteAlphanumericSenderId", locals())
