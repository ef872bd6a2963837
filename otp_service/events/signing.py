"""Standard Webhooks signatures (https://www.standardwebhooks.com), made by the
``standardwebhooks`` library itself, so that what a receiver verifies with that library
(or Svix's) is exactly what was signed.

Signed content: ``{webhook-id}.{webhook-timestamp}.{body}``, HMAC-SHA256 under the
endpoint's secret, sent as ``v1,<base64>``; during a secret's rotation each secret signs
and the header carries both, separated by a space, as the specification allows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

__all__ = ["signed_headers"]


def signed_headers(
    secrets: list[bytes], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers of one attempt; ``timestamp`` is the attempt's (seconds), so a
    retry hours later is still inside the receiver's tolerance."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signatures = [Webhook(secret).sign(webhook_id, when, body) for secret in secrets]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
