"""The SMS-pumping guard: velocity caps that stop bots from buying SMS on your account.

SMS pumping is fraud in which bots request codes for ranges of (often premium-rate)
numbers, so that the fraudster is paid per message. The guard caps sends:

    per number          per hour and per day       (create.lua, in the number's slot)
    per API key         per minute                 (guard.lua, slot {guard})
    per number prefix   per hour (the number without its last 4 digits)
    per country         per hour (of the destination)
    in all              per day
    per end user's IP   per hour (IPv6 by /64)     from the create's optional signals,
    per end user's device  per hour                as keyed digests (ids.SignalTagger)

The service's caps (OTP_LIMIT_*, mode OTP_GUARD_MODE) count every profile's sends; a
profile may add caps of its own (``ProfileSettings.guard``: the same kinds, its own mode),
counted over its sends alone and refused with the reason ``profile_<cap>``.

All are checked in the same round trip as the create: guard.lua and create.lua go out
in one batch, and whichever refuses, the other's counting is given back (undo.lua /
guard_refund.lua) in the round trip that follows. Every refusal is 429 ``rate_limited``
with ``Retry-After`` (the end of the window) and a ``reason`` naming the cap. In
``shadow`` mode nothing is refused: what would have been is logged and counted, to tune
the caps before enforcing them. A cap of 0 is no cap. The country allowlist
(OTP_ALLOWED_COUNTRIES) stands in front of all of this.
"""

from __future__ import annotations

import ipaddress

from otp_service.config import Settings
from otp_service.ids import DEFAULT_PROFILE, SignalTagger
from otp_service.profiles.settings import GuardLimits, ProfileSettings
from otp_service.store import GuardCounter, PhoneCaps, Store

__all__ = ["Guard", "ip_group"]

MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
NO_CAP = 10**9  # create.lua's unreachable cap


def ip_group(ip: str) -> str:
    """What one end user's IP counts as: an IPv4 address (an IPv4-mapped IPv6 one too),
    or an IPv6 address's /64, the block one subscriber usually holds whole."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.version == 4:
        return f"4:{address}"
    return f"6:{int(address) >> 64:016x}"


class Guard:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.signals = SignalTagger(settings.secret)

    @property
    def mode(self) -> str:
        return self.settings.guard_mode

    def counters(
        self,
        *,
        key_id: str,
        phone: str,
        country: str,
        now: int,
        profile: ProfileSettings | None = None,
        ip: str | None = None,
        device_id: str | None = None,
    ) -> list[GuardCounter]:
        """The shared counters a create for ``phone`` by ``key_id`` counts against: the
        service's, then its profile's own."""
        subjects = {
            "k": key_id,
            "p": phone[:-4],
            "c": country,
            "g": "all",
            # never in plain: a keyed digest of the /64 or address, and of the device id
            "i": self.signals.tag(ip_group(ip)) if ip else None,
            "d": self.signals.tag("device:" + device_id) if device_id else None,
        }
        s = self.settings
        out: list[GuardCounter] = []
        if s.guard_mode != "off":
            caps = [
                ("api_key_minute", "k", s.limit_key_minute, MINUTE),
                ("prefix_hourly", "p", s.limit_prefix_hour, HOUR),
                ("country_hourly", "c", s.limit_country_hour, HOUR),
                ("global_daily", "g", s.limit_global_day, DAY),
                ("ip_hourly", "i", s.limit_ip_hour, HOUR),
                ("device_hourly", "d", s.limit_device_hour, HOUR),
            ]
            out += self._counters(caps, subjects, now, s.guard_mode, DEFAULT_PROFILE)
        own = profile.guard if profile is not None else None
        if profile is not None and own is not None and own.mode != "off":
            caps = [
                ("profile_api_key_minute", "k", own.api_key_minute, MINUTE),
                ("profile_prefix_hourly", "p", own.prefix_hourly, HOUR),
                ("profile_country_hourly", "c", own.country_hourly, HOUR),
                ("profile_global_daily", "g", own.global_daily, DAY),
                ("profile_ip_hourly", "i", own.ip_hourly, HOUR),
                ("profile_device_hourly", "d", own.device_hourly, HOUR),
            ]
            out += self._counters(caps, subjects, now, own.mode, profile.id)
        return out

    def _counters(
        self,
        caps: list[tuple[str, str, int, int]],
        subjects: dict[str, str | None],
        now: int,
        mode: str,
        profile_id: str,
    ) -> list[GuardCounter]:
        out = []
        for reason, kind, limit, window in caps:
            subject = subjects[kind]
            if limit <= 0 or subject is None:
                continue
            start = now - now % window
            key = self.store.guard_key(kind, subject, start // window, profile_id)
            out.append(GuardCounter(reason, key, limit, start + window, mode))
        return out

    def phone_caps(self, now: int, profile: ProfileSettings | None = None) -> PhoneCaps:
        """create.lua's per-number caps (0 = no cap: an unreachable limit): the service's,
        and the profile's own."""
        s = self.settings
        own = profile.guard if profile is not None else None
        own = own or GuardLimits(mode="off")
        hour, day = now // HOUR, now // DAY
        return PhoneCaps(
            mode=self.mode,
            hour=hour,
            hour_cap=s.limit_phone_hour or NO_CAP,
            hour_end=(hour + 1) * HOUR,
            day=day,
            day_cap=s.limit_phone_day or NO_CAP,
            day_end=(day + 1) * DAY,
            profile_mode=own.mode,
            profile_hour_cap=own.phone_hourly or NO_CAP,
            profile_day_cap=own.phone_daily or NO_CAP,
        )
