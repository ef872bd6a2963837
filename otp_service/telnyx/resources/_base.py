"""What every resource class shares: the client, and running an endpoint by operationId."""

from __future__ import annotations

from typing import Any, Protocol

from .._endpoints import ENDPOINTS, Endpoint

__all__ = ["Resource"]


class Operations(Protocol):
    """What a resource needs of the client (``TelnyxClient``): running one endpoint."""

    def _operation(
        self, endpoint: Endpoint, arguments: dict[str, Any], filters: tuple[str, ...]
    ) -> Any: ...


class Resource:
    """A group of calls (``client.messages``); sub-groups hang off it as cached properties.

    Methods pass their ``locals()`` to ``_op``: their parameter names *are* the spec's
    path, query and body names, so nothing is spelt twice.
    """

    def __init__(self, client: Operations) -> None:
        self._client = client

    def _op(
        self, operation_id: str, arguments: dict[str, Any], *, filters: tuple[str, ...] = ()
    ) -> Any:
        return self._client._operation(ENDPOINTS[operation_id], arguments, filters)
