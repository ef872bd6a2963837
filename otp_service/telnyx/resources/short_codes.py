"""``client.short_codes``: short codes and the profile each one sends for."""

from __future__ import annotations

from typing import Any

from .._pagination import Page
from ._base import Resource


class ShortCodes(Resource):
    def list(
        self,
        *,
        messaging_profile_id: str | None = None,
        filter: dict[str, Any] | None = None,
        page_number: int | None = None,
        page_size: int | None = None,
        **extra: Any,
    ) -> Page:
        return self._op("ListShortCodes", locals(), filters=("messaging_profile_id",))

    def retrieve(self, id: str) -> dict[str, Any]:
        return self._op("RetrieveShortCode", locals())

    def update(
        self,
        id: str,
        *,
        messaging_profile_id: str,
        tags: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._op("UpdateShortCode", locals())
