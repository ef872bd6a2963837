"""Settings are read once from the environment and validated."""

from __future__ import annotations

import hashlib

import pytest

from otp_service.config import ConfigError, Settings

PRODUCTION = {
    "OTP_ENV": "production",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "OTP_SECRET": "s" * 32,
    "OTP_FACTOR_KEY": "f" * 32,
    "OTP_API_KEYS": "web:client-key-1",
    "OTP_ADMIN_KEYS": "ops:admin-key-1",
    "TELNYX_API_KEY": "KEYabc",
    "TELNYX_PUBLIC_KEYS": "3iMkc4x1fZ6yCVNbPIbDZ0d2uJ2DY1stBuk6fYHGdKk=",
    "TELNYX_FROM_NUMBER": "+13125550100",
}


def test_development_needs_nothing():
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert settings.api_keys[0].digest == hashlib.sha256(b"dev-client-key").digest()
    assert settings.admin_keys[0].digest == hashlib.sha256(b"dev-admin-key").digest()
    assert settings.telnyx_base_url == "http://127.0.0.1:8001/v2"
    assert settings.uses_sandbox
    assert settings.webhook_url == "http://127.0.0.1:8000/v1/webhooks/telnyx"
    assert (settings.code_length, settings.ttl_seconds, settings.max_attempts) == (6, 600, 5)
    assert (settings.max_sends, settings.resend_cooldown_seconds) == (5, 30)


def test_development_with_a_telnyx_key_talks_to_telnyx():
    settings = Settings.from_env({"TELNYX_API_KEY": "KEYreal"})
    assert settings.telnyx_base_url == "https://api.telnyx.com/v2"
    assert not settings.uses_sandbox


def test_production_accepts_a_complete_environment():
    settings = Settings.from_env(PRODUCTION)
    assert settings.is_production
    assert settings.host == "0.0.0.0"
    assert [k.id for k in settings.api_keys] == ["web"]


@pytest.mark.parametrize(
    "missing",
    [
        "OTP_SECRET",
        "OTP_API_KEYS",
        "OTP_ADMIN_KEYS",
        "TELNYX_API_KEY",
        "REDIS_URL",
        "TELNYX_PUBLIC_KEYS",
        "OTP_FACTOR_KEY",
    ],
)
def test_production_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert missing in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTP_ENV", "staging"),
        ("OTP_SECRET", "too-short"),
        ("OTP_CODE_LENGTH", "3"),
        ("OTP_TTL_SECONDS", "601"),
        ("OTP_MAX_ATTEMPTS", "many"),
        ("PORT", "70000"),
        ("TELNYX_FROM_NUMBER", "3125550100"),
        ("TELNYX_PUBLIC_KEYS", "not-a-key"),
        ("OTP_API_KEYS", "short"),
        ("OTP_API_KEYS", "a:key-number-one,a:key-number-two"),
        ("OTP_ADMIN_KEYS", "sha256:abcd"),
    ],
)
def test_invalid_values_are_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**PRODUCTION, name: value})
    assert name in str(info.value)


def test_keys_can_be_given_as_sha256_digests():
    digest = hashlib.sha256(b"my-client-key").hexdigest()
    settings = Settings.from_env({**PRODUCTION, "OTP_API_KEYS": f"sha256:{digest},app:other-key-1"})
    assert settings.api_keys[0].digest == bytes.fromhex(digest)
    assert settings.api_keys[0].id == "key-" + digest[:8]
    assert settings.api_keys[1].id == "app"
