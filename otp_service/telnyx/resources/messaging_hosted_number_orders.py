"""``client.messaging_hosted_number_orders``: bring numbers hosted elsewhere to Telnyx."""

from __future__ import annotations

from functools import cached_property
from typing import IO, Any

from .._pagination import Page
from ._base import Resource

FileInput = bytes | IO[bytes] | tuple[Any, ...]


class MessagingHostedNumberOrders(Resource):
    @cached_property
    def actions(self) -> MessagingHostedNumberOrderActions:
        return MessagingHostedNumberOrderActions(self._client)

    def list(
        self, *, page_number: int | None = None, page_size: int | None = None, **extra: Any
    ) -> Page:
        return self._op("ListMessagingHostedNumberOrders", locals())

    def create(
        self,
        *,
        phone_numbers: list[str] | None = None,
        messaging_profile_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("CreateMessagingHostedNumberOrder", locals())

    def check_eligibility(self, *, phone_numbers: list[str], **extra: Any) -> dict[str, Any]:
        """Whether numbers can be hosted; Telnyx answers ``{"phone_numbers": [...]}``."""
        return self._op("CheckEligibilityNumbers", locals())

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("GetMessagingHostedNumberOrder", locals())

    def delete(self, id: str) -> dict[str, Any] | None:
        return self._op("DeleteMessagingHostedNumberOrder", locals())

    def create_verification_codes(
        self, id: str, *, phone_numbers: list[str], verification_method: str, **extra: Any
    ) -> list[dict[str, Any]]:
        """Have Telnyx send ownership codes (by ``sms`` or ``call``); never retried."""
        return self._op("CreateVerificationCodesForMessagingHostedNumberOrder", locals())

    def validate_codes(
        self, id: str, *, verification_codes: list[dict[str, Any]], **extra: Any
    ) -> dict[str, Any]:
        return self._op("ValidateVerificationCodesForMessagingHostedNumberOrder", locals())


class MessagingHostedNumberOrderActions(Resource):
    def upload_file(
        self,
        id: str,
        *,
        loa: FileInput | None = None,
        bill: FileInput | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Upload the signed LOA and the latest bill (PDFs) as multipart/form-data.

        Each is bytes, a binary file object, or an httpx-style ``(filename, content,
        content_type)`` tuple; bytes and files are sent as ``<field>.pdf``.
        """
        return self._op("UploadMessagingHostedNumberOrderFile", locals())
