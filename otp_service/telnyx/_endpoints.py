"""The 69 Telnyx messaging endpoints, as data, and how Python arguments become HTTP.

Each row is (method, path template, operationId in messaging-openapi.yaml, call name
under the client, kind). Resource methods name their endpoint by operationId and pass
their arguments; ``TelnyxClient`` does the rest, following these conventions:

* Path parameters are positional and URL-quoted (``+1555...`` becomes ``%2B1555...``);
  ``""``, ``"."`` and ``".."`` are refused (ValueError): httpx would resolve the dot
  segment and the call would reach another endpoint with the client's key.
* Everything else is keyword-only and named as in the spec. Python keywords take a
  trailing underscore (``from_=`` is sent as ``from``). ``None`` values are not sent.
  POST/PUT/PATCH keywords form the JSON body; GET/DELETE keywords form the query.
* Query dicts are flattened deepObject-style: ``filter={"phone_number": {"contains":
  "555"}}`` is sent as ``filter[phone_number][contains]=555``; booleans as
  ``true``/``false``, datetimes as ISO 8601. List methods also take the common filters
  as plain keywords (``messaging_profile_id=`` → ``filter[messaging_profile_id]``), and
  ``page_number=`` / ``page_size=`` → ``page[number]`` / ``page[size]`` (or the
  endpoint's own names, e.g. ``page`` / ``page_size`` for toll-free verification).
* Kinds: ``single`` returns the response's ``data`` (or the whole body when Telnyx sends
  no ``data`` wrapper, or None for an empty body); ``list`` returns a ``Page``;
  ``upload`` sends ``multipart/form-data``.
"""

from __future__ import annotations

import datetime as dt
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

__all__ = [
    "ENDPOINTS",
    "LIST",
    "SINGLE",
    "UPLOAD",
    "Endpoint",
    "check_path",
    "encode_body",
    "encode_query",
]

SINGLE = "single"
LIST = "list"
UPLOAD = "upload"

PAGE_PARAMS = ("page[number]", "page[size]")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    operation_id: str
    call: str  # attribute path under the client: "messages.send_long_code"
    kind: str = SINGLE
    idempotent: bool | None = None  # None: decided by the method (see _retry.py)
    page_params: tuple[str, str] = PAGE_PARAMS  # query names of (page number, page size)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)

    def render(self, values: Mapping[str, Any]) -> str:
        """The path with each ``{name}`` replaced by its URL-quoted value."""
        return re.sub(r"\{(\w+)\}", lambda m: _path_value(m[1], values[m[1]]), self.path)


def _path_value(name: str, value: Any) -> str:
    text = str(value)
    if text in ("", ".", ".."):
        raise ValueError(f"{name} cannot be {text!r}: it would change the endpoint called")
    return quote(text, safe="")


def check_path(path: str) -> str:
    """``path``, or ValueError when a segment is ``.`` or ``..`` (percent-encoded too):
    httpx resolves them, so the call would leave the endpoint it names."""
    for segment in path.split("/"):
        if unquote(segment) in (".", ".."):
            raise ValueError(f"the path {path!r} has a dot segment")
    return path


