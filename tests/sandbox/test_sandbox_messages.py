"""Sending through the sandbox: auth, every send endpoint, validation, sender rules, magic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from otp_service.sandbox import (
    ALPHANUMERIC_SENDER_IDS,
    FROM_NUMBERS,
    MAGIC_NUMBERS,
    OPTED_OUT_NUMBERS,
    PROFILE_IDS,
    SHORT_CODES,
    SandboxServer,
)

PRIMARY = PROFILE_IDS["primary"]
FROM = FROM_NUMBERS[PRIMARY][0]
TO = "+13125559876"


def outbox(helpers: httpx.Client, to: str | None = None) -> list[dict]:
    params = {"to": to} if to else {}
    return helpers.get("/messages", params=params).json()["data"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic sandbox-key"}],
    ids=["missing", "wrong-key", "wrong-scheme"],
)
def test_requests_without_the_api_key_are_401_with_code_10009(
    sandbox: SandboxServer, headers: dict[str, str]
) -> None:
    response = httpx.post(
        sandbox.base_url + "/messages", json={"to": TO, "from": FROM, "text": "hi"}, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "10009"


def test_unauthenticated_send_stores_nothing(sandbox: SandboxServer, helpers: httpx.Client) -> None:
    httpx.post(sandbox.base_url + "/messages/long_code", json={"to": TO, "from": FROM, "text": "x"})
    assert outbox(helpers) == []


SENDS = [
    ("/messages", {"from": FROM, "to": TO, "text": "code 123456"}, FROM),
    ("/messages", {"messaging_profile_id": PRIMARY, "to": TO, "text": "pool"}, None),
    ("/messages/long_code", {"from": FROM, "to": TO, "text": "code 123456"}, FROM),
    ("/messages/short_code", {"from": "22395", "to": TO, "text": "code 123456"}, "22395"),
    ("/messages/number_pool", {"messaging_profile_id": PRIMARY, "to": TO, "text": "x"}, None),
    (
        "/messages/alphanumeric_sender_id",
        {"from": "OTPSvc", "messaging_profile_id": PRIMARY, "to": TO, "text": "code"},
        "OTPSvc",
    ),
    (
        "/messages/whatsapp",
        {"from": FROM, "to": TO, "whatsapp_message": {"type": "text", "text": {"body": "code"}}},
        FROM,
    ),
    ("/messages/group_mms", {"from": FROM, "to": [TO, "+13125559877"], "text": "hi all"}, FROM),
    (
        "/messages/rcs",
        {
            "agent_id": "acme_verify_agent",
            "messaging_profile_id": PRIMARY,
            "to": TO,
            "agent_message": {"content_message": {"text": "code 123456"}},
        },
        "acme_verify_agent",
    ),
]


@pytest.mark.parametrize(("path", "body", "sender"), SENDS, ids=[s[0] for s in SENDS])
def test_each_send_endpoint_is_stored_with_the_endpoint_it_came_in_on(
    api: httpx.Client, helpers: httpx.Client, path: str, body: dict, sender: str | None
) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["to"][0]["phone_number"] == TO
    assert data["to"][0]["status"] == "queued"

    [stored] = outbox(helpers)
    assert stored["id"] == data["id"]
    assert stored["endpoint"] == "/v2" + path
    assert stored["to"] == TO
    assert stored["body"] == body
    assert stored["messaging_profile_id"] == PRIMARY
    if sender:
        assert stored["from"] == sender
    else:
        assert stored["from"] in FROM_NUMBERS[PRIMARY]
    assert api.get(f"/messages/{data['id']}").json()["data"]["id"] == data["id"]


def test_outbox_lists_newest_first_and_filters_by_destination(
    api: httpx.Client, helpers: httpx.Client
) -> None:
    for to in (TO, "+13125559877", TO):
        api.post("/messages/long_code", json={"from": FROM, "to": to, "text": "x"})
    assert [m["to"] for m in outbox(helpers)] == [TO, "+13125559877", TO]
    assert len(outbox(helpers, to=TO)) == 2
    assert helpers.delete("/messages").status_code == 204
    assert outbox(helpers) == []


def test_number_pool_keeps_one_sender_per_destination(
    api: httpx.Client, helpers: httpx.Client
) -> None:
    for _ in range(3):
        api.post(
            "/messages/number_pool", json={"messaging_profile_id": PRIMARY, "to": TO, "text": "x"}
        )
    assert len({m["from"] for m in outbox(helpers)}) == 1


def test_message_reports_encoding_and_parts(api: httpx.Client) -> None:
    gsm = api.post("/messages/long_code", json={"from": FROM, "to": TO, "text": "a" * 161}).json()
    ucs = api.post("/messages/long_code", json={"from": FROM, "to": TO, "text": "код"}).json()
    assert (gsm["data"]["encoding"], gsm["data"]["parts"]) == ("GSM-7", 2)
    assert (ucs["data"]["encoding"], ucs["data"]["parts"]) == ("UCS-2", 1)


INVALID = [
    ("/messages/long_code", {"to": TO, "text": "x"}, "10004", "/from"),
    ("/messages/long_code", {"from": FROM, "text": "x"}, "10004", "/to"),
    ("/messages/long_code", {"from": FROM, "to": TO}, "10004", "/text"),
    ("/messages/long_code", {"from": FROM, "to": TO, "type": "MMS"}, "10004", "/media_urls"),
    ("/messages/long_code", {"from": FROM, "to": TO, "text": "x", "type": "FAX"}, "10015", "/type"),
    ("/messages/long_code", {"from": FROM, "to": 12, "text": "x"}, "10015", "/to"),
    (
        "/messages/long_code",
        {"from": FROM, "to": TO, "text": "x", "webhook_url": "nope"},
        "10003",
        "/webhook_url",
    ),
    ("/messages/number_pool", {"to": TO, "text": "x"}, "10004", "/messaging_profile_id"),
    ("/messages", {"to": TO, "text": "x"}, "10004", "/from"),
    ("/messages", {"from": "OTPSvc", "to": TO, "text": "x"}, "10004", "/messaging_profile_id"),
    ("/messages/schedule", {"from": FROM, "to": TO, "text": "x"}, "10004", "/send_at"),
    (
        "/messages/alphanumeric_sender_id",
        {"from": "OTPSvc", "to": TO, "text": "x"},
        "10004",
        "/messaging_profile_id",
    ),
    ("/messages/whatsapp", {"from": FROM, "to": TO}, "10004", "/whatsapp_message"),
    ("/messages/long_code", {"from": FROM, "to": "3125559876", "text": "x"}, "40310", "/to"),
    ("/messages/long_code", {"from": "+19995550100", "to": TO, "text": "x"}, "40305", "/from"),
    ("/messages/long_code", {"from": "+13125550145", "to": TO, "text": "x"}, "40305", "/from"),
    ("/messages/short_code", {"from": "99999", "to": TO, "text": "x"}, "40305", "/from"),
    ("/messages/short_code", {"from": "60021", "to": TO, "text": "x"}, "40305", "/from"),
    (
        "/messages/alphanumeric_sender_id",
        {"from": "AcmeDeals", "messaging_profile_id": PRIMARY, "to": TO, "text": "x"},
        "40305",
        "/from",
    ),
    (
        "/messages/number_pool",
        {"messaging_profile_id": "00000000-0000-4000-8000-000000000000", "to": TO, "text": "x"},
        "10017",
        "/messaging_profile_id",
    ),
]


@pytest.mark.parametrize(("path", "body", "code", "pointer"), INVALID)
def test_invalid_sends_are_422_with_telnyx_code_and_pointer(
    api: httpx.Client, helpers: httpx.Client, path: str, body: dict, code: str, pointer: str
) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {"code": code, "pointer": pointer} in [
        {"code": e["code"], "pointer": e["source"]["pointer"]} for e in errors
    ]
    assert all(e["title"] for e in errors)
    assert outbox(helpers) == []


def test_body_that_is_not_json_is_400(api: httpx.Client) -> None:
    response = api.post("/messages", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "10015"


@pytest.mark.parametrize(
    "path", ["/messages/long_code", "/messages/number_pool", "/messages/whatsapp"]
)
def test_opted_out_magic_number_is_refused_409_with_40300(
    api: httpx.Client, helpers: httpx.Client, path: str
) -> None:
    body = {
        "from": FROM,
        "messaging_profile_id": PRIMARY,
        "to": MAGIC_NUMBERS["opted_out"],
        "text": "x",
    }
    if path.endswith("whatsapp"):
        body = {"from": FROM, "to": body["to"], "whatsapp_message": {"text": {"body": "x"}}}
    response = api.post(path, json=body)
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "40300"
    assert outbox(helpers) == []


def test_seeded_opt_out_blocks_its_profile_but_not_others(api: httpx.Client) -> None:
    blocked = OPTED_OUT_NUMBERS[0]  # opted out of the primary profile
    refused = api.post("/messages/long_code", json={"from": FROM, "to": blocked, "text": "x"})
    other = FROM_NUMBERS[PROFILE_IDS["marketing"]][0]
    accepted = api.post("/messages/long_code", json={"from": other, "to": blocked, "text": "x"})
    assert refused.status_code == 409
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/messages/long_code", {"from": FROM}, 422),
        ("/messages/short_code", {"from": "22395"}, 422),
        ("/messages", {"from": FROM}, 422),
        ("/messages/number_pool", {"messaging_profile_id": PRIMARY}, 200),
        (
            "/messages/alphanumeric_sender_id",
            {"from": "OTPSvc", "messaging_profile_id": PRIMARY},
            200,
        ),
    ],
)
def test_not_routable_magic_number_refuses_only_long_and_short_codes(
    api: httpx.Client, path: str, body: dict, status: int
) -> None:
    response = api.post(path, json={**body, "to": MAGIC_NUMBERS["not_routable"], "text": "x"})
    assert response.status_code == status
    if status == 422:
        assert response.json()["errors"][0]["code"] == "40001"


def test_unknown_message_id_is_404_with_10005(api: httpx.Client) -> None:
    response = api.get("/messages/7d8f5c1e-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "10005"


def test_scheduled_message_can_be_cancelled_once(api: httpx.Client) -> None:
    send_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sent = api.post(
        "/messages/schedule", json={"from": FROM, "to": TO, "text": "x", "send_at": send_at}
    )
    assert sent.status_code == 200
    message_id = sent.json()["data"]["id"]
    cancelled = api.delete(f"/messages/{message_id}")
    assert cancelled.status_code == 200
    assert cancelled.json()["to"][0]["status"] == "cancelled"
    again = api.delete(f"/messages/{message_id}")
    assert again.status_code == 403
    assert again.json()["errors"][0]["code"]


def test_immediate_message_cannot_be_cancelled(api: httpx.Client) -> None:
    sent = api.post("/messages/long_code", json={"from": FROM, "to": TO, "text": "x"}).json()
    assert api.delete(f"/messages/{sent['data']['id']}").status_code == 403


def test_reset_restores_seeded_state(api: httpx.Client, helpers: httpx.Client) -> None:
    api.post("/messages/long_code", json={"from": FROM, "to": TO, "text": "x"})
    api.patch(f"/phone_numbers/{FROM}/messaging", json={"messaging_profile_id": ""})
    assert helpers.post("/reset").status_code == 204
    assert outbox(helpers) == []
    number = api.get(f"/phone_numbers/{FROM}/messaging").json()["data"]
    assert number["messaging_profile_id"] == PRIMARY


def test_index_documents_helpers_magic_numbers_and_senders(helpers: httpx.Client) -> None:
    index = helpers.get("").json()
    assert {m["number"] for m in index["magic_numbers"]} == set(MAGIC_NUMBERS.values())
    assert any(r["path"].startswith("/_sandbox/faults") for r in index["helper_routes"])
    profiles = {p["id"]: p for p in index["seed"]["messaging_profiles"]}
    assert FROM in profiles[PRIMARY]["from_numbers"]
    assert set(SHORT_CODES) - {"60021"} <= {c for p in profiles.values() for c in p["short_codes"]}
    assert "OTPSvc" in ALPHANUMERIC_SENDER_IDS
