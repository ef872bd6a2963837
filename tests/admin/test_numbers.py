"""Sending numbers through /v1/admin: Telnyx's numbers, profiles and short codes, passed
through with their pagination, and Telnyx's errors mapped to problems."""

from __future__ import annotations

from typing import Any

import pytest

from otp_service.sandbox.seed import FROM_NUMBERS, MOBILE_NUMBERS, PROFILE_IDS, SHORT_CODES
from tests.admin.conftest import audit_entries
from tests.conftest import ApiClient, Sandbox

PRIMARY, SECONDARY = PROFILE_IDS["primary"], PROFILE_IDS["secondary"]
NUMBER = FROM_NUMBERS[PRIMARY][0]  # +13125550100


def number_id(admin: ApiClient, phone: str = NUMBER) -> str:
    response = admin.get("/v1/admin/phone-numbers", query_string={"filter[phone_number]": phone})
    assert response.status_code == 200, response.json
    (number,) = response.json["data"]
    return number["id"]


def test_phone_numbers_list_passes_telnyx_pages_through(admin: ApiClient, services: Any) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        response = admin.get("/v1/admin/phone-numbers", query_string={"page[number]": page})
        assert response.status_code == 200
        body = response.json
        assert body["meta"] == {
            "page_number": page,
            "page_size": 20,
            "total_pages": 3,
            "total_results": 50,
        }
        seen += [n["phone_number"] for n in body["data"]]
    assert len(seen) == len(set(seen)) == 50
    assert body["data"][0]["record_type"] == "messaging_settings"
    assert {"id", "messaging_profile_id", "messaging_product", "type"} <= set(body["data"][0])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"filter[messaging_profile_id]": SECONDARY}, 15),
        ({"filter[type]": "tollfree"}, 3),
        ({"filter[phone_number][contains]": "555014"}, 7),
        ({"page[size]": "50"}, 50),
    ],
)
def test_phone_numbers_list_filters_go_to_telnyx(
    admin: ApiClient, services: Any, query: dict[str, str], expected: int
) -> None:
    query = {"page[size]": "100", **query}
    response = admin.get("/v1/admin/phone-numbers", query_string=query)
    assert response.status_code == 200, response.json
    assert response.json["meta"]["total_results"] == expected


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/v1/admin/phone-numbers", {"filter[nope]": "x"}, "filter[nope]"),
        ("/v1/admin/phone-numbers", {"page[size]": "251"}, "page[size]"),
        ("/v1/admin/phone-numbers", {"page[number]": "0"}, "page[number]"),
        ("/v1/admin/phone-numbers", {"page[number]": "one"}, "page[number]"),
        ("/v1/admin/mobile-phone-numbers", {"filter[type]": "longcode"}, "filter[type]"),
        ("/v1/admin/short-codes", {"sort": "x"}, "sort"),
        ("/v1/admin/messaging-profiles", {"filter[id]": "x"}, "filter[id]"),
    ],
)
def test_query_names_not_in_telnyx_spec_are_refused(
    admin: ApiClient, services: Any, sandbox: Sandbox, path: str, query: dict, field: str
) -> None:
    response = admin.get(path, query_string=query)
    assert response.status_code == 422
    assert response.json["code"] == "invalid_request"
    assert field in response.json["errors"]


def test_a_repeated_query_name_is_refused(admin: ApiClient, services: Any) -> None:
    response = admin.get("/v1/admin/phone-numbers?page[size]=5&page[size]=6")
    assert response.status_code == 422
    assert "page[size]" in response.json["errors"]


def test_telnyx_validation_of_a_passed_filter_comes_back_as_422_with_its_code(
    admin: ApiClient, services: Any
) -> None:
    response = admin.get("/v1/admin/phone-numbers", query_string={"filter[type]": "bogus"})
    assert response.status_code == 422
    body = response.json
    assert body["code"] == "invalid_request"
    assert body["provider_status"] == 422
    assert body["provider_codes"] == ["10015"]
    assert body["provider_errors"][0]["source"] == {"parameter": "filter[type]"}


