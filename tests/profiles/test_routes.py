"""A profile's own routes (the OTP_ROUTES format, replacing the environment's for its
verifications) and its WhatsApp template and languages: what the sandbox receives, and
the refusals of a bad route or template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from otp_service.sandbox.seed import PROFILE_IDS
from tests.conftest import ApiClient, data_keys
from tests.profiles.conftest import make_key, make_profile

pytestmark = pytest.mark.topologies("single", "cluster")

US, DE = "+13125550123", "+4915112345678"
WHATSAPP_FROM = "+13125550101"
SHORT_CODE_ROUTES = {"US": [{"type": "short_code", "from": "22395"}]}


@pytest.fixture
def env(env: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    env["OTP_WHATSAPP_FROM"] = WHATSAPP_FROM  # the environment's routes: long code, WhatsApp
    marker = request.node.get_closest_marker("env")
    if marker is not None:
        env.update(marker.kwargs)
    return env


def keyed(app: Any, admin: ApiClient, **fields: Any) -> ApiClient:
    profile = make_profile(admin, **fields)
    return ApiClient(app.test_client(), make_key(admin, profile["id"])["key"])


def create(client: ApiClient, phone: str = US, **body: Any):
    return client.post("/v1/verifications", json={"phone_number": phone, **body})


def test_a_profiles_route_is_the_sender_the_sandbox_receives_from(app, admin, client, sandbox):
    shop = keyed(app, admin, routes=SHORT_CODE_ROUTES)
    created = create(shop)
    assert created.status_code == 201
    [message] = sandbox.messages(US)
    assert (message["endpoint"], message["from"]) == ("/v2/messages/short_code", "22395")
    assert created.get_json()["sender"] == {
        "type": "short_code",
        "from": "22395",
        "messaging_profile_id": None,
        "chosen_because": "configured order",
    }
    # the default profile keeps the environment's route
    assert create(client).status_code == 201
    latest = sandbox.messages(US)[0]
    assert (latest["endpoint"], latest["from"]) == ("/v2/messages/long_code", "+13125550100")


def test_a_profiles_routes_replace_the_environments(app, admin, client, sandbox, redis_client):
    shop = keyed(app, admin, routes=SHORT_CODE_ROUTES)
    before = set(data_keys(redis_client))
    for phone, channel in ((DE, "sms"), (US, "whatsapp")):  # no route of the profile's
        refused = create(shop, phone, channel=channel)
        assert refused.status_code == 403
        problem = refused.get_json()
        assert (problem["code"], problem["reason"]) == ("destination_not_allowed", "no_route")
    assert set(data_keys(redis_client)) == before
    assert sandbox.messages() == []
    assert create(client, DE).status_code == 201  # the environment's "*" serves DE


def test_a_profiles_whatsapp_template_and_languages_are_used(app, admin, sandbox):
    shop = keyed(
        app,
        admin,
        whatsapp={"template": "shop_login_code", "languages": {"pt-BR": "pt_BR"}},
    )
    assert create(shop, channel="whatsapp", locale="pt-BR").status_code == 201
    assert create(shop, "+13125550124", channel="whatsapp", locale="de").status_code == 201
    templates = {m["to"]: m["body"]["whatsapp_message"]["template"] for m in sandbox.messages()}
    assert templates[US]["name"] == "shop_login_code"
    assert templates[US]["language"] == {"code": "pt_BR"}
    assert templates["+13125550124"]["language"] == {"code": "en_US"}  # the environment's


def test_a_profile_may_route_whatsapp_through_its_own_sender(app, admin, client, sandbox):
    routes = {
        "*": [
            {"type": "number_pool", "messaging_profile_id": PROFILE_IDS["secondary"]},
            {"type": "whatsapp", "from": "+13125550102"},
        ]
    }
    shop = keyed(app, admin, routes=routes, whatsapp={"language": "en_GB"})
    assert create(shop, channel="whatsapp").status_code == 201
    [message] = sandbox.messages(US)
    assert (message["endpoint"], message["from"]) == ("/v2/messages/whatsapp", "+13125550102")
    template = message["body"]["whatsapp_message"]["template"]
    assert (template["name"], template["language"]) == ("otp_verification", {"code": "en_GB"})
    assert create(client, channel="whatsapp").status_code == 201
    assert sandbox.messages(US)[0]["from"] == WHATSAPP_FROM


def test_routes_and_whatsapp_are_shown_and_removed(admin):
    created = make_profile(admin, routes=SHORT_CODE_ROUTES, whatsapp={"template": "shop"})
    assert created["overrides"]["routes"] == SHORT_CODE_ROUTES
    assert created["settings"]["routes"] == SHORT_CODE_ROUTES
    assert created["settings"]["whatsapp"] == {
        "template": "shop",
        "language": "en_US",
        "languages": {},
    }
    path = f"/v1/admin/profiles/{created['id']}"
    removed = admin.patch(path, json={"routes": None, "whatsapp": None}).get_json()["data"]
    assert removed["settings"]["routes"] is None
    assert removed["settings"]["whatsapp"]["template"] == "otp_verification"
    assert removed["overrides"] == {}


@pytest.mark.parametrize(
    ("routes", "says"),
    [
        ({"US": [{"type": "carrier_pigeon", "from": "22395"}]}, '"type" must be one of'),
        ({"US": {"type": "short_code", "from": "22395"}}, "non-empty list of senders"),
        ({"US": []}, "non-empty list of senders"),
        ({"XX": [{"type": "short_code", "from": "22395"}]}, "ISO 3166"),
        ({"US": [{"type": "short_code", "from": "+13125550100"}]}, "3 to 8 digits"),
        ({"US": [{"type": "long_code"}]}, 'needs "from"'),
        ({"US": [{"type": "long_code", "from": "+13125550100", "pin": 1}]}, "unknown field"),
        ({"US": [{"type": "alphanumeric", "from": "Shop", "messaging_profile_id": "x"}]}, "UUID"),
        ({}, "JSON object mapping"),
        ([{"type": "short_code", "from": "22395"}], "JSON object mapping"),
        ("US:22395", "JSON object mapping"),
    ],
)
def test_a_bad_route_is_refused_naming_what_is_wrong(admin, routes, says):
    response = admin.post("/v1/admin/profiles", json={"routes": routes})
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "invalid_request"
    assert says in problem["errors"]["routes"][0]


def test_a_bad_route_in_an_update_changes_nothing(admin):
    created = make_profile(admin, routes=SHORT_CODE_ROUTES)
    path = f"/v1/admin/profiles/{created['id']}"
    response = admin.patch(path, json={"routes": {"US": [{"type": "fax", "from": "1"}]}})
    assert response.status_code == 422
    assert admin.get(path).get_json()["data"]["overrides"]["routes"] == SHORT_CODE_ROUTES


@pytest.mark.parametrize(
    ("whatsapp", "says"),
    [
        ({"template": "Shop Code"}, "template must be a name"),
        ({"language": "english"}, "language must be a language code"),
        ({"languages": {"pt-BR": "portuguese"}}, "languages: entries"),
        ({"languages": ["pt_BR"]}, "languages must map"),
        ({"name": "shop"}, "must be an object of template"),
        ({}, "must be an object of template"),
        ("shop", "must be an object of template"),
    ],
)
def test_a_bad_whatsapp_template_is_refused(admin, whatsapp, says):
    response = admin.post("/v1/admin/profiles", json={"whatsapp": whatsapp})
    assert response.status_code == 422
    assert says in response.get_json()["errors"]["whatsapp"][0]


TWO_US_SMS = {
    "US": [{"type": "short_code", "from": "22395"}, {"type": "long_code", "from": "+13125550120"}]
}


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        # the profile's routes have no WhatsApp sender
        ({"routes": SHORT_CODE_ROUTES, "fallback": {"to": "whatsapp"}}, "whatsapp sender"),
        # the environment's routes: one long code and one WhatsApp sender, one per channel
        ({"fallback": {"to": "next_sender"}}, "two senders of one channel"),
        (
            {
                "routes": {"*": [{"type": "whatsapp", "from": WHATSAPP_FROM}]},
                "fallback": {"to": "sms"},
            },
            "sms sender",
        ),
    ],
)
def test_a_fallback_that_could_never_send_is_refused_and_nothing_stored(
    admin, redis_client, fields, says
):
    before = redis_client.hgetall("otp:{profiles}:all")
    refused = admin.post("/v1/admin/profiles", json=fields)
    assert refused.status_code == 422, refused.get_json()
    [why] = refused.get_json()["errors"]["fallback"]
    assert says in why
    assert redis_client.hgetall("otp:{profiles}:all") == before


def test_a_fallback_with_a_sender_to_go_to_is_taken_and_a_route_change_that_strands_it_is_not(
    admin,
):
    to_whatsapp = make_profile(admin, fallback={"to": "whatsapp"})  # the environment's routes
    assert to_whatsapp["settings"]["fallback"]["to"] == "whatsapp"
    path = f"/v1/admin/profiles/{to_whatsapp['id']}"
    stranded = admin.patch(path, json={"routes": SHORT_CODE_ROUTES})
    assert stranded.status_code == 422, stranded.get_json()
    assert "whatsapp sender" in stranded.get_json()["errors"]["fallback"][0]
    assert admin.get(path).get_json()["data"] == to_whatsapp  # unchanged
    # two US SMS senders: next_sender has one to go to
    next_sender = make_profile(admin, routes=TWO_US_SMS, fallback={"to": "next_sender"})
    assert next_sender["settings"]["fallback"]["to"] == "next_sender"


def test_a_fallback_stored_before_it_was_checked_does_not_stop_a_change_of_another_field(
    admin, redis_client
):
    """A profile whose fallback could never send (stored before the check, or stranded by
    a change of OTP_ROUTES since) can still be renamed; changing its fallback or routes to
    one that still never sends is refused."""
    shop = make_profile(admin, routes=SHORT_CODE_ROUTES)
    key, path = "otp:{profiles}:all", f"/v1/admin/profiles/{shop['id']}"
    stored = json.loads(redis_client.hget(key, shop["id"]))
    stored["fallback"] = {"on": ["delivery_failed"], "to": "whatsapp"}
    redis_client.hset(key, shop["id"], json.dumps(stored))

    renamed = admin.patch(path, json={"name": "Shop 2"})
    assert renamed.status_code == 200, renamed.get_json()
    again = admin.patch(path, json={"fallback": {"on": ["sending_failed"], "to": "whatsapp"}})
    assert again.status_code == 422, again.get_json()
    assert "whatsapp sender" in again.get_json()["errors"]["fallback"][0]


TO_WHATSAPP = json.dumps({"on": ["delivery_failed"], "to": "whatsapp"})


@pytest.mark.env(OTP_FALLBACK=TO_WHATSAPP)
def test_routes_that_strand_the_inherited_otp_fallback_are_refused_and_nothing_stored(
    admin, redis_client
):
    """OTP_FALLBACK sends to WhatsApp: a profile of its own routes without a WhatsApp
    sender, and no fallback of its own, would plan fallbacks that never send."""
    key = "otp:{profiles}:all"
    before = redis_client.hgetall(key)
    refused = admin.post("/v1/admin/profiles", json={"routes": SHORT_CODE_ROUTES})
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["code"] == "invalid_request"
    [why] = refused.get_json()["errors"]["fallback"]
    assert "OTP_FALLBACK" in why and "whatsapp sender" in why and '{"on": []}' in why
    assert redis_client.hgetall(key) == before
    # its own fallback switched off, or routes with a WhatsApp sender: taken
    quiet = make_profile(admin, routes=SHORT_CODE_ROUTES, fallback={"on": []})
    assert quiet["settings"]["fallback"]["on"] == []
    both = {"*": [*SHORT_CODE_ROUTES["US"], {"type": "whatsapp", "from": WHATSAPP_FROM}]}
    assert make_profile(admin, routes=both)["settings"]["fallback"]["to"] == "whatsapp"


@pytest.mark.env(OTP_FALLBACK=TO_WHATSAPP)
def test_an_update_that_strands_the_inherited_otp_fallback_is_refused(admin):
    inherits = make_profile(admin, name="Shop")  # the environment's routes and fallback
    path = f"/v1/admin/profiles/{inherits['id']}"
    stranded = admin.patch(path, json={"routes": SHORT_CODE_ROUTES})
    assert stranded.status_code == 422, stranded.get_json()
    assert "OTP_FALLBACK" in stranded.get_json()["errors"]["fallback"][0]
    assert admin.get(path).get_json()["data"] == inherits  # unchanged
    # dropping its own fallback ("off") where its routes have no WhatsApp sender
    quiet = make_profile(admin, routes=SHORT_CODE_ROUTES, fallback={"on": []})
    path = f"/v1/admin/profiles/{quiet['id']}"
    dropped = admin.patch(path, json={"fallback": None})
    assert dropped.status_code == 422, dropped.get_json()
    assert "OTP_FALLBACK" in dropped.get_json()["errors"]["fallback"][0]
    assert admin.get(path).get_json()["data"] == quiet


@pytest.mark.env(OTP_FALLBACK=TO_WHATSAPP)
def test_a_profile_stranding_the_inherited_otp_fallback_before_the_check_can_be_renamed(
    admin, redis_client
):
    """Stored before the check (or stranded by a change of OTP_FALLBACK since): a change
    of another field is taken; a change of its routes that still strands it is not."""
    shop = make_profile(admin, name="Shop", routes=TWO_US_SMS, fallback={"on": []})
    key, path = "otp:{profiles}:all", f"/v1/admin/profiles/{shop['id']}"
    stored = json.loads(redis_client.hget(key, shop["id"]))
    del stored["fallback"]
    redis_client.hset(key, shop["id"], json.dumps(stored))

    renamed = admin.patch(path, json={"name": "Shop 2"})
    assert renamed.status_code == 200, renamed.get_json()
    again = admin.patch(path, json={"routes": SHORT_CODE_ROUTES})
    assert again.status_code == 422, again.get_json()
    assert "OTP_FALLBACK" in again.get_json()["errors"]["fallback"][0]
