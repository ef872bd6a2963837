"""The documents that point at tests point at tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("document", ["docs/security.md"])
def test_every_test_a_document_names_exists(document: str):
    text = (ROOT / document).read_text()
    references = re.findall(r"`(?:([\w/]+\.py))?::(test_\w+)", text)
    assert references, "the document names no tests"
    current = None
    missing = []
    for module, name in references:
        current = module or current
        source = (ROOT / "tests" / current).read_text()
        if not re.search(rf"^def {name}\(", source, re.MULTILINE):
            missing.append(f"{current}::{name}")
    assert missing == []


def test_the_compose_file_gives_production_every_required_setting():
    import yaml

    from otp_service.config import ConfigError, Settings

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "otp-1", "otp-2"} <= set(services)
    env = services["otp-1"]["environment"]
    assert env["OTP_ENV"] == "production"
    # with a placeholder for each ${VAR…}, production settings load without a ConfigError
    filled = {
        name: value if not str(value).startswith("${") else "x" * 40 for name, value in env.items()
    }
    filled["TELNYX_PUBLIC_KEYS"] = "3iMkc4x1fZ6yCVNbPIbDZ0d2uJ2DY1stBuk6fYHGdKk="
    filled["TELNYX_FROM_NUMBER"] = "+13125550100"
    filled["OTP_PUBLIC_BASE_URL"] = "https://otp.example.com"
    filled["OTP_ROUTES"] = ""
    filled["TELNYX_MESSAGING_PROFILE_ID"] = ""
    try:
        Settings.from_env(filled)
    except ConfigError as exc:  # pragma: no cover - the message says what is missing
        raise AssertionError(str(exc)) from None


def test_every_environment_variable_the_code_reads_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    read = set()
    for path in (ROOT / "otp_service").rglob("*.py"):
        read |= set(
            re.findall(
                r"(?:optional|optional_own|required|integer|number|choice|get|getenv)"
                r'\(\s*"((?:OTP|TELNYX|REDIS|SANDBOX|GUNICORN|WEB|PROMETHEUS|HOST|PORT)[A-Z0-9_]*)"',
                path.read_text(),
            )
        )
    assert {"OTP_SECRET", "REDIS_URL", "TELNYX_API_KEY"} <= read  # the pattern finds them
    assert sorted(name for name in read if f"`{name}`" not in readme) == []
