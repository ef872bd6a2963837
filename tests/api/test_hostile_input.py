"""Hostile JSON: deep nesting, lone surrogates, NUL and control characters in every string
field of every route's request body (read from openapi.yaml, so a new route is covered
as soon as the spec has it) never reach a 500."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from otp_service import create_app
from otp_service.api.http import MAX_JSON_DEPTH, parse_json
from otp_service.errors import InvalidRequest
from otp_service.telnyx.webhooks import public_key_b64, sign_webhook
from tests.conftest import ADMIN_KEY, CLIENT_KEY, Sandbox, make_env
from tests.test_openapi import SPEC_PATH

SPEC = yaml.safe_load(SPEC_PATH.read_text())
WEBHOOK = "/v1/webhooks/telnyx"
WEBHOOK_KEY = Ed25519PrivateKey.generate()
# Values path parameters take when a case needs one that is not in the spec.
PATH_VALUES = {
    "number_id": "8546663190378825878",
    "order_id": "order-1",
    "endpoint_id": "ep_abcdefghijklmnop",
    "delivery_id": "dlv_0123456789abcdef01234567",
}
SURROGATES = ["\ud800", "\udfff", "a\udbffb", "\udc00\ud800"]
CONTROLS = ["\x00", "a\x00b", "\x01\x1f", "\x7f", "line\nbreak"]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _json_routes() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body schema) of every operation that takes a JSON body."""
    routes = []
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                schema = _resolve(content["application/json"]["schema"])
                routes.append((method.upper(), path, schema))
    return routes


def _sample(schema: dict[str, Any]) -> Any:
    """A plausible value of ``schema``: its example, first enum value or a filler."""
    schema = _resolve(schema)
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: _sample(schema["properties"][name]) for name in schema.get("required", [])}
    if kind == "array":
        return [_sample(schema["items"])]
    return {"integer": 10, "number": 1.0, "boolean": True}.get(kind, "x")


def _string_fields(schema: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """(field name, is a list of strings) for every string-valued field of a body."""
    for name, field in schema.get("properties", {}).items():
        field = _resolve(field)
        if field.get("type") == "string":
            yield name, False
        elif field.get("type") == "array" and _resolve(field["items"]).get("type") == "string":
            yield name, True


def _path(path: str, operation: dict[str, Any], item: dict[str, Any]) -> str:
    for parameter in operation.get("parameters", []) + item.get("parameters", []):
        parameter = _resolve(parameter)
        if parameter["in"] == "path":
            value = parameter["schema"].get("example") or PATH_VALUES[parameter["name"]]
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def _cases(values: list[str]) -> list[Any]:
    cases = []
    for method, path, schema in _json_routes():
        operation = SPEC["paths"][path][method.lower()]
        url = _path(path, operation, SPEC["paths"][path])
        for field, is_list in _string_fields(schema):
            for value in values:
                body = {**_sample(schema), field: [value] if is_list else value}
                cases.append(
                    pytest.param(method, url, body, id=f"{method} {path} {field}={value!r}")
                )
    return cases


@pytest.fixture(scope="module")
def hostile_app(redis_server: Any, sandbox_server: Any) -> Iterator[Any]:
    sandbox = Sandbox(sandbox_server)
    env = make_env(redis_server.url, sandbox)
    env["TELNYX_PUBLIC_KEYS"] += "," + public_key_b64(WEBHOOK_KEY)
    app = create_app(env)
    yield app
    app.extensions["otp"].close()
    sandbox.close()


def send(app: Any, method: str, path: str, payload: bytes) -> Any:
    key = ADMIN_KEY if path.startswith("/v1/admin") else CLIENT_KEY
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if path == WEBHOOK:
        headers.update(sign_webhook(payload, WEBHOOK_KEY, int(time.time())))
    return app.test_client().open(path, method=method, data=payload, headers=headers)


def assert_refused_as_bad_json(response: Any) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "invalid_request"


def test_every_json_route_and_every_string_field_is_covered():
    routes = {(method, path) for method, path, _ in _json_routes()}
    assert ("PATCH", "/v1/admin/phone-numbers/{number_id}") in routes
    assert ("POST", WEBHOOK) in routes
    assert len(_cases(["x"])) >= 15


@pytest.mark.parametrize(("method", "path", "body"), _cases(SURROGATES))
def test_a_lone_surrogate_in_any_string_field_is_400(hostile_app, method, path, body):
    assert_refused_as_bad_json(send(hostile_app, method, path, json.dumps(body).encode()))


@pytest.mark.parametrize(("method", "path", "body"), _cases(CONTROLS))
def test_nul_and_control_characters_in_any_string_field_are_never_a_500(
    hostile_app, method, path, body
):
    response = send(hostile_app, method, path, json.dumps(body).encode())
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("value", ["+1312555\x000123", "\x00", "Acme\x07", "P2P\x00"])
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/admin/phone-numbers/8546663190378825878", "messaging_profile_id"),
        ("/v1/admin/phone-numbers/8546663190378825878", "messaging_product"),
    ],
)
def test_control_characters_in_number_settings_are_422_naming_the_field(
    hostile_app, path, field, value
):
    response = send(hostile_app, "PATCH", path, json.dumps({field: value}).encode())
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize(
    "raw",
    [b'{"phone_number": "\xed\xa0\x80"}', '{"phone_number": "+1"}'.encode("utf-16")],
    ids=["encoded-surrogate", "utf-16"],
)
def test_a_body_that_is_not_utf_8_is_400(hostile_app, raw):
    assert_refused_as_bad_json(send(hostile_app, "POST", "/v1/verifications", raw))