# method path operationId call [flags: list | upload, idempotent, page=<number>,<size>]
_TABLE = """
GET    /alphanumeric_sender_ids                                            ListAlphanumericSenderIds                              alphanumeric_sender_ids.list                                     list
POST   /alphanumeric_sender_ids                                            CreateAlphanumericSenderId                             alphanumeric_sender_ids.create
DELETE /alphanumeric_sender_ids/{id}                                       DeleteAlphanumericSenderId                             alphanumeric_sender_ids.delete
GET    /alphanumeric_sender_ids/{id}                                       GetAlphanumericSenderId                                alphanumeric_sender_ids.retrieve
POST   /messages                                                           SendMessage                                            messages.send
POST   /messages/alphanumeric_sender_id                                    SendAlphanumericSenderIdMessage                        messages.send_with_alphanumeric_sender
GET    /messages/group/{message_id}                                        GetGroupMmsMessages                                    messages.retrieve_group_messages
POST   /messages/group_mms                                                 CreateGroupMmsMessage                                  messages.send_group_mms
POST   /messages/long_code                                                 CreateLongCodeMessage                                  messages.send_long_code
POST   /messages/number_pool                                               CreateNumberPoolMessage                                messages.send_number_pool
POST   /messages/rcs                                                       SendRCSMessage                                         messages.rcs.send
GET    /messages/rcs/deeplinks/{agent_id}                                  GenerateRCSDeeplink                                    messages.rcs.generate_deeplink
POST   /messages/schedule                                                  ScheduleMessage                                        messages.schedule
POST   /messages/short_code                                                CreateShortCodeMessage                                 messages.send_short_code
POST   /messages/whatsapp                                                  SendWhatsappMessage                                    messages.whatsapp
DELETE /messages/{id}                                                      CancelMessage                                          messages.cancel_scheduled
GET    /messages/{id}                                                      GetMessage                                             messages.retrieve
GET    /messaging/rcs/agents                                               ListRCSAgents                                          messaging.rcs.agents.list                                        list
GET    /messaging/rcs/agents/{id}                                          GetRCSAgentById                                        messaging.rcs.agents.retrieve
PATCH  /messaging/rcs/agents/{id}                                          UpdateRCSAgentById                                     messaging.rcs.agents.update
POST   /messaging/rcs/bulk_capabilities                                    ListRCSCapabilitiesOfAPhoneNumbersBatch                messaging.rcs.list_bulk_capabilities                             idempotent
GET    /messaging/rcs/capabilities/{agent_id}/{phone_number}               ListRCSCapabilitiesOfAPhoneNumber                      messaging.rcs.retrieve_capabilities
PUT    /messaging/rcs/test_number_invite/{id}/{phone_number}               InviteATestNumberToRCS                                 messaging.rcs.invite_test_number
GET    /messaging_hosted_number_orders                                     ListMessagingHostedNumberOrders                        messaging_hosted_number_orders.list                              list
POST   /messaging_hosted_number_orders                                     CreateMessagingHostedNumberOrder                       messaging_hosted_number_orders.create
POST   /messaging_hosted_number_orders/eligibility_numbers_check           CheckEligibilityNumbers                                messaging_hosted_number_orders.check_eligibility                 idempotent
DELETE /messaging_hosted_number_orders/{id}                                DeleteMessagingHostedNumberOrder                       messaging_hosted_number_orders.delete
GET    /messaging_hosted_number_orders/{id}                                GetMessagingHostedNumberOrder                          messaging_hosted_number_orders.retrieve
POST   /messaging_hosted_number_orders/{id}/actions/file_upload            UploadMessagingHostedNumberOrderFile                   messaging_hosted_number_orders.actions.upload_file               upload
POST   /messaging_hosted_number_orders/{id}/validation_codes               ValidateVerificationCodesForMessagingHostedNumberOrder messaging_hosted_number_orders.validate_codes
POST   /messaging_hosted_number_orders/{id}/verification_codes             CreateVerificationCodesForMessagingHostedNumberOrder   messaging_hosted_number_orders.create_verification_codes
GET    /messaging_hosted_numbers                                           ListMessagingHostedNumbers                             messaging_hosted_numbers.list                                    list
DELETE /messaging_hosted_numbers/{id}                                      DeleteMessagingHostedNumber                            messaging_hosted_numbers.delete
GET    /messaging_hosted_numbers/{id}                                      GetMessagingHostedNumber                               messaging_hosted_numbers.retrieve
PATCH  /messaging_hosted_numbers/{id}                                      UpdateMessagingHostedNumber                            messaging_hosted_numbers.update
POST   /messaging_numbers_bulk_updates                                     BulkUpdateMessagingSettingsOnPhoneNumbers              messaging_numbers_bulk_updates.create
GET    /messaging_numbers_bulk_updates/{order_id}                          GetBulkUpdateMessagingSettingsOnPhoneNumbersStatus     messaging_numbers_bulk_updates.retrieve
GET    /messaging_optouts                                                  ListOptOuts                                            messaging_optouts.list                                           list
GET    /messaging_profile_metrics                                          GetProfileMetrics                                      messaging_profile_metrics.list                                   list
GET    /messaging_profiles                                                 ListMessagingProfiles                                  messaging_profiles.list                                          list
POST   /messaging_profiles                                                 CreateMessagingProfile                                 messaging_profiles.create
DELETE /messaging_profiles/{id}                                            DeleteMessagingProfile                                 messaging_profiles.delete
GET    /messaging_profiles/{id}                                            RetrieveMessagingProfile                               messaging_profiles.retrieve
PATCH  /messaging_profiles/{id}                                            UpdateMessagingProfile                                 messaging_profiles.update
POST   /messaging_profiles/{id}/actions/regenerate_secret                  RegenerateMessagingProfileSecret                       messaging_profiles.actions.regenerate_secret
GET    /messaging_profiles/{id}/alphanumeric_sender_ids                    ListProfileAlphanumericSenderIds                       messaging_profiles.list_alphanumeric_sender_ids                  list
GET    /messaging_profiles/{id}/metrics                                    GetDetailedProfileMetrics                              messaging_profiles.retrieve_metrics
GET    /messaging_profiles/{id}/phone_numbers                              ListProfilePhoneNumbers                                messaging_profiles.list_phone_numbers                            list
GET    /messaging_profiles/{id}/short_codes                                ListProfileShortCodes                                  messaging_profiles.list_short_codes                              list
GET    /messaging_profiles/{profile_id}/autoresp_configs                   GetAutorespConfigs                                     messaging_profiles.autoresp_configs.list                         list
POST   /messaging_profiles/{profile_id}/autoresp_configs                   CreateAutorespConfig                                   messaging_profiles.autoresp_configs.create
DELETE /messaging_profiles/{profile_id}/autoresp_configs/{autoresp_cfg_id} DeleteAutorespConfig                                   messaging_profiles.autoresp_configs.delete
GET    /messaging_profiles/{profile_id}/autoresp_configs/{autoresp_cfg_id} GetAutorespConfig                                      messaging_profiles.autoresp_configs.retrieve
PUT    /messaging_profiles/{profile_id}/autoresp_configs/{autoresp_cfg_id} UpdateAutoRespConfig                                   messaging_profiles.autoresp_configs.update
GET    /messaging_tollfree/verification/requests                           ListVerificationRequests                               messaging_tollfree.verification.requests.list                    list page=page,page_size
POST   /messaging_tollfree/verification/requests                           SubmitVerificationRequest                              messaging_tollfree.verification.requests.create
DELETE /messaging_tollfree/verification/requests/{id}                      DeleteVerificationRequest                              messaging_tollfree.verification.requests.delete
GET    /messaging_tollfree/verification/requests/{id}                      GetVerificationRequest                                 messaging_tollfree.verification.requests.retrieve
PATCH  /messaging_tollfree/verification/requests/{id}                      UpdateVerificationRequest                              messaging_tollfree.verification.requests.update
GET    /messaging_tollfree/verification/requests/{id}/status_history       GetVerificationStatusHistory                           messaging_tollfree.verification.requests.retrieve_status_history list
GET    /messaging_url_domains                                              ListMessagingUrlDomains                                messaging_url_domains.list                                       list
GET    /mobile_phone_numbers/messaging                                     ListMobilePhoneNumbersWithMessagingSettings            mobile_phone_numbers.messaging.list                              list
GET    /mobile_phone_numbers/{id}/messaging                                GetMobilePhoneNumberMessagingSettings                  mobile_phone_numbers.messaging.retrieve
GET    /phone_numbers/messaging                                            ListPhoneNumbersWithMessagingSettings                  phone_numbers.messaging.list                                     list
GET    /phone_numbers/{id}/messaging                                       GetPhoneNumberMessagingSettings                        phone_numbers.messaging.retrieve
PATCH  /phone_numbers/{id}/messaging                                       UpdatePhoneNumberMessagingSettings                     phone_numbers.messaging.update
GET    /short_codes                                                        ListShortCodes                                         short_codes.list                                                 list
GET    /short_codes/{id}                                                   RetrieveShortCode                                      short_codes.retrieve
PATCH  /short_codes/{id}                                                   UpdateShortCode                                        short_codes.update
"""  # noqa: E501  (one row per operation, as in OPERATIONS.md)


