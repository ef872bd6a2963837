"""Routing that learns: a route marked ``"order": "adaptive"`` sends through its sender that
converts best (approved ÷ sent, per profile × country × sender × channel, from the
insights counters), after a minimum sample, with a small exploration share.

The counters are read every ``REFRESH_SECONDS`` by a thread of the process (never on the
request: a create stays two Redis round trips), and only once a route asks for them.
Only the route's configured senders are ever chosen. A number pool (a sender without a
``from``) is measured over every number it sent from: its messaging profile is in its key.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from otp_service.delivery.senders import Sender

__all__ = ["AdaptiveRanker", "RouteOrder", "RouteStats", "parse_sender_key", "sender_key"]

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30
CONFIGURED = "configured order"
EXPLORATION = "exploration"

# (profile, country, channel) -> sender key ("type:from") -> (sent, approved)
RouteStats = Mapping[tuple[str, str, str], Mapping[str, tuple[float, float]]]


@dataclass(frozen=True)
class RouteOrder:
    """How a route orders its senders: ``adaptive`` with its sample and exploration."""

    order: str = "adaptive"
    min_sends: int = 100  # sends of every sender, in the window, before any reordering
    exploration: float = 0.05  # share of sends through another sender than the best


def sender_key(kind: str, from_: str | None, messaging_profile_id: str | None = None) -> str:
    """A sender as the insights name it: ``type:from``, and for a number pool its messaging
    profile too (``number_pool:+13125550111:<uuid>``), so two pools of a route stay apart."""
    key = f"{kind}:{from_ or ''}"
    if kind == "number_pool" and messaging_profile_id:
        key += f":{messaging_profile_id}"
    return key


def parse_sender_key(key: str) -> tuple[str, str | None, str | None]:
    """(type, from, a number pool's messaging profile) of a ``sender_key``."""
    kind, _, rest = key.partition(":")
    from_, _, pool = rest.partition(":")
    return kind, from_ or None, pool or None


class AdaptiveRanker:
    def __init__(
        self,
        read: Callable[[], RouteStats],
        *,
        clock: Callable[[], float] = time.time,
        refresh_seconds: float = REFRESH_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        self.read = read
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.rng = rng or random.Random()
        self.stats: RouteStats = {}
        self.loaded_at: float | None = None
        self._lock = threading.Lock()
        self._refreshing = False

    def refresh(self) -> None:
        """Read the counters now."""
        stats = self.read()
        with self._lock:
            self.stats, self.loaded_at = stats, self.clock()

    def _refresh_in_background(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # a Redis outage: keep ranking on what was read
            log.warning("route statistics not refreshed: %s", type(exc).__name__)
        finally:
            with self._lock:
                self._refreshing = False

    def _maybe_refresh(self) -> None:
        with self._lock:
            due = self.loaded_at is None or self.clock() - self.loaded_at >= self.refresh_seconds
            if not due or self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh_in_background, daemon=True).start()

    def measured(
        self, profile: str, country: str, channel: str, sender: Sender
    ) -> tuple[float, float]:
        """(sent, approved) of ``sender`` on this route."""
        route = self.stats.get((profile, country, channel), {})
        if sender.from_:
            return route.get(sender_key(sender.type, sender.from_), (0.0, 0.0))
        pool = [
            v
            for k, v in route.items()
            if parse_sender_key(k)[::2] == (sender.type, sender.messaging_profile_id)
        ]
        return sum(v[0] for v in pool), sum(v[1] for v in pool)

    def order(
        self,
        profile: str,
        country: str,
        channel: str,
        senders: tuple[Sender, ...],
        rule: RouteOrder,
    ) -> tuple[tuple[Sender, ...], str]:
        """The senders in the order to try them, and why the first one."""
        self._maybe_refresh()
        if len(senders) < 2:
            return senders, CONFIGURED
        measured = [self.measured(profile, country, channel, s) for s in senders]
        ranked, reason = list(senders), CONFIGURED
        if all(sent >= rule.min_sends for sent, _ in measured):
            rates = {
                s: approved / sent for s, (sent, approved) in zip(senders, measured, strict=True)
            }
            ranked.sort(key=lambda s: -rates[s])  # stable: ties keep the configured order
            sent = measured[senders.index(ranked[0])][0]
            reason = f"adaptive: conversion {rates[ranked[0]]:.2f} over {int(sent)} sends"
        if self.rng.random() < rule.exploration:
            chosen = self.rng.choice(ranked[1:])
            ranked.remove(chosen)
            ranked.insert(0, chosen)
            reason = EXPLORATION
        return tuple(ranked), reason