def test_get_one_phone_number(admin: ApiClient, services: Any) -> None:
    ident = number_id(admin)
    response = admin.get(f"/v1/admin/phone-numbers/{ident}")
    assert response.status_code == 200
    assert response.json["data"]["phone_number"] == NUMBER
    assert response.json["data"]["messaging_profile_id"] == PRIMARY


def test_unknown_phone_number_is_telnyx_404_mapped(admin: ApiClient, services: Any) -> None:
    response = admin.get("/v1/admin/phone-numbers/999")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["code"] == "not_found"
    assert body["provider_status"] == 404
    assert body["provider_codes"] == ["10005"]
    assert body["provider_errors"][0]["title"] == "Resource not found"


def test_moving_a_number_to_another_profile(
    admin: ApiClient, services: Any, sandbox: Sandbox
) -> None:
    ident = number_id(admin)
    response = admin.patch(
        f"/v1/admin/phone-numbers/{ident}",
        json={"messaging_profile_id": SECONDARY, "messaging_product": "P2P"},
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["messaging_profile_id"] == SECONDARY
    again = admin.get(f"/v1/admin/phone-numbers/{ident}").json["data"]
    assert (again["messaging_profile_id"], again["messaging_product"]) == (SECONDARY, "P2P")
    (entry, *_) = audit_entries(admin)
    assert entry["action"] == "phone_number.update"
    assert entry["target"] == ident
    assert (entry["result"], entry["status"], entry["key_id"]) == ("updated", 200, "test-admin")
    assert entry["detail"] == {"messaging_profile_id": SECONDARY, "messaging_product": "P2P"}


def test_unassigning_a_number_from_its_profile(admin: ApiClient, services: Any) -> None:
    ident = number_id(admin)
    response = admin.patch(f"/v1/admin/phone-numbers/{ident}", json={"messaging_profile_id": ""})
    assert response.status_code == 200
    assert response.json["data"]["messaging_profile_id"] is None


def test_unknown_profile_on_update_is_telnyx_422_mapped_and_audited(
    admin: ApiClient, services: Any
) -> None:
    ident = number_id(admin)
    response = admin.patch(
        f"/v1/admin/phone-numbers/{ident}", json={"messaging_profile_id": "no-such-profile"}
    )
    assert response.status_code == 422
    body = response.json
    assert (body["code"], body["provider_status"], body["provider_codes"]) == (
        "invalid_request",
        422,
        ["10017"],
    )
    assert body["provider_errors"][0]["source"] == {"pointer": "/messaging_profile_id"}
    (entry, *_) = audit_entries(admin)
    assert (entry["action"], entry["result"], entry["status"]) == (
        "phone_number.update",
        "invalid_request",
        422,
    )
    assert entry["detail"]["provider_codes"] == ["10017"]
    assert admin.get(f"/v1/admin/phone-numbers/{ident}").json["data"]["messaging_profile_id"] == (
        PRIMARY
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"tags": ["x"]}, {"messaging_profile_id": 5}, {"messaging_product": ""}],
)
def test_update_bodies_that_change_nothing_or_do_not_fit_are_422(
    admin: ApiClient, services: Any, body: dict
) -> None:
    response = admin.patch("/v1/admin/phone-numbers/123", json=body)
    assert response.status_code == 422
    assert response.json["code"] == "invalid_request"


def test_mobile_phone_numbers_list_and_get(admin: ApiClient, services: Any) -> None:
    first = admin.get("/v1/admin/mobile-phone-numbers", query_string={"page[size]": "20"})
    assert first.status_code == 200
    assert first.json["meta"]["total_results"] == len(MOBILE_NUMBERS)
    second = admin.get("/v1/admin/mobile-phone-numbers", query_string={"page[number]": "2"})
    numbers = [n["phone_number"] for n in first.json["data"] + second.json["data"]]
    assert sorted(numbers) == sorted(MOBILE_NUMBERS)
    ident = first.json["data"][0]["id"]
    one = admin.get(f"/v1/admin/mobile-phone-numbers/{ident}")
    assert one.status_code == 200
    assert one.json["data"]["id"] == ident
    assert admin.get("/v1/admin/mobile-phone-numbers/999").json["code"] == "not_found"


