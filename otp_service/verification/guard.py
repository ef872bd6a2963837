"""The SMS-pumping guard: velocity caps that stop bots from buying SMS on your account.

SMS pumping is fraud in which bots request codes for ranges of (often premium-rate)
numbers, so that the fraudster is paid per message. The guard caps sends:

    per number          per hour and per day       (create.lua, in the number's hash)
    per API key         per minute                 (guard.lua, slot {guard})
    per number prefix   per hour (the number without its last 4 digits)
    per country         per hour (of the destination)
    in all              per day

All are checked in the same round trip as the create: guard.lua and create.lua go out
in one batch, and whichever refuses, the other's counting is given back (undo.lua /
guard_refund.lua) in the round trip that follows. Every refusal is 429 ``rate_limited``
with ``Retry-After`` (the end of the window) and a ``reason`` naming the cap. In
``shadow`` mode nothing is refused: what would have been is logged and counted, to tune
the caps before enforcing them. A cap of 0 is no cap. The country allowlist
(OTP_ALLOWED_COUNTRIES) stands in front of all of this.
"""

from __future__ import annotations

from otp_service.config import Settings
from otp_service.store import GuardCounter, PhoneCaps, Store

__all__ = ["Guard"]

MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000


class Guard:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    @property
    def mode(self) -> str:
        return self.settings.guard_mode

    def counters(self, *, key_id: str, phone: str, country: str, now: int) -> list[GuardCounter]:
        """The shared counters a create for ``phone`` by ``key_id`` counts against."""
        if self.mode == "off":
            return []
        s = self.settings
        caps = [
            ("api_key_minute", "k", key_id, s.limit_key_minute, MINUTE),
            ("prefix_hourly", "p", phone[:-4], s.limit_prefix_hour, HOUR),
            ("country_hourly", "c", country, s.limit_country_hour, HOUR),
            ("global_daily", "g", "all", s.limit_global_day, DAY),
        ]
        out = []
        for reason, kind, subject, limit, window in caps:
            if limit <= 0:
                continue
            start = now - now % window
            key = self.store.guard_key(kind, subject, start // window)
            out.append(GuardCounter(reason, key, limit, start + window))
        return out

    def phone_caps(self, now: int) -> PhoneCaps:
        """create.lua's per-number caps (0 = no cap: an unreachable limit)."""
        s = self.settings
        hour, day = now // HOUR, now // DAY
        return PhoneCaps(
            mode=self.mode,
            hour=hour,
            hour_cap=s.limit_phone_hour or 10**9,
            hour_end=(hour + 1) * HOUR,
            day=day,
            day_cap=s.limit_phone_day or 10**9,
            day_end=(day + 1) * DAY,
        )
