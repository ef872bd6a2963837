"""Every change to profiles and keys is in the admin audit log, failures included."""

from __future__ import annotations

from tests.admin.conftest import audit_entries
from tests.profiles.conftest import make_key, make_profile


def test_every_profile_change_is_audited(admin):
    profile = make_profile(admin, name="Shop", code_length=8)
    pid = profile["id"]
    admin.patch(f"/v1/admin/profiles/{pid}", json={"ttl_seconds": 120})
    key = make_key(admin, pid)
    admin.delete(f"/v1/admin/profiles/{pid}/keys/{key['id']}")
    admin.patch(f"/v1/admin/profiles/{pid}", json={"ttl_seconds": 1})  # refused
    admin.patch("/v1/admin/profiles/default", json={"ttl_seconds": 120})  # read-only
    admin.delete(f"/v1/admin/profiles/{pid}")
    entries = audit_entries(admin)
    seen = [(e["action"], e["target"], e["result"], e["status"]) for e in reversed(entries)]
    assert seen == [
        ("profile.create", pid, "created", 201),
        ("profile.update", pid, "updated", 200),
        ("profile_key.create", pid, "created", 201),
        ("profile_key.revoke", f"{pid}/{key['id']}", "revoked", 204),
        ("profile.update", pid, "invalid_request", 422),
        ("profile.update", "default", "conflict", 409),
        ("profile.delete", pid, "deleted", 204),
    ]
    assert all(e["key_id"] == "test-admin" for e in entries)
    assert entries[4]["detail"]["key_id"] == key["id"]
    assert key["key"] not in str(entries)
