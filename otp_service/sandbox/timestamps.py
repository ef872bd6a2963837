"""Timestamps as Telnyx writes them (RFC 3339, milliseconds, ``Z``).

A leaf module: the seed, the state and the webhook log all stamp objects with it.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso", "now_iso", "parse_iso"]


def iso(moment: datetime) -> str:
    """RFC 3339 with milliseconds and ``Z``, as Telnyx writes timestamps."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def now_iso() -> str:
    """The current time in Telnyx's format."""
    return iso(datetime.now(UTC))


def parse_iso(value: str) -> datetime:
    """A timestamp the spec accepts (``Z`` or an offset; naive means UTC)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
