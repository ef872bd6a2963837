"""Bad requests get a clear problem+json answer and change nothing."""

from __future__ import annotations

import pytest
from marshmallow import Schema, ValidationError

from otp_service import create_app
from otp_service.api import schemas
from otp_service.api.http import CURRENT_SERVICES, services
from tests.conftest import ApiClient

PHONE = "+13125550123"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "phone_number"),
        ({"phone_number": "3125550123"}, "phone_number"),
        ({"phone_number": "+1 312 555 0123"}, "phone_number"),
        ({"phone_number": "+15551234567"}, "phone_number"),
        ({"phone_number": 13125550123}, "phone_number"),
        ({"phone_number": PHONE, "channel": "voice"}, "channel"),
        ({"phone_number": PHONE, "code_length": 3}, "code_length"),
        ({"phone_number": PHONE, "code_length": 11}, "code_length"),
        ({"phone_number": PHONE, "code_length": "6"}, "code_length"),
        ({"phone_number": PHONE, "code_length": 6.0}, "code_length"),
        ({"phone_number": PHONE, "code_length": True}, "code_length"),
        ({"phone_number": PHONE, "ttl_seconds": 59}, "ttl_seconds"),
        ({"phone_number": PHONE, "ttl_seconds": 601}, "ttl_seconds"),
        ({"phone_number": PHONE, "app_name": ""}, "app_name"),
        ({"phone_number": PHONE, "app_name": "x" * 31}, "app_name"),
        ({"phone_number": PHONE, "app_name": "a\nb"}, "app_name"),
        ({"phone_number": PHONE, "locale": "en!"}, "locale"),
        ({"phone_number": PHONE, "extra": 1}, "extra"),
    ],
)
def test_invalid_create_bodies_are_422_and_send_nothing(client, sandbox, redis_client, body, field):
    response = client.post("/v1/verifications", json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "invalid_request"
    assert field in problem["errors"]
    assert sandbox.messages() == []
    assert redis_client.keys("*") == []


@pytest.mark.parametrize(
    "code",
    ["12345a", "١٢٣٤٥٦", "123 456", " 123456", "123456\n", "123", "12345678901", 123456, None],
)
def test_codes_must_be_strings_of_ascii_digits(client, code):
    response = client.post(f"/v1/verifications/{'a' * 32}/check", json={"code": code})
    assert response.status_code == 422
    assert "code" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {"code": "123456"},
        {"code": "1234"},
        {"code": "1234567890"},
        {"code": "123"},
        {"code": "12345a"},
        {"code": "١٢٣٤٥٦"},
        {"code": "123456\n"},
        {"code": 123456},
        {"code": None},
        {},
        {"x": "123456"},
        {"code": "123456", "x": 1},
        ["code"],
    ],
)
def test_the_check_body_shortcut_agrees_with_the_full_schema(body):
    """CheckCodeSchema.load takes the common body without marshmallow: it must accept and
    refuse exactly what marshmallow does."""
    try:
        expected = Schema.load(schemas.CHECK_CODE, body)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as raised:
            schemas.CHECK_CODE.load(body)
        assert raised.value.messages == exc.messages
    else:
        assert schemas.CHECK_CODE.load(body) == expected


