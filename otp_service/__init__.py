"""otp-service: one-time codes over SMS and WhatsApp through Telnyx, on your own machines.

``create_app`` (in ``api``) builds the WSGI app; ``build_services`` (in ``services``) the
services it and the CLI use. Both are loaded on first use, so that the CLI, the sandbox
and the Telnyx adapter do not import Flask and the whole service to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otp_service.api import create_app
    from otp_service.services import Services, build_services

__all__ = ["Services", "build_services", "create_app"]


def __getattr__(name: str) -> Any:
    # imported here, not at the top: keeps `import otp_service.<anything>` cheap (see above)
    if name == "create_app":
        from otp_service.api import create_app

        return create_app
    if name in ("Services", "build_services"):
        from otp_service import services

        return getattr(services, name)
    raise AttributeError(f"module 'otp_service' has no attribute {name!r}")
