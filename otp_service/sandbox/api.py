"""The 69 Telnyx operations under ``/v2``, one small handler each, registered from the spec.

Every request goes: injected fault (``X-Sandbox-*`` headers, else the fault queue) →
Bearer auth (401, 10009) → route (404, 10005) → query and body validation against the
spec (422, or 400 where the spec documents only 400) → handler under the state lock →
deep copy of the answer → optional held-back latency. Path ids also accept the phone
number for number resources; a "+" that a query string turned into a space is restored.
Handlers return the response body (the operation's documented success status) or
``(body, status)`` and raise ``ApiError`` for Telnyx errors.
"""

from __future__ import annotations

import copy
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from . import traffic as msgs
from .core import Sandbox, current_sandbox, json_response
from .errors import ApiError, associated_missing, not_found, unauthorized
from .faults import fault_from_headers
from .magic import magic_outcome
from .seed import ORGANIZATION_ID, number_object, profile_object, tollfree_request
from .spec import Operation, operations
from .state import Collection, paginate
from .timestamps import now_iso, parse_iso

__all__ = ["HANDLERS", "init_app"]

log = logging.getLogger("otp_service.sandbox")


@dataclass
class Req:
    """What a handler gets: the validated query, the parsed body, and the raw request bits."""

    op: Operation
    query: dict[str, Any]
    body: Any
    args: Mapping[str, str]
    path: str
    files: Mapping[str, Any]


Handler = Callable[..., Any]
HANDLERS: dict[str, Handler] = {}


def handles(operation_id: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[operation_id] = fn
        return fn

    return register


# plumbing ----------------------------------------------------------------------------
def init_app(app: Flask) -> None:
    ops = {op.operation_id: op for op in operations()}
    missing = set(ops) - set(HANDLERS)
    if missing:
        raise RuntimeError(f"no sandbox handler for {sorted(missing)}")
    for op in ops.values():
        app.add_url_rule(op.rule, endpoint=op.operation_id, view_func=_view, methods=[op.method])
    app.extensions["sandbox_ops"] = ops
    app.before_request(_before)
    app.after_request(_after)
    app.register_error_handler(ApiError, _render_api_error)
    app.register_error_handler(HTTPException, _render_http_error)
    app.register_error_handler(Exception, _render_crash)


def _current_op() -> Operation | None:
    rule = request.url_rule
    if rule is None:
        return None
    return current_app.extensions["sandbox_ops"].get(rule.endpoint)


def _before() -> None:
    if not request.path.startswith("/v2"):
        return
    sb = current_sandbox()
    # A fault asked for in this request's headers wins; the queue is left for the next one.
    fault = fault_from_headers(request.headers, sb.config.timeout_fault_seconds)
    fault = fault or sb.faults.take(request.path)
    g.sandbox_delay = 0.0
    if fault is not None:
        if fault.status is not None:
            sb.hold(fault.latency_ms / 1000)
            raise fault.error()
        g.sandbox_delay = fault.latency_ms / 1000
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), sb.config.api_key.encode()
    ):
        raise unauthorized()


def _after(response: Response) -> Response:
    delay = g.get("sandbox_delay", 0.0)
    if delay:
        current_sandbox().hold(delay)
    return response


def _read_body(op: Operation) -> Any:
    if op.body_content_type == "multipart/form-data":
        return dict(request.form)
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError.one(
            400, "10015", "Bad Request", "The request body is not valid JSON."
        ) from None


def _view(**path: str) -> Response:
    sb = current_sandbox()
    op = _current_op()
    assert op is not None
    validator = sb.validators[op.operation_id]
    query = validator.parse_query(request.args)
    body = _read_body(op) if op.body_content_type else {}
    validator.check_body(body)
    req = Req(op, query, body, request.args, request.path, request.files)
    with sb.state.lock:
        result = HANDLERS[op.operation_id](sb, req, **path)
        status = op.success_status
        if isinstance(result, tuple):
            result, status = result
        result = copy.deepcopy(result)
    if result is None:
        return Response(status=status)
    return json_response(result, status)


def _render_api_error(err: ApiError) -> Response:
    body: dict[str, Any] = {"errors": err.errors}
    op = _current_op()
    if op is not None and err.status in op.bare_error_statuses and err.errors:
        # The spec documents a bare error object here; keep "errors" for clients too.
        body = {**err.errors[0], "errors": err.errors}
    return json_response(body, err.status, err.headers)


