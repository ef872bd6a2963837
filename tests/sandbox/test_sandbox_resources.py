"""Account resources: pagination, filters, CRUD, bulk updates, hosted orders, validation."""

from __future__ import annotations

import httpx
import pytest

from otp_service.sandbox import FROM_NUMBERS, OPTED_OUT_NUMBERS, PROFILE_IDS
from otp_service.sandbox.seed import HOSTED_NUMBERS

PRIMARY, SECONDARY = PROFILE_IDS["primary"], PROFILE_IDS["secondary"]
FROM = FROM_NUMBERS[PRIMARY][0]
TO = "+13125559876"


def all_pages(api: httpx.Client, path: str, **params: object) -> tuple[list[dict], list[dict]]:
    """Every record over every page, and each page's meta."""
    records, metas, page = [], [], 1
    while True:
        body = api.get(path, params={**params, "page[number]": page}).json()
        records += body["data"]
        metas.append(body["meta"])
        if page >= body["meta"]["total_pages"]:
            return records, metas
        page += 1


def test_phone_numbers_span_several_pages_at_the_default_size(api: httpx.Client) -> None:
    records, metas = all_pages(api, "/phone_numbers/messaging")
    assert metas[0] == {"page_number": 1, "page_size": 20, "total_pages": 3, "total_results": 50}
    assert [len(p) for p in (records[:20], records[20:40], records[40:])] == [20, 20, 10]
    assert len({r["id"] for r in records}) == 50
    past_the_end = api.get("/phone_numbers/messaging", params={"page[number]": 4}).json()
    assert past_the_end["data"] == []


def test_opt_outs_span_two_pages_newest_first(api: httpx.Client) -> None:
    records, metas = all_pages(api, "/messaging_optouts")
    assert metas[0]["total_results"] == len(OPTED_OUT_NUMBERS) == 36
    assert metas[0]["total_pages"] == 2
    stamps = [r["created_at"] for r in records]
    assert stamps == sorted(stamps, reverse=True)


def test_opt_outs_filter_by_profile_and_creation_time(api: httpx.Client) -> None:
    by_profile = api.get("/messaging_optouts", params={"filter[messaging_profile_id]": PRIMARY})
    assert by_profile.json()["meta"]["total_results"] == 18
    assert {o["messaging_profile_id"] for o in by_profile.json()["data"]} == {PRIMARY}
    window = {"created_at[gte]": "2025-02-01T00:00:00Z", "created_at[lte]": "2025-03-01T00:00:00Z"}
    spec_style = api.get("/messaging_optouts", params=window).json()
    alias = {f"filter[{k.replace('[', '][', 1)}": v for k, v in window.items()}
    filter_style = api.get("/messaging_optouts", params=alias).json()
    assert 0 < spec_style["meta"]["total_results"] < 36
    assert spec_style == filter_style
    assert all("2025-02" in o["created_at"] for o in spec_style["data"])


def test_opt_outs_can_be_redacted(api: httpx.Client) -> None:
    body = api.get("/messaging_optouts", params={"redaction_enabled": "true"}).json()
    assert all(o["to"].endswith("****") for o in body["data"])


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"filter[messaging_profile_id]": PRIMARY}, 23),
        ({"filter[phone_number]": FROM}, 1),
        ({"filter[phone_number][contains]": "555014"}, 7),
        ({"filter[type]": "tollfree"}, 3),
    ],
)
def test_phone_numbers_filter(api: httpx.Client, params: dict, count: int) -> None:
    assert (
        api.get("/phone_numbers/messaging", params=params).json()["meta"]["total_results"] == count
    )


