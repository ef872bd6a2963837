"""The admin API of webhook endpoints: shapes, validation, isolation between profiles,
the secret shown once, the audit log, and the production URL rules (https only, no
private, loopback, link-local or metadata address)."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import socket
import time
from typing import Any

import pytest

from otp_service import errors
from otp_service.config import Settings
from otp_service.events.endpoints import Endpoint, EndpointService
from otp_service.store.webhooks import WebhookStore
from tests.conftest import ApiClient

BASE = "/v1/admin/profiles/default/webhooks"


def test_create_shows_the_secret_once_and_stores_it_sealed(admin, redis_client, receiver):
    answer = admin.post(
        BASE,
        json={
            "url": receiver.url,
            "events": ["verification.approved", "verification.created"],
            "description": "backend",
        },
    )
    assert answer.status_code == 201
    data = answer.get_json()["data"]
    assert answer.headers["Location"] == f"{BASE}/{data['id']}"
    assert data["secret"].startswith("whsec_")
    assert data["events"] == ["verification.created", "verification.approved"]
    assert data["enabled"] is True
    assert data["profile_id"] == "default"
    for shown in (admin.get(f"{BASE}/{data['id']}"), admin.get(BASE)):
        assert "secret" not in shown.get_data(as_text=True)
    raw_secret = data["secret"].removeprefix("whsec_").encode()
    for key in redis_client.keys("*"):
        if redis_client.type(key) == b"hash":
            assert all(raw_secret not in v for v in redis_client.hgetall(key).values())


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "http://127.0.0.1/x", "events": ["verification.nope"]}, "events"),
        ({"url": "http://127.0.0.1/x", "events": "verification.approved"}, "events"),
        ({"url": "http://127.0.0.1/x", "description": "x" * 201}, "description"),
    ],
)
def test_a_bad_body_is_422_naming_the_field_and_stores_nothing(admin, redis_client, body, field):
    answer = admin.post(BASE, json=body)
    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["code"] == "invalid_request"
    assert field in problem["errors"]
    assert admin.get(BASE).get_json()["data"] == []


def test_unknown_fields_and_wrong_types_are_refused(admin):
    assert admin.post(BASE, json={"url": "http://127.0.0.1/x", "colour": 1}).status_code == 422
    made = admin.post(BASE, json={"url": "http://127.0.0.1/x"}).get_json()["data"]
    answer = admin.patch(f"{BASE}/{made['id']}", json={"enabled": "yes"})
    assert answer.status_code == 422
    assert "enabled" in answer.get_json()["errors"]


def test_update_delete_and_not_found(admin, receiver):
    made = admin.post(BASE, json={"url": receiver.url}).get_json()["data"]
    patched = admin.patch(
        f"{BASE}/{made['id']}", json={"events": ["factor.deleted"], "description": "d"}
    ).get_json()["data"]
    assert patched["events"] == ["factor.deleted"]
    assert patched["description"] == "d"
    assert admin.delete(f"{BASE}/{made['id']}").status_code == 204
    for response in (
        admin.get(f"{BASE}/{made['id']}"),
        admin.delete(f"{BASE}/{made['id']}"),
        admin.patch(f"{BASE}/{made['id']}", json={"enabled": False}),
        admin.get(f"{BASE}/ep_doesnotexist/deliveries"),
    ):
        assert response.status_code == 404
        assert response.get_json()["code"] == "webhook_endpoint_not_found"
    assert admin.get("/v1/admin/profiles/pf_aaaaaaaaaaaaaaaa/webhooks").status_code == 404


def test_another_profiles_endpoint_is_404_through_every_route(admin, receiver):
    made = admin.post(BASE, json={"url": receiver.url}).get_json()["data"]
    other = admin.post("/v1/admin/profiles", json={"name": "o"}).get_json()["data"]["id"]
    there = f"/v1/admin/profiles/{other}/webhooks/{made['id']}"
    for response in (
        admin.get(there),
        admin.patch(there, json={"enabled": False}),
        admin.post(f"{there}/rotate-secret"),
        admin.post(f"{there}/test"),
        admin.get(f"{there}/deliveries"),
        admin.post(f"{there}/replay", json={"since": "2020-01-01T00:00:00Z"}),
        admin.delete(there),
    ):
        assert response.status_code == 404
    assert admin.get(f"/v1/admin/profiles/{other}/webhooks").get_json()["data"] == []
    assert admin.get(f"{BASE}/{made['id']}").get_json()["data"]["enabled"] is True


def test_client_keys_cannot_manage_endpoints(client):
    assert client.get(BASE).status_code in (401, 403)
    assert client.post(BASE, json={"url": "http://127.0.0.1/x"}).status_code in (401, 403)


def test_changes_are_audited(admin, receiver):
    made = admin.post(BASE, json={"url": receiver.url}).get_json()["data"]
    admin.post(f"{BASE}/{made['id']}/rotate-secret")
    admin.delete(f"{BASE}/{made['id']}")
    entries = admin.get("/v1/admin/audit").get_json()["data"]
    actions = [e["action"] for e in entries if e["target"] == made["id"]]
    assert sorted(actions) == ["webhook.create", "webhook.delete", "webhook.rotate_secret"]
    assert "whsec_" not in str(entries)


def test_development_allows_a_loopback_http_url_and_refuses_a_private_one(admin):
    assert admin.post(BASE, json={"url": "http://127.0.0.1:9/hook"}).status_code == 201
    no_port = admin.post(BASE, json={"url": "http://127.0.0.1:99999/hook"})
    assert no_port.status_code == 422
    assert no_port.get_json()["reason"] == "webhook_url_invalid"
    refused = admin.post(BASE, json={"url": "http://10.0.0.5/hook"})
    assert refused.status_code == 422
    assert refused.get_json()["code"] == "webhook_url_not_allowed"


def fake_resolver(address: str) -> Any:
    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port or 443))]

    return resolve


class _Audit:
    def audited(self, *args: Any, **kwargs: Any) -> Any:
        return contextlib.nullcontext({})


@pytest.mark.parametrize(
    "url, address, reason",
    [
        ("http://hooks.example.com/x", "93.184.216.34", "scheme"),
        ("https://hooks.example.com/x", "127.0.0.1", "address"),
        ("https://hooks.example.com/x", "10.1.2.3", "address"),
        ("https://hooks.example.com/x", "192.168.1.1", "address"),
        ("https://hooks.example.com/x", "169.254.169.254", "address"),
        ("https://hooks.example.com/x", "fd00:ec2::254", "address"),
        ("https://hooks.example.com/x", "::1", "address"),
        ("https://hooks.example.com/x", "100.64.0.1", "address"),
    ],
)
def test_production_refuses_http_and_non_public_addresses(
    settings: Settings, redis_client, app, url, address, reason
):
    production = Settings(**{**settings.__dict__, "env": "production"})
    service = EndpointService(
        production,
        WebhookStore(app.extensions["otp"].store),
        _Audit(),
        lambda profile_id: None,
        resolve=fake_resolver(address),
    )
    with pytest.raises(errors.WebhookUrlNotAllowed) as refused:
        service.create("default", {"url": url}, actor="t")
    assert reason in refused.value.extra["reason"]
    ok = EndpointService(
        production,
        WebhookStore(app.extensions["otp"].store),
        _Audit(),
        lambda profile_id: None,
        resolve=fake_resolver("93.184.216.34"),
    )
    assert ok.create("default", {"url": "https://hooks.example.com/x"}, actor="t")["data"]["id"]


def test_an_admin_client_of_another_key_sees_the_same_endpoints(app, admin, receiver):
    made = admin.post(BASE, json={"url": receiver.url}).get_json()["data"]
    other = ApiClient(app.test_client(), admin.key)
    assert [e["id"] for e in other.get(BASE).get_json()["data"]] == [made["id"]]


def test_trusted_networks_let_an_operators_own_backend_in_even_over_http(
    settings: Settings, redis_client, app
):
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    production = Settings(
        **{**settings.__dict__, "env": "production", "webhook_trusted_networks": trusted}
    )

    def service(address: str) -> EndpointService:
        store = WebhookStore(app.extensions["otp"].store)
        return EndpointService(
            production, store, _Audit(), lambda profile_id: None, resolve=fake_resolver(address)
        )

    made = service("10.1.2.3").create("default", {"url": "http://backend.internal/h"}, actor="t")
    assert made["data"]["url"] == "http://backend.internal/h"
    for address, url in (
        ("192.168.1.1", "https://backend.internal/h"),  # private, not listed
        ("93.184.216.34", "http://hooks.example.com/h"),  # public: https only
    ):
        with pytest.raises(errors.WebhookUrlNotAllowed):
            service(address).create("default", {"url": url}, actor="t")


def test_deliveries_page_by_page_reach_every_one_even_within_one_millisecond(admin, receiver):
    """A worker stores a batch of deliveries in the same millisecond: a page ending inside
    that millisecond still leads to the rest (``meta.next_cursor``), none twice."""
    made = admin.post(BASE, json={"url": receiver.url}).get_json()["data"]
    here = f"{BASE}/{made['id']}/deliveries"
    queued = {admin.post(f"{BASE}/{made['id']}/test").get_json()["data"]["id"] for _ in range(5)}
    first = admin.get(here, query_string={"limit": 2}).get_json()
    assert len({d["created_at"] for d in first["data"]}) == 1  # the test clock stands still
    seen, answer = [], first
    while True:
        seen += [d["id"] for d in answer["data"]]
        if answer["meta"]["next_cursor"] is None:
            break
        answer = admin.get(here, query_string={"limit": 2, "cursor": answer["meta"]["next_cursor"]})
        assert answer.status_code == 200, answer.get_json()
        answer = answer.get_json()
    assert sorted(seen) == sorted(queued) and len(seen) == 5
    everything = admin.get(here).get_json()
    assert [d["id"] for d in everything["data"]] == seen
    assert everything["meta"]["next_cursor"] is None
    for query in ({"cursor": "dlv_x"}, {"cursor": seen[0], "before": "2030-01-01T00:00:00Z"}):
        refused = admin.get(here, query_string=query)
        assert refused.status_code == 422
        assert refused.get_json()["code"] == "invalid_request"


def test_a_change_made_while_another_is_underway_is_not_lost(settings: Settings, redis_client, app):
    """Two operators at once: a secret rotated while a PATCH of the same endpoint is being
    checked still signs after the PATCH is saved (the PATCH does not write back the
    secrets it read before), and the PATCH's change is kept too."""
    store = WebhookStore(app.extensions["otp"].store)
    plain = EndpointService(settings, store, _Audit(), lambda profile_id: None)
    made = plain.create("default", {"url": "http://127.0.0.1:9/h"}, actor="t")["data"]
    rotated: list[str] = []

    def resolve_and_rotate(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if not rotated:  # the other operator, while this PATCH checks its URL
            rotated.append(plain.rotate_secret("default", made["id"], actor="u")["data"]["secret"])
        return fake_resolver("127.0.0.1")(host, port)

    patching = EndpointService(
        settings, store, _Audit(), lambda profile_id: None, resolve=resolve_and_rotate
    )
    patching.update("default", made["id"], {"url": "http://hooks.example.com/h"}, actor="t")
    endpoint = Endpoint.from_json(store.endpoint(made["id"]))
    assert endpoint.url == "http://hooks.example.com/h"
    signing = plain.signing_secrets(endpoint, int(time.time() * 1000))
    assert base64.b64decode(rotated[0].removeprefix("whsec_")) in signing


# a chunked request body as gunicorn hands it over: no Content-Length, the stream ended
CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}


def test_a_chunked_body_is_read_like_any_other(admin, receiver):
    """A client that streams its body (Transfer-Encoding: chunked) is not answered as if
    it had sent none: a PATCH that disables is not a 200 that changed nothing."""
    made = admin.post(BASE, json={"url": receiver.url}, environ_overrides=CHUNKED)
    assert made.status_code == 201, made.get_json()
    here = f"{BASE}/{made.get_json()['data']['id']}"
    patched = admin.patch(here, json={"enabled": False}, environ_overrides=CHUNKED)
    assert patched.get_json()["data"]["enabled"] is False
    replay = admin.post(
        f"{here}/replay", json={"since": "2020-01-01T00:00:00Z"}, environ_overrides=CHUNKED
    )
    assert replay.status_code == 202
