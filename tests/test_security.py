"""Security properties that are not a single feature: where codes come from, how keys
are compared, what responses and logs may contain, what malformed ids cost."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

import pytest

from otp_service.ids import CodeHasher, generate_code
from tests.conftest import ADMIN_KEY, CLIENT_KEY, ApiClient, Sandbox

PHONE = "+13125550171"


def test_codes_come_from_the_csprng(monkeypatch):
    calls = []

    def randbelow(n: int) -> int:
        calls.append(n)
        return 42

    monkeypatch.setattr(secrets, "randbelow", randbelow)
    assert generate_code(6) == "000042"
    assert calls == [10**6]  # a uniform draw over all 6-digit codes: log2(10^6) > 19.9 bits


def test_stored_code_digests_are_hmac_sha256_under_the_derived_key():
    # Codes of verifications already in Redis must still match after an upgrade: the
    # digest is HMAC-SHA256 (RFC 2104) under a key derived from the secret, cut to 16 bytes.
    secret = b"s" * 32
    key = hmac.new(secret, b"otp-service code v1", hashlib.sha256).digest()
    hasher = CodeHasher(secret)
    for tag, code in (("zjbwa4balleulkrr", "000042"), ("a" * 16, "12345678")):
        expected = hmac.new(key, f"{tag}:{code}".encode(), hashlib.sha256).digest()[:16]
        assert hasher.digest(tag, code) == expected
    assert hasher.digest("a" * 16, "123456") != hasher.digest("a" * 16, "123457")


def test_default_codes_have_at_least_20_bits_of_entropy(client, sandbox: Sandbox):
    client.post("/v1/verifications", json={"phone_number": PHONE})
    assert len(sandbox.last_code(PHONE)) >= 6


def test_keys_are_compared_in_constant_time_against_every_configured_key(app, monkeypatch):
    compared = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    ApiClient(app.test_client()).get(f"/v1/verifications/{'a' * 32}")
    settings = app.extensions["otp"].settings
    # the matching key is the first one, yet every client and admin key was compared
    assert len(compared) == len(settings.api_keys) + len(settings.admin_keys)


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("POST", "/v1/verifications", CLIENT_KEY),
        ("GET", f"/v1/verifications/{'a' * 32}", CLIENT_KEY),
        ("POST", f"/v1/verifications/{'a' * 32}/check", CLIENT_KEY),
        ("GET", "/v1/verifications/x", None),
        ("POST", "/v1/webhooks/telnyx", None),
        ("GET", "/healthz", None),
        ("GET", "/nowhere", ADMIN_KEY),
    ],
)
def test_every_api_response_says_no_store(app, method, path, key):
    response = ApiClient(app.test_client(), key).flask.open(
        path,
        method=method,
        json={"phone_number": PHONE} if method == "POST" else None,
        headers={"Authorization": f"Bearer {key}"} if key else {},
    )
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("bad_id", ["not-an-id", "a" * 32 + "%0A", "a" * 31 + "1"])
def test_a_malformed_id_is_refused_without_touching_redis(client, redis_client, bad_id):
    before = redis_client.info("stats")["total_commands_processed"]
    response = client.post(f"/v1/verifications/{bad_id}/check", json={"code": "123456"})
    after = redis_client.info("stats")["total_commands_processed"]
    assert response.status_code == 404
    assert after - before == 1  # the INFO call itself


def test_logs_hold_no_code_no_key_and_no_full_number(client, sandbox, caplog, capsys):
    with caplog.at_level(logging.DEBUG):
        vid = client.post("/v1/verifications", json={"phone_number": PHONE}).get_json()["id"]
        code = sandbox.last_code(PHONE)
        client.post(f"/v1/verifications/{vid}/check", json={"code": "000000"})
        client.post(f"/v1/verifications/{vid}/check", json={"code": code})
        client.post("/v1/verifications", json={"phone_number": "+15005550006"})
    text = "\n".join(r.getMessage() for r in caplog.records) + capsys.readouterr().err
    assert '"msg":"request"' in text  # the request lines are part of what is checked
    for secret in (code, CLIENT_KEY, ADMIN_KEY, PHONE, "sandbox-key"):
        assert secret not in text