def _parse(line: str) -> Endpoint:
    method, path, operation_id, call, *flags = line.split()
    kind = LIST if LIST in flags else UPLOAD if UPLOAD in flags else SINGLE
    page_params = PAGE_PARAMS
    for flag in flags:
        if flag.startswith("page="):
            number, size = flag.removeprefix("page=").split(",")
            page_params = (number, size)
    idempotent = True if "idempotent" in flags else None
    return Endpoint(method, path, operation_id, call, kind, idempotent, page_params)


ENDPOINTS: dict[str, Endpoint] = {
    endpoint.operation_id: endpoint for endpoint in map(_parse, _TABLE.strip().splitlines())
}


def wire_name(name: str) -> str:
    """``from_`` → ``from``: Python keywords carry a trailing underscore in signatures."""
    if name.endswith("_") and keyword.iskeyword(name[:-1]):
        return name[:-1]
    return name


def encode_query(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten keyword arguments into Telnyx query parameters (see the module docstring)."""
    query: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        name = f"{prefix}[{wire_name(key)}]" if prefix else wire_name(key)
        if isinstance(value, Mapping):
            query.update(encode_query(value, name))
        elif isinstance(value, list | tuple):
            query[name] = [_query_value(v) for v in value]
        else:
            query[name] = _query_value(value)
    return query


def encode_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """JSON body fields: spec names, ``None`` dropped, datetimes as ISO 8601."""
    return {
        wire_name(key): value.isoformat() if isinstance(value, dt.date) else value
        for key, value in fields.items()
        if value is not None
    }


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
