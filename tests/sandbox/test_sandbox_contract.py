"""Every one of the 69 operations answers what its spec documents: status and body schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from otp_service.sandbox import FROM_NUMBERS, PROFILE_IDS
from otp_service.sandbox.seed import HOSTED_NUMBERS, MOBILE_NUMBERS, RCS_AGENT_IDS
from otp_service.sandbox.spec import operations, registry, response_schema, schema_ref
from otp_service.sandbox.validation import format_checker

PRIMARY = PROFILE_IDS["primary"]
FROM = FROM_NUMBERS[PRIMARY][0]
TO = "+13125559876"
AGENT = RCS_AGENT_IDS[0]
TOLLFREE_BODY = {
    "businessName": "Acme",
    "corporateWebsite": "https://acme.example",
    "businessAddr1": "1 Main St",
    "businessCity": "Chicago",
    "businessState": "IL",
    "businessZip": "60601",
    "businessContactFirstName": "Ada",
    "businessContactLastName": "Lovelace",
    "businessContactEmail": "ada@acme.example",
    "businessContactPhone": "+13125550199",
    "messageVolume": "10,000",
    "phoneNumbers": [{"phoneNumber": "+18335550100"}],
    "useCase": "2FA",
    "useCaseSummary": "Sign-in codes",
    "productionMessageContent": "Your code is 123456",
    "optInWorkflow": "Users type their number",
    "optInWorkflowImageURLs": [{"url": "https://acme.example/a.png"}],
    "additionalInformation": "none",
}


class Ids:
    """Ids of seeded or freshly made objects, looked up through the API on demand."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api

    def first(self, path: str, key: str = "id", **params: Any) -> str:
        return self.api.get(path, params=params).json()["data"][0][key]

    def __getitem__(self, name: str) -> str:
        api = self.api
        if name == "alpha":
            return self.first("/alphanumeric_sender_ids")
        if name == "short_code":
            return self.first("/short_codes")
        if name == "hosted_order":
            return self.first("/messaging_hosted_number_orders")
        if name == "hosted_number":
            return self.first("/messaging_hosted_numbers")
        if name == "number":
            return self.first("/phone_numbers/messaging")
        if name == "mobile":
            return self.first("/mobile_phone_numbers/messaging")
        if name == "autoresp":
            return self.first(f"/messaging_profiles/{PRIMARY}/autoresp_configs")
        if name == "tollfree":
            listing = api.get(
                "/messaging_tollfree/verification/requests", params={"page": 1, "page_size": 5}
            )
            return listing.json()["records"][0]["id"]
        if name == "bulk":
            body = {"messaging_profile_id": PRIMARY, "numbers": [FROM]}
            return api.post("/messaging_numbers_bulk_updates", json=body).json()["data"]["order_id"]
        if name == "message":
            body = {"from": FROM, "to": TO, "text": "hi"}
            return api.post("/messages/long_code", json=body).json()["data"]["id"]
        if name == "group":
            body = {"from": FROM, "to": [TO, "+13125559877"], "text": "hi"}
            return api.post("/messages/group_mms", json=body).json()["data"]["id"]
        if name == "scheduled":
            send_at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
            body = {"from": FROM, "to": TO, "text": "later", "send_at": send_at}
            return api.post("/messages/schedule", json=body).json()["data"]["id"]
        if name == "code_order":
            order = self.first("/messaging_hosted_number_orders")
            body = {"phone_numbers": [HOSTED_NUMBERS[0]], "verification_method": "sms"}
            api.post(f"/messaging_hosted_number_orders/{order}/verification_codes", json=body)
            return order
        raise KeyError(name)


Request = Callable[[Ids], tuple[str, str, dict[str, Any]]]

