"""openapi.yaml is valid OpenAPI 3 and describes exactly the routes the app serves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}


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
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            app_routes.add((method, path))
    assert app_routes == spec_routes


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