def test_a_signed_webhook_with_a_lone_surrogate_is_400(hostile_app):
    event = {"data": {"event_type": "message.finalized", "id": "\ud800", "payload": {}}}
    assert_refused_as_bad_json(send(hostile_app, "POST", WEBHOOK, json.dumps(event).encode()))


def _deep(levels: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * levels + closer * levels).encode()


# each under the 16 KiB body limit
DEEP_BODIES = {
    "arrays": _deep(3000),
    "objects": ('{"a":' * 2000 + "1" + "}" * 2000).encode(),
    "mixed": ('{"a":[' * 1000 + "]}" * 1000).encode(),
}


@pytest.mark.parametrize("name", DEEP_BODIES)
@pytest.mark.parametrize(
    ("method", "path"), [pytest.param(m, p, id=f"{m} {p}") for m, p, _ in _json_routes()]
)
def test_deeply_nested_json_is_400_on_every_json_route(hostile_app, method, path, name):
    operation = SPEC["paths"][path][method.lower()]
    url = _path(path, operation, SPEC["paths"][path])
    response = send(hostile_app, method, url, DEEP_BODIES[name])
    assert_refused_as_bad_json(response)
    assert "nests deeper" in response.get_json()["detail"]


def test_a_signed_webhook_20000_levels_deep_is_400(hostile_app):
    """Telnyx retries a 5xx for ever; a 400 it gives up on."""
    response = send(hostile_app, "POST", WEBHOOK, _deep(20000))
    assert_refused_as_bad_json(response)


def test_nesting_up_to_the_bound_is_parsed():
    assert parse_json(_deep(MAX_JSON_DEPTH)) == _nested(MAX_JSON_DEPTH)
    with pytest.raises(InvalidRequest):
        parse_json(_deep(MAX_JSON_DEPTH + 1))


def _nested(levels: int) -> Any:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = {"app_name": "[" * 40 + '{"\\' * 20, "x": ["]" * 40]}
    assert parse_json(json.dumps(body).encode()) == body


def test_an_escaped_backslash_before_u_is_not_a_surrogate():
    assert parse_json(b'{"a": "\\\\ud800"}') == {"a": "\\ud800"}


def test_surrogate_pairs_are_characters_not_lone_surrogates():
    assert parse_json(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(("[" * 40 + '"\\' * 30000).encode(), id="backslash-quote runs"),
        pytest.param(("[" * 40 + '"' + "\\" * 60000).encode(), id="a backslash run"),
    ],
)
def test_a_body_built_to_stall_the_depth_scan_is_answered_at_once(hostile_app, body):
    """The scan is one pass over the body: a body of unclosed strings cannot make it
    backtrack (a regex over strings took ~40 s of one core for a 60 KiB webhook)."""
    started = time.monotonic()
    response = send(hostile_app, "POST", WEBHOOK, body)
    assert response.status_code == 400
    assert time.monotonic() - started < 10
