"""The overview, verifications and webhooks pages over Flask's test client, on a seeded
run whose truth is known (``seed_traffic``): the charts' data, the search and the
timeline, the webhook forms with their CSRF checks, errors on the page and audit
entries. The same pages in a real browser are in test_browser.py."""

from __future__ import annotations

import html
import json
import logging
import re
from typing import Any

import pytest

from tests.api.console.conftest import drain, seed_traffic
from tests.api.console.test_console_http import csrf_of, sign_in

CHART = re.compile(r"""id="([a-z-]+)" data-chart='([^']*)'""")
FULL_NUMBER = re.compile(r"\+[1-9][0-9]{9,14}")
DEAD_URL = "http://127.0.0.1:9/hooks"  # the discard port: nothing answers on loopback


@pytest.fixture
def console(app: Any) -> Any:
    flask = app.test_client()
    assert sign_in(flask).status_code == 303
    return flask


@pytest.fixture
def traffic(client, sandbox, clock, worker) -> Any:
    return seed_traffic(client, sandbox, clock, worker)


def charts_of(page: Any) -> dict[str, dict[str, Any]]:
    text = page.get_data(as_text=True)
    return {name: json.loads(html.unescape(spec)) for name, spec in CHART.findall(text)}


def series_of(spec: dict[str, Any]) -> dict[str, list[Any]]:
    return {s["label"]: s["values"] for s in spec["series"]}


def no_full_number(text: str) -> None:
    """Only masked numbers (and no number of ours in plain) on a page."""
    assert FULL_NUMBER.findall(text) == []


def test_the_overview_charts_the_insights_of_a_seeded_run(traffic, console):
    page = console.get("/console/overview")
    assert page.status_code == 200
    charts = charts_of(page)
    assert set(charts) >= {
        "rates-per-hour",
        "verifications-per-country",
        "sends-per-sender",
        "refusals-per-hour",
        "audit-per-hour",
        "optouts-per-day",
    }
    countries = series_of(charts["verifications-per-country"])
    assert {name: sum(v) for name, v in countries.items()} == {"US": 19, "CA": 6, "DE": 6}
    assert sum(1 for v in countries["US"] if v) == 6  # six hours with traffic
    senders = series_of(charts["sends-per-sender"])
    assert {"short code 22395", "long code +1312****120"} <= set(senders)
    pools = [name for name in senders if name.startswith("number pool")]
    assert pools and all(name.endswith("(pool 1c0dfc8f…)") for name in pools)
    assert sum(map(sum, senders.values())) == 31 + 2  # every create, and two resends
    refusals = series_of(charts["refusals-per-hour"])
    assert {name: sum(v) for name, v in refusals.items()} == traffic.refusals
    rates = series_of(charts["rates-per-hour"])
    assert charts["rates-per-hour"]["percent"] is True
    conversion = [v for v in rates["conversion %"] if v is not None]
    delivery = [v for v in rates["delivery rate %"] if v is not None]
    assert len(conversion) == 6 and all(0 < v <= 100 for v in conversion)
    # hours 0 and 3: one of five receipts a failure (80 %); the last: five receipts for
    # eight sends (62.5 %); the others 100 %
    assert delivery == [80.0, 100.0, 100.0, 80.0, 100.0, 62.5]
    text = page.get_data(as_text=True)
    assert 'id="summary-by-country"' in text
    for chart in ("rates-per-hour", "verifications-per-country", "refusals-per-hour"):
        assert f'id="{chart}-empty"' not in text
    no_full_number(text)


def test_the_overview_says_when_there_is_nothing_to_chart(console):
    text = console.get("/console/overview").get_data(as_text=True)
    for chart in ("rates-per-hour", "verifications-per-country", "refusals-per-hour"):
        assert f'id="{chart}-empty"' in text
    assert "No verifications in these days yet." in text


