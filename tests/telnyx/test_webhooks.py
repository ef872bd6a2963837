"""Webhook signatures: only a recent event signed by a trusted key gets through."""

from __future__ import annotations

import base64

import pytest

from otp_service.telnyx import (
    TelnyxError,
    WebhookVerificationError,
    generate_signing_key,
    load_public_key,
    public_key_b64,
    sign_webhook,
    verify_webhook,
)
from otp_service.telnyx.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER

NOW = 1_800_000_000
BODY = b'{"data":{"event_type":"message.finalized","id":"e1"}}'
KEY = generate_signing_key()
PUBLIC = public_key_b64(KEY)


def _reason(body: bytes, headers: dict[str, str], keys: list, **kwargs: object) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(body, headers, keys, now=NOW, **kwargs)  # type: ignore[arg-type]
    assert isinstance(caught.value, TelnyxError)
    return caught.value.reason


def test_a_fresh_signed_event_verifies() -> None:
    headers = sign_webhook(BODY, KEY, timestamp=NOW)
    assert set(headers) == {SIGNATURE_HEADER, TIMESTAMP_HEADER}
    verify_webhook(BODY, headers, [PUBLIC], now=NOW)  # base64 string
    verify_webhook(BODY, headers, [load_public_key(PUBLIC)], now=NOW + 299)  # key object


def test_header_names_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in sign_webhook(BODY, KEY, timestamp=NOW).items()}
    verify_webhook(BODY, headers, [PUBLIC], now=NOW)


def test_a_tampered_body_is_rejected() -> None:
    headers = sign_webhook(BODY, KEY, timestamp=NOW)
    assert _reason(BODY.replace(b"e1", b"e2"), headers, [PUBLIC]) == "bad_signature"


def test_a_changed_timestamp_is_rejected() -> None:
    headers = sign_webhook(BODY, KEY, timestamp=NOW)
    headers[TIMESTAMP_HEADER] = str(NOW + 1)
    assert _reason(BODY, headers, [PUBLIC]) == "bad_signature"


def test_a_signature_by_another_key_is_rejected() -> None:
    headers = sign_webhook(BODY, generate_signing_key(), timestamp=NOW)
    assert _reason(BODY, headers, [PUBLIC]) == "bad_signature"


def test_any_of_several_keys_verifies_during_rotation() -> None:
    old, new = generate_signing_key(), generate_signing_key()
    keys = [public_key_b64(old), public_key_b64(new)]
    verify_webhook(BODY, sign_webhook(BODY, new, timestamp=NOW), keys, now=NOW)
    verify_webhook(BODY, sign_webhook(BODY, old, timestamp=NOW), keys, now=NOW)


def test_no_trusted_keys_rejects_everything() -> None:
    assert _reason(BODY, sign_webhook(BODY, KEY, timestamp=NOW), []) == "bad_signature"


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_stale_or_future_timestamps_are_rejected(offset: int) -> None:
    headers = sign_webhook(BODY, KEY, timestamp=NOW + offset)
    assert _reason(BODY, headers, [PUBLIC]) == "stale_timestamp"


def test_tolerance_is_configurable() -> None:
    headers = sign_webhook(BODY, KEY, timestamp=NOW - 100)
    assert _reason(BODY, headers, [PUBLIC], tolerance=60) == "stale_timestamp"
    verify_webhook(BODY, headers, [PUBLIC], tolerance=120, now=NOW)


@pytest.mark.parametrize("missing", [SIGNATURE_HEADER, TIMESTAMP_HEADER])
def test_missing_headers_are_rejected(missing: str) -> None:
    headers = sign_webhook(BODY, KEY, timestamp=NOW)
    del headers[missing]
    assert _reason(BODY, headers, [PUBLIC]) == "missing_headers"
    headers[missing] = ""
    assert _reason(BODY, headers, [PUBLIC]) == "missing_headers"


@pytest.mark.parametrize(
    "signature",
    [
        "not base64 at all!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"x" * 65).decode(),
    ],
)
def test_malformed_signatures_are_rejected(signature: str) -> None:
    headers = sign_webhook(BODY, KEY, timestamp=NOW)
    headers[SIGNATURE_HEADER] = signature
    assert _reason(BODY, headers, [PUBLIC]) == "malformed_signature"


@pytest.mark.parametrize("timestamp", ["soon", "-1800000000", "1.8e9", "１８００", "9" * 13])
def test_malformed_timestamps_are_rejected(timestamp: str) -> None:
    headers = sign_webhook(BODY, KEY, timestamp=NOW)
    headers[TIMESTAMP_HEADER] = timestamp
    assert _reason(BODY, headers, [PUBLIC]) == "malformed_timestamp"


def test_public_keys_must_be_32_bytes_of_base64() -> None:
    with pytest.raises(ValueError):
        load_public_key(base64.b64encode(b"x" * 31).decode())
    with pytest.raises(ValueError):
        load_public_key("%%%")
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(PUBLIC)).decode().rstrip("=")
    verify_webhook(BODY, sign_webhook(BODY, KEY, timestamp=NOW), [urlsafe], now=NOW)
