"""``client.messaging_tollfree.verification.requests``: toll-free verification.

This API speaks camelCase (``businessName=``), so create/update take the spec's field
names as keywords rather than a 30-parameter signature. Its lists are
``{"records", "total_records"}`` with required paging, so paging defaults to 1 / 20.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from .._pagination import Page
from ._base import Resource


class MessagingTollfree(Resource):
    @cached_property
    def verification(self) -> TollfreeVerification:
        return TollfreeVerification(self._client)


class TollfreeVerification(Resource):
    @cached_property
    def requests(self) -> VerificationRequests:
        return VerificationRequests(self._client)


class VerificationRequests(Resource):
    def list(
        self,
        *,
        page_number: int = 1,
        page_size: int = 20,
        date_start: str | None = None,
        date_end: str | None = None,
        status: str | None = None,
        phone_number: str | None = None,
        business_name: str | None = None,
        **extra: Any,
    ) -> Page:
        return self._op("ListVerificationRequests", locals())

    def create(self, **extra: Any) -> dict[str, Any]:
        return self._op("SubmitVerificationRequest", locals())

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("GetVerificationRequest", locals())

    def update(self, id: str, **extra: Any) -> dict[str, Any]:
        return self._op("UpdateVerificationRequest", locals())

    def delete(self, id: str) -> None:
        return self._op("DeleteVerificationRequest", locals())

    def retrieve_status_history(
        self, id: str, *, page_number: int = 1, page_size: int = 20, **extra: Any
    ) -> Page:
        return self._op("GetVerificationStatusHistory", locals())
