"""The console over Flask's test client: sign-in, cookies, CSRF, expiry, error pages.
What needs a browser (the pages working end to end, charts drawn) is in test_browser.py."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from otp_service.admin.sessions import ABSOLUTE_SECONDS, IDLE_SECONDS
from tests.conftest import ADMIN_KEY, CLIENT_KEY

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: Any) -> str:
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    return found.group(1)


def sign_in(flask: Any, key: str = ADMIN_KEY) -> Any:
    form = flask.get("/console/sign-in")
    return flask.post("/console/sign-in", data={"key": key, "csrf_token": csrf_of(form)})


@pytest.fixture
def console(app: Any) -> Any:
    flask = app.test_client()
    assert sign_in(flask).status_code == 303
    return flask


def test_sign_in_sets_a_strict_http_only_session_cookie_without_the_key(app):
    flask = app.test_client()
    response = sign_in(flask)
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/overview"
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("otp_console="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # development: plain http on loopback
    assert ADMIN_KEY not in "".join(response.headers.getlist("Set-Cookie"))
    page = flask.get("/console/overview")
    assert page.status_code == 200
    assert ADMIN_KEY not in page.get_data(as_text=True)
    assert "test-admin" in page.get_data(as_text=True)


def test_the_session_cookie_is_secure_in_production(app):
    services = app.extensions["otp"]
    services.settings = services.settings.replace(env="production")
    response = sign_in(app.test_client())
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("otp_console="))
    assert "Secure" in cookie


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [
        (CLIENT_KEY, 403, "client key"),
        ("not-a-key-at-all", 401, "not a valid admin key"),
        ("", 401, "not a valid admin key"),
    ],
)
def test_only_an_admin_key_signs_in(app, key, status, message):
    flask = app.test_client()
    response = sign_in(flask, key)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert not any(h.startswith("otp_console=") for h in response.headers.getlist("Set-Cookie"))
    assert flask.get("/console/overview").status_code == 302


def test_a_page_without_a_session_sends_to_the_sign_in_form(app):
    response = app.test_client().get("/console/opt-outs?page=2")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in?next=")


def test_sign_in_returns_to_the_page_asked_for_and_never_to_another_site(app):
    flask = app.test_client()
    form = flask.get("/console/sign-in")
    token = csrf_of(form)
    response = flask.post(
        "/console/sign-in",
        data={"key": ADMIN_KEY, "csrf_token": token, "next": "/console/audit?page=1"},
    )
    assert response.headers["Location"] == "/console/audit?page=1"
    flask = app.test_client()
    token = csrf_of(flask.get("/console/sign-in"))
    response = flask.post(
        "/console/sign-in",
        data={"key": ADMIN_KEY, "csrf_token": token, "next": "https://evil.example/console"},
    )
    assert response.headers["Location"] == "/console/overview"


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(console, admin, token):
    data = {"phone_number": "+13125550123"}
    if token is not None:
        data["csrf_token"] = token
    response = console.post("/console/opt-outs", data=data)
    assert response.status_code == 403
    assert "security token" in response.get_data(as_text=True)
    assert admin.get("/v1/admin/opt-outs/+13125550123").status_code == 404


def test_the_sign_in_form_needs_its_csrf_token_too(app):
    flask = app.test_client()
    flask.get("/console/sign-in")
    response = flask.post("/console/sign-in", data={"key": ADMIN_KEY})
    assert response.status_code == 403


def test_a_change_is_audited_under_the_admin_keys_id(console, admin):
    token = csrf_of(console.get("/console/opt-outs"))
    response = console.post(
        "/console/opt-outs", data={"phone_number": "+13125550123", "csrf_token": token}
    )
    assert response.status_code == 303
    page = console.get("/console/opt-outs").get_data(as_text=True)
    assert "+1312****123" in page and "+13125550123" not in page
    entries = admin.get("/v1/admin/audit").json["data"]
    assert [(e["action"], e["key_id"]) for e in entries[:2]] == [
        ("optout.add", "test-admin"),
        ("console.sign_in", "test-admin"),
    ]


def test_a_bad_field_is_shown_on_the_page_not_a_500(console):
    token = csrf_of(console.get("/console/opt-outs"))
    response = console.post("/console/opt-outs", data={"phone_number": "12", "csrf_token": token})
    assert response.status_code == 422
    assert "phone_number" in response.get_data(as_text=True)
    token = csrf_of(console.get("/console/profiles"))
    response = console.post("/console/profiles", data={"code_length": "six", "csrf_token": token})
    assert response.status_code == 422
    assert "must be a whole number" in response.get_data(as_text=True)
    for digits in ("²", "６"):  # str.isdigit() says yes; not ASCII digits
        response = console.post(
            "/console/profiles", data={"code_length": digits, "csrf_token": token}
        )
        assert response.status_code == 422
        assert "must be a whole number" in response.get_data(as_text=True)
    response = console.get("/console/profiles/pf_nope")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    for page in ("²", "9" * 5000):  # a digit int() refuses; more digits than it takes
        assert console.get("/console/opt-outs", query_string={"page": page}).status_code == 200


@pytest.mark.parametrize("idle", [True, False])
def test_a_session_ends_when_idle_or_too_old(console, clock, idle):
    if idle:
        clock.advance(IDLE_SECONDS + 1)
    else:
        for _ in range(ABSOLUTE_SECONDS // (IDLE_SECONDS - 60) + 1):
            assert console.get("/console/audit").status_code == 200
            clock.advance(IDLE_SECONDS - 60)
    response = console.get("/console/audit")
    assert response.status_code == 302
    assert "/console/sign-in" in response.headers["Location"]


def test_sign_out_ends_the_session(console, admin):
    token = csrf_of(console.get("/console/overview"))
    response = console.post("/console/sign-out", data={"csrf_token": token})
    assert response.status_code == 303
    assert console.get("/console/overview").status_code == 302
    assert admin.get("/v1/admin/audit").json["data"][0]["action"] == "console.sign_out"


def test_pages_carry_a_content_security_policy(console):
    response = console.get("/console/overview")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


CONSOLE = Path(__file__).resolve().parents[3] / "otp_service" / "api" / "console"


def test_every_post_form_in_the_templates_carries_the_csrf_token():
    forms = []
    for template in (CONSOLE / "templates" / "console").glob("*.html"):
        for form in re.findall(r"<form[^>]*>.*?</form>", template.read_text(), re.DOTALL):
            if 'method="post"' in form:
                forms.append(form)
                assert "csrf()" in form or 'name="csrf_token"' in form, (template.name, form)
    assert len(forms) >= 12


def test_nothing_is_loaded_from_another_site():
    for path in [*CONSOLE.joinpath("templates").rglob("*.html"), CONSOLE / "static/console.js"]:
        assert not re.search(r"(?:src|href)=[\"']?(?:https?:)?//", path.read_text()), path
    vendor = CONSOLE / "static" / "vendor" / "uplot"
    assert {p.name for p in vendor.iterdir()} >= {"uPlot.iife.min.js", "uPlot.min.css", "LICENSE"}
    assert "v1.6.32" in (vendor / "uPlot.iife.min.js").read_text()[:100]


def test_the_vendored_chart_library_is_served(console):
    response = console.get("/console/static/vendor/uplot/uPlot.iife.min.js")
    assert response.status_code == 200
    assert b"uPlot" in response.data
    response.close()


def test_every_console_file_ships_in_the_package():
    """Templates and static files are package data (pyproject.toml): a wheel without
    them would serve a console of 500s."""
    root = CONSOLE.parents[1]  # otp_service/
    pyproject = tomllib.loads((root.parent / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["otp_service"]
    files = [
        p.relative_to(root).as_posix()
        for folder in ("templates", "static")
        for p in (CONSOLE / folder).rglob("*")
        if p.is_file()
    ]
    assert files
    assert [f for f in files if not any(fnmatch.fnmatchcase(f, pat) for pat in patterns)] == []


def test_signing_in_again_ends_the_sessions_previous_token(console):
    old = console.get_cookie("otp_console", path="/console").value
    assert sign_in(console).status_code == 303
    assert console.get_cookie("otp_console", path="/console").value != old
    console.set_cookie("otp_console", old, path="/console")
    assert console.get("/console/overview").status_code == 302
