"""Speed: where Flask's own way costs more than it must on every request.

Each shortcut says what it replaces and what it saves; ``tests/api/test_shortcuts.py``
pins the library behaviour each relies on, so an upgrade that changes it fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

__all__ = ["App"]


class App(Flask):
    """Flask, remembering which hooks and views it may call as they are.

    Replaces ``Flask.ensure_sync``'s ``inspect`` check of every hook and view (half a
    dozen a request, each answer never changing for a function) with one dict lookup.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._callables: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._callables[func]
        except KeyError:
            synced = self._callables[func] = super().ensure_sync(func)
            return synced
