"""Verify profiles: several apps on one service, each with its own settings and keys.

``settings`` holds what a profile may change and how it falls back on the service-wide
environment settings (the profile ``default``); ``model`` a stored profile, its checks
and its preview; ``keys`` the keys and every process's cache of them (``KeyRing``);
``service`` what operators and requests call (``ProfileService``); ``purge`` the worker's
removal of a deleted profile's data.
"""

from otp_service.profiles.keys import KeyRing
from otp_service.profiles.service import ProfileService
from otp_service.profiles.settings import DEFAULT_PROFILE, OVERRIDABLE, ProfileSettings, effective

__all__ = [
    "DEFAULT_PROFILE",
    "OVERRIDABLE",
    "KeyRing",
    "ProfileService",
    "ProfileSettings",
    "effective",
]
