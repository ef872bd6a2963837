"""Telnyx delivery receipts as tests send them: a ``message.finalized`` event, signed
with a key the app trusts, posted to the app's webhook."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service.telnyx.webhooks import sign_webhook


def finalized(
    message_id: str,
    phone: str,
    status: str,
    *,
    errors: list[dict[str, str]] | None = None,
    occurred_at: str = "2027-01-15T08:00:00.000Z",
    **payload: Any,
) -> dict[str, Any]:
    return {
        "data": {
            "event_type": "message.finalized",
            "id": str(uuid.uuid4()),
            "occurred_at": occurred_at,
            "record_type": "event",
            "payload": {
                "id": message_id,
                "direction": "outbound",
                "to": [{"phone_number": phone, "status": status}],
                "errors": errors or [],
                **payload,
            },
        }
    }


def post_signed(flask_client: Any, body: dict[str, Any], key: Ed25519PrivateKey) -> Any:
    payload = json.dumps(body).encode()
    headers = {**sign_webhook(payload, key, int(time.time())), "Content-Type": "application/json"}
    return flask_client.post("/v1/webhooks/telnyx", data=payload, headers=headers)
