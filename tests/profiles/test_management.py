"""Profiles through the admin API: create, read, list (paged), update, delete, the
checks of every field, the template refusals, the preview, and the read-only default."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest

from otp_service import create_app
from tests.profiles.conftest import make_profile
from tests.test_openapi import load_spec

pytestmark = pytest.mark.topologies("single", "cluster")

PROFILE_ID = re.compile(r"pf_[a-z2-7]{16}")


def test_a_created_profile_has_a_generated_id_and_falls_back_on_the_environment(admin):
    response = admin.post("/v1/admin/profiles", json={"name": "Shop", "code_length": 8})
    assert response.status_code == 201
    body = response.get_json()["data"]
    assert PROFILE_ID.fullmatch(body["id"])
    assert response.headers["Location"] == f"/v1/admin/profiles/{body['id']}"
    assert body["name"] == "Shop"
    assert body["overrides"] == {"code_length": 8}
    assert body["settings"]["code_length"] == 8
    assert body["settings"]["app_name"] == "otp-service"  # the environment's
    assert body["settings"]["ttl_seconds"] == 600
    got = admin.get(f"/v1/admin/profiles/{body['id']}")
    assert got.status_code == 200
    assert got.get_json()["data"] == body


def test_an_update_changes_what_it_names_and_null_removes_an_override(admin):
    created = make_profile(admin, name="Shop", code_length=8, ttl_seconds=120)
    response = admin.patch(
        f"/v1/admin/profiles/{created['id']}", json={"code_length": None, "max_attempts": 3}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()["data"]
    assert body["overrides"] == {"max_attempts": 3, "ttl_seconds": 120}
    assert body["settings"]["code_length"] == 6
    assert body["name"] == "Shop"
    assert admin.get(f"/v1/admin/profiles/{created['id']}").get_json()["data"] == body


def test_a_deleted_profile_is_gone(admin):
    created = make_profile(admin, name="Shop")
    assert admin.delete(f"/v1/admin/profiles/{created['id']}").status_code == 204
    gone = admin.get(f"/v1/admin/profiles/{created['id']}")
    assert gone.status_code == 404
    assert gone.get_json()["code"] == "profile_not_found"
    assert admin.delete(f"/v1/admin/profiles/{created['id']}").status_code == 404


def test_a_chunked_body_is_read_not_taken_for_an_empty_one(admin):
    """A body sent without a Content-Length (Transfer-Encoding: chunked, as gunicorn
    passes it on) is the change asked for, as on the client routes."""
    created = make_profile(admin, name="Shop")

    def chunked(method: str, path: str, body: dict) -> Any:
        return admin.flask.open(
            path,
            method=method,
            input_stream=io.BytesIO(json.dumps(body).encode()),
            headers={
                "Authorization": f"Bearer {admin.key}",
                "Content-Type": "application/json",
                "Transfer-Encoding": "chunked",
            },
            environ_overrides={"wsgi.input_terminated": True},
        )

    path = f"/v1/admin/profiles/{created['id']}"
    updated = chunked("PATCH", path, {"code_length": 8})
    assert updated.status_code == 200
    assert updated.get_json()["data"]["overrides"] == {"code_length": 8}
    made = chunked("POST", "/v1/admin/profiles", {"name": "Bank", "ttl_seconds": 120})
    assert made.status_code == 201
    assert made.get_json()["data"]["overrides"] == {"ttl_seconds": 120}
    preview = chunked("POST", f"{path}/preview", {"code_length": 10})
    assert preview.get_json()["data"]["sample_code"] == "1234567890"
    # an empty chunked body is no body, as an empty one with a length: nothing changes
    empty = admin.flask.open(
        path,
        method="PATCH",
        input_stream=io.BytesIO(b""),
        headers={"Authorization": f"Bearer {admin.key}", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert empty.status_code == 200
    assert empty.get_json()["data"]["overrides"] == {"code_length": 8}


@pytest.mark.parametrize(
    "profile_id",
    ["pf_aaaaaaaaaaaaaaaa", "pf_AAAAAAAAAAAAAAAA", "pf_short", "nope", "pf_11111111111111111"],
)
def test_an_unknown_or_malformed_profile_id_is_404(admin, profile_id):
    for response in (
        admin.get(f"/v1/admin/profiles/{profile_id}"),
        admin.patch(f"/v1/admin/profiles/{profile_id}", json={"name": "x"}),
        admin.delete(f"/v1/admin/profiles/{profile_id}"),
        admin.post(f"/v1/admin/profiles/{profile_id}/preview", json={}),
        admin.post(f"/v1/admin/profiles/{profile_id}/keys"),
        admin.get(f"/v1/admin/profiles/{profile_id}/keys"),
    ):
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["code"] == "profile_not_found"


def test_the_list_is_paged_default_first_then_oldest_first(admin, clock):
    ids = []
    for n in range(5):
        ids.append(make_profile(admin, name=f"app {n}")["id"])
        clock.advance(1)
    first = admin.get("/v1/admin/profiles", query_string={"page[size]": "4"}).get_json()
    assert [p["id"] for p in first["data"]] == ["default", *ids[:3]]
    assert first["meta"] == {"page_number": 1, "page_size": 4, "total_pages": 2, "total_results": 6}
    second = admin.get(
        "/v1/admin/profiles", query_string={"page[size]": "4", "page[number]": "2"}
    ).get_json()
    assert [p["id"] for p in second["data"]] == ids[3:]
    bad = admin.get("/v1/admin/profiles", query_string={"page[size]": "0", "filter": "x"})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"filter"}


def test_the_default_profile_shows_the_environment_and_is_read_only(admin, settings):
    got = admin.get("/v1/admin/profiles/default")
    assert got.status_code == 200
    body = got.get_json()["data"]
    assert body["read_only"] is True
    assert body["settings"]["code_length"] == settings.code_length
    assert body["settings"]["app_name"] == settings.app_name
    for response in (
        admin.patch("/v1/admin/profiles/default", json={"code_length": 8}),
        admin.delete("/v1/admin/profiles/default"),
        admin.post("/v1/admin/profiles/default/keys"),
        admin.delete("/v1/admin/profiles/default/keys/key_aaaaaaaaaaaaaaaa"),
    ):
        assert response.status_code == 409, response.get_json()
        assert response.get_json()["code"] == "conflict"
        assert "read-only" in response.get_json()["detail"]
    keys = admin.get("/v1/admin/profiles/default/keys").get_json()["data"]
    assert [k["id"] for k in keys] == ["test-client"]
    assert admin.get("/v1/admin/profiles/default").get_json()["data"] == body


def test_profiles_need_an_admin_key(client, admin):
    assert client.get("/v1/admin/profiles").status_code == 403
    assert client.post("/v1/admin/profiles", json={}).status_code == 403


GOOD = {
    "name": ["Shop", "x" * 64],
    "app_name": ["Shop", "W" * 30],
    "code_length": [6, 10],
    "ttl_seconds": [60, 600],
    "max_attempts": [1, 20],
    "max_sends": [1, 20],
    "resend_cooldown_seconds": [0, 3600],
    "default_locale": ["en", "pt-BR"],
    "templates": [{"en": "{code} is your {app_name} code, valid {minutes} min."}],
    "allowed_countries": [["US", "CA"], []],
    "webotp_domain": ["example.com", "Shop.Example.COM"],
    "android_app_hash": ["FA+9qCX9VSu", "abcdefghijk"],
}
BAD = {
    "name": ["", "x" * 65, 5, "a\nb"],
    "app_name": ["", "W" * 31, "a\x00b"],
    "code_length": [3, 5, 11, "6", 6.0, True],  # 5: below OTP_MIN_CODE_LENGTH (6)
    "ttl_seconds": [59, 601, "60"],
    "max_attempts": [0, 21],
    "max_sends": [0, 21],
    "resend_cooldown_seconds": [-1, 3601],
    "default_locale": ["e", "english language", 5],
    "templates": [{"EN": "{code}"}, {"en": 5}, ["{code}"]],
    "allowed_countries": [["XX"], ["us"], "US", [5]],
    "webotp_domain": ["https://example.com", "example.com:443", "example.com/path", "localhost"],
    "android_app_hash": ["short", "FA+9qCX9VSu1", "FA+9qCX9VS-"],
}


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, values in GOOD.items() for v in values])
def test_a_good_value_of_each_field_is_taken(admin, field, value):
    response = admin.post("/v1/admin/profiles", json={field: value})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()["data"]
    if field == "name":
        assert body["name"] == value
    elif value == []:
        assert field not in body["overrides"]
    else:
        shown = body["settings"][field]
        expected = value.lower() if field == "webotp_domain" else value
        assert shown == (sorted(expected) if field == "allowed_countries" else expected)


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, values in BAD.items() for v in values])
def test_a_bad_value_of_each_field_is_422_naming_it(admin, field, value):
    created = admin.post("/v1/admin/profiles", json={field: value})
    assert created.status_code == 422, created.get_json()
    problem = created.get_json()
    assert problem["code"] == "invalid_request"
    assert list(problem["errors"]) == [field]
    profile = make_profile(admin, name="Shop")
    updated = admin.patch(f"/v1/admin/profiles/{profile['id']}", json={field: value})
    assert updated.status_code == 422
    assert list(updated.get_json()["errors"]) == [field]
    assert admin.get(f"/v1/admin/profiles/{profile['id']}").get_json()["data"] == profile


def test_an_unknown_field_is_refused(admin):
    response = admin.post("/v1/admin/profiles", json={"name": "Shop", "colour": "red"})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["colour"]


def _template_error(admin, text, language="en"):
    response = admin.post("/v1/admin/profiles", json={"templates": {language: text}})
    assert response.status_code == 422, response.get_json()
    return response.get_json()["errors"]["templates"][language][0]


def test_a_template_without_the_code_is_refused(admin):
    assert "must contain {code}" in _template_error(admin, "Your {app_name} code is ready")


def test_a_template_with_an_unknown_placeholder_is_refused(admin):
    message = _template_error(admin, "{code} for {user}, {app_name}")
    assert "{user}" in message
    assert "unknown placeholder" in _template_error(admin, "{code} {code.__class__}")
    assert "unknown placeholder" in _template_error(admin, "{code} {{literal}}")


def test_a_template_of_two_segments_is_refused_saying_its_encoding_and_segments(admin):
    gsm = "{code} is your {app_name} code. " + "x" * 120  # 10 + 30 + ... > 160
    message = _template_error(admin, gsm)
    assert "2 SMS segments in GSM-7" in message
    ucs2 = "Ваш код {code} для {app_name}. Он действует {minutes} минут."  # 81 > 70 (UCS-2)
    message = _template_error(admin, ucs2, "ru")
    assert "2 SMS segments in UCS-2" in message


def test_gsm7_extension_characters_count_two_septets_and_the_refusal_says_so(admin):
    # each of ^ [ ] ~ | € and backslash is two septets: 11 + 10 * 14 + 8 = 159 of 160
    fits = "{code} " + "^[]~|€\\" * 10 + "x" * 8
    response = admin.post("/v1/admin/profiles", json={"templates": {"en": fits}})
    assert response.status_code == 201, response.get_json()
    message = _template_error(admin, fits + "|")  # 161 septets in 90 characters
    assert "2 SMS segments in GSM-7" in message
    assert "161 septets" in message


def test_a_template_just_fitting_one_segment_is_taken(admin):
    # 10 + 30 + 2 + len(filler) = 160 characters with the longest values
    text = "{code} {app_name} " + "x" * (160 - 10 - 30 - 2)
    response = admin.post("/v1/admin/profiles", json={"templates": {"en": text}})
    assert response.status_code == 201, response.get_json()
    assert "x" not in _template_error(admin, text + "x")


def test_a_template_must_fit_one_segment_with_the_profiles_own_app_name_outside_gsm7(admin):
    # 94 GSM-7 septets with any 30-character Latin name; with "Żabka" (Ż is
    # not GSM-7) the message is UCS-2: 69 code units fit in 70, three more do not
    text = "{code} is your {app_name} code. Never share it with anyone, " + "x" * 10
    assert admin.post("/v1/admin/profiles", json={"templates": {"en": text}}).status_code == 201
    fits = admin.post("/v1/admin/profiles", json={"app_name": "Żabka", "templates": {"en": text}})
    assert fits.status_code == 201, fits.get_json()
    longer = {"app_name": "Żabka", "templates": {"en": text + "xxx"}}
    refused = admin.post("/v1/admin/profiles", json=longer)
    assert refused.status_code == 422, refused.get_json()
    [why] = refused.get_json()["errors"]["templates"]["en"]
    assert "2 SMS segments in UCS-2" in why and "Żabka (not GSM-7)" in why
    # renaming the app of a profile whose text then splits is refused the same way
    shop = make_profile(admin, app_name="Shop", templates={"en": text + "xxx"})
    renamed = admin.patch(f"/v1/admin/profiles/{shop['id']}", json={"app_name": "Żabka"})
    assert renamed.status_code == 422
    assert "templates" in renamed.get_json()["errors"]


def test_an_app_name_outside_gsm7_that_splits_the_default_locales_shipped_text_is_refused(
    admin, redis_client
):
    """ "Żabka Polska" (Ż is not GSM-7) makes the shipped English text UCS-2: 76 code
    units, two segments. Refused where English is the profile's default text; taken where
    the profile's own English template (measured with the name) or its default locale's
    shipped text keeps one segment."""
    refused = admin.post("/v1/admin/profiles", json={"app_name": "Żabka Polska"})
    assert refused.status_code == 422, refused.get_json()
    [why] = refused.get_json()["errors"]["app_name"]
    assert "shipped en message" in why and "2 SMS segments in UCS-2" in why
    assert "76 UCS-2 code units" in why
    for fits in (
        {"app_name": "Żabka"},  # 69 code units
        {"app_name": "Żabka Polska", "default_locale": "es"},
        {"app_name": "Żabka Polska", "templates": {"en": "{code}: {app_name}"}},
        {"app_name": "Zabka Polska"},  # GSM-7
    ):
        taken = admin.post("/v1/admin/profiles", json=fits)
        assert taken.status_code == 201, (fits, taken.get_json())
    # a change that brings the split is refused: a rename, a default locale, a template gone
    shop = make_profile(admin, app_name="Żabka Polska", default_locale="es")
    path = f"/v1/admin/profiles/{shop['id']}"
    small = make_profile(admin, app_name="Żabka")
    small_path = f"/v1/admin/profiles/{small['id']}"
    for where, change in (
        (path, {"default_locale": "en"}),
        (small_path, {"app_name": "Żabka Polska"}),
    ):
        answer = admin.patch(where, json=change)
        assert answer.status_code == 422, (change, answer.get_json())
        assert "app_name" in answer.get_json()["errors"]
    # one saved before the check: another field can still change
    key = "otp:{profiles}:all"
    stored = json.loads(redis_client.hget(key, shop["id"]))
    stored["default_locale"] = "en"
    redis_client.hset(key, shop["id"], json.dumps(stored))
    assert admin.patch(path, json={"name": "Sklep"}).status_code == 200


def test_the_preview_is_the_exact_text_with_a_sample_code(admin):
    profile = make_profile(
        admin,
        app_name="Shop",
        ttl_seconds=300,
        code_length=8,
        templates={"de": "Ihr {app_name}-Code: {code} ({minutes} Minuten)"},
        webotp_domain="shop.example.com",
    )
    path = f"/v1/admin/profiles/{profile['id']}/preview"
    german = admin.post(path, json={"locale": "de-AT"}).get_json()["data"]
    code = german["sample_code"]
    assert code == "12345678"
    assert german["text"] == f"Ihr Shop-Code: {code} (5 Minuten)\n@shop.example.com #{code}"
    assert (german["encoding"], german["segments"]) == ("GSM-7", 1)
    assert "sample" in german["note"]
    english = admin.post(path, json={"locale": "en", "code_length": 6}).get_json()["data"]
    assert english["text"] == (
        "123456 is your Shop verification code. It expires in 5 minutes.\n@shop.example.com #123456"
    )
    spanish = admin.post(path, json={"locale": "es"}).get_json()["data"]
    assert (spanish["encoding"], spanish["segments"]) == ("UCS-2", 1)
    bad = admin.post(path, json={"locale": "???", "code_length": 11})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"locale", "code_length"}
    assert admin.post(path, json={"colour": 1}).status_code == 422


def test_the_preview_of_the_default_profile_uses_the_environment(admin):
    body = admin.post("/v1/admin/profiles/default/preview", json={"locale": "en"}).get_json()
    assert body["data"]["text"] == (
        "123456 is your otp-service verification code. It expires in 10 minutes."
    )


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("post", "/v1/admin/profiles"),
        ("patch", "/v1/admin/profiles/{profile_id}"),
        ("post", "/v1/admin/profiles/{profile_id}/preview"),
    ],
)
def test_the_spec_lists_what_a_bad_body_gets(admin, method, route):
    path = route.format(profile_id=make_profile(admin, name="Shop")["id"])
    documented = load_spec()["paths"][route][method]["responses"]
    for content_type, body, status in [
        ("text/plain", "{}", 415),
        ("application/json", "{", 400),
        ("application/json", '{"name": "' + "x" * 20000 + '"}', 413),
    ]:
        response = admin.flask.open(
            path,
            method=method.upper(),
            data=body,
            headers={"Authorization": f"Bearer {admin.key}", "Content-Type": content_type},
        )
        assert response.status_code == status
        assert str(status) in documented, (route, method, status)


@pytest.fixture
def env_app_name_outside_gsm7(env: dict[str, str]) -> dict[str, str]:
    env["OTP_APP_NAME"] = "Żabka Polska"  # the environment's: not the profile's own
    return env


def test_a_profile_without_an_app_name_of_its_own_is_not_refused_for_otp_app_name(
    env_app_name_outside_gsm7, admin
):
    """README: OTP_APP_NAME is not measured. A profile that sets no app_name (nor
    templates, nor a default locale) is not refused for the environment's name."""
    made = admin.post("/v1/admin/profiles", json={"name": "Shop"})
    assert made.status_code == 201, made.get_json()
    path = f"/v1/admin/profiles/{made.get_json()['data']['id']}"
    renamed = admin.patch(path, json={"name": "Shop 2"})
    assert renamed.status_code == 200, renamed.get_json()


def test_otp_app_name_that_splits_the_shipped_text_is_a_warning_at_start_up(
    env_app_name_outside_gsm7, caplog
):
    """Not refused (existing installs run as before), but said once the service starts."""
    with caplog.at_level(logging.WARNING, logger="otp_service.profiles.service"):
        app = create_app(env_app_name_outside_gsm7)
    app.extensions["otp"].close()
    [warning] = [r.getMessage() for r in caplog.records if "OTP_APP_NAME" in r.getMessage()]
    assert "2 SMS segments in UCS-2" in warning and "shipped en message" in warning