def test_a_search_by_number_finds_it_in_any_format_and_shows_it_masked(traffic, console):
    [wanted] = [vid for vid, phone in traffic.phones.items() if phone == "+13125550211"]
    token = csrf_of(console.get("/console/verifications"))
    for typed in ("+13125550211", "+1 (312) 555-0211", "+1-312-555-0211"):
        page = console.post(
            "/console/verifications", data={"phone_number": typed, "csrf_token": token}
        )
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert re.findall(r'data-id="([^"]+)"', text) == [wanted]
        assert "+1312****211" in text
        no_full_number(text)
    other = console.post(
        "/console/verifications", data={"phone_number": "+13125550999", "csrf_token": token}
    )
    assert 'id="no-verifications"' in other.get_data(as_text=True)


def test_a_number_with_more_than_a_page_says_so_and_its_dates_reach_the_rest(
    client, sandbox, clock, worker, console, monkeypatch
):
    """A search by number is a form (the number stays out of URLs), so its older results
    are not a link: the page says there are more, and the dates narrow to them."""
    phone = "+13125550777"
    made = []
    for _ in range(3):
        answer = client.post("/v1/verifications", json={"phone_number": phone})
        assert answer.status_code == 201, answer.get_json()
        made.append(answer.get_json())
        assert client.post(f"/v1/verifications/{made[-1]['id']}/cancel").status_code == 200
        clock.advance(61)
    drain(worker)
    monkeypatch.setattr("otp_service.api.console.verifications.PAGE_SIZE", 2)
    token = csrf_of(console.get("/console/verifications"))
    form = {"phone_number": phone, "csrf_token": token}
    text = console.post("/console/verifications", data=form).get_data(as_text=True)
    assert re.findall(r'data-id="([^"]+)"', text) == [made[2]["id"], made[1]["id"]]
    assert 'id="more-of-number"' in text
    no_full_number(text)
    before = made[1]["created_at"][:19]  # as the form's datetime-local field sends it
    text = console.post("/console/verifications", data={**form, "created_before": before}).get_data(
        as_text=True
    )
    assert re.findall(r'data-id="([^"]+)"', text) == [made[0]["id"]]
    assert 'id="more-of-number"' not in text


def test_a_search_without_its_csrf_token_is_refused(traffic, console):
    page = console.post("/console/verifications", data={"phone_number": "+13125550211"})
    assert page.status_code == 403
    assert "+1312****211" not in page.get_data(as_text=True)


def test_the_filters_browse_newest_first_page_by_page(traffic, console, monkeypatch):
    page = console.get("/console/verifications", query_string={"status": "canceled"})
    shown = re.findall(r'data-id="([^"]+)"', page.get_data(as_text=True))
    assert sorted(shown) == sorted(traffic.of("canceled")) and len(shown) == 6
    # without a number the form's filters become a link
    token = csrf_of(page)
    sent = console.post(
        "/console/verifications", data={"status": "approved", "profile": "", "csrf_token": token}
    )
    assert sent.status_code == 303
    assert sent.headers["Location"] == "/console/verifications?status=approved"
    monkeypatch.setattr("otp_service.api.console.verifications.PAGE_SIZE", 10)
    seen: list[str] = []
    ended: list[str] = []
    url = "/console/verifications"
    while url:
        text = console.get(url).get_data(as_text=True)
        seen += re.findall(r'data-id="([^"]+)"', text)
        ended += re.findall(r'<tr data-id="[^"]+">\s*<td>([^<]+)</td>', text)
        older = re.search(r'href="([^"]+)" id="older"', text)
        url = html.unescape(older.group(1)) if older else ""
    assert sorted(seen) == sorted(traffic.outcomes) and len(seen) == len(set(seen))
    assert len(ended) == len(seen) and ended == sorted(ended, reverse=True)  # newest ended first


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"phone_number": "12"}, "phone_number"),
        ({"phone_number": "+13125550211", "created_after": "last tuesday"}, "created_after"),
        ({"phone_number": "+13125550211", "status": "lost"}, "status"),
    ],
)
def test_a_bad_search_is_shown_on_the_page(console, form, field):
    token = csrf_of(console.get("/console/verifications"))
    page = console.post("/console/verifications", data={**form, "csrf_token": token})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert f"<code>{field}</code>" in text and 'id="problem"' in text
    no_full_number(text)


