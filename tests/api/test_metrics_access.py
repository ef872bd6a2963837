"""GET /metrics and OTP_METRICS_TOKEN: open in development, behind a Bearer token when
one is set, and never open in production unless the operator says so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from otp_service import create_app
from tests.conftest import ADMIN_KEY

TOKEN = "metrics-token-0123456789"
PRODUCTION = {"OTP_ENV": "production", "OTP_FACTOR_KEY": "f" * 32}


@pytest.fixture
def metrics_app(env: dict[str, str]) -> Iterator[Callable[..., Any]]:
    """Builds the app with extra environment variables; a test client of it."""
    apps: list[Any] = []

    def build(**extra: str) -> Any:
        app = create_app({**env, **extra})
        apps.append(app)
        return app.test_client()

    yield build
    for app in apps:
        app.extensions["otp"].close()


def _get(client: Any, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers)


def test_development_without_a_token_serves_metrics_to_anyone(metrics_app):
    response = _get(metrics_app())
    assert response.status_code == 200
    assert b"otp_http_requests_total" in response.data


@pytest.mark.parametrize("extra", [{}, PRODUCTION], ids=["development", "production"])
def test_with_a_token_metrics_need_it(metrics_app, extra):
    client = metrics_app(OTP_METRICS_TOKEN=TOKEN, **extra)
    for presented in (None, "wrong-token", ADMIN_KEY):
        response = _get(client, presented)
        assert response.status_code == 401, presented
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == "unauthorized"
        assert b"otp_" not in response.data
    ok = _get(client, TOKEN)
    assert ok.status_code == 200
    assert b"otp_http_requests_total" in ok.data


def test_production_without_the_setting_serves_no_metrics_and_says_why(metrics_app):
    response = _get(metrics_app(**PRODUCTION), "anything")
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"
    assert "OTP_METRICS_TOKEN" in response.get_json()["detail"]


def test_production_with_metrics_token_off_serves_them_openly(metrics_app):
    assert _get(metrics_app(OTP_METRICS_TOKEN="off", **PRODUCTION)).status_code == 200
