"""Routes, allowed countries and the delivery variables: read at start-up, refused when wrong."""

from __future__ import annotations

import json

import pytest

from otp_service.config import ConfigError, Settings
from otp_service.delivery import DeliveryConfig, Sender
from otp_service.phones import country_of
from otp_service.sandbox.seed import PROFILE_IDS

PRIMARY = PROFILE_IDS["primary"]
SECONDARY = PROFILE_IDS["secondary"]
ROUTES = {
    "US": [
        {"type": "short_code", "from": "22395"},
        {"type": "number_pool", "messaging_profile_id": PRIMARY},
    ],
    "CA": [{"type": "long_code", "from": "+13125550120"}],
    "GB": [{"type": "alphanumeric", "from": "OTPSvc", "messaging_profile_id": PRIMARY}],
    "*": [{"type": "number_pool", "messaging_profile_id": SECONDARY}],
}
PRODUCTION = {
    "OTP_ENV": "production",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "OTP_SECRET": "s" * 32,
    "OTP_FACTOR_KEY": "f" * 32,
    "OTP_API_KEYS": "web:client-key-1",
    "OTP_ADMIN_KEYS": "ops:admin-key-1",
    "TELNYX_API_KEY": "KEYabc",
    "TELNYX_PUBLIC_KEYS": "3iMkc4x1fZ6yCVNbPIbDZ0d2uJ2DY1stBuk6fYHGdKk=",
}


def delivery(**env: str) -> DeliveryConfig:
    config = Settings.from_env(env).delivery
    assert config is not None
    return config


def test_routes_are_read_in_order_per_country():
    config = delivery(OTP_ROUTES=json.dumps(ROUTES))
    assert config.senders_for("US", "sms") == (
        Sender("short_code", from_="22395"),
        Sender("number_pool", messaging_profile_id=PRIMARY),
    )
    assert config.senders_for("CA", "sms") == (Sender("long_code", from_="+13125550120"),)
    assert config.senders_for("DE", "sms") == (
        Sender("number_pool", messaging_profile_id=SECONDARY),
    )
    assert config.senders_for(None, "sms") == config.senders_for("DE", "sms")


def test_routes_can_come_from_a_file(tmp_path):
    path = tmp_path / "routes.json"
    path.write_text(json.dumps(ROUTES))
    assert (
        delivery(OTP_ROUTES_FILE=str(path)).routes == delivery(OTP_ROUTES=json.dumps(ROUTES)).routes
    )


def test_without_routes_the_from_number_then_the_profile_serve_every_country():
    config = delivery(TELNYX_FROM_NUMBER="+13125550100", TELNYX_MESSAGING_PROFILE_ID=PRIMARY)
    assert config.senders_for("FR", "sms") == (
        Sender("long_code", from_="+13125550100"),
        Sender("number_pool", messaging_profile_id=PRIMARY),
    )
    assert config.senders_for("FR", "whatsapp") == ()


def test_whatsapp_from_adds_a_whatsapp_sender_to_every_country():
    config = delivery(
        OTP_ROUTES=json.dumps(ROUTES),
        OTP_WHATSAPP_FROM="+13125550101",
        OTP_WHATSAPP_TEMPLATE="acme_login",
        OTP_WHATSAPP_LANGUAGE="en",
        OTP_WHATSAPP_LANGUAGES="pt-BR:pt_BR, es:es_MX",
    )
    assert config.senders_for("US", "whatsapp") == (Sender("whatsapp", from_="+13125550101"),)
    assert config.senders_for("US", "sms")[0].type == "short_code"  # SMS routes unchanged
    assert config.whatsapp.name == "acme_login"
    assert config.whatsapp.language_for("pt-BR") == "pt_BR"
    assert config.whatsapp.language_for("es-AR") == "es_MX"
    assert config.whatsapp.language_for("fr") == "en"


