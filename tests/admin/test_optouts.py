"""The opt-out list through /v1/admin: list, add, remove (effective for the very next
create), sync from Telnyx (idempotent), CSV export and import."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import pytest

from otp_service.sandbox.seed import OPTED_OUT_NUMBERS, PROFILE_IDS
from tests.admin.conftest import audit_entries
from tests.conftest import ADMIN_KEY, ApiClient, FakeClock, Sandbox

pytestmark = pytest.mark.topologies("single", "cluster")

PHONE = "+13125550123"


def create(client: ApiClient, phone: str = PHONE) -> Any:
    return client.post("/v1/verifications", json={"phone_number": phone})


def test_added_opt_out_refuses_the_very_next_create_and_nothing_is_sent(
    admin: ApiClient, client: ApiClient, sandbox: Sandbox, services: Any, clock: FakeClock
) -> None:
    response = admin.put(f"/v1/admin/opt-outs/{PHONE}")
    assert response.status_code == 201
    assert response.json == {
        "phone_number": PHONE,
        "source": "admin",
        "created_at": "2027-01-15T08:00:00.000Z",
    }
    refused = create(client)
    assert (refused.status_code, refused.json["code"]) == (409, "recipient_opted_out")
    assert sandbox.messages(PHONE) == []


def test_removed_opt_out_lets_the_very_next_create_through(
    admin: ApiClient, client: ApiClient, sandbox: Sandbox, services: Any
) -> None:
    assert admin.put(f"/v1/admin/opt-outs/{PHONE}").status_code == 201
    assert create(client).status_code == 409
    removed = admin.delete(f"/v1/admin/opt-outs/{PHONE}")
    assert removed.status_code == 204
    assert removed.data == b""
    assert create(client).status_code == 201
    assert len(sandbox.messages(PHONE)) == 1


def test_adding_twice_is_200_and_keeps_the_first_opt_out(
    admin: ApiClient, client: ApiClient, services: Any, clock: FakeClock
) -> None:
    services.optouts.add(PHONE, "inbound_stop")
    clock.advance(60)
    again = admin.put(f"/v1/admin/opt-outs/{PHONE}")
    assert again.status_code == 200
    assert again.json == {
        "phone_number": PHONE,
        "source": "inbound_stop",
        "created_at": "2027-01-15T08:00:00.000Z",
    }
    assert admin.get(f"/v1/admin/opt-outs/{PHONE}").json == again.json


def test_removing_what_is_not_opted_out_is_404_and_audited(admin: ApiClient, services: Any) -> None:
    response = admin.delete(f"/v1/admin/opt-outs/{PHONE}")
    assert (response.status_code, response.json["code"]) == (404, "optout_not_found")
    assert admin.get(f"/v1/admin/opt-outs/{PHONE}").status_code == 404
    (entry,) = audit_entries(admin)
    assert (entry["action"], entry["target"], entry["result"], entry["status"]) == (
        "optout.remove",
        PHONE,
        "optout_not_found",
        404,
    )


def test_a_removal_that_reached_only_the_marker_is_completed_by_its_retry(
    admin: ApiClient, client: ApiClient, services: Any
) -> None:
    """On a cluster the marker and the list are on two nodes: a removal answered 503
    with only the list's node paused was made on the marker. Its retry removes the
    number from the list too (it was 404, and the list kept the number)."""
    assert admin.put(f"/v1/admin/opt-outs/{PHONE}").status_code == 201
    marker = services.store.optout_key(services.optouts.tagger.tag(PHONE))
    assert services.store.redis.delete(marker) == 1  # what the marker's node did
    assert create(client).status_code == 201  # not opted out ...
    assert admin.get("/v1/admin/opt-outs").json["meta"]["total_results"] == 1  # ... listed

    retried = admin.delete(f"/v1/admin/opt-outs/{PHONE}")
    assert retried.status_code == 204
    assert admin.get("/v1/admin/opt-outs").json["meta"]["total_results"] == 0
    assert admin.get(f"/v1/admin/opt-outs/{PHONE}").status_code == 404
    entry = audit_entries(admin)[0]
    assert (entry["action"], entry["result"], entry["status"]) == ("optout.remove", "removed", 204)
    assert admin.delete(f"/v1/admin/opt-outs/{PHONE}").status_code == 404  # nothing left


def test_removal_wins_over_an_opt_out_dated_in_the_future(
    admin: ApiClient, client: ApiClient, services: Any, clock: FakeClock
) -> None:
    services.optouts.add(PHONE, "telnyx_sync", at_ms=int((clock.now + 3600) * 1000))
    assert admin.delete(f"/v1/admin/opt-outs/{PHONE}").status_code == 204
    assert services.optouts.get(PHONE) is None
    assert admin.get("/v1/admin/opt-outs").json["meta"]["total_results"] == 0


@pytest.mark.parametrize("phone", ["13125550123", "+1312", "+447700900123", "%2B1abc"])
def test_numbers_that_are_not_valid_e164_are_422(
    admin: ApiClient, services: Any, phone: str
) -> None:
    for method in (admin.put, admin.delete, admin.get):
        response = method(f"/v1/admin/opt-outs/{phone}")
        assert (response.status_code, response.json["code"]) == (422, "invalid_request")
        assert "phone_number" in response.json["errors"]


def test_an_url_encoded_plus_works_too(admin: ApiClient, services: Any) -> None:
    assert admin.put("/v1/admin/opt-outs/%2B13125550123").status_code == 201
    assert services.optouts.get(PHONE).source == "admin"


UK = "+447911123457"


@pytest.mark.parametrize(
    "path",
    ["+44%200%207911123457", "%2B4407911123457", "+44%20(0)%207911-123-457", "+44.7911.123.457"],
)
def test_admin_paths_normalise_the_number_first(
    admin: ApiClient, client: ApiClient, services: Any, path: str
) -> None:
    added = admin.put(f"/v1/admin/opt-outs/{path}")
    assert added.status_code == 201, added.json
    assert added.json["phone_number"] == UK
    assert admin.get(f"/v1/admin/opt-outs/{UK}").json["phone_number"] == UK
    assert admin.get(f"/v1/admin/opt-outs/{path}").json["phone_number"] == UK
    assert create(client, UK).json["code"] == "recipient_opted_out"
    assert admin.put(f"/v1/admin/opt-outs/{UK}").status_code == 200  # the same opt-out
    (entry, _) = audit_entries(admin)
    assert entry["target"] == UK
    assert admin.delete(f"/v1/admin/opt-outs/{path}").status_code == 204
    assert services.optouts.get(UK) is None


def test_the_store_refuses_numbers_that_were_not_normalised(services: Any) -> None:
    for raw in ("+4407911123457", "+44 7911 123457", "447911123457", "+1312"):
        with pytest.raises(ValueError):
            services.optouts.add(raw, "admin")
        with pytest.raises(ValueError):
            services.optouts.get(raw)
    assert services.optouts.list()[1] == 0


def test_sync_adds_every_telnyx_opt_out_across_pages_and_twice_adds_nothing(
    admin: ApiClient, services: Any, sandbox: Sandbox
) -> None:
    services.optout_admin.sync_page_size = 10  # 36 opt-outs: 4 pages
    requests: list[int] = []
    original = services.telnyx.request

    def counting(method: str, path: str, **kwargs: Any) -> Any:
        if path == "/messaging_optouts":
            requests.append(kwargs["params"]["page[number]"])
        return original(method, path, **kwargs)

    services.telnyx.request = counting
    first = admin.post("/v1/admin/opt-outs/sync")
    assert first.status_code == 200, first.json
    assert first.json == {
        "fetched": len(OPTED_OUT_NUMBERS),
        "added": len(OPTED_OUT_NUMBERS),
        "already_present": 0,
        "invalid": 0,
    }
    assert requests == [None, 2, 3, 4]
    second = admin.post("/v1/admin/opt-outs/sync", json={})
    assert second.json == {
        "fetched": len(OPTED_OUT_NUMBERS),
        "added": 0,
        "already_present": len(OPTED_OUT_NUMBERS),
        "invalid": 0,
    }
    optout = services.optouts.get(OPTED_OUT_NUMBERS[0])
    assert optout.source == "telnyx_sync"
    assert optout.created_at < 1_800_000_000_000  # Telnyx's time (2025), not ours
    entries = audit_entries(admin, action="optouts.sync")
    assert [e["detail"]["added"] for e in entries] == [0, len(OPTED_OUT_NUMBERS)]
    assert entries[0]["result"] == "completed"
    assert entries[0]["target"] == "*"


def test_sync_of_one_profile_and_what_is_already_known(
    admin: ApiClient, client: ApiClient, services: Any, sandbox: Sandbox
) -> None:
    services.optouts.add(OPTED_OUT_NUMBERS[0], "inbound_stop")
    primary = PROFILE_IDS["primary"]
    response = admin.post("/v1/admin/opt-outs/sync", json={"messaging_profile_id": primary})
    assert response.status_code == 200
    half = len(OPTED_OUT_NUMBERS) // 2  # even indexes belong to the primary profile
    assert response.json == {"fetched": half, "added": half - 1, "already_present": 1, "invalid": 0}
    assert services.optouts.get(OPTED_OUT_NUMBERS[0]).source == "inbound_stop"
    assert services.optouts.get(OPTED_OUT_NUMBERS[1]) is None
    assert create(client, OPTED_OUT_NUMBERS[2]).json["code"] == "recipient_opted_out"


def test_sync_counts_what_is_not_a_phone_number_as_invalid(admin: ApiClient, services: Any) -> None:
    class Page:
        data = [
            {"to": "+16465550100", "created_at": "2025-04-28 12:00:38.631252+00:00"},
            {"to": "+447766****"},
            {"to": "22395"},
            {"to": "+16465550100"},
            "junk",
        ]
        meta = {"total_results": 5}

        def next_page(self) -> None:
            return None

    services.telnyx.messaging_optouts.list = lambda **kwargs: Page()
    seen: list[tuple[int, int | None]] = []
    counts = services.optout_admin.sync_optouts(actor="t", progress=lambda *a: seen.append(a))
    assert counts == {"fetched": 5, "added": 1, "already_present": 1, "invalid": 3}
    assert seen == [(5, 5)]
    assert services.optouts.get("+16465550100").created_at == 1745841638631


def test_sync_normalises_telnyx_numbers(admin: ApiClient, client: ApiClient, services: Any) -> None:
    class Page:
        data = [
            {"to": "+1 646-555-0100", "created_at": "2025-04-28 12:00:38.631252+00:00"},
            {"to": "+4407911123457"},
            {"to": "+16465550100"},
        ]
        meta = {"total_results": 3}

        def next_page(self) -> None:
            return None

    services.telnyx.messaging_optouts.list = lambda **kwargs: Page()
    counts = services.optout_admin.sync_optouts(actor="t")
    assert counts == {"fetched": 3, "added": 2, "already_present": 1, "invalid": 0}
    items, _total = services.optouts.list()
    assert sorted(o.phone_number for o in items) == ["+16465550100", UK]
    assert create(client, UK).json["code"] == "recipient_opted_out"


def test_sync_body_must_fit(admin: ApiClient, services: Any) -> None:
    response = admin.post("/v1/admin/opt-outs/sync", json={"profile": "x"})
    assert (response.status_code, response.json["code"]) == (422, "invalid_request")


def test_a_telnyx_failure_during_sync_is_mapped_audited_and_keeps_earlier_pages(
    admin: ApiClient, services: Any, sandbox: Sandbox
) -> None:
    services.optout_admin.sync_page_size = 10
    original = services.telnyx.request

    def second_page_fails(method: str, path: str, **kwargs: Any) -> Any:
        if kwargs["params"].get("page[number]") == 2:
            sandbox.fault(status=503)
        return original(method, path, **kwargs)

    services.telnyx.request = second_page_fails
    response = admin.post("/v1/admin/opt-outs/sync")
    assert (response.status_code, response.json["code"]) == (502, "provider_error")
    (entry,) = audit_entries(admin)
    assert (entry["result"], entry["status"]) == ("provider_error", 502)
    assert entry["detail"]["added"] == 10
    assert entry["detail"]["provider_status"] == 503
    services.telnyx.request = original
    again = admin.post("/v1/admin/opt-outs/sync").json
    assert (again["added"], again["already_present"]) == (len(OPTED_OUT_NUMBERS) - 10, 10)


def test_list_pages_and_filters_the_local_store(
    admin: ApiClient, services: Any, clock: FakeClock
) -> None:
    assert admin.post("/v1/admin/opt-outs/sync").status_code == 200
    services.optouts.add(PHONE, "admin")
    seen = []
    for page in (1, 2, 3):
        body = admin.get("/v1/admin/opt-outs", query_string={"page[number]": page}).json
        assert body["meta"] == {
            "page_number": page,
            "page_size": 20,
            "total_pages": 2,
            "total_results": len(OPTED_OUT_NUMBERS) + 1,
        }
        seen += body["data"]
    assert [o["phone_number"] for o in seen] == [*OPTED_OUT_NUMBERS, PHONE]
    assert seen[-1] == {
        "phone_number": PHONE,
        "source": "admin",
        "created_at": "2027-01-15T08:00:00.000Z",
    }
    only_admin = admin.get("/v1/admin/opt-outs", query_string={"source": "admin"}).json
    assert [o["phone_number"] for o in only_admin["data"]] == [PHONE]
    window = admin.get(
        "/v1/admin/opt-outs",
        query_string={"created_after": "2025-04-01T00:00:00Z", "created_before": "2025-05-01"},
    ).json
    assert window["data"]
    assert all("2025-04" in o["created_at"] for o in window["data"])
    since = admin.get("/v1/admin/opt-outs", query_string={"created_after": "2026-01-01"}).json
    assert [o["phone_number"] for o in since["data"]] == [PHONE]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"source": "carrier"}, "source"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"page[size]": "0"}, "page[size]"),
        ({"phone_number": "+13125550123"}, "phone_number"),
    ],
)
def test_list_refuses_what_it_does_not_know(
    admin: ApiClient, services: Any, query: dict, field: str
) -> None:
    response = admin.get("/v1/admin/opt-outs", query_string=query)
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_export_then_import_round_trip(admin: ApiClient, services: Any, redis_client: Any) -> None:
    admin.post("/v1/admin/opt-outs/sync")
    services.optouts.add(PHONE, "inbound_stop")
    exported = admin.get("/v1/admin/opt-outs/export")
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert len(rows) == len(OPTED_OUT_NUMBERS) + 1
    assert rows[-1] == {
        "phone_number": PHONE,
        "source": "inbound_stop",
        "created_at": "2027-01-15T08:00:00.000Z",
    }
    redis_client.flushall()
    imported = admin.post(
        "/v1/admin/opt-outs/import", data=exported.data, headers={"Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.json
    assert imported.json == {
        "received": len(rows),
        "added": len(rows),
        "already_present": 0,
        "rejected": [],
    }
    again = admin.get("/v1/admin/opt-outs/export").get_data(as_text=True)
    back = list(csv.DictReader(io.StringIO(again)))
    assert [(r["phone_number"], r["created_at"]) for r in back] == [
        (r["phone_number"], r["created_at"]) for r in rows
    ]
    assert {r["source"] for r in back} == {"admin"}  # an import is an operator's act
    twice = admin.post(
        "/v1/admin/opt-outs/import", data=exported.data, headers={"Content-Type": "text/csv"}
    )
    assert (twice.json["added"], twice.json["already_present"]) == (0, len(rows))


def test_export_filters_by_source(admin: ApiClient, services: Any) -> None:
    services.optouts.add(PHONE, "inbound_stop")
    services.optouts.add("+13125550124", "admin")
    text = admin.get("/v1/admin/opt-outs/export", query_string={"source": "admin"}).data
    assert text.decode().splitlines() == [
        "phone_number,source,created_at",
        "+13125550124,admin,2027-01-15T08:00:00.000Z",
    ]


def test_an_import_with_a_bad_line_imports_nothing_and_says_why(
    admin: ApiClient, services: Any
) -> None:
    data = (
        "\ufeffName,Phone_Number\r\nAnn,+13125550123\r\n\r\nBob,3125550124\r\nCy,+447700900123\r\n"
    ).encode()
    response = admin.post(
        "/v1/admin/opt-outs/import", data=data, headers={"Content-Type": "text/csv"}
    )
    assert (response.status_code, response.json["code"]) == (422, "invalid_request")
    assert response.json["rejected_count"] == 2
    assert [(r["line"], r["value"]) for r in response.json["rejected"]] == [
        (4, "3125550124"),
        (5, "+447700900123"),
    ]
    assert services.optouts.get(PHONE) is None
    (entry,) = audit_entries(admin)
    assert (entry["action"], entry["result"]) == ("optouts.import", "invalid_request")
    assert entry["detail"] == {"received": 3, "rejected": 2}


def test_a_rejected_line_reports_the_cell_that_is_wrong(admin: ApiClient, services: Any) -> None:
    data = (
        b"phone_number,created_at\n"
        b"+13125550123,soon\n"
        b"+13125550124,2099-01-01T00:00:00Z\n"
        b"31255,2020-01-01T00:00:00Z\n"
    )
    response = admin.post(
        "/v1/admin/opt-outs/import", data=data, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 422
    assert [(r["line"], r["value"]) for r in response.json["rejected"]] == [
        (2, "soon"),
        (3, "2099-01-01T00:00:00Z"),
        (4, "31255"),
    ]


def test_an_import_normalises_formatted_numbers(
    admin: ApiClient, client: ApiClient, services: Any
) -> None:
    data = (
        b"phone_number,created_at\r\n"
        b'"+1 (312) 555-0123",2026-01-01T00:00:00Z\r\n'
        b"+44 0 7911 123457,\r\n"
        b"+1.312.555.0124,\r\n"
        b"+13125550123,\r\n"
    )
    response = admin.post(
        "/v1/admin/opt-outs/import", data=data, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.json
    assert (response.json["added"], response.json["already_present"]) == (3, 1)
    exported = admin.get("/v1/admin/opt-outs/export").get_data(as_text=True)
    assert sorted(r["phone_number"] for r in csv.DictReader(io.StringIO(exported))) == [
        "+13125550123",
        "+13125550124",
        UK,
    ]
    assert create(client, UK).json["code"] == "recipient_opted_out"
    assert create(client, PHONE).json["code"] == "recipient_opted_out"


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"number\n+13125550123\n", "text/csv", 422),  # no phone_number column
        (b"", "text/csv", 422),
        (b"phone_number\n\xff\xfe\n", "text/csv", 400),
        (b"phone_number\n+13125550123\n", "application/json", 415),
        (b"phone_number,created_at\n+13125550123,soon\n", "text/csv", 422),
        (b"phone_number,created_at\n+13125550123,2099-01-01T00:00:00Z\n", "text/csv", 422),
    ],
)
def test_import_refuses_files_it_cannot_read(
    admin: ApiClient, services: Any, data: bytes, content_type: str, status: int
) -> None:
    response = admin.post(
        "/v1/admin/opt-outs/import", data=data, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.json
    assert services.optouts.get(PHONE) is None


def test_import_takes_files_bigger_than_an_api_body_but_has_a_cap(
    admin: ApiClient, services: Any
) -> None:
    phones = [f"+1312555{n:04d}" for n in range(2000)]
    data = ("phone_number\n" + "\n".join(phones) + "\n").encode()
    assert len(data) > services.settings.max_body_bytes
    response = admin.post(
        "/v1/admin/opt-outs/import", data=data, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.json
    assert response.json["added"] == 2000
    big = b"phone_number\n" + b"+13125550123\n" * 500_000
    too_big = admin.post(
        "/v1/admin/opt-outs/import", data=big, headers={"Content-Type": "text/csv"}
    )
    assert (too_big.status_code, too_big.json["code"]) == (413, "payload_too_large")


def test_changes_are_audited_with_the_key_id_never_the_key_and_logs_mask_numbers(
    admin: ApiClient, services: Any, redis_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    admin.put(f"/v1/admin/opt-outs/{PHONE}")
    admin.put(f"/v1/admin/opt-outs/{PHONE}")
    admin.delete(f"/v1/admin/opt-outs/{PHONE}")
    entries = audit_entries(admin)
    assert [(e["action"], e["result"], e["status"]) for e in entries] == [
        ("optout.remove", "removed", 204),
        ("optout.add", "exists", 200),
        ("optout.add", "added", 201),
    ]
    assert {e["key_id"] for e in entries} == {"test-admin"}
    assert {e["target"] for e in entries} == {PHONE}
    assert entries[0]["at"] == "2027-01-15T08:00:00.000Z"
    assert entries[0]["detail"] == {"source": "admin"}
    stored = repr(redis_client.xrange(services.store.audit_key()))
    assert ADMIN_KEY not in stored
    assert PHONE not in caplog.text
    assert "optout.add" in caplog.text


def test_audit_pages_newest_first_and_filters_by_action(admin: ApiClient, services: Any) -> None:
    for n in range(25):
        admin.put(f"/v1/admin/opt-outs/+1312555{n:04d}")
    admin.delete("/v1/admin/opt-outs/+13125550000")
    first = admin.get("/v1/admin/audit", query_string={"page[size]": "10"}).json
    assert first["meta"] == {
        "page_number": 1,
        "page_size": 10,
        "total_pages": 3,
        "total_results": 26,
    }
    assert first["data"][0]["action"] == "optout.remove"
    last = admin.get("/v1/admin/audit", query_string={"page[size]": "10", "page[number]": "3"})
    assert [e["target"] for e in last.json["data"]][-1] == "+13125550000"
    adds = admin.get(
        "/v1/admin/audit", query_string={"action": "optout.add", "page[number]": "2"}
    ).json
    assert adds["meta"]["total_results"] == 25
    assert [e["target"] for e in adds["data"]] == [f"+1312555{n:04d}" for n in range(4, -1, -1)]
    by_key = admin.get("/v1/admin/audit", query_string={"key_id": "someone-else"}).json
    assert by_key["data"] == []
    bad = admin.get("/v1/admin/audit", query_string={"action": "drop_tables"})
    assert bad.status_code == 422


def test_sync_reads_a_chunked_body_and_takes_an_empty_one_for_none(
    admin: ApiClient, services: Any, sandbox: Sandbox
) -> None:
    """A body streamed without a Content-Length (chunked, as gunicorn passes it on) is the
    body sent, not none: the sync is of the profile it names; an empty one syncs all."""
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    primary = PROFILE_IDS["primary"]
    one = admin.post(
        "/v1/admin/opt-outs/sync", json={"messaging_profile_id": primary}, environ_overrides=chunked
    )
    assert one.status_code == 200
    assert one.json["fetched"] == len(OPTED_OUT_NUMBERS) // 2
    every = admin.post("/v1/admin/opt-outs/sync", environ_overrides=chunked)
    assert every.status_code == 200
    assert every.json["fetched"] == len(OPTED_OUT_NUMBERS)
