"""The standard operations on one collection of the state (list with paging, get, create,
update, delete), written once and configured per API area by data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core import Sandbox
from ..state import Collection
from ._base import Handlers, Req, listing

__all__ = ["CollectionRoutes"]

Obj = dict[str, Any]
# the collection a request works on, from its path parameters (auto-response configs)
Scope = Callable[[Sandbox, Mapping[str, str]], Collection]


@dataclass(frozen=True)
class CollectionRoutes:
    """Which operationIds serve ``collection`` and how objects are made, changed and removed.

    ``collection`` is a ``SandboxState`` attribute name, or a function of the path
    parameters for nested collections. ``build`` turns a create body into a new object,
    ``changes`` an update body into the changes for the current object; both raise
    ``ApiError`` when the body is wrong. ``deleted`` does what else goes with a removal and
    answers; by default the answer is the removed object.
    """

    collection: str | Scope
    list_op: str | None = None
    get_op: str | None = None
    create_op: str | None = None
    update_op: str | None = None
    delete_op: str | None = None
    id_param: str = "id"
    wrap: bool = True  # {"data": obj}; toll-free verification answers the bare object
    select: Callable[[Req, list[Obj]], list[Obj]] | None = None  # list filters and sort
    build: Callable[[Sandbox, Obj], Obj] | None = None
    changes: Callable[[Sandbox, Obj, Obj], Obj] | None = None
    deleted: Callable[[Sandbox, Obj], Any] | None = None

    def handlers(self) -> Handlers:
        """The handlers for the operations given, by operationId."""
        routes = Handlers()
        for operation_id, handler in (
            (self.list_op, self._list),
            (self.get_op, self._get),
            (self.create_op, self._create),
            (self.update_op, self._update),
            (self.delete_op, self._delete),
        ):
            if operation_id is not None:
                routes[operation_id] = handler
        return routes

    def _items(self, sb: Sandbox, path: Mapping[str, str]) -> Collection:
        if isinstance(self.collection, str):
            return getattr(sb.state, self.collection)
        return self.collection(sb, path)

    def _answer(self, obj: Obj) -> Any:
        return {"data": obj} if self.wrap else obj

    def _list(self, sb: Sandbox, req: Req, **path: str) -> Any:
        items = list(self._items(sb, path))
        return listing(sb, req, self.select(req, items) if self.select else items)

    def _get(self, sb: Sandbox, req: Req, **path: str) -> Any:
        return self._answer(self._items(sb, path).get(path[self.id_param]))

    def _create(self, sb: Sandbox, req: Req, **path: str) -> Any:
        assert self.build is not None
        items = self._items(sb, path)
        return self._answer(items.add(self.build(sb, req.body)))

    def _update(self, sb: Sandbox, req: Req, **path: str) -> Any:
        assert self.changes is not None
        items, ident = self._items(sb, path), path[self.id_param]
        current = items.get(ident)  # 404 before any complaint about the body
        return self._answer(items.update(ident, self.changes(sb, current, req.body)))

    def _delete(self, sb: Sandbox, req: Req, **path: str) -> Any:
        obj = self._items(sb, path).delete(path[self.id_param])
        return self.deleted(sb, obj) if self.deleted else self._answer(obj)
