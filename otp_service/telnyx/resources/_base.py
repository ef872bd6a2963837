"""What every resource class shares: the client, and running an endpoint by operationId."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._endpoints import ENDPOINTS

if TYPE_CHECKING:
    from .._client import TelnyxClient

__all__ = ["Resource"]


class Resource:
    """A group of calls (``client.messages``); sub-groups hang off it as cached properties.

    Methods pass their ``locals()`` to ``_op``: their parameter names *are* the spec's
    path, query and body names, so nothing is spelt twice.
    """

    def __init__(self, client: TelnyxClient) -> None:
        self._client = client

    def _op(
        self, operation_id: str, arguments: dict[str, Any], *, filters: tuple[str, ...] = ()
    ) -> Any:
        return self._client._operation(ENDPOINTS[operation_id], arguments, filters)
