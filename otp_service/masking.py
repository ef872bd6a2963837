"""What logs may show of personal data: phone numbers masked, never codes or keys."""

from __future__ import annotations

__all__ = ["mask_phone"]


def mask_phone(phone: str) -> str:
    """``+13125550123`` → ``+1312***0123``: enough to tell numbers apart in logs."""
    if len(phone) < 9:
        return "***"
    return f"{phone[:5]}***{phone[-4:]}"
