"""Fixtures of the admin tests: the app's admin service, and no Telnyx retries."""

from __future__ import annotations

from typing import Any

import pytest

from otp_service.telnyx import RetryPolicy


@pytest.fixture
def services(app: Any) -> Any:
    services = app.extensions["otp"]
    services.telnyx.retry_policy = RetryPolicy(max_retries=0)  # faults answer at once
    return services


def audit_entries(admin_client: Any, **query: str) -> list[dict[str, Any]]:
    response = admin_client.get("/v1/admin/audit", query_string=query)
    assert response.status_code == 200, response.json
    return response.json["data"]
