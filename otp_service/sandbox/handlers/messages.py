"""``/messages``: the nine send operations (see ``traffic.py``), get, cancel a scheduled
message, group MMS, and the RCS deeplink.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .. import traffic
from ..core import Sandbox
from ..errors import not_found
from ._base import Handler, Handlers, Req, phone

__all__ = ["HANDLERS"]

HANDLERS = Handlers()


def _send(operation_id: str) -> Handler:
    def handler(sb: Sandbox, req: Req) -> Any:
        return traffic.send(sb, operation_id, req.path, req.body)

    return handler


HANDLERS.update({op: _send(op) for op in traffic.SEND_OPERATIONS})


@HANDLERS.on("GetMessage")
def get_message(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.get_message(id).data}


@HANDLERS.on("CancelMessage")
def cancel_message(sb: Sandbox, req: Req, id: str) -> Any:
    return traffic.cancel(sb, id)


@HANDLERS.on("GetGroupMmsMessages")
def get_group_messages(sb: Sandbox, req: Req, message_id: str) -> Any:
    message = sb.state.get_message(message_id)
    if message.endpoint != "/v2/messages/group_mms":
        raise not_found("group MMS message")
    return {"data": [message.data]}


@HANDLERS.on("GenerateRCSDeeplink")
def rcs_deeplink(sb: Sandbox, req: Req, agent_id: str) -> Any:
    sb.state.rcs_agents.get(agent_id)
    url = f"sms:{phone(req.query.get('phone_number')) or ''}?service_id={agent_id}%40rbm.goog"
    if req.query.get("body"):
        url += "&body=" + quote(req.query["body"])
    return {"data": {"url": url}}