def test_malformed_json_is_400(client):
    response = client.post(
        "/v1/verifications", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_request"


def test_a_json_array_is_400(client):
    response = client.post("/v1/verifications", json=[PHONE])
    assert response.status_code == 400


def test_a_non_json_body_is_415(client):
    response = client.post(
        "/v1/verifications",
        data="phone_number=%2B13125550123",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.get_json()["code"] == "unsupported_media_type"


def test_a_body_over_the_limit_is_413(client):
    response = client.post(
        "/v1/verifications",
        data=b"{" + b" " * 20000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"


def test_a_body_shorter_than_its_content_length_is_400(client, redis_client):
    response = client.post(
        "/v1/verifications",
        data=b'{"phone_number": "+13125550123"}',
        headers={"Content-Type": "application/json"},
        environ_overrides={"CONTENT_LENGTH": "100"},
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_request"
    assert redis_client.keys("*") == []


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer wrong-key-123", "Basic dGVzdDp0ZXN0", "test-client-key"],
)
def test_requests_without_a_valid_key_are_401(app, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = app.test_client().post(
        "/v1/verifications", json={"phone_number": PHONE}, headers=headers
    )
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_routes_and_methods_are_problem_documents(client):
    assert client.get("/v1/nothing-here").get_json()["code"] == "not_found"
    response = client.flask.delete("/v1/verifications")
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"


def test_hashed_api_keys_are_accepted(env, clock):
    import hashlib

    from otp_service import create_app

    digest = hashlib.sha256(b"a-hashed-client-key").hexdigest()
    env["OTP_API_KEYS"] = f"hashed:sha256:{digest}"
    app = create_app(env, clock=clock)
    try:
        client = ApiClient(app.test_client(), "a-hashed-client-key")
        assert client.get(f"/v1/verifications/{'a' * 32}").status_code == 404
        wrong = ApiClient(app.test_client(), "sha256:" + digest)
        assert wrong.get(f"/v1/verifications/{'a' * 32}").status_code == 401
    finally:
        app.extensions["otp"].close()


def test_each_request_finds_the_services_of_the_app_answering_it(env, clock):
    """``services()`` comes from the request's own app (RequestMiddleware sets it for the
    request's length): two apps in one thread, one request inside the other's, and none
    left behind after."""
    first_key, second_key = "key-of-the-first-app-0123456789", "key-of-the-second-app-0123456789"
    first = create_app(dict(env, OTP_API_KEYS=f"first:{first_key}"), clock=clock)
    second = create_app(dict(env, OTP_API_KEYS=f"second:{second_key}"), clock=clock)
    unknown = f"/v1/verifications/{'a' * 32}"

    @first.get("/_probe")
    def probe() -> dict[str, object]:
        inner = second.test_client().get(unknown, headers={"Authorization": f"Bearer {first_key}"})
        return {"inner": inner.status_code, "mine": services() is first.extensions["otp"]}

    try:
        # a key is known to its own app only
        assert ApiClient(first.test_client(), first_key).get(unknown).status_code == 404
        assert ApiClient(second.test_client(), first_key).get(unknown).status_code == 401
        assert ApiClient(second.test_client(), second_key).get(unknown).status_code == 404
        assert first.test_client().get("/_probe").get_json() == {"inner": 401, "mine": True}
        assert CURRENT_SERVICES.get(None) is None
    finally:
        first.extensions["otp"].close()
        second.extensions["otp"].close()


def test_a_204_has_no_body_and_no_content_type(client, admin):
    """Each delete answers 204 with nothing in it, not an empty text/html page."""
    factor = client.post("/v1/factors", json={"type": "totp", "subject": "alice"}).get_json()
    profile = admin.post("/v1/admin/profiles", json={"name": "Shop"}).get_json()["data"]
    key = admin.post(f"/v1/admin/profiles/{profile['id']}/keys").get_json()["data"]
    webhooks = f"/v1/admin/profiles/{profile['id']}/webhooks"
    endpoint = admin.post(webhooks, json={"url": "http://127.0.0.1:9/hooks"}).get_json()["data"]
    assert admin.put(f"/v1/admin/opt-outs/{PHONE}").status_code == 201
    answers = [
        client.delete(f"/v1/factors/{factor['id']}"),
        admin.delete(f"/v1/admin/opt-outs/{PHONE}"),
        admin.delete(f"/v1/admin/profiles/{profile['id']}/keys/{key['id']}"),
        admin.delete(f"{webhooks}/{endpoint['id']}"),
        admin.delete(f"/v1/admin/profiles/{profile['id']}"),
    ]
    assert [a.status_code for a in answers] == [204] * 5
    assert [a.headers.get("Content-Type") for a in answers] == [None] * 5
    assert [a.get_data() for a in answers] == [b""] * 5
