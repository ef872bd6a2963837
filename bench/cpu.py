"""Who used the CPUs during a measurement: the bench's own processes, or something else.

Ratios cancel a slow machine, not a machine whose load changes from one second to the
next. ``CpuMeter`` reads ``/proc`` (Linux) around each run and reports how much of the
machine went to processes outside the bench (its own process and everything it
started), so a reader can tell a real regression from a busy neighbour.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CpuMeter"]

_PROC = Path("/proc")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot."""
    try:
        fields = [int(v) for v in (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, user + system jiffies) of every process."""
    table = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def _own_ticks(root: int) -> int:
    """CPU jiffies of ``root`` and all its descendants (live ones)."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += table.get(pid, (0, 0))[1]
        stack.extend(children.get(pid, []))
    return total


class CpuMeter:
    """``start()`` before a run, ``stop()`` after: (the share of all CPUs that processes
    outside the bench used meanwhile, 0.0-1.0; the CPU seconds the bench's own processes
    used), or (None, None) where /proc is not there."""

    def __init__(self) -> None:
        self.available = _machine_ticks() is not None
        self._start: tuple[int, int, int] | None = None

    def start(self) -> None:
        machine = _machine_ticks() if self.available else None
        if machine is not None:
            self._start = (*machine, _own_ticks(os.getpid()))

    def stop(self) -> tuple[float | None, float | None]:
        machine = _machine_ticks() if self.available else None
        if machine is None or self._start is None:
            return None, None
        busy0, total0, own0 = self._start
        busy, total = machine
        elapsed = total - total0
        own = _own_ticks(os.getpid()) - own0
        others = max(0.0, min(1.0, (busy - busy0 - own) / elapsed)) if elapsed > 0 else None
        return others, own / _TICKS_PER_SECOND