def test_bulk_update_moves_numbers_and_its_order_can_be_read(
    admin: ApiClient, services: Any
) -> None:
    numbers = list(FROM_NUMBERS[PRIMARY][:3])
    response = admin.post(
        "/v1/admin/phone-numbers/bulk-updates",
        json={"messaging_profile_id": SECONDARY, "numbers": [*numbers, "+13125559999"]},
    )
    assert response.status_code == 202, response.json
    order = response.json["data"]
    assert response.headers["Location"] == (
        f"/v1/admin/phone-numbers/bulk-updates/{order['order_id']}"
    )
    status = admin.get(response.headers["Location"])
    assert status.status_code == 200
    assert status.json["data"]["success"] == numbers
    assert status.json["data"]["failed"] == ["+13125559999"]
    moved = admin.get(
        "/v1/admin/phone-numbers",
        query_string={"filter[messaging_profile_id]": SECONDARY, "page[size]": "100"},
    )
    assert set(numbers) <= {n["phone_number"] for n in moved.json["data"]}
    (entry, *_) = audit_entries(admin)
    assert (entry["action"], entry["result"], entry["status"]) == (
        "phone_numbers.bulk_update",
        "accepted",
        202,
    )
    assert entry["detail"] == {
        "messaging_profile_id": SECONDARY,
        "numbers": 4,
        "order_id": order["order_id"],
    }


@pytest.mark.parametrize(
    "body",
    [
        {"messaging_profile_id": SECONDARY, "numbers": []},
        {"messaging_profile_id": SECONDARY, "numbers": ["3125550100"]},
        {"numbers": ["+13125550100"]},
    ],
)
def test_bulk_update_bodies_are_checked_before_telnyx(
    admin: ApiClient, services: Any, body: dict
) -> None:
    response = admin.post("/v1/admin/phone-numbers/bulk-updates", json=body)
    assert response.status_code == 422
    assert "provider_status" not in response.json


def test_bulk_update_to_an_unknown_profile_and_unknown_order(
    admin: ApiClient, services: Any
) -> None:
    response = admin.post(
        "/v1/admin/phone-numbers/bulk-updates",
        json={"messaging_profile_id": "nope", "numbers": ["+13125550100"]},
    )
    assert (response.status_code, response.json["provider_codes"]) == (422, ["10017"])
    missing = admin.get("/v1/admin/phone-numbers/bulk-updates/nope")
    assert (missing.status_code, missing.json["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/v1/admin/phone-numbers/..", "number_id"),
        ("GET", "/v1/admin/phone-numbers/.", "number_id"),
        ("GET", "/v1/admin/phone-numbers/%2e%2e", "number_id"),
        ("PATCH", "/v1/admin/phone-numbers/..", "number_id"),
        ("GET", "/v1/admin/mobile-phone-numbers/..", "number_id"),
        ("GET", "/v1/admin/phone-numbers/bulk-updates/..", "order_id"),
        ("GET", "/v1/admin/phone-numbers/bulk-updates/.", "order_id"),
        ("GET", "/v1/admin/phone-numbers/12a", "number_id"),
    ],
)
def test_ids_not_of_their_resource_form_are_422_and_never_reach_telnyx(
    admin: ApiClient, services: Any, sandbox: Sandbox, method: str, path: str, name: str
) -> None:
    """``..`` used to reach Telnyx as ``GET /v2/messaging`` (httpx resolves it), with the
    service's own key."""
    sandbox.fault(status=500)  # the next request to the sandbox would take it
    response = admin.flask.open(
        path, method=method, headers=admin._headers(None), json={"messaging_product": "P2P"}
    )
    assert (response.status_code, response.json["code"]) == (422, "invalid_request")
    assert name in response.json["errors"]
    assert sandbox.http.get("/_sandbox/faults").json()["data"] != []


