"""The client API: /v1/verifications."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from otp_service.api import schemas
from otp_service.api.access_log import log_fields
from otp_service.api.auth import key_profile, require_client
from otp_service.api.http import body_fingerprint, json_body, json_response, services
from otp_service.api.problems import PROBLEM_JSON
from otp_service.errors import InvalidRequest
from otp_service.phones import mask_phone
from otp_service.verification import CreateRequest, Result

bp = Blueprint("verifications", __name__, url_prefix="/v1/verifications")
bp.before_request(require_client)

IDEMPOTENCY_KEY_MAX = 255


@bp.post("")
def create() -> Response:
    data = json_body(schemas.CREATE_VERIFICATION)
    log_fields(phone=mask_phone(data["phone_number"]))
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= IDEMPOTENCY_KEY_MAX and key.isprintable()):
        raise InvalidRequest("Idempotency-Key must be 1 to 255 printable characters", status=400)
    fingerprint = body_fingerprint() if key is not None else ""
    signals = data.pop("signals", {})
    result = services().verifications.create(
        CreateRequest(**data, ip=signals.get("ip"), device_id=signals.get("device_id")),
        client_id=g.key_id,
        profile=key_profile(),
        idempotency_key=key,
        fingerprint=fingerprint,
    )
    if result.status >= 400:  # an error stored under the Idempotency-Key, replayed
        return _answer(result)
    log_fields(verification_id=result.body["id"])
    return _answer(result, {"Location": f"/v1/verifications/{result.body['id']}"})


@bp.get("/<verification_id>")
def get(verification_id: str) -> Response:
    return json_response(services().verifications.get(verification_id, key_profile()))


@bp.post("/<verification_id>/check")
def check(verification_id: str) -> Response:
    data = json_body(schemas.CHECK_CODE)
    return _answer(services().verifications.check(verification_id, data["code"], key_profile()))


@bp.post("/check")
def check_by_phone() -> Response:
    data = json_body(schemas.CHECK_BY_PHONE)
    log_fields(phone=mask_phone(data["phone_number"]))
    result = services().verifications.check_phone(data["phone_number"], data["code"], key_profile())
    log_fields(verification_id=result.body["id"])
    return _answer(result)


@bp.post("/<verification_id>/cancel")
def cancel(verification_id: str) -> Response:
    return json_response(services().verifications.cancel(verification_id, key_profile()))


def _answer(result: Result, headers: dict[str, str] | None = None) -> Response:
    """A service's answer; a replayed one says so, and an error stored under an
    Idempotency-Key is a problem document again."""
    if result.replayed:
        headers = {**(headers or {}), "Idempotent-Replayed": "true"}
    response = json_response(result.body, result.status, headers)
    if result.status >= 400:
        response.content_type = PROBLEM_JSON
    return response
