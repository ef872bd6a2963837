"""`otp-service numbers …` and `otp-service optouts …`: the admin service's code paths,
from the command line, against the same Redis and the sandbox."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from otp_service.cli import main
from otp_service.sandbox.seed import OPTED_OUT_NUMBERS
from otp_service.store.redis_server import RedisServer
from tests.admin.conftest import audit_entries
from tests.conftest import ApiClient, Sandbox, make_env

PHONE = "+13125550123"


@pytest.fixture
def run(redis_server: RedisServer, redis_client: Any, sandbox: Sandbox) -> Any:
    env = make_env(redis_server.url, sandbox)

    def invoke(*args: str, **extra: Any) -> Any:
        result = CliRunner().invoke(main, list(args), env={**env, **extra})
        return result

    return invoke


def test_numbers_list_prints_a_page_of_the_sandbox_numbers(run: Any) -> None:
    result = run("numbers", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "PHONE", "NUMBER", "TYPE", "MESSAGING", "PROFILE", "PRODUCT"]
    assert len(lines) == 1 + 20 + 1
    assert lines[-1] == "page 1/3 (50 numbers)"
    assert "+13125550100" in result.output


def test_numbers_list_every_page_as_json(run: Any) -> None:
    import json

    result = run("numbers", "list", "--all", "--json", "--type", "longcode")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["data"]) == 47


def test_numbers_list_reports_bad_options_as_the_api_would(run: Any) -> None:
    result = run("numbers", "list", "--size", "999")
    assert result.exit_code == 1
    assert "invalid_request (422)" in result.output


def test_optouts_add_list_remove(run: Any, app: Any, client: ApiClient, admin: ApiClient) -> None:
    added = run("optouts", "add", PHONE)
    assert added.exit_code == 0, added.output
    assert f"{PHONE} opted out" in added.output
    assert client.post("/v1/verifications", json={"phone_number": PHONE}).status_code == 409
    listed = run("optouts", "list", "--source", "admin")
    assert PHONE in listed.output
    assert listed.output.splitlines()[-1] == "page 1/1 (1 opt-outs)"
    again = run("optouts", "add", PHONE)
    assert "already opted out (admin)" in again.output
    removed = run("optouts", "remove", PHONE)
    assert removed.exit_code == 0, removed.output
    missing = run("optouts", "remove", PHONE)
    assert missing.exit_code == 1
    assert "optout_not_found (404)" in missing.output
    bad = run("optouts", "add", "12345")
    assert (bad.exit_code, "invalid_request" in bad.output) == (1, True)
    entries = audit_entries(admin)
    assert {e["key_id"] for e in entries} == {"cli"}
    assert [e["result"] for e in entries] == ["optout_not_found", "removed", "exists", "added"]


def test_optouts_sync_shows_progress_and_is_idempotent(run: Any) -> None:
    first = run("optouts", "sync")
    assert first.exit_code == 0, first.output
    assert "Syncing opt-outs from Telnyx" in first.output
    assert f"fetched {len(OPTED_OUT_NUMBERS)}, added {len(OPTED_OUT_NUMBERS)}," in first.output
    second = run("optouts", "sync")
    assert f"added 0, already present {len(OPTED_OUT_NUMBERS)}" in second.output


def test_optouts_export_and_import_files(run: Any, tmp_path: Path, redis_client: Any) -> None:
    run("optouts", "sync")
    out = tmp_path / "optouts.csv"
    exported = run("optouts", "export", "--output", str(out))
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["phone_number"] for r in rows] == list(OPTED_OUT_NUMBERS)
    stdout = run("optouts", "export", "--source", "admin")
    assert stdout.output == "phone_number,source,created_at\n"
    redis_client.flushall()
    imported = run("optouts", "import", str(out))
    assert imported.exit_code == 0, imported.output
    assert f"received {len(rows)}, added {len(rows)}, already present 0" in imported.output
    bad = tmp_path / "bad.csv"
    bad.write_text("phone_number\n+13125550123\nnope\n")
    refused = run("optouts", "import", str(bad))
    assert refused.exit_code == 1
    assert "line 3: 'nope'" in refused.output


def test_without_redis_url_the_cli_uses_the_embedded_servers_socket(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    data_dir = tmp_path / "d"
    server = RedisServer(data_dir / "redis", appendonly=False)
    if not server.use_socket:
        pytest.skip("the temporary path is too long for a unix socket")
    server.start()
    try:
        env = {**make_env(server.url, sandbox), "REDIS_URL": "", "OTP_DATA_DIR": str(data_dir)}
        result = CliRunner().invoke(main, ["optouts", "add", PHONE], env=env)
        assert result.exit_code == 0, result.output
        with redis.Redis.from_url(server.url) as direct:
            assert direct.xlen("otp:{audit}:log") == 1
    finally:
        server.stop()


def test_without_redis_url_and_no_running_server_the_cli_says_what_to_do(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    env = {**make_env("", sandbox), "OTP_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["optouts", "list"], env=env)
    assert result.exit_code == 1
    assert "make run" in result.output
    assert str(tmp_path / "redis" / "redis.sock") in result.output


def _serve_banner(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, **keys: str) -> str:
    """What `serve` prints before gunicorn starts (REDIS_URL and a Telnyx key are set, so
    it starts nothing else)."""
    monkeypatch.setattr("otp_service.cli._run_gunicorn", lambda: None)
    env = {**make_env("redis://127.0.0.1:1/0", sandbox), "OTP_API_KEYS": "", "OTP_ADMIN_KEYS": ""}
    result = CliRunner().invoke(main, ["serve"], env={**env, **keys})
    assert result.exit_code == 0, result.output
    return result.output


def test_serve_prints_the_development_keys_it_falls_back_on(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    banner = _serve_banner(sandbox, monkeypatch)
    assert "dev-client-key" in banner
    assert "dev-admin-key" in banner


def test_serve_does_not_print_a_development_key_that_a_configured_one_replaces(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    banner = _serve_banner(sandbox, monkeypatch, OTP_API_KEYS="web:configured-client-key")
    assert "dev-client-key" not in banner
    assert "dev-admin-key" in banner
    banner = _serve_banner(
        sandbox,
        monkeypatch,
        OTP_API_KEYS="web:configured-client-key",
        OTP_ADMIN_KEYS="ops:configured-admin-key",
    )
    assert "dev-client-key" not in banner
    assert "dev-admin-key" not in banner
    assert "configured" not in banner
