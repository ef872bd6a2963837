"""``/messaging_hosted_number_orders``: orders to host outside numbers: create, eligibility,
LOA/bill upload, and verification codes (every code is ``HOSTED_VERIFICATION_CODE``);
a verified number becomes a hosted number.
"""

from __future__ import annotations

from typing import Any

from ..core import Sandbox
from ..errors import ApiError
from ..seed import HOSTED_VERIFICATION_CODE, number_object
from ..timestamps import now_iso
from ..traffic import E164
from ._base import Req, assign_profile, check_e164
from ._collection import CollectionRoutes

__all__ = ["HANDLERS"]


def _build(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    numbers = body.get("phone_numbers") or []
    check_e164(numbers, "/phone_numbers")
    profile_id = assign_profile(sb, body.get("messaging_profile_id"))
    return {
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


def _deleted(sb: Sandbox, order: dict[str, Any]) -> Any:
    order["status"] = "deleted"
    return {"data": order}


HANDLERS = CollectionRoutes(
    "hosted_orders",
    list_op="ListMessagingHostedNumberOrders",
    get_op="GetMessagingHostedNumberOrder",
    create_op="CreateMessagingHostedNumberOrder",
    delete_op="DeleteMessagingHostedNumberOrder",
    build=_build,
    deleted=_deleted,
).handlers()


def _eligibility(sb: Sandbox, number: Any, seen: set[str]) -> tuple[str, str]:
    """(eligible_status, detail) of one number of an eligibility check."""
    if not isinstance(number, str) or not E164.match(number):
        return "NUMBER_IS_NOT_IN_E164_FORMAT", "The number is not +E.164."
    if number in seen:
        return "NUMBER_CAN_NOT_BE_REPEATED", "The number is listed twice."
    if not number.startswith("+1"):
        return "NUMBER_IS_NOT_A_US_NUMBER", "Only US numbers can be hosted."
    if sb.state.sender_number(number) is not None:
        return (
            "NUMBER_CAN_NOT_BE_ACTIVE_IN_YOUR_ACCOUNT",
            "The number is already active in your account.",
        )
    return "ELIGIBLE", "The number can be hosted."


@HANDLERS.on("CheckEligibilityNumbers")
def check_eligibility(sb: Sandbox, req: Req) -> Any:
    results = []
    seen: set[str] = set()
    for number in req.body["phone_numbers"]:
        status, detail = _eligibility(sb, number, seen)
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


@HANDLERS.on("UploadMessagingHostedNumberOrderFile")
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


@HANDLERS.on("CreateVerificationCodesForMessagingHostedNumberOrder")
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


@HANDLERS.on("ValidateVerificationCodesForMessagingHostedNumberOrder")
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