CASES: dict[str, Request] = {
    "ListAlphanumericSenderIds": lambda i: ("GET", "/alphanumeric_sender_ids", {}),
    "CreateAlphanumericSenderId": lambda i: (
        "POST",
        "/alphanumeric_sender_ids",
        {"json": {"alphanumeric_sender_id": "NewSender", "messaging_profile_id": PRIMARY}},
    ),
    "DeleteAlphanumericSenderId": lambda i: (
        "DELETE",
        f"/alphanumeric_sender_ids/{i['alpha']}",
        {},
    ),
    "GetAlphanumericSenderId": lambda i: ("GET", f"/alphanumeric_sender_ids/{i['alpha']}", {}),
    "SendMessage": lambda i: ("POST", "/messages", {"json": {"from": FROM, "to": TO, "text": "x"}}),
    "SendAlphanumericSenderIdMessage": lambda i: (
        "POST",
        "/messages/alphanumeric_sender_id",
        {"json": {"from": "OTPSvc", "messaging_profile_id": PRIMARY, "to": TO, "text": "x"}},
    ),
    "GetGroupMmsMessages": lambda i: ("GET", f"/messages/group/{i['group']}", {}),
    "CreateGroupMmsMessage": lambda i: (
        "POST",
        "/messages/group_mms",
        {
            "json": {
                "from": FROM,
                "to": [TO],
                "text": "x",
                "media_urls": ["https://a.example/x.png"],
            }
        },
    ),
    "CreateLongCodeMessage": lambda i: (
        "POST",
        "/messages/long_code",
        {"json": {"from": FROM, "to": TO, "text": "x"}},
    ),
    "CreateNumberPoolMessage": lambda i: (
        "POST",
        "/messages/number_pool",
        {"json": {"messaging_profile_id": PRIMARY, "to": TO, "text": "x"}},
    ),
    "SendRCSMessage": lambda i: (
        "POST",
        "/messages/rcs",
        {
            "json": {
                "agent_id": AGENT,
                "messaging_profile_id": PRIMARY,
                "to": TO,
                "agent_message": {"content_message": {"text": "x"}},
            }
        },
    ),
    "GenerateRCSDeeplink": lambda i: (
        "GET",
        f"/messages/rcs/deeplinks/{AGENT}",
        {"params": {"phone_number": TO, "body": "hi there"}},
    ),
    "ScheduleMessage": lambda i: (
        "POST",
        "/messages/schedule",
        {
            "json": {
                "from": FROM,
                "to": TO,
                "text": "x",
                "send_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            }
        },
    ),
    "CreateShortCodeMessage": lambda i: (
        "POST",
        "/messages/short_code",
        {"json": {"from": "22395", "to": TO, "text": "x"}},
    ),
    "SendWhatsappMessage": lambda i: (
        "POST",
        "/messages/whatsapp",
        {
            "json": {
                "from": FROM,
                "to": TO,
                "whatsapp_message": {"type": "text", "text": {"body": "x"}},
            }
        },
    ),
    "CancelMessage": lambda i: ("DELETE", f"/messages/{i['scheduled']}", {}),
    "GetMessage": lambda i: ("GET", f"/messages/{i['message']}", {}),
    "ListRCSAgents": lambda i: ("GET", "/messaging/rcs/agents", {}),
    "GetRCSAgentById": lambda i: ("GET", f"/messaging/rcs/agents/{AGENT}", {}),
    "UpdateRCSAgentById": lambda i: (
        "PATCH",
        f"/messaging/rcs/agents/{AGENT}",
        {"json": {"webhook_url": "https://hooks.example/rcs", "profile_id": PRIMARY}},
    ),
    "ListRCSCapabilitiesOfAPhoneNumbersBatch": lambda i: (
        "POST",
        "/messaging/rcs/bulk_capabilities",
        {"json": {"agent_id": AGENT, "phone_numbers": [TO, "+13125559877"]}},
    ),
    "ListRCSCapabilitiesOfAPhoneNumber": lambda i: (
        "GET",
        f"/messaging/rcs/capabilities/{AGENT}/{TO}",
        {},
    ),
    "InviteATestNumberToRCS": lambda i: (
        "PUT",
        f"/messaging/rcs/test_number_invite/{AGENT}/{TO}",
        {},
    ),
    "ListMessagingHostedNumberOrders": lambda i: ("GET", "/messaging_hosted_number_orders", {}),
    "CreateMessagingHostedNumberOrder": lambda i: (
        "POST",
        "/messaging_hosted_number_orders",
        {"json": {"messaging_profile_id": PRIMARY, "phone_numbers": ["+16175550150"]}},
    ),
    "CheckEligibilityNumbers": lambda i: (
        "POST",
        "/messaging_hosted_number_orders/eligibility_numbers_check",
        {"json": {"phone_numbers": ["+16175550150", FROM, "+447700900123", "12"]}},
    ),
    "DeleteMessagingHostedNumberOrder": lambda i: (
        "DELETE",
        f"/messaging_hosted_number_orders/{i['hosted_order']}",
        {},
    ),
    "GetMessagingHostedNumberOrder": lambda i: (
        "GET",
        f"/messaging_hosted_number_orders/{i['hosted_order']}",
        {},
    ),
    "UploadMessagingHostedNumberOrderFile": lambda i: (
        "POST",
        f"/messaging_hosted_number_orders/{i['hosted_order']}/actions/file_upload",
        {"files": {"loa": ("loa.pdf", b"%PDF-1.4 loa", "application/pdf")}},
    ),
    "ValidateVerificationCodesForMessagingHostedNumberOrder": lambda i: (
        "POST",
        f"/messaging_hosted_number_orders/{i['code_order']}/validation_codes",
        {"json": {"verification_codes": [{"phone_number": HOSTED_NUMBERS[0], "code": "123456"}]}},
    ),
    "CreateVerificationCodesForMessagingHostedNumberOrder": lambda i: (
        "POST",
        f"/messaging_hosted_number_orders/{i['hosted_order']}/verification_codes",
        {
            "json": {
                "phone_numbers": [HOSTED_NUMBERS[0], "+19995550100"],
                "verification_method": "sms",
            }
        },
    ),
    "ListMessagingHostedNumbers": lambda i: ("GET", "/messaging_hosted_numbers", {}),
    "DeleteMessagingHostedNumber": lambda i: (
        "DELETE",
        f"/messaging_hosted_numbers/{i['hosted_number']}",
        {},
    ),
    "GetMessagingHostedNumber": lambda i: (
        "GET",
        f"/messaging_hosted_numbers/{i['hosted_number']}",
        {},
    ),
    "UpdateMessagingHostedNumber": lambda i: (
        "PATCH",
        f"/messaging_hosted_numbers/{i['hosted_number']}",
        {"json": {"messaging_profile_id": PRIMARY, "tags": ["otp"]}},
    ),
    "BulkUpdateMessagingSettingsOnPhoneNumbers": lambda i: (
        "POST",
        "/messaging_numbers_bulk_updates",
        {"json": {"messaging_profile_id": PRIMARY, "numbers": [FROM, "+19995550100"]}},
    ),
    "GetBulkUpdateMessagingSettingsOnPhoneNumbersStatus": lambda i: (
        "GET",
        f"/messaging_numbers_bulk_updates/{i['bulk']}",
        {},
    ),
    "ListOptOuts": lambda i: (
        "GET",
        "/messaging_optouts",
        {"params": {"redaction_enabled": "true", "page[size]": 5}},
    ),
    "GetProfileMetrics": lambda i: (
        "GET",
        "/messaging_profile_metrics",
        {"params": {"time_frame": "7d"}},
    ),
    "ListMessagingProfiles": lambda i: ("GET", "/messaging_profiles", {}),
    "CreateMessagingProfile": lambda i: (
        "POST",
        "/messaging_profiles",
        {"json": {"name": "New", "whitelisted_destinations": ["US"], "webhook_url": ""}},
    ),
    "DeleteMessagingProfile": lambda i: ("DELETE", f"/messaging_profiles/{PRIMARY}", {}),
    "RetrieveMessagingProfile": lambda i: ("GET", f"/messaging_profiles/{PRIMARY}", {}),
    "UpdateMessagingProfile": lambda i: (
        "PATCH",
        f"/messaging_profiles/{PRIMARY}",
        {"json": {"name": "Renamed", "webhook_url": "https://hooks.example/t"}},
    ),
    "RegenerateMessagingProfileSecret": lambda i: (
        "POST",
        f"/messaging_profiles/{PRIMARY}/actions/regenerate_secret",
        {},
    ),
    "ListProfileAlphanumericSenderIds": lambda i: (
        "GET",
        f"/messaging_profiles/{PRIMARY}/alphanumeric_sender_ids",
        {},
    ),
    "GetDetailedProfileMetrics": lambda i: ("GET", f"/messaging_profiles/{PRIMARY}/metrics", {}),
    "ListProfilePhoneNumbers": lambda i: (
        "GET",
        f"/messaging_profiles/{PRIMARY}/phone_numbers",
        {},
    ),
    "ListProfileShortCodes": lambda i: ("GET", f"/messaging_profiles/{PRIMARY}/short_codes", {}),
    "GetAutorespConfigs": lambda i: (
        "GET",
        f"/messaging_profiles/{PRIMARY}/autoresp_configs",
        {"params": {"country_code": "US", "created_at[gte]": "2024-01-01T00:00:00Z"}},
    ),
    "CreateAutorespConfig": lambda i: (
        "POST",
        f"/messaging_profiles/{PRIMARY}/autoresp_configs",
        {"json": {"op": "info", "keywords": ["HELP"], "country_code": "US", "resp_text": "Help"}},
    ),
    "DeleteAutorespConfig": lambda i: (
        "DELETE",
        f"/messaging_profiles/{PRIMARY}/autoresp_configs/{i['autoresp']}",
        {},
    ),
    "GetAutorespConfig": lambda i: (
        "GET",
        f"/messaging_profiles/{PRIMARY}/autoresp_configs/{i['autoresp']}",
        {},
    ),
    "UpdateAutoRespConfig": lambda i: (
        "PUT",
        f"/messaging_profiles/{PRIMARY}/autoresp_configs/{i['autoresp']}",
        {"json": {"op": "stop", "keywords": ["STOP"], "country_code": "US"}},
    ),
    "ListVerificationRequests": lambda i: (
        "GET",
        "/messaging_tollfree/verification/requests",
        {"params": {"page": 1, "page_size": 2, "status": "Verified"}},
    ),
    "SubmitVerificationRequest": lambda i: (
        "POST",
        "/messaging_tollfree/verification/requests",
        {"json": TOLLFREE_BODY},
    ),
    "DeleteVerificationRequest": lambda i: (
        "DELETE",
        f"/messaging_tollfree/verification/requests/{i['tollfree']}",
        {},
    ),
    "GetVerificationRequest": lambda i: (
        "GET",
        f"/messaging_tollfree/verification/requests/{i['tollfree']}",
        {},
    ),
    "UpdateVerificationRequest": lambda i: (
        "PATCH",
        f"/messaging_tollfree/verification/requests/{i['tollfree']}",
        {"json": TOLLFREE_BODY},
    ),
    "GetVerificationStatusHistory": lambda i: (
        "GET",
        f"/messaging_tollfree/verification/requests/{i['tollfree']}/status_history",
        {"params": {"page[number]": 1, "page[size]": 10}},
    ),
    "ListMessagingUrlDomains": lambda i: ("GET", "/messaging_url_domains", {}),
    "ListMobilePhoneNumbersWithMessagingSettings": lambda i: (
        "GET",
        "/mobile_phone_numbers/messaging",
        {},
    ),
    "GetMobilePhoneNumberMessagingSettings": lambda i: (
        "GET",
        f"/mobile_phone_numbers/{i['mobile']}/messaging",
        {},
    ),
    "ListPhoneNumbersWithMessagingSettings": lambda i: (
        "GET",
        "/phone_numbers/messaging",
        {"params": {"filter[type]": "longcode", "sort[phone_number]": "desc"}},
    ),
    "GetPhoneNumberMessagingSettings": lambda i: (
        "GET",
        f"/phone_numbers/{i['number']}/messaging",
        {},
    ),
    "UpdatePhoneNumberMessagingSettings": lambda i: (
        "PATCH",
        f"/phone_numbers/{i['number']}/messaging",
        {"json": {"messaging_profile_id": PROFILE_IDS["secondary"], "messaging_product": "P2P"}},
    ),
    "ListShortCodes": lambda i: (
        "GET",
        "/short_codes",
        {"params": {"filter[messaging_profile_id]": PRIMARY}},
    ),
    "RetrieveShortCode": lambda i: ("GET", f"/short_codes/{i['short_code']}", {}),
    "UpdateShortCode": lambda i: (
        "PATCH",
        f"/short_codes/{i['short_code']}",
        {"json": {"messaging_profile_id": PROFILE_IDS["marketing"], "tags": ["otp"]}},
    ),
}

OPS = {op.operation_id: op for op in operations()}


def test_every_operation_of_the_spec_has_a_case() -> None:
    assert len(OPS) == 69
    assert set(CASES) == set(OPS)


def conforms(body: Any, schema: dict[str, str]) -> list[str]:
    validator = Draft202012Validator(schema, registry=registry(), format_checker=format_checker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


@pytest.mark.parametrize("operation_id", sorted(CASES))
def test_operation_answers_its_documented_status_and_schema(
    api: httpx.Client, operation_id: str
) -> None:
    op = OPS[operation_id]
    method, path, kwargs = CASES[operation_id](Ids(api))
    assert method == op.method
    response = api.request(method, path, **kwargs)
    assert response.status_code == op.success_status, response.text
    if not response.content:
        assert operation_id == "DeleteVerificationRequest"
        return
    assert conforms(response.json(), response_schema(operation_id, op.success_status)) == []


def test_list_pages_hold_records_with_every_required_field(api: httpx.Client) -> None:
    """Seeded objects conform too, not just the ones a test just made."""
    checks = {
        "/phone_numbers/messaging": "ListPhoneNumbersWithMessagingSettings",
        "/mobile_phone_numbers/messaging": "ListMobilePhoneNumbersWithMessagingSettings",
        "/messaging_optouts": "ListOptOuts",
        "/short_codes": "ListShortCodes",
        "/messaging_profiles": "ListMessagingProfiles",
        "/alphanumeric_sender_ids": "ListAlphanumericSenderIds",
    }
    for path, operation_id in checks.items():
        for page in (1, 2):
            body = api.get(path, params={"page[number]": page, "page[size]": 25}).json()
            assert conforms(body, response_schema(operation_id)) == [], path


BY_ID = [
    ("GET", "/alphanumeric_sender_ids/{x}"),
    ("DELETE", "/alphanumeric_sender_ids/{x}"),
    ("GET", "/messages/{x}"),
    ("DELETE", "/messages/{x}"),
    ("GET", "/messages/group/{x}"),
    ("GET", "/messaging/rcs/agents/{x}"),
    ("GET", "/messaging_hosted_number_orders/{x}"),
    ("GET", "/messaging_hosted_numbers/{x}"),
    ("GET", "/messaging_numbers_bulk_updates/{x}"),
    ("GET", "/messaging_profiles/{x}"),
    ("PATCH", "/messaging_profiles/{x}"),
    ("GET", "/messaging_profiles/{x}/phone_numbers"),
    ("GET", "/messaging_profiles/{x}/autoresp_configs"),
    ("GET", "/messaging_tollfree/verification/requests/{x}"),
    ("GET", "/mobile_phone_numbers/{x}/messaging"),
    ("GET", "/phone_numbers/{x}/messaging"),
    ("GET", "/short_codes/{x}"),
]


@pytest.mark.parametrize(("method", "path"), BY_ID)
def test_unknown_ids_are_404_with_code_10005(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path.format(x="0b6a5c1e-0000-4000-8000-00000000abcd"), json={})
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["errors"][0]["code"] == "10005"
    assert conforms(body, schema_ref("/components/schemas/messaging_Errors")) == []


def test_unknown_paths_are_404_and_still_need_auth(api: httpx.Client) -> None:
    assert api.get("/no_such_thing").json()["errors"][0]["code"] == "10005"
    anonymous = httpx.get(str(api.base_url) + "/no_such_thing")
    assert anonymous.status_code == 401


def test_spec_bare_error_responses_carry_both_shapes(api: httpx.Client) -> None:
    response = api.delete("/messages/0b6a5c1e-0000-4000-8000-00000000abcd")
    body = response.json()
    assert conforms(body, schema_ref("/components/schemas/messaging_Error")) == []
    assert body["errors"][0]["code"] == body["code"] == "10005"


def test_mobile_and_hosted_numbers_are_found_by_phone_number_too(api: httpx.Client) -> None:
    assert api.get(f"/mobile_phone_numbers/{MOBILE_NUMBERS[0]}/messaging").status_code == 200
    assert api.get(f"/messaging_hosted_numbers/{HOSTED_NUMBERS[0]}").status_code == 200