def _render_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        return _render_api_error(not_found("resource or URL"))
    if status == 405:
        return _render_api_error(
            ApiError.one(405, "10015", "Method not allowed", f"{request.method} is not allowed.")
        )
    return _render_api_error(ApiError.one(status, "10015", exc.name, exc.description))


def _render_crash(exc: Exception) -> Response:
    log.exception("sandbox handler crashed")
    return _render_api_error(
        ApiError.one(500, "10007", "Unexpected error", f"{type(exc).__name__}: {exc}")
    )


# shared helpers ------------------------------------------------------------------------
def _page(sb: Sandbox, req: Req) -> tuple[int, int]:
    q = req.query
    default = sb.config.default_page_size
    if isinstance(q.get("page"), dict):
        number, size = q["page"].get("number", 1), q["page"].get("size", default)
    elif isinstance(q.get("page"), int):  # toll-free verification: page & page_size
        number, size = q["page"], q.get("page_size", default)
    else:
        number, size = q.get("page[number]", 1), q.get("page[size]", default)
    for name, value in (("page[number]", number), ("page[size]", size)):
        if value < 1:
            raise ApiError.one(
                req.op.validation_status,
                "10015",
                "Bad Request",
                f"'{name}' must be at least 1.",
                parameter=name,
            )
    return number, min(size, 250)


def _listing(sb: Sandbox, req: Req, items: list[Any]) -> dict[str, Any]:
    page, meta = paginate(items, *_page(sb, req))
    return {"data": page, "meta": meta}


def _filter(req: Req, name: str) -> Any:
    """``filter[name]`` whether the spec declares it plainly or as a deepObject."""
    deep = req.query.get("filter")
    if isinstance(deep, dict) and name in deep:
        return deep[name]
    return req.query.get(f"filter[{name}]")


def _phone(value: str | None) -> str | None:
    """'+' in a query string arrives as a space; give it back."""
    if value is None:
        return None
    value = value.strip()
    return "+" + value if value.isdigit() and len(value) > 6 else value


