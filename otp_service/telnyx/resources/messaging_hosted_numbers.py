"""``client.messaging_hosted_numbers``: numbers hosted on Telnyx for messaging."""

from __future__ import annotations

from typing import Any

from .._pagination import Page
from ._base import Resource


class MessagingHostedNumbers(Resource):
    def list(
        self,
        *,
        messaging_profile_id: str | None = None,
        phone_number: str | None = None,
        filter: dict[str, Any] | None = None,
        sort: dict[str, str] | None = None,
        page_number: int | None = None,
        page_size: int | None = None,
        **extra: Any,
    ) -> Page:
        """``filter={"phone_number": {"contains": "555"}}``, ``sort={"phone_number": "asc"}``."""
        return self._op(
            "ListMessagingHostedNumbers", locals(), filters=("messaging_profile_id", "phone_number")
        )

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("GetMessagingHostedNumber", locals())

    def update(
        self,
        id: str,
        *,
        messaging_profile_id: str | None = None,
        messaging_product: str | None = None,
        tags: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("UpdateMessagingHostedNumber", locals())

    def delete(self, id: str) -> dict[str, Any] | None:
        return self._op("DeleteMessagingHostedNumber", locals())
