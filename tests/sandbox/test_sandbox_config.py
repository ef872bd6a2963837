"""Sandbox configuration and the deterministic seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from otp_service.sandbox import SandboxConfig, load_signing_key, signing_key_b64
from otp_service.sandbox.state import SandboxState
from otp_service.telnyx.webhooks import generate_signing_key, public_key_b64


def test_config_reads_the_signing_key_and_webhook_url_from_the_environment(tmp_path: Path) -> None:
    key = generate_signing_key()
    config = SandboxConfig.from_env(
        {
            "SANDBOX_SIGNING_KEY": signing_key_b64(key),
            "SANDBOX_WEBHOOK_URL": "http://127.0.0.1:8000/v1/webhooks/telnyx",
            "SANDBOX_WEBHOOK_DELAY": "0.5",
        }
    )
    assert config.public_key == public_key_b64(key)
    assert config.webhook_url == "http://127.0.0.1:8000/v1/webhooks/telnyx"
    assert config.webhook_delay == 0.5
    seed_file = tmp_path / "key"
    seed_file.write_text(signing_key_b64(key) + "\n")
    from_file = SandboxConfig.from_env({"SANDBOX_SIGNING_KEY_FILE": str(seed_file)})
    assert from_file.public_key == config.public_key


def test_config_defaults_need_no_environment() -> None:
    config = SandboxConfig.from_env({})
    assert config.api_key == "sandbox-key"
    assert config.webhook_url is None
    assert config.public_key != SandboxConfig().public_key  # a fresh key each time


@pytest.mark.parametrize("value", ["", "not base64!", "AAAA"])
def test_malformed_signing_keys_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="32-byte"):
        load_signing_key(value)


def test_seed_is_the_same_every_time() -> None:
    first, second = SandboxState(seed=7), SandboxState(seed=7)
    assert list(first.phone_numbers) == list(second.phone_numbers)
    assert first.optouts == second.optouts
    assert list(first.short_codes) == list(second.short_codes)
    assert len(first.phone_numbers) >= 45 and len(first.mobile_numbers) >= 25
    assert len(first.optouts) >= 30 and len({o["messaging_profile_id"] for o in first.optouts}) == 2
