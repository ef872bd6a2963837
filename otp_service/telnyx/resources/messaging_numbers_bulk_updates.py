"""``client.messaging_numbers_bulk_updates``: move many numbers to a profile at once."""

from __future__ import annotations

from typing import Any

from ._base import Resource


class MessagingNumbersBulkUpdates(Resource):
    def create(
        self,
        *,
        messaging_profile_id: str,
        numbers: list[str],
        assign_only: bool | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Start a bulk update; poll ``retrieve(order_id)`` for its progress."""
        return self._op("BulkUpdateMessagingSettingsOnPhoneNumbers", locals())

    def retrieve(self, order_id: str) -> dict[str, Any]:
        return self._op("GetBulkUpdateMessagingSettingsOnPhoneNumbersStatus", locals())
