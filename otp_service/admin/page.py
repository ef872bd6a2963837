"""A page of an admin list: what the lists take, and the pagination meta they answer."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Page"]


@dataclass(frozen=True)
class Page:
    """Page ``number`` (from 1) of ``size`` items; bounds are the caller's to check."""

    number: int = 1
    size: int = 20

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def meta(self, total: int) -> dict[str, int]:
        """Telnyx's pagination meta, so that our own lists page as Telnyx's do."""
        return {
            "page_number": self.number,
            "page_size": self.size,
            "total_pages": math.ceil(total / self.size),
            "total_results": total,
        }
