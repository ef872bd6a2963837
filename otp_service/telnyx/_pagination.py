"""Pages of list results, and walking them.

Telnyx lists come in two shapes, and ``Page`` hides the difference:

* ``{"data": [...], "meta": {"page_number", "page_size", "total_pages", "total_results"}}``
  (``page[number]`` / ``page[size]``), used by almost every list;
* ``{"records": [...], "total_records": n}`` (toll-free verification), for which ``meta``
  is computed from the requested page and size.

With ``meta`` the walk stops at ``total_pages``; without it, at the first empty or short
page. Page numbers come from the requests, not the responses, so the walk always moves
forward and ends even if a server ignores the page number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Page"]


class Page:
    """One page of a list call: ``data``, ``meta``, and the way to the next page.

    ``for item in page`` (or ``page.auto_paging_iter()``) yields every item of this page
    and of all later pages, fetching them as needed.
    """

    def __init__(
        self,
        data: list[Any],
        meta: dict[str, Any],
        *,
        page_number: int = 1,
        page_size: int | None = None,
        fetch: Callable[[int], Page] | None = None,
    ) -> None:
        self.data = data
        self.meta = meta
        self._page_number = page_number
        self._page_size = page_size
        self._fetch = fetch  # fetch(n) -> page n of the same query

    @classmethod
    def from_body(
        cls,
        body: Any,
        *,
        page_number: int | None,
        page_size: int | None,
        fetch: Callable[[int], Page] | None = None,
    ) -> Page:
        """Build a page from a decoded list response of either shape."""
        body = body if isinstance(body, dict) else {}
        number = page_number or 1
        if "records" in body:
            data = body.get("records") or []
            total = body.get("total_records")
            size = page_size or len(data)
            meta: dict[str, Any] = {"page_number": number, "page_size": size}
            if isinstance(total, int):
                meta["total_results"] = total
                meta["total_pages"] = math.ceil(total / size) if size else 0
        else:
            data = body.get("data") or []
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        return cls(
            data if isinstance(data, list) else [data],
            meta,
            page_number=number,  # what we asked for, so the walk always moves forward
            page_size=page_size,
            fetch=fetch,
        )

    def has_next_page(self) -> bool:
        if not self.data or self._fetch is None:
            return False
        total_pages = _int(self.meta.get("total_pages"))
        if total_pages is not None:
            return self._page_number < total_pages
        # No meta: a full page may have a successor.
        return self._page_size is not None and len(self.data) >= self._page_size

    def next_page(self) -> Page | None:
        """The following page, or None after the last one."""
        if not self.has_next_page() or self._fetch is None:
            return None
        return self._fetch(self._page_number + 1)

    def iter_pages(self) -> Iterator[Page]:
        page: Page | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def auto_paging_iter(self) -> Iterator[Any]:
        for page in self.iter_pages():
            yield from page.data

    def __iter__(self) -> Iterator[Any]:
        return self.auto_paging_iter()

    def __repr__(self) -> str:
        return f"<Page {self._page_number} items={len(self.data)} meta={self.meta}>"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
