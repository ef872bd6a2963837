"""Redis Cluster hash slots, and one short hash tag for each of them.

The scripts that change a verification or a factor write their events into an outbox
stream (and their timers into a zset) in the same hash slot as what they change — a Lua
script may touch one slot only. On a cluster that is one stream per slot, named with a
tag that hashes to the slot (``otp:{<slot tag>}:x``); on one Redis there is no slot rule
and a single stream serves all.
"""

from __future__ import annotations

import binascii
import functools
import itertools

__all__ = ["SLOTS", "slot_of", "slot_tag", "slot_tags"]

SLOTS = 16384


def slot_of(tag: str) -> int:
    """The slot of a key whose hash tag is ``tag`` (CRC16/XMODEM, as Redis computes it)."""
    return binascii.crc_hqx(tag.encode(), 0) % SLOTS


@functools.cache
def slot_tags() -> tuple[str, ...]:
    """For each slot, the shortest hex number whose slot it is (built once: ~0.2 s)."""
    tags: list[str | None] = [None] * SLOTS
    left = SLOTS
    for i in itertools.count():
        name = format(i, "x")
        slot = slot_of(name)
        if tags[slot] is None:
            tags[slot] = name
            left -= 1
            if not left:
                return tuple(str(tag) for tag in tags)
    raise AssertionError("unreachable")


def slot_tag(tag: str) -> str:
    """The slot tag that shares ``tag``'s slot."""
    return slot_tags()[slot_of(tag)]