def test_one_verification_shows_its_sends_checks_and_timeline(traffic, console):
    [vid] = [v for v, phone in traffic.phones.items() if phone == "+13125550201"]
    page = console.get(f"/console/verifications/{vid}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    timeline = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', text, re.S).group(1)
    events = re.findall(r'<li class="event-([a-z_]+)">', timeline)
    assert events == ["created", "sent", "delivered", "check", "check", "approved"]
    assert "wrong code" in timeline and "right code" in timeline
    assert "short code 22395" in text
    failed = [v for v, p in traffic.phones.items() if p == "+16135550203"]
    text = console.get(f"/console/verifications/{failed[0]}").get_data(as_text=True)
    assert "delivery failed" in text and "40008" in text
    assert "long code +1312****120" in text
    no_full_number(text)
    missing = console.get("/console/verifications/nothing-like-an-id")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


def create_endpoint(console: Any, **form: Any) -> Any:
    token = csrf_of(console.get("/console/webhooks"))
    return console.post("/console/webhooks/default", data={"csrf_token": token, **form})


def test_a_created_endpoint_shows_its_secret_once_and_is_audited(console, admin, caplog):
    caplog.set_level(logging.DEBUG)
    page = create_endpoint(
        console,
        url=DEAD_URL,
        description="Orders backend",
        events=["verification.approved", "verification.failed"],
    )
    assert page.status_code == 201
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    secret = re.search(r'<code id="new-secret-value">(whsec_[^<]+)</code>', text).group(1)
    [endpoint] = admin.get("/v1/admin/profiles/default/webhooks").json["data"]
    assert endpoint["events"] == ["verification.approved", "verification.failed"]
    # nowhere else: not the list, not the endpoint's page, not a log line
    for url in ("/console/webhooks", f"/console/webhooks/default/{endpoint['id']}"):
        assert secret not in console.get(url).get_data(as_text=True)
    assert secret not in caplog.text
    entry = admin.get("/v1/admin/audit").json["data"][0]
    assert (entry["action"], entry["key_id"], entry["target"]) == (
        "webhook.create",
        "test-admin",
        endpoint["id"],
    )
    assert secret not in json.dumps(admin.get("/v1/admin/audit").json)


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"url": ""}, "url"),
        ({"url": "ftp://example.com/hooks"}, "URL not allowed"),
        ({"url": DEAD_URL, "events": ["verification.teleported"]}, "events"),
    ],
)
def test_a_bad_endpoint_is_shown_on_the_form_and_nothing_is_created(console, admin, form, field):
    page = create_endpoint(console, **form)
    assert page.status_code == 422
    assert field in page.get_data(as_text=True)
    assert 'id="problem"' in page.get_data(as_text=True)
    assert admin.get("/v1/admin/profiles/default/webhooks").json["data"] == []


def test_webhook_forms_without_their_csrf_token_are_refused(console, admin):
    refused = console.post("/console/webhooks/default", data={"url": DEAD_URL})
    assert refused.status_code == 403
    assert admin.get("/v1/admin/profiles/default/webhooks").json["data"] == []
    created = admin.post("/v1/admin/profiles/default/webhooks", json={"url": DEAD_URL}).json
    base = f"/console/webhooks/default/{created['data']['id']}"
    for action in ("disable", "rotate-secret", "test", "delete"):
        answer = console.post(f"{base}/{action}", data={"csrf_token": "wrong"})
        assert answer.status_code == 403, action
        assert "whsec_" not in answer.get_data(as_text=True)
    kept = admin.get(f"/v1/admin/profiles/default/webhooks/{created['data']['id']}")
    assert kept.json["data"]["enabled"]


def test_an_endpoints_deliveries_page_on_to_every_one(console, admin, monkeypatch):
    """Deliveries made in one millisecond (a worker's batch; here the test clock's) are
    each on one page, following "older"."""
    monkeypatch.setattr("otp_service.api.console.webhooks.DELIVERIES_PAGE", 2)
    base = "/v1/admin/profiles/default/webhooks"
    made = admin.post(base, json={"url": DEAD_URL}).json["data"]
    queued = {admin.post(f"{base}/{made['id']}/test").json["data"]["id"] for _ in range(5)}
    seen: list[str] = []
    url = f"/console/webhooks/default/{made['id']}"
    while url:
        text = console.get(url).get_data(as_text=True)
        seen += re.findall(r'data-delivery-id="([^"]+)"', text)
        older = re.search(r'href="([^"]+)" id="older"', text)
        url = html.unescape(older.group(1)) if older else ""
    assert sorted(seen) == sorted(queued) and len(seen) == 5
    newest = console.get(f"/console/webhooks/default/{made['id']}?cursor=dlv_nonsense")
    assert newest.status_code == 200
    assert re.findall(r'data-delivery-id="([^"]+)"', newest.get_data(as_text=True)) == seen[:2]


