"""openapi.yaml is valid OpenAPI 3 and describes exactly the routes the app serves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}
# Not API: everything under /console is the operator console's HTML pages and forms
# (session cookie, CSRF token), for people in a browser, not for clients of the API;
# tests/api/console/ covers them. Every other route must be in the spec.
HTML_PREFIX = "/console"


def load_spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def test_spec_is_valid_openapi_3():
    validate(load_spec())


def test_spec_and_app_routes_match(app):
    spec_routes = {
        (method.upper(), path)
        for path, item in load_spec()["paths"].items()
        for method in item
        if method in METHODS
    }
    app_routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        if rule.rule == HTML_PREFIX or rule.rule.startswith(HTML_PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            app_routes.add((method, path))
    assert app_routes == spec_routes
    assert not any(path.startswith(HTML_PREFIX) for _method, path in spec_routes)


def test_the_console_routes_left_out_of_the_spec_all_answer_html(app):
    """What the spec leaves out is HTML: the console's routes, and only those, are
    registered by its blueprint (its static files included)."""
    console = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule == HTML_PREFIX or rule.rule.startswith(HTML_PREFIX + "/")
    }
    assert console
    assert all(
        rule.endpoint.startswith("console.")
        for rule in app.url_map.iter_rules()
        if rule.rule in console
    )


def test_app_serves_the_spec_it_ships(client):
    response = client.flask.get("/openapi.yaml")
    assert response.status_code == 200
    assert yaml.safe_load(response.data) == load_spec()


def test_docs_page_renders_the_spec(client):
    page = client.flask.get("/docs")
    assert page.status_code == 200
    assert b"/openapi.yaml" in page.data
    for asset in re.findall(rb'(?:src|href)="(/docs/static/[^"]+)"', page.data):
        response = client.flask.get(asset.decode())
        assert response.status_code == 200
        # the one answer that may be cached: its own Cache-Control stays, alone
        assert response.headers.getlist("Cache-Control") == ["public, max-age=86400"]
        response.close()


def test_every_error_code_the_code_can_raise_is_in_the_spec():
    from otp_service import errors

    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ServiceError)
    }
    documented = set(load_spec()["components"]["schemas"]["Problem"]["properties"]["code"]["enum"])
    assert codes <= documented
