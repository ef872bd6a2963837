"""Every admin route wants an admin key: a client key is 403, no key (or a wrong one) 401,
and nothing is changed or asked of Telnyx."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import ADMIN_KEY, CLIENT_KEY, ApiClient, Sandbox

SAMPLES = {
    "number_id": "123",
    "order_id": "abc",
    "phone_number": "+13125550123",
    "profile_id": "pf_abcdefghijklmnop",
    "key_id": "key_abcdefghijklmnop",
    "endpoint_id": "ep_abcdefghijklmnop",
    "delivery_id": "dlv_0123456789abcdef01234567",
    "verification_id": "a" * 32,
}


def admin_routes(app: Any) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/admin"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLES[m[1]], rule.rule)
        routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def call(app: Any, key: str | None, method: str, path: str) -> Any:
    client = ApiClient(app.test_client(), key)
    return client.flask.open(path, method=method, json={}, headers=client._headers(None))


def test_there_are_admin_routes(app: Any) -> None:
    # + profiles + webhook endpoints + history and insights
    assert len(admin_routes(app)) == 17 + 9 + 10 + 4


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        (CLIENT_KEY, 403, "forbidden"),
        (None, 401, "unauthorized"),
        ("not-a-key-at-all", 401, "unauthorized"),
    ],
)
def test_every_admin_route_refuses_anything_but_an_admin_key(
    app: Any, sandbox: Sandbox, redis_client: Any, key: str | None, status: int, code: str
) -> None:
    wrong = []
    for method, path in admin_routes(app):
        response = call(app, key, method, path)
        if (response.status_code, response.json.get("code")) != (status, code):
            wrong.append((method, path, response.status_code))
    assert wrong == []
    assert redis_client.keys("*") == []
    assert admin_log_is_empty(app)


def admin_log_is_empty(app: Any) -> bool:
    return app.extensions["otp"].audit.list()[1] == 0


def test_an_admin_key_gets_through(app: Any, sandbox: Sandbox) -> None:
    response = call(app, ADMIN_KEY, "GET", "/v1/admin/audit")
    assert response.status_code == 200
