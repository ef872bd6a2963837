"""``client.phone_numbers.messaging`` and ``client.mobile_phone_numbers.messaging``:
the messaging settings (profile, product, tags) of each number."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from .._pagination import Page
from ._base import Resource


class PhoneNumbers(Resource):
    @cached_property
    def messaging(self) -> PhoneNumberMessaging:
        return PhoneNumberMessaging(self._client)


class PhoneNumberMessaging(Resource):
    def list(
        self,
        *,
        messaging_profile_id: str | None = None,
        phone_number: str | None = None,
        type: str | None = None,
        filter: dict[str, Any] | None = None,
        sort: dict[str, str] | None = None,
        page_number: int | None = None,
        page_size: int | None = None,
        **extra: Any,
    ) -> Page:
        """``type``: tollfree, longcode or shortcode; ``sort={"phone_number": "desc"}``."""
        return self._op(
            "ListPhoneNumbersWithMessagingSettings",
            locals(),
            filters=("messaging_profile_id", "phone_number", "type"),
        )

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("GetPhoneNumberMessagingSettings", locals())

    def update(
        self,
        id: str,
        *,
        messaging_profile_id: str | None = None,
        messaging_product: str | None = None,
        tags: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """``messaging_profile_id=""`` unassigns the number from its profile."""
        return self._op("UpdatePhoneNumberMessagingSettings", locals())


class MobilePhoneNumbers(Resource):
    @cached_property
    def messaging(self) -> MobilePhoneNumberMessaging:
        return MobilePhoneNumberMessaging(self._client)


class MobilePhoneNumberMessaging(Resource):
    def list(
        self, *, page_number: int | None = None, page_size: int | None = None, **extra: Any
    ) -> Page:
        return self._op("ListMobilePhoneNumbersWithMessagingSettings", locals())

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("GetMobilePhoneNumberMessagingSettings", locals())
