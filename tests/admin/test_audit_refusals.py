"""An admin change refused before it is tried — a body that is not JSON, names an unknown
field, has a wrong type, or is not the file asked for — is in the audit log like the
changes the services refuse: its action, the problem's code and status."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.conftest import audit_entries
from tests.conftest import ApiClient

pytestmark = pytest.mark.topologies("single", "cluster")

UNKNOWN = {"colour": "blue"}


def _endpoint(admin: ApiClient) -> str:
    made = admin.post("/v1/admin/profiles/default/webhooks", json={"url": "http://127.0.0.1:9/h"})
    return made.get_json()["data"]["id"]


def _profile(admin: ApiClient) -> str:
    return admin.post("/v1/admin/profiles", json={"name": "Shop"}).get_json()["data"]["id"]


CASES = [
    ("POST", lambda a: "/v1/admin/profiles", "profile.create"),
    ("PATCH", lambda a: f"/v1/admin/profiles/{_profile(a)}", "profile.update"),
    ("POST", lambda a: "/v1/admin/profiles/default/webhooks", "webhook.create"),
    ("PATCH", lambda a: f"/v1/admin/profiles/default/webhooks/{_endpoint(a)}", "webhook.update"),
    (
        "POST",
        lambda a: f"/v1/admin/profiles/default/webhooks/{_endpoint(a)}/replay",
        "webhook.replay",
    ),
    ("PATCH", lambda a: "/v1/admin/phone-numbers/+13125550100", "phone_number.update"),
    ("POST", lambda a: "/v1/admin/phone-numbers/bulk-updates", "phone_numbers.bulk_update"),
    ("POST", lambda a: "/v1/admin/opt-outs/sync", "optouts.sync"),
]


@pytest.mark.parametrize(("method", "path_of", "action"), CASES, ids=[c[2] for c in CASES])
def test_a_body_with_an_unknown_field_is_refused_and_audited(
    admin: ApiClient, method: str, path_of: Any, action: str
):
    path = path_of(admin)
    refused = admin.flask.open(
        path, method=method, json=UNKNOWN, headers={"Authorization": f"Bearer {admin.key}"}
    )
    assert refused.status_code == 422, refused.get_json()
    newest = audit_entries(admin)[0]
    assert (newest["action"], newest["result"], newest["status"]) == (
        action,
        "invalid_request",
        422,
    )
    assert newest["key_id"] == "test-admin"


def test_a_body_that_is_not_json_or_not_the_file_asked_for_is_audited(admin: ApiClient):
    not_json = admin.flask.post(
        "/v1/admin/profiles",
        data=b"{name: Shop",
        headers={"Authorization": f"Bearer {admin.key}", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    no_csv = admin.post("/v1/admin/opt-outs/import", json={"numbers": []})
    assert no_csv.status_code == 415
    seen = [(e["action"], e["target"], e["result"], e["status"]) for e in audit_entries(admin)]
    assert seen[:2] == [
        ("optouts.import", "*", "unsupported_media_type", 415),
        ("profile.create", "*", "invalid_request", 400),
    ]
