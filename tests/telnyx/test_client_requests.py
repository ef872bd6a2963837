"""How calls become HTTP requests, and how responses come back (httpx.MockTransport only)."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from otp_service.telnyx import DEFAULT_TIMEOUT, Page, TelnyxClient

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers from a queue (or one fixed reply) and records."""

    def __init__(self, *replies: httpx.Response | Handler) -> None:
        self.replies = list(replies) or [httpx.Response(200, json={"data": {"id": "1"}})]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if callable(reply):
            return reply(request)
        return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def client(self, **kwargs: Any) -> TelnyxClient:
        return TelnyxClient("KEY-secret", transport=httpx.MockTransport(self), **kwargs)


def _query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params.multi_items())


def test_send_long_code_posts_spec_field_names_and_returns_data() -> None:
    rec = Recorder(httpx.Response(200, json={"data": {"id": "msg-1", "to": [{}]}}))
    client = rec.client()

    message = client.messages.send_long_code(
        from_="+15550001111", to="+15550002222", text="Your code is 123456", webhook_url=None
    )

    assert message == {"id": "msg-1", "to": [{}]}
    assert rec.last.method == "POST"
    assert rec.last.url == "https://api.telnyx.com/v2/messages/long_code"
    assert rec.last.headers["content-type"] == "application/json"
    assert json.loads(rec.last.content) == {
        "from": "+15550001111",
        "to": "+15550002222",
        "text": "Your code is 123456",
    }


def test_requests_carry_bearer_key_user_agent_and_default_headers() -> None:
    rec = Recorder()
    rec.client(default_headers={"X-Trace": "t1"}).messages.retrieve("m1")
    assert rec.last.headers["authorization"] == "Bearer KEY-secret"
    assert rec.last.headers["user-agent"] == "otp-service"
    assert rec.last.headers["accept"] == "application/json"
    assert rec.last.headers["x-trace"] == "t1"

    rec.client(user_agent="otp-service/1.2").messages.retrieve("m1")
    assert rec.last.headers["user-agent"] == "otp-service/1.2"


def test_path_parameters_are_positional_and_url_quoted() -> None:
    rec = Recorder()
    client = rec.client()

    client.messaging.rcs.retrieve_capabilities("agent/1", "+15551234567")
    assert rec.last.url.raw_path == b"/v2/messaging/rcs/capabilities/agent%2F1/%2B15551234567"

    client.messaging_profiles.autoresp_configs.retrieve("p 1", "c1")
    assert rec.last.url.raw_path == b"/v2/messaging_profiles/p%201/autoresp_configs/c1"


def test_list_filters_and_pagination_become_deep_object_query() -> None:
    rec = Recorder(httpx.Response(200, json={"data": [], "meta": {}}))
    rec.client().messaging_optouts.list(
        messaging_profile_id="prof-1",
        from_="+15550001111",
        created_at={"gte": "2025-01-01T00:00:00Z", "lte": None},
        redaction_enabled=True,
        page_number=2,
        page_size=50,
    )
    assert rec.last.url.path == "/v2/messaging_optouts"
    assert _query(rec.last) == {
        "filter[messaging_profile_id]": "prof-1",
        "filter[from]": "+15550001111",
        "created_at[gte]": "2025-01-01T00:00:00Z",
        "redaction_enabled": "true",
        "page[number]": "2",
        "page[size]": "50",
    }


def test_nested_filter_and_sort_dicts_are_flattened() -> None:
    rec = Recorder(httpx.Response(200, json={"data": [], "meta": {}}))
    rec.client().phone_numbers.messaging.list(
        type="longcode",
        filter={"phone_number": {"contains": "555"}},
        sort={"phone_number": "desc"},
    )
    assert _query(rec.last) == {
        "filter[type]": "longcode",
        "filter[phone_number][contains]": "555",
        "sort[phone_number]": "desc",
    }


def test_unknown_keywords_pass_through_to_body_and_query() -> None:
    rec = Recorder()
    client = rec.client()

    client.phone_numbers.messaging.update("+15550001111", messaging_profile_id="p1", brand_new=1)
    assert rec.last.method == "PATCH"
    assert json.loads(rec.last.content) == {"messaging_profile_id": "p1", "brand_new": 1}

    client.messaging_profiles.retrieve_metrics("p1", time_frame="7d", new_param="x")
    assert _query(rec.last) == {"time_frame": "7d", "new_param": "x"}


def test_datetimes_are_sent_as_iso_8601() -> None:
    rec = Recorder()
    send_at = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    rec.client().messages.schedule(to="+15550002222", from_="+15550001111", send_at=send_at)
    assert json.loads(rec.last.content)["send_at"] == "2030-01-02T03:04:05+00:00"


