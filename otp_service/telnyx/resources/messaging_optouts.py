"""``client.messaging_optouts``: recipients who replied STOP, per sender or profile."""

from __future__ import annotations

from typing import Any

from .._pagination import Page
from ._base import Resource


class MessagingOptouts(Resource):
    def list(
        self,
        *,
        messaging_profile_id: str | None = None,
        from_: str | None = None,
        created_at: dict[str, Any] | None = None,
        redaction_enabled: bool | None = None,
        filter: dict[str, Any] | None = None,
        page_number: int | None = None,
        page_size: int | None = None,
        **extra: Any,
    ) -> Page:
        """``messaging_profile_id``/``from_`` → ``filter[...]``; ``created_at={"gte": ...}``."""
        return self._op("ListOptOuts", locals(), filters=("messaging_profile_id", "from_"))