@pytest.mark.parametrize("ident", ["+13125550100", "999", "ab-12_cd"])
def test_ids_of_their_resource_form_still_reach_telnyx(
    admin: ApiClient, services: Any, ident: str
) -> None:
    path = "bulk-updates/" if ident == "ab-12_cd" else ""
    response = admin.get(f"/v1/admin/phone-numbers/{path}{ident}")
    assert response.status_code in (200, 404), response.json
    assert response.status_code == 200 or response.json["provider_status"] == 404


def test_short_codes_and_messaging_profiles_are_listed(admin: ApiClient, services: Any) -> None:
    codes = admin.get("/v1/admin/short-codes")
    assert codes.status_code == 200
    assert {c["short_code"] for c in codes.json["data"]} == set(SHORT_CODES)
    primary_only = admin.get(
        "/v1/admin/short-codes", query_string={"filter[messaging_profile_id]": PRIMARY}
    )
    assert [c["short_code"] for c in primary_only.json["data"]] == ["22395"]
    profiles = admin.get("/v1/admin/messaging-profiles", query_string={"page[size]": "2"})
    assert profiles.status_code == 200
    assert profiles.json["meta"]["total_pages"] == 2
    named = admin.get(
        "/v1/admin/messaging-profiles", query_string={"filter[name][contains]": "OTP"}
    )
    assert {p["id"] for p in named.json["data"]} == {PRIMARY, SECONDARY}


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"status": 429, "retry_after": 7}, 429, "rate_limited"),
        ({"status": 500}, 502, "provider_error"),
        ({"status": 503}, 502, "provider_error"),
        ({"status": 409, "errors": [{"code": "10015", "title": "Conflict"}]}, 409, "conflict"),
    ],
)
def test_telnyx_failures_keep_their_status_class_and_codes(
    admin: ApiClient, services: Any, sandbox: Sandbox, fault: dict, status: int, code: str
) -> None:
    sandbox.fault(**fault)
    response = admin.get("/v1/admin/phone-numbers")
    assert response.status_code == status
    body = response.json
    assert body["code"] == code
    assert body["provider_status"] == fault["status"]
    assert body["provider_codes"]
    if status == 429:
        assert response.headers["Retry-After"] == "7"
        assert body["reason"] == "provider_rate_limited"


def test_a_wrong_telnyx_key_is_a_provider_error_not_the_callers_fault(
    env: dict[str, str], sandbox: Sandbox
) -> None:
    from otp_service import create_app

    app = create_app({**env, "TELNYX_API_KEY": "not-the-sandbox-key"})
    try:
        admin = ApiClient(app.test_client(), "test-admin-key")
        response = admin.get("/v1/admin/phone-numbers")
        assert (response.status_code, response.json["code"]) == (502, "provider_error")
        assert response.json["provider_status"] == 401
        assert "not-the-sandbox-key" not in response.get_data(as_text=True)
    finally:
        app.extensions["otp"].close()


def test_telnyx_out_of_reach_is_503(env: dict[str, str]) -> None:
    from otp_service import create_app
    from otp_service.store.redis_server import free_port
    from otp_service.telnyx import RetryPolicy

    app = create_app({**env, "TELNYX_BASE_URL": f"http://127.0.0.1:{free_port()}/v2"})
    app.extensions["otp"].telnyx.retry_policy = RetryPolicy(max_retries=0)
    try:
        admin = ApiClient(app.test_client(), "test-admin-key")
        response = admin.get("/v1/admin/short-codes")
        assert (response.status_code, response.json["code"]) == (503, "provider_unavailable")
    finally:
        app.extensions["otp"].close()
