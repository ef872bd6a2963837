"""Verify profiles: several apps on one service, each with its own settings and keys.

``settings`` holds what a profile may change and how it falls back on the service-wide
environment settings (the profile ``default``).
"""

from otp_service.profiles.settings import DEFAULT_PROFILE, OVERRIDABLE, ProfileSettings, effective

__all__ = ["DEFAULT_PROFILE", "OVERRIDABLE", "ProfileSettings", "effective"]
