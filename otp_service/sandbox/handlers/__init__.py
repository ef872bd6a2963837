"""The handlers of the 69 Telnyx operations, one module per API area as in the adapter's
``otp_service/telnyx/resources/``; ``HANDLERS`` maps every operationId to its handler.

A handler gets ``(sandbox, Req, **path parameters)`` under the state lock and returns the
body (the operation's documented success status) or ``(body, status)``; it raises
``ApiError`` for Telnyx errors. ``api.py`` does everything around it.
"""

from __future__ import annotations

from types import ModuleType

from . import (
    alphanumeric_sender_ids,
    messages,
    messaging,
    messaging_hosted_number_orders,
    messaging_hosted_numbers,
    messaging_numbers_bulk_updates,
    messaging_optouts,
    messaging_profile_metrics,
    messaging_profiles,
    messaging_tollfree,
    messaging_url_domains,
    phone_numbers,
    short_codes,
)
from ._base import Handler, Req

__all__ = ["HANDLERS", "Handler", "Req"]

# the modules, named as in otp_service/telnyx/resources/
_AREAS: tuple[ModuleType, ...] = (
    alphanumeric_sender_ids,
    messages,
    messaging,
    messaging_hosted_number_orders,
    messaging_hosted_numbers,
    messaging_numbers_bulk_updates,
    messaging_optouts,
    messaging_profile_metrics,
    messaging_profiles,
    messaging_tollfree,
    messaging_url_domains,
    phone_numbers,
    short_codes,
)


def _merge() -> dict[str, Handler]:
    merged: dict[str, Handler] = {}
    for area in _AREAS:
        twice = merged.keys() & area.HANDLERS.keys()
        if twice:
            raise RuntimeError(f"{area.__name__} handles {sorted(twice)} again")
        merged.update(area.HANDLERS)
    return merged


HANDLERS = _merge()