def test_camel_case_tollfree_fields_are_sent_as_given() -> None:
    rec = Recorder(httpx.Response(200, json={"id": "v1", "businessName": "Acme"}))
    result = rec.client().messaging_tollfree.verification.requests.create(
        businessName="Acme", phoneNumbers=[{"phoneNumber": "+18005550100"}]
    )
    assert result == {"id": "v1", "businessName": "Acme"}  # no data wrapper: the whole body
    assert json.loads(rec.last.content) == {
        "businessName": "Acme",
        "phoneNumbers": [{"phoneNumber": "+18005550100"}],
    }


def test_post_without_fields_sends_no_body() -> None:
    rec = Recorder()
    rec.client().messaging_profiles.actions.regenerate_secret("p1")
    assert rec.last.url.path == "/v2/messaging_profiles/p1/actions/regenerate_secret"
    assert rec.last.content == b""


def test_delete_returns_data_and_empty_responses_return_none() -> None:
    rec = Recorder(httpx.Response(200, json={"data": {"id": "p1", "deleted": True}}))
    assert rec.client().messaging_profiles.delete("p1") == {"id": "p1", "deleted": True}
    assert rec.last.method == "DELETE"

    rec = Recorder(httpx.Response(204))
    assert rec.client().messaging_tollfree.verification.requests.delete("v1") is None

    rec = Recorder(httpx.Response(200, content=b""))
    assert rec.client().messages.cancel_scheduled("m1") is None


def test_low_level_request_returns_the_whole_body() -> None:
    rec = Recorder(httpx.Response(200, json={"data": [1], "meta": {"x": 1}}))
    body = rec.client().request("GET", "/anything", params={"filter": {"a": "b"}, "c": None})
    assert body == {"data": [1], "meta": {"x": 1}}
    assert rec.last.url.path == "/v2/anything"
    assert _query(rec.last) == {"filter[a]": "b"}


def test_custom_base_url_keeps_its_path() -> None:
    rec = Recorder()
    client = rec.client(base_url="http://127.0.0.1:8765/v2/")
    client.short_codes.retrieve("sc1")
    assert str(rec.last.url) == "http://127.0.0.1:8765/v2/short_codes/sc1"


def test_client_has_default_timeouts_pool_and_closes_as_context_manager() -> None:
    assert DEFAULT_TIMEOUT.connect == 5.0
    assert DEFAULT_TIMEOUT.read == 10.0
    with Recorder().client() as client:
        assert client._http.timeout == DEFAULT_TIMEOUT
        assert client.messages is client.messages  # built once, lazily
    assert client._http.is_closed

    custom = Recorder().client(timeout=2.5)
    assert custom._http.timeout == httpx.Timeout(2.5)


def test_api_key_is_required_and_never_shown() -> None:
    with pytest.raises(ValueError):
        TelnyxClient("")
    assert "KEY-secret" not in repr(Recorder().client())


def test_upload_file_sends_multipart_form_with_loa_and_bill() -> None:
    rec = Recorder(httpx.Response(200, json={"data": {"id": "order-1"}}))
    result = rec.client().messaging_hosted_number_orders.actions.upload_file(
        "order-1", loa=b"%PDF-loa", bill=io.BytesIO(b"%PDF-bill")
    )

    assert result == {"id": "order-1"}
    request = rec.last
    assert request.url.path == "/v2/messaging_hosted_number_orders/order-1/actions/file_upload"
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    parts = _multipart(request.content, content_type.split("boundary=")[1])
    assert parts == {
        "loa": ('form-data; name="loa"; filename="loa.pdf"', "application/pdf", b"%PDF-loa"),
        "bill": ('form-data; name="bill"; filename="bill.pdf"', "application/pdf", b"%PDF-bill"),
    }


def test_upload_file_accepts_an_httpx_style_tuple_and_skips_missing_parts() -> None:
    rec = Recorder()
    rec.client().messaging_hosted_number_orders.actions.upload_file(
        "o1", loa=("signed.pdf", b"%PDF", "application/pdf")
    )
    parts = _multipart(rec.last.content, rec.last.headers["content-type"].split("boundary=")[1])
    assert list(parts) == ["loa"]
    assert 'filename="signed.pdf"' in parts["loa"][0]


def _multipart(content: bytes, boundary: str) -> dict[str, tuple[str, str, bytes]]:
    """name -> (Content-Disposition, Content-Type, body) of each part."""
    parts = {}
    for chunk in content.split(b"--" + boundary.encode())[1:-1]:
        head, _, body = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(
            line.decode().split(": ", 1) for line in head.split(b"\r\n") if b": " in line
        )
        disposition = headers["Content-Disposition"]
        name = disposition.split('name="')[1].split('"')[0]
        parts[name] = (disposition, headers.get("Content-Type", ""), body)
    return parts


# Pagination


def _meta_page(number: int, total_pages: int, items: list[Any]) -> httpx.Response:
    meta = {
        "page_number": number,
        "page_size": 2,
        "total_pages": total_pages,
        "total_results": 5,
    }
    return httpx.Response(200, json={"data": items, "meta": meta})


