"""POST /v1/webhooks/telnyx: Telnyx's signed messaging events.

The signature is checked over the raw bytes before anything parses them; only then is
the body read as JSON. Every authentic event is answered 200 — duplicates and types we
ignore included — because Telnyx retries anything else.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from otp_service import errors
from otp_service.api.access_log import log_fields
from otp_service.api.http import json_response, parse_json, raw_body, services
from otp_service.ids import DEFAULT_PROFILE, PROFILE_PATTERN
from otp_service.telnyx.webhooks import WebhookVerificationError, verify_webhook

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")
log = logging.getLogger(__name__)


@bp.post("/telnyx")
def telnyx() -> Response:
    svc = services()
    raw = raw_body(svc.settings.webhook_max_bytes)
    try:
        verify_webhook(raw, request.headers, svc.webhook_keys)
    except WebhookVerificationError as exc:
        log.warning("webhook refused: %s", exc.reason)
        raise errors.InvalidSignature(
            "the webhook is not signed by a trusted Telnyx key", reason=exc.reason
        ) from None
    body = parse_json(raw)
    event_type, outcome = svc.inbound.handle(body, _profile())
    log_fields(event_type=event_type, result=outcome)
    return json_response({"event_type": event_type, "result": outcome})


def _profile() -> str:
    """The profile whose send this is a receipt of: named in the webhook URL of a
    profile's sends (unsigned, but it only chooses where a signed event is looked up:
    another profile has no such message). The default profile's URL has no query."""
    query = request.environ.get("QUERY_STRING")
    if not query:
        return DEFAULT_PROFILE
    if query.startswith("profile=") and not any(c in query for c in "&%+;"):
        profile = query[8:]  # the URL the service gave Telnyx, as it gave it
    else:
        profile = request.args.get("profile", DEFAULT_PROFILE)  # a MultiDict: ~5 % of a receipt
    if profile != DEFAULT_PROFILE and not PROFILE_PATTERN.fullmatch(profile):
        raise errors.InvalidRequest("profile is not a profile id", status=400)
    return profile
