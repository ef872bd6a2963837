"""``/messaging/rcs``: RCS agents (list, get, update), capabilities of numbers, test-number
invites. Landlines (the ``not_routable`` magic number) have no RCS features.
"""

from __future__ import annotations

from typing import Any

from ..core import Sandbox
from ..errors import associated_missing
from ..magic import magic_outcome
from ._base import Req, assign_profile
from ._collection import CollectionRoutes

__all__ = ["HANDLERS"]

_RCS_FEATURES = [
    "ACTION_CREATE_CALENDAR_EVENT",
    "ACTION_DIAL",
    "ACTION_OPEN_URL",
    "ACTION_SHARE_LOCATION",
    "ACTION_VIEW_LOCATION",
    "RICHCARD_CAROUSEL",
    "RICHCARD_STANDALONE",
]


def _capabilities(agent: dict[str, Any], number: str) -> dict[str, Any]:
    outcome = magic_outcome(number)
    landline = outcome is not None and outcome.name == "not_routable"
    return {
        "record_type": "rcs.capabilities",
        "agent_id": agent["agent_id"],
        "agent_name": agent["agent_name"],
        "phone_number": number,
        "features": [] if landline else list(_RCS_FEATURES),
    }


def _agent_changes(sb: Sandbox, agent: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    changes = {k: v for k, v in body.items() if k in ("webhook_url", "webhook_failover_url")}
    if "profile_id" in body:
        changes["profile_id"] = assign_profile(sb, body["profile_id"], "profile_id")
    return changes


HANDLERS = CollectionRoutes(
    "rcs_agents",
    list_op="ListRCSAgents",
    get_op="GetRCSAgentById",
    update_op="UpdateRCSAgentById",
    changes=_agent_changes,
).handlers()


@HANDLERS.on("ListRCSCapabilitiesOfAPhoneNumbersBatch")
def rcs_bulk_capabilities(sb: Sandbox, req: Req) -> Any:
    agent = sb.state.rcs_agents.find(req.body["agent_id"])
    if agent is None:
        raise associated_missing("agent_id", "RCS agent")
    return {"data": [_capabilities(agent, n) for n in req.body["phone_numbers"]]}


@HANDLERS.on("ListRCSCapabilitiesOfAPhoneNumber")
def rcs_capabilities(sb: Sandbox, req: Req, agent_id: str, phone_number: str) -> Any:
    return {"data": _capabilities(sb.state.rcs_agents.get(agent_id), phone_number)}


@HANDLERS.on("InviteATestNumberToRCS")
def rcs_invite(sb: Sandbox, req: Req, id: str, phone_number: str) -> Any:
    agent = sb.state.rcs_agents.get(id)
    return {
        "data": {
            "record_type": "rcs.test_number_invite",
            "agent_id": agent["agent_id"],
            "phone_number": phone_number,
            "status": "pending",
        }
    }
