"""The text of the message that carries a code."""

from __future__ import annotations

__all__ = ["render_text"]

TEMPLATE = "{code} is your {app_name} verification code. It expires in {minutes} minutes."


def render_text(*, code: str, app_name: str, ttl_seconds: int, locale: str | None = None) -> str:
    minutes = max(1, ttl_seconds // 60)
    return TEMPLATE.format(code=code, app_name=app_name, minutes=minutes)
