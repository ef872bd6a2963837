"""``/messaging_url_domains``: the seeded link-shortener domains (list only)."""

from __future__ import annotations

from ._collection import CollectionRoutes

__all__ = ["HANDLERS"]

HANDLERS = CollectionRoutes("url_domains", list_op="ListMessagingUrlDomains").handlers()
