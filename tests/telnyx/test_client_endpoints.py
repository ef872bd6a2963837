"""The adapter covers exactly Telnyx's 69 messaging operations, by their SDK call names."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from otp_service.telnyx import ENDPOINTS, TelnyxClient

SPEC_PATH = Path(__file__).resolve().parents[2] / "otp_service/sandbox/spec/messaging-openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")

# ../shared/telnyx/OPERATIONS.md, verbatim: method, path, operationId, call name.
OPERATIONS = """
GET    /alphanumeric_sender_ids                                           ListAlphanumericSenderIds                              client.alphanumeric_sender_ids.list
POST   /alphanumeric_sender_ids                                           CreateAlphanumericSenderId                             client.alphanumeric_sender_ids.create
DELETE /alphanumeric_sender_ids/{id}                                      DeleteAlphanumericSenderId                             client.alphanumeric_sender_ids.delete
GET    /alphanumeric_sender_ids/{id}                                      GetAlphanumericSenderId                                client.alphanumeric_sender_ids.retrieve
POST   /messages                                                          SendMessage                                            client.messages.send
POST   /messages/alphanumeric_sender_id                                   SendAlphanumericSenderIdMessage                        client.messages.send_with_alphanumeric_sender
GET    /messages/group/{message_id}                                       GetGroupMmsMessages                                    client.messages.retrieve_group_messages
POST   /messages/group_mms                                                CreateGroupMmsMessage                                  client.messages.send_group_mms
POST   /messages/long_code                                                CreateLongCodeMessage                                  client.messages.send_long_code
POST   /messages/number_pool                                              CreateNumberPoolMessage                                client.messages.send_number_pool
POST   /messages/rcs                                                      SendRCSMessage                                         client.messages.rcs.send
GET    /messages/rcs/deeplinks/{agent_id}                                 GenerateRCSDeeplink                                    client.messages.rcs.generate_deeplink
POST   /messages/schedule                                                 ScheduleMessage                                        client.messages.schedule
POST   /messages/short_code                                               CreateShortCodeMessage                                 client.messages.send_short_code
POST   /messages/whatsapp                                                 SendWhatsappMessage                                    client.messages.whatsapp
DELETE /messages/{id}                                                     CancelMessage                                          client.messages.cancel_scheduled
GET    /messages/{id}                                                     GetMessage                                             client.messages.retrieve
GET    /messaging/rcs/agents                                              ListRCSAgents                                          client.messaging.rcs.agents.list
GET    /messaging/rcs/agents/{id}                                         GetRCSAgentById                                        client.messaging.rcs.agents.retrieve
PATCH  /messaging/rcs/agents/{id}                                         UpdateRCSAgentById                                     client.messaging.rcs.agents.update
POST   /messaging/rcs/bulk_capabilities                                   ListRCSCapabilitiesOfAPhoneNumbersBatch                client.messaging.rcs.list_bulk_capabilities
GET    /messaging/rcs/capabilities/{agent_id}/{phone_number}              ListRCSCapabilitiesOfAPhoneNumber                      client.messaging.rcs.retrieve_capabilities
PUT    /messaging/rcs/test_number_invite/{id}/{phone_number}              InviteATestNumberToRCS                                 client.messaging.rcs.invite_test_number
GET    /messaging_hosted_number_orders                                    ListMessagingHostedNumberOrders                        client.messaging_hosted_number_orders.list
POST   /messaging_hosted_number_orders                                    CreateMessagingHostedNumberOrder                       client.messaging_hosted_number_orders.create
POST   /messaging_hosted_number_orders/eligibility_numbers_check          CheckEligibilityNumbers                                client.messaging_hosted_number_orders.check_eligibility
DELETE /messaging_hosted_number_orders/{id}                               DeleteMessagingHostedNumberOrder                       client.messaging_hosted_number_orders.delete
GET    /messaging_hosted_number_orders/{id}                               GetMessagingHostedNumberOrder                          client.messaging_hosted_number_orders.retrieve
POST   /messaging_hosted_number_orders/{id}/actions/file_upload           UploadMessagingHostedNumberOrderFile                   client.messaging_hosted_number_orders.actions.upload_file
POST   /messaging_hosted_number_orders/{id}/validation_codes              ValidateVerificationCodesForMessagingHostedNumberOrder client.messaging_hosted_number_orders.validate_codes
POST   /messaging_hosted_number_orders/{id}/verification_codes            CreateVerificationCodesForMessagingHostedNumberOrder   client.messaging_hosted_number_orders.create_verification_codes
GET    /messaging_hosted_numbers                                          ListMessagingHostedNumbers                             client.messaging_hosted_numbers.list
DELETE /messaging_hosted_numbers/{id}                                     DeleteMessagingHostedNumber                            client.messaging_hosted_numbers.delete
GET    /messaging_hosted_numbers/{id}                                     GetMessagingHostedNumber                               client.messaging_hosted_numbers.retrieve
PATCH  /messaging_hosted_numbers/{id}                                     UpdateMessagingHostedNumber                            client.messaging_hosted_numbers.update
POST   /messaging_numbers_bulk_updates                                    BulkUpdateMessagingSettingsOnPhoneNumbers              client.messaging_numbers_bulk_updates.create
GET    /messaging_numbers_bulk_updates/{order_id}                         GetBulkUpdateMessagingSettingsOnPhoneNumbersStatus     client.messaging_numbers_bulk_updates.retrieve
GET    /messaging_optouts                                                 ListOptOuts                                            client.messaging_optouts.list
GET    /messaging_profile_metrics                                         GetProfileMetrics                                      client.messaging_profile_metrics.list
GET    /messaging_profiles                                                ListMessagingProfiles                                  client.messaging_profiles.list
POST   /messaging_profiles                                                CreateMessagingProfile                                 client.messaging_profiles.create
DELETE /messaging_profiles/{id}                                           DeleteMessagingProfile                                 client.messaging_profiles.delete
GET    /messaging_profiles/{id}                                           RetrieveMessagingProfile                               client.messaging_profiles.retrieve
PATCH  /messaging_profiles/{id}                                           UpdateMessagingProfile                                 client.messaging_profiles.update
POST   /messaging_profiles/{id}/actions/regenerate_secret                 RegenerateMessagingProfileSecret                       client.messaging_profiles.actions.regenerate_secret
GET    /messaging_profiles/{id}/alphanumeric_sender_ids                   ListProfileAlphanumericSenderIds                       client.messaging_profiles.list_alphanumeric_sender_ids
GET    /messaging_profiles/{id}/metrics                                   GetDetailedProfileMetrics                              client.messaging_profiles.retrieve_metrics
GET    /messaging_profiles/{id}/phone_numbers                             ListProfilePhoneNumbers                                client.messaging_profiles.list_phone_numbers
GET    /messaging_profiles/{id}/short_codes                               ListProfileShortCodes                                  client.messaging_profiles.list_short_codes
GET    /messaging_profiles/{profile_id}/autoresp_configs                  GetAutorespConfigs                                     client.messaging_profiles.autoresp_configs.list
POST   /messaging_profiles/{profile_id}/autoresp_configs                  CreateAutorespConfig                                   client.messaging_profiles.autoresp_configs.create
DELETE /messaging_profiles/{profile_id}/autoresp_configs/{autoresp_cfg_id} DeleteAutorespConfig                                   client.messaging_profiles.autoresp_configs.delete
GET    /messaging_profiles/{profile_id}/autoresp_configs/{autoresp_cfg_id} GetAutorespConfig                                      client.messaging_profiles.autoresp_configs.retrieve
PUT    /messaging_profiles/{profile_id}/autoresp_configs/{autoresp_cfg_id} UpdateAutoRespConfig                                   client.messaging_profiles.autoresp_configs.update
GET    /messaging_tollfree/verification/requests                          ListVerificationRequests                               client.messaging_tollfree.verification.requests.list
POST   /messaging_tollfree/verification/requests                          SubmitVerificationRequest                              client.messaging_tollfree.verification.requests.create
DELETE /messaging_tollfree/verification/requests/{id}                     DeleteVerificationRequest                              client.messaging_tollfree.verification.requests.delete
GET    /messaging_tollfree/verification/requests/{id}                     GetVerificationRequest                                 client.messaging_tollfree.verification.requests.retrieve
PATCH  /messaging_tollfree/verification/requests/{id}                     UpdateVerificationRequest                              client.messaging_tollfree.verification.requests.update
GET    /messaging_tollfree/verification/requests/{id}/status_history      GetVerificationStatusHistory                           client.messaging_tollfree.verification.requests.retrieve_status_history
GET    /messaging_url_domains                                             ListMessagingUrlDomains                                client.messaging_url_domains.list
GET    /mobile_phone_numbers/messaging                                    ListMobilePhoneNumbersWithMessagingSettings            client.mobile_phone_numbers.messaging.list
GET    /mobile_phone_numbers/{id}/messaging                               GetMobilePhoneNumberMessagingSettings                  client.mobile_phone_numbers.messaging.retrieve
GET    /phone_numbers/messaging                                           ListPhoneNumbersWithMessagingSettings                  client.phone_numbers.messaging.list
GET    /phone_numbers/{id}/messaging                                      GetPhoneNumberMessagingSettings                        client.phone_numbers.messaging.retrieve
PATCH  /phone_numbers/{id}/messaging                                      UpdatePhoneNumberMessagingSettings                     client.phone_numbers.messaging.update
GET    /short_codes                                                       ListShortCodes                                         client.short_codes.list
GET    /short_codes/{id}                                                  RetrieveShortCode                                      client.short_codes.retrieve
PATCH  /short_codes/{id}                                                  UpdateShortCode                                        client.short_codes.update
"""  # noqa: E501


def _rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in OPERATIONS.strip().splitlines():
        method, path, operation_id, call = line.split()
        rows.append((method, path, operation_id, call))
    return rows


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (METHOD, path, operation object), from the vendored spec."""
    return {
        op["operationId"]: (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def _deref(spec: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _deref(spec, target)
    return node


def _body_schema(spec: dict[str, Any], op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    if "requestBody" not in op:
        return None
    content = _deref(spec, op["requestBody"])["content"]
    media_type, media = next(iter(content.items()))
    return media_type, _deref(spec, media["schema"])


def test_adapter_declares_exactly_the_spec_operations(operations: dict) -> None:
    assert len(operations) == 69
    assert set(ENDPOINTS) == set(operations)
    for operation_id, endpoint in ENDPOINTS.items():
        method, path, _ = operations[operation_id]
        assert (endpoint.method, endpoint.path) == (method, path), operation_id


def test_call_names_follow_the_operations_table(operations: dict) -> None:
    rows = _rows()
    assert len(rows) == 69
    for method, path, operation_id, call in rows:
        endpoint = ENDPOINTS[operation_id]
        assert (endpoint.method, endpoint.path) == (method, path)
        assert f"client.{endpoint.call}" == call
        assert operations[operation_id][:2] == (method, path)


def _dummy_path_value(name: str) -> str:
    return "+15551234567" if name == "phone_number" else f"{name}-1"


@pytest.mark.parametrize("method, path, operation_id, call", _rows(), ids=[r[2] for r in _rows()])
def test_every_operation_is_reachable_by_its_call_name(
    spec: dict, operations: dict, method: str, path: str, operation_id: str, call: str
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        meta = {"page_number": 1, "page_size": 20, "total_pages": 1, "total_results": 0}
        return httpx.Response(200, json={"data": [], "meta": meta})

    client = TelnyxClient("KEY", transport=httpx.MockTransport(handler), max_retries=0)
    target: Any = client
    for attribute in call.split(".")[1:]:
        target = getattr(target, attribute)
    _, _, op = operations[operation_id]
    path_args = [_dummy_path_value(name) for name in re.findall(r"\{(\w+)\}", path)]
    body = _body_schema(spec, op)
    required = body[1].get("required", []) if body else []
    keywords = {("from_" if name == "from" else name): "x" for name in required}

    target(*path_args, **keywords)

    assert len(seen) == 1
    request = seen[0]
    values = iter(path_args)
    expected = re.sub(r"\{\w+\}", lambda _: quote(next(values), safe=""), path)
    assert request.method == method
    assert request.url.raw_path.decode().split("?")[0] == "/v2" + expected
    for parameter in (_deref(spec, p) for p in op.get("parameters", [])):
        if parameter["in"] == "query" and parameter.get("required"):
            assert parameter["name"] in request.url.params, parameter["name"]
    if body and body[0] == "application/json" and required:
        assert set(required) <= set(json.loads(request.content))


SIGNATURE_COVERAGE = [
    "SendMessage",
    "CreateLongCodeMessage",
    "CreateShortCodeMessage",
    "CreateNumberPoolMessage",
    "SendAlphanumericSenderIdMessage",
    "CreateGroupMmsMessage",
    "SendWhatsappMessage",
    "ScheduleMessage",
    "SendRCSMessage",
    "CreateMessagingProfile",
    "UpdateMessagingProfile",
    "UpdatePhoneNumberMessagingSettings",
    "BulkUpdateMessagingSettingsOnPhoneNumbers",
    "UpdateShortCode",
    "UpdateMessagingHostedNumber",
    "CreateAlphanumericSenderId",
    "CreateAutorespConfig",
    "UpdateAutoRespConfig",
    "UpdateRCSAgentById",
    "UploadMessagingHostedNumberOrderFile",
]


@pytest.mark.parametrize("operation_id", SIGNATURE_COVERAGE)
def test_methods_name_every_documented_body_field(
    spec: dict, operations: dict, operation_id: str
) -> None:
    _, _, op = operations[operation_id]
    _, schema = _body_schema(spec, op)
    writable = {
        name
        for name, prop in schema["properties"].items()
        if not _deref(spec, prop).get("readOnly")
    }
    method = _method(ENDPOINTS[operation_id].call)
    parameters = {name.removesuffix("_") for name in inspect.signature(method).parameters}
    assert writable <= parameters
    assert "extra" in parameters  # new Telnyx fields pass through


def test_opt_out_list_names_its_filters() -> None:
    parameters = set(inspect.signature(_method("messaging_optouts.list")).parameters)
    assert {"messaging_profile_id", "from_", "created_at", "redaction_enabled"} <= parameters
    assert {"page_number", "page_size", "filter"} <= parameters


def _method(call: str) -> Any:
    target: Any = TelnyxClient("KEY", transport=httpx.MockTransport(lambda r: httpx.Response(204)))
    for attribute in call.split("."):
        target = getattr(target, attribute)
    return target