def test_allowed_countries_webotp_and_app_hash_are_read():
    config = delivery(
        OTP_ALLOWED_COUNTRIES="us, CA",
        OTP_WEBOTP_DOMAIN="Acme.Example",
        OTP_ANDROID_APP_HASH="FA+9qCX9VSu",
    )
    assert config.allowed_countries == {"US", "CA"}
    assert config.allows("US") and not config.allows("DE") and not config.allows(None)
    assert config.webotp_domain == "acme.example"
    assert config.android_app_hash == "FA+9qCX9VSu"
    assert delivery().allows("DE")  # empty: every country


def test_production_with_routes_needs_no_from_number():
    settings = Settings.from_env({**PRODUCTION, "OTP_ROUTES": json.dumps(ROUTES)})
    assert settings.delivery is not None and "US" in settings.delivery.routes


def test_production_without_any_sms_sender_is_refused():
    with pytest.raises(ConfigError) as info:
        Settings.from_env(PRODUCTION)
    assert "OTP_ROUTES" in str(info.value) and "TELNYX_FROM_NUMBER" in str(info.value)


def sender(**fields: object) -> str:
    return json.dumps({"US": [fields]})


@pytest.mark.parametrize(
    ("env", "variable", "says"),
    [
        ({"OTP_ROUTES": "{"}, "OTP_ROUTES", "not valid JSON"),
        ({"OTP_ROUTES": "[]"}, "OTP_ROUTES", "JSON object"),
        ({"OTP_ROUTES": "{}"}, "OTP_ROUTES", "JSON object"),
        (
            {"OTP_ROUTES": '{"USA": [{"type": "long_code", "from": "+13125550100"}]}'},
            "OTP_ROUTES",
            '"USA"',
        ),
        (
            {"OTP_ROUTES": '{"us": [{"type": "long_code", "from": "+13125550100"}]}'},
            "OTP_ROUTES",
            '"us"',
        ),
        ({"OTP_ROUTES": '{"US": []}'}, "OTP_ROUTES", "non-empty list"),
        ({"OTP_ROUTES": '{"US": ["+13125550100"]}'}, "OTP_ROUTES", "must be an object"),
        ({"OTP_ROUTES": sender(type="carrier_pigeon")}, "OTP_ROUTES", '"type" must be one of'),
        ({"OTP_ROUTES": sender(type=["long_code"])}, "OTP_ROUTES", '"type" must be one of'),
        ({"OTP_ROUTES": sender(type="long_code")}, "OTP_ROUTES", 'needs "from"'),
        (
            {"OTP_ROUTES": sender(type="long_code", from_="+13125550100")},
            "OTP_ROUTES",
            'unknown field "from_"',
        ),
        ({"OTP_ROUTES": sender(type="long_code", **{"from": "3125550100"})}, "OTP_ROUTES", "E.164"),
        ({"OTP_ROUTES": sender(type="short_code", **{"from": "12"})}, "OTP_ROUTES", "3 to 8"),
        (
            {"OTP_ROUTES": sender(type="short_code", **{"from": "123456789"})},
            "OTP_ROUTES",
            "3 to 8",
        ),
        ({"OTP_ROUTES": sender(type="number_pool")}, "OTP_ROUTES", 'needs "messaging_profile_id"'),
        (
            {"OTP_ROUTES": sender(type="number_pool", messaging_profile_id="primary")},
            "OTP_ROUTES",
            "UUID",
        ),
        (
            {"OTP_ROUTES": json.dumps({"GB": [{"type": "alphanumeric", "from": "OTPSvc"}]})},
            "OTP_ROUTES",
            'needs "messaging_profile_id"',
        ),
        (
            {
                "OTP_ROUTES": json.dumps(
                    {
                        "GB": [
                            {
                                "type": "alphanumeric",
                                "from": "TooLongSender",
                                "messaging_profile_id": PRIMARY,
                            }
                        ]
                    }
                )
            },
            "OTP_ROUTES",
            "1 to 11",
        ),
        (
            {
                "OTP_ROUTES": json.dumps(
                    {
                        "GB": [
                            {
                                "type": "alphanumeric",
                                "from": "12345",
                                "messaging_profile_id": PRIMARY,
                            }
                        ]
                    }
                )
            },
            "OTP_ROUTES",
            "at least one of them a letter",
        ),
        (
            {
                "OTP_ROUTES": json.dumps(
                    {
                        "GB": [
                            {
                                "type": "alphanumeric",
                                "from": "Acme-2FA",
                                "messaging_profile_id": PRIMARY,
                            }
                        ]
                    }
                )
            },
            "OTP_ROUTES",
            "letters, digits or spaces",
        ),
        (
            {
                "OTP_ROUTES": json.dumps(
                    {
                        "US": [
                            {
                                "type": "alphanumeric",
                                "from": "OTPSvc",
                                "messaging_profile_id": PRIMARY,
                            }
                        ]
                    }
                )
            },
            "OTP_ROUTES",
            "alphanumeric sender ID to US",
        ),
        (
            {
                "OTP_ROUTES": sender(type="long_code", **{"from": "+13125550100"}),
                "OTP_ROUTES_FILE": "routes.json",
            },
            "OTP_ROUTES_FILE",
            "not both",
        ),
        ({"OTP_ROUTES_FILE": "/nonexistent/routes.json"}, "OTP_ROUTES_FILE", "cannot read"),
        ({"OTP_ALLOWED_COUNTRIES": "US,XX"}, "OTP_ALLOWED_COUNTRIES", '"XX"'),
        ({"OTP_WHATSAPP_FROM": "whatsapp:+13125550101"}, "OTP_WHATSAPP_FROM", "E.164"),
        (
            {"OTP_WHATSAPP_MESSAGING_PROFILE_ID": PRIMARY},
            "OTP_WHATSAPP_MESSAGING_PROFILE_ID",
            "OTP_WHATSAPP_FROM",
        ),
        ({"OTP_WHATSAPP_TEMPLATE": "Login Code"}, "OTP_WHATSAPP_TEMPLATE", "a-z"),
        ({"OTP_WHATSAPP_LANGUAGE": "english"}, "OTP_WHATSAPP_LANGUAGE", "en_US"),
        ({"OTP_WHATSAPP_LANGUAGES": "pt-BR=pt_BR"}, "OTP_WHATSAPP_LANGUAGES", "locale:language"),
        ({"OTP_WEBOTP_DOMAIN": "https://acme.example"}, "OTP_WEBOTP_DOMAIN", "host name"),
        ({"OTP_WEBOTP_DOMAIN": "acme.example:8443"}, "OTP_WEBOTP_DOMAIN", "host name"),
        ({"OTP_ANDROID_APP_HASH": "short"}, "OTP_ANDROID_APP_HASH", "11-character"),
        (  # a fallback to a channel without a sender could never send
            {"OTP_ROUTES": json.dumps(ROUTES), "OTP_FALLBACK": '{"to": "whatsapp"}'},
            "OTP_FALLBACK",
            "needs a whatsapp sender",
        ),
        (  # one sender per route: next_sender would never find another
            {"TELNYX_FROM_NUMBER": "+13125550100", "OTP_FALLBACK": '{"to": "next_sender"}'},
            "OTP_FALLBACK",
            "two senders of one channel",
        ),
        (  # values inside OTP_ROUTES are not stripped: the whole value must match
            {"OTP_ROUTES": sender(type="long_code", **{"from": "+13125550100\n"})},
            "OTP_ROUTES",
            "E.164",
        ),
    ],
)
def test_invalid_delivery_settings_stop_start_up_naming_the_variable(env, variable, says):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert variable in message, message
    assert says in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("phone", "country"),
    [
        ("+13125550123", "US"),
        ("+16135550123", "CA"),
        ("+18095551234", "DO"),  # +1 is shared: the number says which country
        ("+4915112345678", "DE"),
        ("+447700900123", "GB"),  # not a valid number: the main country of +44
        ("+8613812345678", "CN"),
        ("not a number", None),
    ],
)
def test_the_country_of_a_destination_comes_from_phonenumbers(phone, country):
    assert country_of(phone) == country