def _sorted_numbers(req: Req, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = req.query.get("sort[phone_number]")
    if order:
        items = sorted(items, key=lambda n: n["phone_number"], reverse=order == "desc")
    return items


def _number_filters(req: Req, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    profile_id = _filter(req, "messaging_profile_id")
    number = _phone(_filter(req, "phone_number"))
    contains = req.query.get("filter[phone_number][contains]")
    kind = req.query.get("filter[type]")
    return _sorted_numbers(
        req,
        [
            n
            for n in items
            if (profile_id is None or n.get("messaging_profile_id") == profile_id)
            and (number is None or n["phone_number"] == number)
            and (contains is None or contains.strip() in n["phone_number"])
            and (kind is None or n.get("type") == kind)
        ],
    )


def _profile_or_404(sb: Sandbox, ident: str) -> dict[str, Any]:
    return sb.state.profiles.get(ident)


def _assign_profile(sb: Sandbox, value: Any, field: str = "messaging_profile_id") -> str | None:
    """A profile id to store: "" (or null) unassigns; anything else must exist."""
    if value in ("", None):
        return None
    if sb.state.profiles.find(str(value)) is None:
        raise associated_missing(field, "messaging profile")
    return str(value)


def _in_range(stamp: str, gte: str | None, lte: str | None) -> bool:
    moment = parse_iso(stamp)
    return (gte is None or moment >= parse_iso(gte)) and (lte is None or moment <= parse_iso(lte))


def _check_e164(numbers: list[Any], pointer: str) -> None:
    for index, number in enumerate(numbers):
        if not isinstance(number, str) or not msgs.E164.match(number):
            raise ApiError.one(
                422,
                "10016",
                "Phone number must be in +E.164 format",
                f"'{number}' is not a +E.164 phone number.",
                pointer=f"{pointer}/{index}",
            )


# alphanumeric sender IDs --------------------------------------------------------------
@handles("ListAlphanumericSenderIds")
def list_alphanumeric_ids(sb: Sandbox, req: Req) -> Any:
    profile_id = _filter(req, "messaging_profile_id")
    items = [
        a
        for a in sb.state.alphanumeric_ids
        if profile_id is None or a["messaging_profile_id"] == profile_id
    ]
    return _listing(sb, req, items)


@handles("CreateAlphanumericSenderId")
def create_alphanumeric_id(sb: Sandbox, req: Req) -> Any:
    body = req.body
    profile_id = _assign_profile(sb, body["messaging_profile_id"])
    sender = body["alphanumeric_sender_id"]
    valid = 1 <= len(sender) <= 11 and all(
        c.isascii() and (c.isalnum() or c == " ") for c in sender
    )
    if not valid or not any(c.isalpha() for c in sender):
        raise ApiError.one(
            422,
            "10015",
            "Bad Request",
            "An alphanumeric sender ID is 1-11 letters, digits or spaces, with a letter.",
            pointer="/alphanumeric_sender_id",
        )
    for existing in sb.state.alphanumeric_ids:
        if (existing["alphanumeric_sender_id"], existing["messaging_profile_id"]) == (
            sender,
            profile_id,
        ):
            raise ApiError.one(
                422,
                "10012",
                "Duplicate resource",
                "The messaging profile already has this sender ID.",
                pointer="/alphanumeric_sender_id",
            )
    obj = {
        "record_type": "alphanumeric_sender_id",
        "id": sb.state.new_uuid(),
        "alphanumeric_sender_id": sender,
        "messaging_profile_id": profile_id,
        "organization_id": ORGANIZATION_ID,
    }
    if body.get("us_long_code_fallback"):
        obj["us_long_code_fallback"] = body["us_long_code_fallback"]
    return {"data": sb.state.alphanumeric_ids.add(obj)}


@handles("GetAlphanumericSenderId")
def get_alphanumeric_id(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.alphanumeric_ids.get(id)}


@handles("DeleteAlphanumericSenderId")
def delete_alphanumeric_id(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.alphanumeric_ids.delete(id)}


# messages -----------------------------------------------------------------------------
def _send(operation_id: str) -> Handler:
    def handler(sb: Sandbox, req: Req) -> Any:
        return msgs.send(sb, operation_id, req.path, req.body)

    return handler


for _operation_id in msgs.SEND_OPERATIONS:
    HANDLERS[_operation_id] = _send(_operation_id)


@handles("GetMessage")
def get_message(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.get_message(id).data}


@handles("CancelMessage")
def cancel_message(sb: Sandbox, req: Req, id: str) -> Any:
    return msgs.cancel(sb, id)


@handles("GetGroupMmsMessages")
def get_group_messages(sb: Sandbox, req: Req, message_id: str) -> Any:
    message = sb.state.get_message(message_id)
    if message.endpoint != "/v2/messages/group_mms":
        raise not_found("group MMS message")
    return {"data": [message.data]}


@handles("GenerateRCSDeeplink")
def rcs_deeplink(sb: Sandbox, req: Req, agent_id: str) -> Any:
    sb.state.rcs_agents.get(agent_id)
    url = f"sms:{_phone(req.query.get('phone_number')) or ''}?service_id={agent_id}%40rbm.goog"
    if req.query.get("body"):
        url += "&body=" + quote(req.query["body"])
    return {"data": {"url": url}}


# RCS ----------------------------------------------------------------------------------
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


@handles("ListRCSAgents")
def list_rcs_agents(sb: Sandbox, req: Req) -> Any:
    return _listing(sb, req, list(sb.state.rcs_agents))


@handles("GetRCSAgentById")
def get_rcs_agent(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.rcs_agents.get(id)}


@handles("UpdateRCSAgentById")
def update_rcs_agent(sb: Sandbox, req: Req, id: str) -> Any:
    sb.state.rcs_agents.get(id)
    changes = {k: v for k, v in req.body.items() if k in ("webhook_url", "webhook_failover_url")}
    if "profile_id" in req.body:
        changes["profile_id"] = _assign_profile(sb, req.body["profile_id"], "profile_id")
    return {"data": sb.state.rcs_agents.update(id, changes)}


@handles("ListRCSCapabilitiesOfAPhoneNumbersBatch")
def rcs_bulk_capabilities(sb: Sandbox, req: Req) -> Any:
    agent = sb.state.rcs_agents.find(req.body["agent_id"])
    if agent is None:
        raise associated_missing("agent_id", "RCS agent")
    return {"data": [_capabilities(agent, n) for n in req.body["phone_numbers"]]}


@handles("ListRCSCapabilitiesOfAPhoneNumber")
def rcs_capabilities(sb: Sandbox, req: Req, agent_id: str, phone_number: str) -> Any:
    return {"data": _capabilities(sb.state.rcs_agents.get(agent_id), phone_number)}


@handles("InviteATestNumberToRCS")
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


# hosted numbers -----------------------------------------------------------------------
HOSTED_VERIFICATION_CODE = "123456"  # the code every hosted-number verification "sends"


@handles("ListMessagingHostedNumberOrders")
def list_hosted_orders(sb: Sandbox, req: Req) -> Any:
    return _listing(sb, req, list(sb.state.hosted_orders))


@handles("CreateMessagingHostedNumberOrder")
def create_hosted_order(sb: Sandbox, req: Req) -> Any:
    numbers = req.body.get("phone_numbers") or []
    _check_e164(numbers, "/phone_numbers")
    profile_id = _assign_profile(sb, req.body.get("messaging_profile_id"))
    order = {
        "record_type": "messaging_hosted_number_order",
        "id": sb.state.new_uuid(),
        "messaging_profile_id": profile_id,
        "status": "pending",
        "phone_numbers": [
            {
                "record_type": "messaging_hosted_number",
                "id": sb.state.new_uuid(),
                "phone_number": n,
                "status": "pending",
            }
            for n in numbers
        ],
    }
    return {"data": sb.state.hosted_orders.add(order)}


@handles("CheckEligibilityNumbers")
def check_eligibility(sb: Sandbox, req: Req) -> Any:
    results = []
    seen: set[str] = set()
    for number in req.body["phone_numbers"]:
        if not isinstance(number, str) or not msgs.E164.match(number):
            status, detail = "NUMBER_IS_NOT_IN_E164_FORMAT", "The number is not +E.164."
        elif number in seen:
            status, detail = "NUMBER_CAN_NOT_BE_REPEATED", "The number is listed twice."
        elif not number.startswith("+1"):
            status, detail = "NUMBER_IS_NOT_A_US_NUMBER", "Only US numbers can be hosted."
        elif sb.state.sender_number(number) is not None:
            status, detail = (
                "NUMBER_CAN_NOT_BE_ACTIVE_IN_YOUR_ACCOUNT",
                "The number is already active in your account.",
            )
        else:
            status, detail = "ELIGIBLE", "The number can be hosted."
        seen.add(str(number))
        results.append(
            {
                "phone_number": number,
                "eligible": status == "ELIGIBLE",
                "eligible_status": status,
                "detail": detail,
            }
        )
    return {"phone_numbers": results}


@handles("GetMessagingHostedNumberOrder")
def get_hosted_order(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.hosted_orders.get(id)}


@handles("DeleteMessagingHostedNumberOrder")
def delete_hosted_order(sb: Sandbox, req: Req, id: str) -> Any:
    order = sb.state.hosted_orders.delete(id)
    order["status"] = "deleted"
    return {"data": order}


@handles("UploadMessagingHostedNumberOrderFile")
def upload_hosted_files(sb: Sandbox, req: Req, id: str) -> Any:
    order = sb.state.hosted_orders.get(id)
    if not any(name in req.files for name in ("loa", "bill")):
        raise ApiError.one(
            422,
            "10004",
            "Missing required parameter",
            "Upload 'loa' and/or 'bill' as multipart/form-data files.",
            pointer="/loa",
        )
    if order["status"] == "pending":
        order["status"] = "loa_file_successful"
    return {"data": order}


@handles("CreateVerificationCodesForMessagingHostedNumberOrder")
def create_hosted_codes(sb: Sandbox, req: Req, id: str) -> Any:
    order = sb.state.hosted_orders.get(id)
    in_order = {n["phone_number"] for n in order["phone_numbers"]}
    codes = sb.state.verification_codes.setdefault(id, {})
    data = []
    for number in req.body["phone_numbers"]:
        if number not in in_order:
            data.append({"phone_number": number, "error": "The number is not in this order."})
            continue
        codes[number] = HOSTED_VERIFICATION_CODE
        data.append(
            {
                "phone_number": number,
                "type": req.body["verification_method"],
                "verification_code_id": sb.state.new_uuid(),
            }
        )
    return {"data": data}


@handles("ValidateVerificationCodesForMessagingHostedNumberOrder")
def validate_hosted_codes(sb: Sandbox, req: Req, id: str) -> Any:
    order = sb.state.hosted_orders.get(id)
    codes = sb.state.verification_codes.get(id, {})
    entries = {n["phone_number"]: n for n in order["phone_numbers"]}
    results = []
    for item in req.body["verification_codes"]:
        number, entry = item["phone_number"], entries.get(item["phone_number"])
        if entry is None:
            status = "rejected"
        elif entry["status"] == "successful":
            status = "already_verified"
        elif codes.get(number) and item["code"] == codes[number]:
            status = "verified"
            entry["status"] = "successful"
            hosted = number_object(
                entry["id"], number, order["messaging_profile_id"], now_iso(), rng=None
            )
            sb.state.hosted_numbers.add(hosted)
        else:
            status = "rejected"
        results.append({"phone_number": number, "status": status})
    if entries and all(n["status"] == "successful" for n in entries.values()):
        order["status"] = "successful"
    return {"data": {"order_id": order["id"], "phone_numbers": results}}


@handles("ListMessagingHostedNumbers")
def list_hosted_numbers(sb: Sandbox, req: Req) -> Any:
    return _listing(sb, req, _number_filters(req, list(sb.state.hosted_numbers)))


@handles("GetMessagingHostedNumber")
def get_hosted_number(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.hosted_numbers.get(id)}


@handles("UpdateMessagingHostedNumber")
def update_hosted_number(sb: Sandbox, req: Req, id: str) -> Any:
    number = sb.state.hosted_numbers.get(id)
    return {"data": _update_number_settings(sb, sb.state.hosted_numbers, number, req.body)}


@handles("DeleteMessagingHostedNumber")
def delete_hosted_number(sb: Sandbox, req: Req, id: str) -> Any:
    number = sb.state.hosted_numbers.delete(id)
    for order in sb.state.hosted_orders:
        for entry in order["phone_numbers"]:
            if entry["phone_number"] == number["phone_number"]:
                entry["status"] = "deleted"
                return {"data": order}
    raise not_found("hosted number order")


def _update_number_settings(
    sb: Sandbox, collection: Collection, number: dict[str, Any], body: dict[str, Any]
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "messaging_profile_id" in body:
        changes["messaging_profile_id"] = _assign_profile(sb, body["messaging_profile_id"])
    if "messaging_product" in body:
        changes["messaging_product"] = body["messaging_product"]
        changes["traffic_type"] = body["messaging_product"]
    if "tags" in body:
        changes["tags"] = list(body["tags"])
    return collection.update(number["id"], changes)


# bulk updates -------------------------------------------------------------------------
@handles("BulkUpdateMessagingSettingsOnPhoneNumbers")
def bulk_update(sb: Sandbox, req: Req) -> Any:
    """Applied at once; the answer shows every number pending, the order the outcome."""
    profile_id = _assign_profile(sb, req.body["messaging_profile_id"])
    success, failed = [], []
    for number in req.body["numbers"]:
        found = sb.state.phone_numbers.find(number) if isinstance(number, str) else None
        if found is None or found["phone_number"] != number:
            failed.append(number)
            continue
        sb.state.phone_numbers.update(found["id"], {"messaging_profile_id": profile_id})
        success.append(number)
    order = {
        "record_type": "messaging_numbers_bulk_update",
        "order_id": sb.state.new_uuid(),
        "success": success,
        "failed": failed,
        "pending": [],
    }
    sb.state.bulk_updates.add(order)
    return {"data": {**order, "success": [], "failed": [], "pending": list(req.body["numbers"])}}


@handles("GetBulkUpdateMessagingSettingsOnPhoneNumbersStatus")
def get_bulk_update(sb: Sandbox, req: Req, order_id: str) -> Any:
    return {"data": sb.state.bulk_updates.get(order_id)}


# opt-outs -----------------------------------------------------------------------------
@handles("ListOptOuts")
def list_optouts(sb: Sandbox, req: Req) -> Any:
    profile_id = _filter(req, "messaging_profile_id")
    sender = _phone(_filter(req, "from"))
    created = dict(req.query.get("created_at") or {})
    for bound in ("gte", "lte"):  # also accept filter[created_at][gte], as some clients send
        alias = req.args.get(f"filter[created_at][{bound}]")
        if alias and bound not in created:
            try:
                parse_iso(alias)
            except ValueError:
                raise ApiError.one(
                    400,
                    "10015",
                    "Bad Request",
                    f"'{alias}' is not an ISO-8601 date-time.",
                    parameter=f"filter[created_at][{bound}]",
                ) from None
            created[bound] = alias
    items = [
        o
        for o in sb.state.optouts
        if (profile_id is None or o["messaging_profile_id"] == profile_id)
        and (sender is None or o["from"] == sender)
        and _in_range(o["created_at"], created.get("gte"), created.get("lte"))
    ]
    items.sort(key=lambda o: o["created_at"], reverse=True)
    result = _listing(sb, req, items)
    if str(req.query.get("redaction_enabled", "")).lower() == "true":
        result["data"] = [{**o, "to": o["to"][:-4] + "****"} for o in result["data"]]
    return result


# metrics ------------------------------------------------------------------------------
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


@handles("GetProfileMetrics")
def profile_metrics(sb: Sandbox, req: Req) -> Any:
    time_frame = req.query.get("time_frame", "24h")
    items = [_profile_metrics(sb, p, time_frame) for p in sb.state.profiles]
    return {"data": items, "meta": paginate(items, 1, max(len(items), 1))[1]}


@handles("GetDetailedProfileMetrics")
def detailed_profile_metrics(sb: Sandbox, req: Req, id: str) -> Any:
    profile = _profile_or_404(sb, id)
    overview = _profile_metrics(sb, profile, req.query.get("time_frame", "24h"))
    return {"data": {**overview, "overview": overview["outbound"], "detailed": []}}


# messaging profiles -------------------------------------------------------------------
_PROFILE_FIELDS = {
    "name",
    "enabled",
    "webhook_url",
    "webhook_failover_url",
    "webhook_api_version",
    "whitelisted_destinations",
    "number_pool_settings",
    "url_shortener_settings",
    "alpha_sender",
    "daily_spend_limit",
    "daily_spend_limit_enabled",
    "mms_fall_back_to_sms",
    "mms_transcoding",
    "mobile_only",
    "smart_encoding",
    "resource_group_id",
    "health_webhook_url",
    "ai_assistant_id",
    "v1_secret",
}


def _profile_changes(body: dict[str, Any]) -> dict[str, Any]:
    changes = {k: v for k, v in body.items() if k in _PROFILE_FIELDS}
    for url_field in ("webhook_url", "webhook_failover_url", "health_webhook_url"):
        if changes.get(url_field) == "":
            changes[url_field] = None  # "" means "no URL"
    return changes


@handles("ListMessagingProfiles")
def list_profiles(sb: Sandbox, req: Req) -> Any:
    name = _filter(req, "name") or req.query.get("filter[name][eq]")
    contains = req.query.get("filter[name][contains]")
    items = [
        p
        for p in sb.state.profiles
        if (name is None or p["name"] == name)
        and (contains is None or contains.lower() in p["name"].lower())
    ]
    return _listing(sb, req, items)


@handles("CreateMessagingProfile")
def create_profile(sb: Sandbox, req: Req) -> Any:
    secret = sb.state.new_uuid().replace("-", "")[:24]
    changes = _profile_changes(req.body)
    name = changes.pop("name")
    profile = profile_object(sb.state.new_uuid(), name, now_iso(), secret, **changes)
    return {"data": sb.state.profiles.add(profile)}


@handles("RetrieveMessagingProfile")
def get_profile(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": _profile_or_404(sb, id)}


@handles("UpdateMessagingProfile")
def update_profile(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.profiles.update(id, _profile_changes(req.body))}


@handles("DeleteMessagingProfile")
def delete_profile(sb: Sandbox, req: Req, id: str) -> Any:
    profile = sb.state.profiles.delete(id)
    for collection in (sb.state.phone_numbers, sb.state.hosted_numbers, sb.state.short_codes):
        for obj in collection:
            if obj.get("messaging_profile_id") == id:
                obj["messaging_profile_id"] = None
    for alpha in sb.state.alphanumeric_ids.where(lambda a: a["messaging_profile_id"] == id):
        sb.state.alphanumeric_ids.delete(alpha["id"])
    sb.state.autoresp.pop(id, None)
    return {"data": profile}


@handles("RegenerateMessagingProfileSecret")
def regenerate_secret(sb: Sandbox, req: Req, id: str) -> Any:
    secret = sb.state.new_uuid().replace("-", "")[:24]
    return {"data": sb.state.profiles.update(id, {"v1_secret": secret})}


@handles("ListProfileAlphanumericSenderIds")
def list_profile_alphanumeric_ids(sb: Sandbox, req: Req, id: str) -> Any:
    _profile_or_404(sb, id)
    return _listing(
        sb, req, sb.state.alphanumeric_ids.where(lambda a: a["messaging_profile_id"] == id)
    )


@handles("ListProfilePhoneNumbers")
def list_profile_numbers(sb: Sandbox, req: Req, id: str) -> Any:
    _profile_or_404(sb, id)
    return _listing(sb, req, sb.state.profile_numbers(id))


@handles("ListProfileShortCodes")
def list_profile_short_codes(sb: Sandbox, req: Req, id: str) -> Any:
    _profile_or_404(sb, id)
    return _listing(sb, req, sb.state.short_codes.where(lambda s: s["messaging_profile_id"] == id))


# auto-response configs ----------------------------------------------------------------
@handles("GetAutorespConfigs")
def list_autoresp(sb: Sandbox, req: Req, profile_id: str) -> Any:
    _profile_or_404(sb, profile_id)
    country = req.query.get("country_code")
    created = req.query.get("created_at") or {}
    updated = req.query.get("updated_at") or {}
    try:
        items = [
            c
            for c in sb.state.autoresp_for(profile_id)
            if (country is None or c["country_code"] == country)
            and _in_range(c["created_at"], created.get("gte"), created.get("lte"))
            and _in_range(c["updated_at"], updated.get("gte"), updated.get("lte"))
        ]
    except ValueError:
        raise ApiError.one(
            422, "10015", "Bad Request", "created_at / updated_at bounds are ISO-8601 date-times."
        ) from None
    return {"data": items, "meta": paginate(items, 1, max(len(items), 1))[1]}


def _autoresp_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "op": body["op"],
        "keywords": list(body["keywords"]),
        "country_code": body["country_code"],
        "resp_text": body.get("resp_text", ""),
    }


@handles("CreateAutorespConfig")
def create_autoresp(sb: Sandbox, req: Req, profile_id: str) -> Any:
    _profile_or_404(sb, profile_id)
    stamp = now_iso()
    config = {"id": sb.state.new_uuid(), **_autoresp_fields(req.body)}
    config.update(created_at=stamp, updated_at=stamp)
    return {"data": sb.state.autoresp_for(profile_id).add(config)}


@handles("GetAutorespConfig")
def get_autoresp(sb: Sandbox, req: Req, profile_id: str, autoresp_cfg_id: str) -> Any:
    _profile_or_404(sb, profile_id)
    return {"data": sb.state.autoresp_for(profile_id).get(autoresp_cfg_id)}


@handles("UpdateAutoRespConfig")
def update_autoresp(sb: Sandbox, req: Req, profile_id: str, autoresp_cfg_id: str) -> Any:
    _profile_or_404(sb, profile_id)
    configs = sb.state.autoresp_for(profile_id)
    return {"data": configs.update(autoresp_cfg_id, _autoresp_fields(req.body))}


@handles("DeleteAutorespConfig")
def delete_autoresp(sb: Sandbox, req: Req, profile_id: str, autoresp_cfg_id: str) -> Any:
    _profile_or_404(sb, profile_id)
    sb.state.autoresp_for(profile_id).delete(autoresp_cfg_id)
    return "OK"


# toll-free verification ----------------------------------------------------------------
@handles("ListVerificationRequests")
def list_tollfree(sb: Sandbox, req: Req) -> Any:
    q = req.query
    start, end = q.get("date_start"), q.get("date_end")
    number = _phone(q.get("phone_number"))
    business = (q.get("business_name") or "").lower()
    items = [
        r
        for r in sb.state.tf_requests
        if _in_range(r["createdAt"], start, end)
        and (q.get("status") is None or r["verificationStatus"] == q["status"])
        and (number is None or any(p["phoneNumber"] == number for p in r["phoneNumbers"]))
        and business in r["businessName"].lower()
    ]
    page, meta = paginate(items, *_page(sb, req))
    return {"records": page, "total_records": meta["total_results"]}


@handles("SubmitVerificationRequest")
def submit_tollfree(sb: Sandbox, req: Req) -> Any:
    stamp = now_iso()
    request_ = tollfree_request(sb.state.new_uuid(), req.body, created=stamp)
    sb.state.tf_requests.add(request_)
    sb.state.tf_history[request_["id"]] = [
        {"verificationStatus": "In Progress", "updatedAt": stamp, "reason": None}
    ]
    return request_


@handles("GetVerificationRequest")
def get_tollfree(sb: Sandbox, req: Req, id: str) -> Any:
    return sb.state.tf_requests.get(id)


@handles("UpdateVerificationRequest")
def update_tollfree(sb: Sandbox, req: Req, id: str) -> Any:
    current = sb.state.tf_requests.get(id)
    changes = {k: v for k, v in req.body.items() if v is not None}
    if current["verificationStatus"] != "In Progress":  # resubmitted: back in review
        changes["verificationStatus"] = "In Progress"
        sb.state.tf_history.setdefault(id, []).append(
            {"verificationStatus": "In Progress", "updatedAt": now_iso(), "reason": None}
        )
    changes["updatedAt"] = now_iso()
    current.update(changes)
    return current


@handles("DeleteVerificationRequest")
def delete_tollfree(sb: Sandbox, req: Req, id: str) -> Any:
    sb.state.tf_requests.delete(id)
    sb.state.tf_history.pop(id, None)
    return None


@handles("GetVerificationStatusHistory")
def tollfree_history(sb: Sandbox, req: Req, id: str) -> Any:
    sb.state.tf_requests.get(id)
    history = sb.state.tf_history.get(id, [])
    page, meta = paginate(history, *_page(sb, req))
    return {"records": page, "total_records": meta["total_results"]}


# URL domains, numbers, short codes -----------------------------------------------------
@handles("ListMessagingUrlDomains")
def list_url_domains(sb: Sandbox, req: Req) -> Any:
    return _listing(sb, req, list(sb.state.url_domains))


@handles("ListMobilePhoneNumbersWithMessagingSettings")
def list_mobile_numbers(sb: Sandbox, req: Req) -> Any:
    return _listing(sb, req, list(sb.state.mobile_numbers))


@handles("GetMobilePhoneNumberMessagingSettings")
def get_mobile_number(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.mobile_numbers.get(id)}


@handles("ListPhoneNumbersWithMessagingSettings")
def list_phone_numbers(sb: Sandbox, req: Req) -> Any:
    return _listing(sb, req, _number_filters(req, list(sb.state.phone_numbers)))


@handles("GetPhoneNumberMessagingSettings")
def get_phone_number(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.phone_numbers.get(id)}


@handles("UpdatePhoneNumberMessagingSettings")
def update_phone_number(sb: Sandbox, req: Req, id: str) -> Any:
    number = sb.state.phone_numbers.get(id)
    return {"data": _update_number_settings(sb, sb.state.phone_numbers, number, req.body)}


@handles("ListShortCodes")
def list_short_codes(sb: Sandbox, req: Req) -> Any:
    profile_id = _filter(req, "messaging_profile_id")
    items = [
        s
        for s in sb.state.short_codes
        if profile_id is None
        or s["messaging_profile_id"] == (None if profile_id == "null" else profile_id)
    ]
    return _listing(sb, req, items)


@handles("RetrieveShortCode")
def get_short_code(sb: Sandbox, req: Req, id: str) -> Any:
    return {"data": sb.state.short_codes.get(id)}


@handles("UpdateShortCode")
def update_short_code(sb: Sandbox, req: Req, id: str) -> Any:
    sb.state.short_codes.get(id)
    changes: dict[str, Any] = {
        "messaging_profile_id": _assign_profile(sb, req.body["messaging_profile_id"])
    }
    if "tags" in req.body:
        changes["tags"] = list(req.body["tags"])
    return {"data": sb.state.short_codes.update(id, changes)}