def test_an_endpoint_is_disabled_rotated_tested_retried_replayed_and_deleted(
    console, admin, worker
):
    created = create_endpoint(console, url=DEAD_URL)
    first = re.search(r'id="new-secret-value">([^<]+)<', created.get_data(as_text=True)).group(1)
    [endpoint] = admin.get("/v1/admin/profiles/default/webhooks").json["data"]
    base = f"/console/webhooks/default/{endpoint['id']}"
    token = csrf_of(console.get(base))

    def post(action: str, **form: str) -> Any:
        return console.post(f"{base}/{action}", data={"csrf_token": token, **form})

    assert post("disable").status_code == 303
    assert "disabled (operator)" in console.get(base).get_data(as_text=True)
    assert post("enable").status_code == 303
    rotated = post("rotate-secret")
    assert rotated.headers["Cache-Control"] == "no-store"
    second = re.search(r'id="new-secret-value">([^<]+)<', rotated.get_data(as_text=True)).group(1)
    assert second.startswith("whsec_") and second != first
    assert post("test").status_code == 303
    drain(worker)  # nothing answers: one failed attempt, the next one later
    text = console.get(base).get_data(as_text=True)
    assert "A ping event is queued" in text
    listed = admin.get(f"/v1/admin/profiles/default/webhooks/{endpoint['id']}/deliveries")
    [delivery] = listed.json["data"]
    assert (delivery["attempts"], delivery["last_error"]) == (1, "connect_error")
    assert "connect_error" in text and 'class="attempts">1<' in text
    assert post(f"deliveries/{delivery['id']}/retry").status_code == 303
    drain(worker)
    text = console.get(base).get_data(as_text=True)
    assert "due again now" in text and 'class="attempts">2<' in text
    missing = post("deliveries/dlv_000000000000000000000000/retry")
    assert missing.status_code == 404
    empty = post("replay", since="")
    assert empty.status_code == 422 and "<code>since</code>" in empty.get_data(as_text=True)
    assert post("replay", since="2027-01-01T00:00").status_code == 303
    assert "Replaying 0 failed" in console.get(base).get_data(as_text=True)
    assert post("delete").status_code == 303
    assert 'id="no-endpoints"' in console.get("/console/webhooks").get_data(as_text=True)
    actions = [e["action"] for e in admin.get("/v1/admin/audit").json["data"]]
    assert actions[:9] == [
        "webhook.delete",
        "webhook.replay",
        "webhook.replay",
        "webhook_delivery.retry",
        "webhook_delivery.retry",
        "webhook.test",
        "webhook.rotate_secret",
        "webhook.update",
        "webhook.update",
    ]
    assert {e["key_id"] for e in admin.get("/v1/admin/audit").json["data"]} == {"test-admin"}


def test_another_profiles_webhooks_and_an_unknown_profile(console, admin):
    profile = admin.post("/v1/admin/profiles", json={"name": "Shop"}).json["data"]["id"]
    admin.post("/v1/admin/profiles/default/webhooks", json={"url": DEAD_URL})
    page = console.get("/console/webhooks", query_string={"profile": profile})
    assert page.status_code == 200
    assert 'id="no-endpoints"' in page.get_data(as_text=True)
    assert f'value="{profile}" selected' in page.get_data(as_text=True)
    missing = console.get("/console/webhooks", query_string={"profile": "pf_nope"})
    assert missing.status_code == 404
    assert "Profile not found" in missing.get_data(as_text=True)
    gone = console.get("/console/webhooks/default/ep_aaaaaaaaaaaaaaaa")
    assert gone.status_code == 404 and gone.mimetype == "text/html"
