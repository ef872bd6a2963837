"""Fixtures of the profile tests: a profile made through the admin API."""

from __future__ import annotations

from typing import Any

import pytest


def make_profile(admin: Any, **fields: Any) -> dict[str, Any]:
    response = admin.post("/v1/admin/profiles", json=fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def make_key(admin: Any, profile_id: str) -> dict[str, Any]:
    response = admin.post(f"/v1/admin/profiles/{profile_id}/keys")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


@pytest.fixture
def profile(admin: Any) -> dict[str, Any]:
    return make_profile(admin, name="Shop app", app_name="Shop")
