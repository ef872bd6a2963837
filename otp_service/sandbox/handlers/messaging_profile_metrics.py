"""``/messaging_profile_metrics`` and ``/messaging_profiles/{id}/metrics``: counts computed
from the messages the sandbox has seen, one shared computation for both.
"""

from __future__ import annotations

from typing import Any

from ..core import Sandbox
from ._base import Handlers, Req, unpaged

__all__ = ["HANDLERS"]

HANDLERS = Handlers()


def _profile_metrics(sb: Sandbox, profile: dict[str, Any], time_frame: str) -> dict[str, Any]:
    sent = [
        m for m in sb.state.messages.values() if m.data.get("messaging_profile_id") == profile["id"]
    ]
    outbound = [m for m in sent if m.data["direction"] == "outbound"]
    delivered = sum(1 for m in outbound if m.status == "delivered")
    failed = sum(1 for m in outbound if m.status in ("delivery_failed", "sending_failed"))
    return {
        "messaging_profile_id": profile["id"],
        "name": profile["name"],
        "time_frame": time_frame,
        "phone_numbers": len(sb.state.profile_numbers(profile["id"])),
        "outbound": {
            "sent": len(outbound),
            "delivered": delivered,
            "failed": failed,
            "delivery_rate": round(delivered / len(outbound), 4) if outbound else 0.0,
        },
        "inbound": {"received": len(sent) - len(outbound)},
    }


@HANDLERS.on("GetProfileMetrics")
def profile_metrics(sb: Sandbox, req: Req) -> Any:
    time_frame = req.query.get("time_frame", "24h")
    items = [_profile_metrics(sb, p, time_frame) for p in sb.state.profiles]
    return unpaged(items)


@HANDLERS.on("GetDetailedProfileMetrics")
def detailed_profile_metrics(sb: Sandbox, req: Req, id: str) -> Any:
    profile = sb.state.profiles.get(id)
    overview = _profile_metrics(sb, profile, req.query.get("time_frame", "24h"))
    return {"data": {**overview, "overview": overview["outbound"], "detailed": []}}
