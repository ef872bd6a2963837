"""`otp-service profiles …` and `otp-service keys …`: the profile service's code paths
from the command line, against the same Redis the API uses."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from click.testing import CliRunner

from otp_service.cli import main
from otp_service.store.redis_server import RedisServer
from tests.conftest import ApiClient, Sandbox, make_env
from tests.profiles.conftest import make_profile


@pytest.fixture
def run(redis_server: RedisServer, redis_client: Any, sandbox: Sandbox) -> Any:
    env = make_env(redis_server.url, sandbox)

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def test_a_profile_made_and_keyed_from_the_cli_works_through_the_api(
    run: Any, app: Any, admin: ApiClient, sandbox: Sandbox
) -> None:
    made = run("profiles", "create", '{"name": "Shop", "code_length": 8}')
    assert made.exit_code == 0, made.output
    profile = json.loads(made.output)
    assert run("profiles", "list").output.count(profile["id"]) == 1
    shown = json.loads(run("profiles", "show", profile["id"]).output)
    assert shown["settings"]["code_length"] == 8

    issued = run("keys", "create", "--profile", profile["id"])
    assert issued.exit_code == 0, issued.output
    key_id, key = issued.output.split()[:2]
    assert key.startswith("otpk_")
    listed = run("keys", "list", "--profile", profile["id"])
    assert key_id in listed.output and key not in listed.output

    client = ApiClient(app.test_client(), key)
    created = client.post("/v1/verifications", json={"phone_number": "+13125550123"})
    assert created.status_code == 201
    assert len(sandbox.last_code("+13125550123")) == 8

    assert run("keys", "revoke", "--profile", profile["id"], key_id).exit_code == 0
    deadline = time.monotonic() + 2  # the documented bound, across processes too
    while time.monotonic() < deadline and client.get("/v1/verifications/x").status_code != 401:
        time.sleep(0.1)
    assert client.get("/v1/verifications/x").status_code == 401
    audited = admin.get("/v1/admin/audit").get_json()["data"]
    assert {"profile.create", "profile_key.create", "profile_key.revoke"} <= {
        e["action"] for e in audited if e["key_id"] == "cli"
    }


def test_cli_refusals_are_the_apis(run: Any) -> None:
    refused = run("profiles", "create", '{"code_length": 99}')
    assert refused.exit_code == 1
    assert "invalid_request (422)" in refused.output
    assert run("profiles", "create", "[1]").exit_code == 2  # not a JSON object
    assert "profile_not_found (404)" in run("profiles", "show", "pf_aaaaaaaaaaaaaaaa").output
    updated = run("profiles", "update", "default", '{"name": "x"}')
    assert "conflict (409)" in updated.output


def test_the_guard_routes_and_whatsapp_fields_go_through_the_cli(run: Any) -> None:
    fields = {
        "guard": {"mode": "shadow", "ip_hourly": 5},
        "routes": {"US": [{"type": "short_code", "from": "22395"}]},
        "whatsapp": {"template": "shop_code"},
    }
    made = run("profiles", "create", json.dumps(fields))
    assert made.exit_code == 0, made.output
    profile = json.loads(made.output)
    assert profile["overrides"]["routes"] == fields["routes"]
    assert profile["settings"]["guard"]["ip_hourly"] == 5
    updated = run("profiles", "update", profile["id"], '{"guard": {"device_hourly": 2}}')
    assert json.loads(updated.output)["settings"]["guard"]["mode"] == "enforce"
    refused = run("profiles", "update", profile["id"], '{"routes": {"US": [{"type": "fax"}]}}')
    assert refused.exit_code == 1 and "invalid_request (422)" in refused.output
    assert "must be one of short_code" in refused.output


def test_the_list_shows_every_profile_past_one_page(run: Any, admin: ApiClient) -> None:
    ids = [make_profile(admin, name=f"app {n}")["id"] for n in range(251)]
    listed = run("profiles", "list")
    assert listed.exit_code == 0, listed.output
    assert all(pid in listed.output for pid in ids)
    as_json = json.loads(run("profiles", "list", "--json").output)
    assert len(as_json["data"]) == 252  # default first
    assert as_json["meta"]["total_results"] == 252