def test_auto_paging_walks_every_page_and_stops_at_total_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page[number]", "1"))
        items = [{"n": n} for n in range(2 * number - 1, min(2 * number, 5) + 1)]
        return _meta_page(number, 3, items)

    rec = Recorder(handler)
    page = rec.client().phone_numbers.messaging.list(page_size=2, messaging_profile_id="p1")

    assert isinstance(page, Page)
    assert page.data == [{"n": 1}, {"n": 2}]
    assert page.meta["total_pages"] == 3
    assert [item["n"] for item in page.auto_paging_iter()] == [1, 2, 3, 4, 5]
    assert len(rec.requests) == 3
    assert [_query(r).get("page[number]") for r in rec.requests] == [None, "2", "3"]
    assert all(_query(r)["filter[messaging_profile_id]"] == "p1" for r in rec.requests)
    assert all(_query(r)["page[size]"] == "2" for r in rec.requests)
    assert [item["n"] for item in page] == [1, 2, 3, 4, 5]  # iter(page) does the same


def test_next_page_and_has_next_page() -> None:
    rec = Recorder(_meta_page(1, 2, [{"n": 1}]), _meta_page(2, 2, [{"n": 2}]))
    first = rec.client().short_codes.list()
    assert first.has_next_page()
    second = first.next_page()
    assert second is not None
    assert second.data == [{"n": 2}]
    assert not second.has_next_page()
    assert second.next_page() is None
    assert len(rec.requests) == 2


def test_empty_list_makes_one_request_and_yields_nothing() -> None:
    rec = Recorder(_meta_page(1, 0, []))
    page = rec.client().messaging_profiles.list(name="otp")
    assert list(page) == []
    assert not page.has_next_page()
    assert len(rec.requests) == 1
    assert _query(rec.last) == {"filter[name]": "otp"}


def test_list_without_meta_stops_at_a_short_page() -> None:
    rec = Recorder(
        httpx.Response(200, json={"data": [1, 2]}),
        httpx.Response(200, json={"data": [3]}),
    )
    items = list(rec.client().messaging_url_domains.list(page_size=2))
    assert items == [1, 2, 3]
    assert len(rec.requests) == 2


def test_tollfree_records_pages_are_walked_with_their_own_parameters() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        records = [{"n": n} for n in range(2 * number - 1, min(2 * number, 5) + 1)]
        return httpx.Response(200, json={"records": records, "total_records": 5})

    rec = Recorder(handler)
    page = rec.client().messaging_tollfree.verification.requests.list(
        page_size=2, status="Verified"
    )
    assert page.meta == {"page_number": 1, "page_size": 2, "total_results": 5, "total_pages": 3}
    assert [r["n"] for r in page] == [1, 2, 3, 4, 5]
    assert [_query(r) for r in rec.requests] == [
        {"page": str(n), "page_size": "2", "status": "Verified"} for n in (1, 2, 3)
    ]


def test_tollfree_status_history_uses_page_brackets() -> None:
    rec = Recorder(httpx.Response(200, json={"records": [{"status": "x"}], "total_records": 1}))
    page = rec.client().messaging_tollfree.verification.requests.retrieve_status_history("v1")
    assert page.data == [{"status": "x"}]
    assert _query(rec.last) == {"page[number]": "1", "page[size]": "20"}
    assert not page.has_next_page()


@pytest.mark.parametrize("value", ["..", ".", ""])
@pytest.mark.parametrize(
    "call",
    [
        lambda client, value: client.phone_numbers.messaging.retrieve(value),
        lambda client, value: client.messaging_numbers_bulk_updates.retrieve(value),
        lambda client, value: client.messaging_profiles.update(value, name="x"),
    ],
    ids=["phone_numbers.messaging", "bulk_updates", "messaging_profiles.update"],
)
def test_a_dot_segment_or_empty_id_is_refused_before_any_request_leaves(
    call: Callable[[TelnyxClient, str], Any], value: str
) -> None:
    """httpx resolves ``/phone_numbers/../messaging`` to ``/messaging``: with the client's
    key, the call would reach another endpoint."""
    rec = Recorder()
    with pytest.raises(ValueError):
        call(rec.client(), value)
    assert rec.requests == []


@pytest.mark.parametrize(
    "path", ["/phone_numbers/../messaging", "/a/./b", "../x", "/a/%2e%2E/b", "/a/.%2e"]
)
def test_a_raw_request_with_a_dot_segment_is_refused_before_it_leaves(path: str) -> None:
    rec = Recorder()
    with pytest.raises(ValueError):
        rec.client().request("GET", path)
    assert rec.requests == []


def test_ids_with_dots_inside_are_sent_quoted_as_they_are() -> None:
    rec = Recorder()
    rec.client().phone_numbers.messaging.retrieve("a..b")
    assert rec.last.url.raw_path == b"/v2/phone_numbers/a..b/messaging"