def test_phone_numbers_sort_by_number(api: httpx.Client) -> None:
    body = api.get("/phone_numbers/messaging", params={"sort[phone_number]": "desc"}).json()
    numbers = [n["phone_number"] for n in body["data"]]
    assert numbers == sorted(numbers, reverse=True)


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter"),
    [
        ("/phone_numbers/messaging", {"page[size]": "abc"}, 422, "page[size]"),
        ("/phone_numbers/messaging", {"page[size]": "251"}, 422, "page[size]"),
        ("/phone_numbers/messaging", {"filter[type]": "fax"}, 422, "filter[type]"),
        ("/messaging_optouts", {"created_at[gte]": "yesterday"}, 400, "created_at[gte]"),
        ("/messaging_tollfree/verification/requests", {"page": "1"}, 422, "page_size"),
        ("/messaging_profile_metrics", {"time_frame": "1y"}, 400, "time_frame"),
    ],
)
def test_invalid_query_parameters_name_the_parameter(
    api: httpx.Client, path: str, params: dict, status: int, parameter: str
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == status, response.text
    assert parameter in [e["source"]["parameter"] for e in response.json()["errors"]]


def test_messaging_profile_round_trip(api: httpx.Client) -> None:
    created = api.post(
        "/messaging_profiles",
        json={"name": "EU OTP", "whitelisted_destinations": ["DE", "FR"], "enabled": True},
    )
    assert created.status_code == 200
    profile = created.json()["data"]
    assert profile["record_type"] == "messaging_profile"
    path = f"/messaging_profiles/{profile['id']}"
    assert api.get(path).json()["data"] == profile

    updated = api.patch(path, json={"name": "EU OTP v2", "webhook_url": "https://hooks.example/x"})
    assert updated.json()["data"]["name"] == "EU OTP v2"
    assert updated.json()["data"]["updated_at"] >= profile["updated_at"]
    found = api.get("/messaging_profiles", params={"filter[name][contains]": "eu otp"}).json()
    assert [p["id"] for p in found["data"]] == [profile["id"]]

    assert api.delete(path).json()["data"]["id"] == profile["id"]
    assert api.get(path).status_code == 404


@pytest.mark.parametrize(
    ("body", "code", "pointer"),
    [
        ({"whitelisted_destinations": ["US"]}, "10004", "/name"),
        ({"name": "x"}, "10004", "/whitelisted_destinations"),
        (
            {"name": "x", "whitelisted_destinations": ["usa"]},
            "10015",
            "/whitelisted_destinations/0",
        ),
        (
            {"name": "x", "whitelisted_destinations": [], "webhook_api_version": "9"},
            "10015",
            "/webhook_api_version",
        ),
    ],
)
def test_invalid_profile_bodies_are_422(
    api: httpx.Client, body: dict, code: str, pointer: str
) -> None:
    response = api.post("/messaging_profiles", json=body)
    assert response.status_code == 422
    assert (code, pointer) in [
        (e["code"], e["source"]["pointer"]) for e in response.json()["errors"]
    ]


def test_bulk_update_moves_numbers_and_is_readable_by_order_id(api: httpx.Client) -> None:
    numbers = [FROM, FROM_NUMBERS[PRIMARY][1], "+19995550100"]
    created = api.post(
        "/messaging_numbers_bulk_updates",
        json={"messaging_profile_id": SECONDARY, "numbers": numbers},
    ).json()["data"]
    assert created["pending"] == numbers
    order = api.get(f"/messaging_numbers_bulk_updates/{created['order_id']}").json()["data"]
    assert order["success"] == numbers[:2]
    assert order["failed"] == ["+19995550100"]
    assert order["pending"] == []
    assert (
        api.get(f"/phone_numbers/{FROM}/messaging").json()["data"]["messaging_profile_id"]
        == SECONDARY
    )
    sent = api.post("/messages/long_code", json={"from": FROM, "to": TO, "text": "x"}).json()
    assert sent["data"]["messaging_profile_id"] == SECONDARY


def test_bulk_update_with_empty_profile_unassigns_numbers(api: httpx.Client) -> None:
    api.post(
        "/messaging_numbers_bulk_updates", json={"messaging_profile_id": "", "numbers": [FROM]}
    )
    refused = api.post("/messages/long_code", json={"from": FROM, "to": TO, "text": "x"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "40305"


def test_bulk_update_to_unknown_profile_is_422(api: httpx.Client) -> None:
    response = api.post(
        "/messaging_numbers_bulk_updates",
        json={"messaging_profile_id": "0b6a5c1e-0000-4000-8000-00000000abcd", "numbers": [FROM]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "10017"


def test_phone_number_settings_update_moves_it_between_profile_lists(api: httpx.Client) -> None:
    api.patch(f"/phone_numbers/{FROM}/messaging", json={"messaging_profile_id": SECONDARY})
    primary = api.get(f"/messaging_profiles/{PRIMARY}/phone_numbers", params={"page[size]": 50})
    secondary = api.get(f"/messaging_profiles/{SECONDARY}/phone_numbers", params={"page[size]": 50})
    assert FROM not in [n["phone_number"] for n in primary.json()["data"]]
    assert FROM in [n["phone_number"] for n in secondary.json()["data"]]


def test_short_code_can_move_to_another_profile(api: httpx.Client) -> None:
    code = api.get("/short_codes", params={"filter[messaging_profile_id]": PRIMARY}).json()["data"][
        0
    ]
    api.patch(f"/short_codes/{code['id']}", json={"messaging_profile_id": SECONDARY})
    sent = api.post(
        "/messages/short_code", json={"from": code["short_code"], "to": TO, "text": "x"}
    )
    assert sent.json()["data"]["messaging_profile_id"] == SECONDARY
    unassigned = api.get("/short_codes", params={"filter[messaging_profile_id]": "null"}).json()
    assert [c["short_code"] for c in unassigned["data"]] == ["60021"]


def test_alphanumeric_sender_ids_are_unique_per_profile(api: httpx.Client) -> None:
    body = {"alphanumeric_sender_id": "AcmeOTP", "messaging_profile_id": PRIMARY}
    assert api.post("/alphanumeric_sender_ids", json=body).status_code == 201
    duplicate = api.post("/alphanumeric_sender_ids", json=body)
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"][0]["code"] == "10012"
    invalid = api.post("/alphanumeric_sender_ids", json={**body, "alphanumeric_sender_id": "A-B!"})
    assert invalid.json()["errors"][0]["code"] == "10015"


def test_hosted_number_order_is_verified_with_the_sandbox_code(api: httpx.Client) -> None:
    number = "+16175550170"
    order = api.post(
        "/messaging_hosted_number_orders",
        json={"messaging_profile_id": PRIMARY, "phone_numbers": [number]},
    ).json()["data"]
    path = f"/messaging_hosted_number_orders/{order['id']}"
    uploaded = api.post(
        f"{path}/actions/file_upload",
        files={"loa": ("loa.pdf", b"%PDF loa"), "bill": ("bill.pdf", b"%PDF bill")},
    )
    assert uploaded.json()["data"]["status"] == "loa_file_successful"
    api.post(
        f"{path}/verification_codes", json={"phone_numbers": [number], "verification_method": "sms"}
    )
    wrong = api.post(
        f"{path}/validation_codes",
        json={"verification_codes": [{"phone_number": number, "code": "000000"}]},
    )
    assert wrong.json()["data"]["phone_numbers"][0]["status"] == "rejected"
    right = api.post(
        f"{path}/validation_codes",
        json={"verification_codes": [{"phone_number": number, "code": "123456"}]},
    )
    assert right.json()["data"]["phone_numbers"][0]["status"] == "verified"
    assert api.get(path).json()["data"]["status"] == "successful"
    assert (
        api.get(f"/messaging_hosted_numbers/{number}").json()["data"]["messaging_profile_id"]
        == PRIMARY
    )


def test_hosted_file_upload_needs_a_file(api: httpx.Client) -> None:
    order = api.get("/messaging_hosted_number_orders").json()["data"][0]["id"]
    response = api.post(
        f"/messaging_hosted_number_orders/{order}/actions/file_upload", files={"other": b"x"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "10004"


def test_hosted_order_with_a_malformed_number_is_422(api: httpx.Client) -> None:
    response = api.post("/messaging_hosted_number_orders", json={"phone_numbers": ["617555"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["source"]["pointer"] == "/phone_numbers/0"


def test_hosted_numbers_are_senders_too(api: httpx.Client) -> None:
    sent = api.post("/messages/long_code", json={"from": HOSTED_NUMBERS[0], "to": TO, "text": "x"})
    assert sent.status_code == 200


def test_autoresponse_config_round_trip(api: httpx.Client) -> None:
    base = f"/messaging_profiles/{SECONDARY}/autoresp_configs"
    made = api.post(base, json={"op": "stop", "keywords": ["STOP"], "country_code": "US"})
    config = made.json()["data"]
    assert api.get(base).json()["meta"]["total_results"] == 1
    updated = api.put(
        f"{base}/{config['id']}",
        json={"op": "stop", "keywords": ["STOP", "END"], "country_code": "US", "resp_text": "Bye"},
    )
    assert updated.json()["data"]["keywords"] == ["STOP", "END"]
    assert api.delete(f"{base}/{config['id']}").json() == "OK"
    assert api.get(f"{base}/{config['id']}").status_code == 404


def test_tollfree_verification_request_lifecycle(api: httpx.Client) -> None:
    listing = api.get(
        "/messaging_tollfree/verification/requests", params={"page": 1, "page_size": 10}
    )
    assert listing.json()["total_records"] == 3
    waiting = api.get(
        "/messaging_tollfree/verification/requests",
        params={"page": 1, "page_size": 10, "status": "Waiting For Customer"},
    ).json()["records"][0]
    path = f"/messaging_tollfree/verification/requests/{waiting['id']}"
    body = {
        k: waiting[k]
        for k in (
            "businessName",
            "corporateWebsite",
            "businessAddr1",
            "businessCity",
            "businessState",
            "businessZip",
            "businessContactFirstName",
            "businessContactLastName",
            "businessContactEmail",
            "businessContactPhone",
            "messageVolume",
            "phoneNumbers",
            "useCase",
            "useCaseSummary",
            "productionMessageContent",
            "optInWorkflow",
            "optInWorkflowImageURLs",
            "additionalInformation",
        )
    }
    updated = api.patch(path, json={**body, "additionalInformation": "fixed"}).json()
    assert updated["verificationStatus"] == "In Progress"
    history = api.get(f"{path}/status_history", params={"page[number]": 1, "page[size]": 10}).json()
    assert [h["verificationStatus"] for h in history["records"]][-1] == "In Progress"
    assert api.delete(path).status_code == 200
    assert api.get(path).status_code == 404
