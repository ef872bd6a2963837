"""Settings are read once from the environment and validated."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from otp_service.config import ConfigError, Settings
from otp_service.keywords import DEFAULT_KEYWORDS, KEYWORD_TABLE, OPT_IN, OPT_OUT

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


def test_opt_out_and_opt_in_keywords_default_to_the_table_and_can_be_replaced():
    assert Settings.from_env({}).keywords == DEFAULT_KEYWORDS
    assert DEFAULT_KEYWORDS.action("stop") == OPT_OUT
    assert len(DEFAULT_KEYWORDS.opt_out) == len(KEYWORD_TABLE[OPT_OUT])
    replaced = Settings.from_env(
        {"OTP_OPTOUT_KEYWORDS": "STOP, Para já, ＡＲＲＥＴ", "OTP_OPTIN_KEYWORDS": "START"}
    ).keywords
    assert replaced.opt_out == {"stop", "para já", "arret"}  # in keyword_form
    assert replaced.opt_in == {"start"}
    assert replaced.action("PARA JÁ!") == OPT_OUT
    assert replaced.action("END") is None
    assert replaced.action("YES") is None
    only_out = Settings.from_env({"OTP_OPTOUT_KEYWORDS": "STOP"}).keywords
    assert only_out.opt_in == DEFAULT_KEYWORDS.opt_in  # the other list keeps its default
    assert only_out.action("START") == OPT_IN


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"OTP_OPTOUT_KEYWORDS": " , ,"}, "OTP_OPTOUT_KEYWORDS must list at least one"),
        ({"OTP_OPTIN_KEYWORDS": ",,"}, "OTP_OPTIN_KEYWORDS must list at least one"),
        ({"OTP_OPTOUT_KEYWORDS": "STOP,..."}, "OTP_OPTOUT_KEYWORDS: '...' has no letter"),
        ({"OTP_OPTIN_KEYWORDS": "x" * 41}, "OTP_OPTIN_KEYWORDS: 'xxx"),
        ({"OTP_OPTIN_KEYWORDS": "START,Stop!"}, "both have 'stop'"),
        ({"OTP_OPTOUT_KEYWORDS": "STOP,YES"}, "both have 'yes'"),
    ],
)
def test_keyword_lists_are_checked_at_start_up(variables, message):
    for env in ({}, PRODUCTION):
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            Settings.from_env({**env, **variables})


def test_reading_settings_loads_no_metrics():
    """The CLI imports config.py before gunicorn_conf sets PROMETHEUS_MULTIPROC_DIR: were
    prometheus_client loaded by then, the workers' samples would never add up."""
    code = "import sys, otp_service.cli; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
