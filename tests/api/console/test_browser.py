"""The console in a real browser: Debian's headless Chromium, driven by selenium through
Debian's chromedriver, against the app served over real HTTP (a Werkzeug server thread
on 127.0.0.1; Redis and the Telnyx sandbox as in every other test).

Nothing is downloaded: chromedriver is given by path, so Selenium Manager never runs
(and ``SE_OFFLINE`` forbids it to fetch anything should it run). Without Chromium the
module is skipped, once, with what to install. Every page visited is saved as a
screenshot in docs/console/ (committed: the README shows the overview).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from otp_service.sandbox.seed import PROFILE_IDS
from tests.api.console.conftest import drain, seed_traffic
from tests.conftest import ADMIN_KEY, CLIENT_KEY

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "browser tests need headless Chromium: apt-get install chromium chromium-driver",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402 - only with a browser to drive
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from otp_service.admin.sessions import IDLE_SECONDS  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"
WAIT_SECONDS = 20  # generous: other work shares the machine
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager, were it to run, fetches nothing
    profile = tempfile.mkdtemp(prefix="otp-console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def console_url(app: Any) -> Iterator[str]:
    """The app on a free loopback port, served by a Werkzeug server thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-test-server")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/console"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def browser(driver: webdriver.Chrome, console_url: str) -> Iterator[Browser]:
    helper = Browser(driver, console_url)
    driver.delete_all_cookies()
    yield helper
    driver.delete_all_cookies()


class Browser:
    """The test's view of the browser: open console pages, fill forms, wait, screenshot."""

    def __init__(self, driver: webdriver.Chrome, base: str) -> None:
        self.driver = driver
        self.base = base

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.wait_for(By.TAG_NAME, "main")

    def wait_for(self, by: str, value: str) -> Any:
        return WebDriverWait(self.driver, WAIT_SECONDS).until(
            ec.presence_of_element_located((by, value))
        )

    def wait_text(self, by: str, value: str, text: str) -> None:
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            ec.text_to_be_present_in_element((by, value), text)
        )

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def submit(self, form_css: str, **fields: str) -> None:
        """Fill ``fields`` of the form and send it; wait for the next page."""
        form = self.find(form_css)
        for name, value in fields.items():
            element = form.find_element(By.NAME, name)
            if element.tag_name == "select":
                Select(element).select_by_value(value)
            else:
                element.clear()
                element.send_keys(value)
        old = self.find("main")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(self.driver, WAIT_SECONDS).until(ec.staleness_of(old))
        self.wait_for(By.TAG_NAME, "main")

    def sign_in(self, key: str = ADMIN_KEY) -> None:
        self.open("/sign-in")
        self.submit("main form", key=key)

    @property
    def text(self) -> str:
        return self.find("main").text

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base)

    def screenshot(self, name: str, whole_page: bool = False) -> None:
        """The window, or with ``whole_page`` the page from top to bottom (the window made
        as tall as the page for the shot; its width, and so the charts, unchanged)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = self.driver.get_window_size()
        if whole_page:
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(size["width"], height + 140)  # the window's frame
        try:
            self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
        finally:
            if whole_page:
                self.driver.set_window_size(size["width"], size["height"])

    def session_cookie(self) -> dict[str, str]:
        found = self.driver.get_cookie("otp_console")
        assert found is not None
        return {"otp_console": found["value"]}


def seed_history(admin: Any, clock: Any) -> None:
    """Changes through the admin API over the past days, oldest first as time runs, for
    the overview's charts: opt-outs on several days, changes in several hours, one of
    them refused (an opt-in of a number that was not opted out)."""
    now = clock.now
    for index, hours_ago in enumerate((200, 150, 100, 75, 50, 30, 7, 3, 3, 2, 1)):
        clock.now = now - hours_ago * 3600
        if hours_ago == 2:
            assert admin.delete("/v1/admin/opt-outs/+13125559999").status_code == 404
        else:
            assert admin.put(f"/v1/admin/opt-outs/+1312555{index:04d}").status_code == 201
    clock.now = now


def test_an_admin_signs_in_and_sees_every_page(browser, admin, clock):
    seed_history(admin, clock)
    browser.open("/overview")
    assert browser.path.startswith("/sign-in")
    browser.screenshot("sign-in")
    browser.sign_in()
    assert browser.path == "/overview"
    assert browser.find("#key-id").text == "test-admin"
    # every chart is drawn by uPlot, the audit chart with the sign-in in it
    for chart in ("audit-per-hour", "optouts-per-day"):
        browser.wait_for(By.CSS_SELECTOR, f"#{chart}[data-drawn] canvas")
    assert int(browser.find("#audit-per-hour").get_attribute("data-points")) >= 4
    assert int(browser.find("#optouts-per-day").get_attribute("data-points")) >= 5
    # the overview, verifications and webhooks are shot with data by their own tests
    pages = {
        "/verifications": "Verifications",
        "/numbers": "Sending numbers",
        "/opt-outs": "Opt-outs",
        "/profiles": "Verify profiles",
        "/profiles/default": "default",
        "/webhooks": "Webhooks",
        "/audit": "Audit log",
    }
    for path, heading in pages.items():
        browser.open(path)
        assert heading in browser.find("h1").text
        if path not in ("/verifications", "/webhooks"):
            browser.screenshot(path.strip("/").replace("/", "-"))
    # one number's messaging settings, from its row
    browser.open("/numbers")
    browser.find("#numbers tbody tr td a").click()
    browser.wait_text(By.TAG_NAME, "h2", "Messaging settings")
    assert "+1312****100" in browser.text
    browser.screenshot("number")


def test_a_client_key_is_refused_at_sign_in(browser):
    browser.sign_in(CLIENT_KEY)
    assert "client key" in browser.find("#problem").text
    assert browser.driver.get_cookie("otp_console") is None
    browser.open("/overview")
    assert browser.path.startswith("/sign-in")


def test_an_opt_out_is_added_and_removed(browser, admin):
    browser.sign_in()
    browser.open("/opt-outs")
    browser.submit("#add-optout", phone_number="+13125550123")
    assert "Opted out +1312****123." in browser.find("#notice").text
    assert "+1312****123" in browser.find("#optouts").text
    assert "+13125550123" not in browser.driver.page_source
    assert admin.get("/v1/admin/opt-outs/+13125550123").status_code == 200
    browser.screenshot("opt-outs-added")
    browser.submit("#remove-optout", phone_number="+13125550123")
    assert "Opted +1312****123 back in." in browser.find("#notice").text
    assert admin.get("/v1/admin/opt-outs/+13125550123").status_code == 404


def test_opt_outs_are_synced_imported_and_exported(browser, tmp_path, admin):
    browser.sign_in()
    browser.open("/opt-outs")
    browser.submit("#sync-optouts")
    browser.wait_for(By.ID, "sync-done")
    assert "36 added" in browser.find("#sync-done").text
    browser.screenshot("opt-outs-sync")
    csv_file = tmp_path / "opt-outs.csv"
    csv_file.write_text("phone_number\n+13125550177\n+13125550178\n")
    browser.open("/opt-outs")
    browser.find("#import-optouts input[type=file]").send_keys(str(csv_file))
    browser.submit("#import-optouts")
    assert "Imported 2 number(s): 2 added" in browser.find("#notice").text
    export = httpx.get(f"{browser.base}/opt-outs/export", cookies=browser.session_cookie())
    assert export.status_code == 200
    assert "+13125550177,admin," in export.text
    assert [e["action"] for e in admin.get("/v1/admin/audit").json["data"][:3]] == [
        "optouts.export",
        "optouts.import",
        "optouts.sync",
    ]


def test_a_profile_and_a_key_are_created_and_the_key_revoked(browser, client, steady_ids):
    browser.sign_in()
    browser.open("/profiles")
    browser.submit("#create-profile", name="Checkout", app_name="Acme Pay", code_length="8")
    assert browser.path.startswith("/profiles/pf_")
    assert "Created profile" in browser.find("#notice").text
    assert "Acme Pay" in browser.text
    browser.screenshot("profile")
    profile_path = browser.path
    browser.submit("#create-key")
    key = browser.find("#new-key-value").text
    assert key.startswith("otpk_")
    # the key works, once shown; the page shows it this once only
    client.key = key
    assert (
        client.post("/v1/verifications", json={"phone_number": "+13125550188"}).status_code == 201
    )
    browser.open(profile_path)
    assert key not in browser.driver.page_source
    browser.submit("#keys tbody tr form")
    assert "Revoked key" in browser.find("#notice").text
    assert "No keys." in browser.find("#keys").text
    assert client.get("/v1/verifications/nothing").status_code == 401


def test_a_number_moves_to_another_messaging_profile(browser, admin):
    browser.sign_in()
    browser.open("/numbers")
    first = browser.find("#numbers tbody tr")
    number_id = first.get_attribute("data-number-id")
    browser.submit(
        f'#numbers tr[data-number-id="{number_id}"] form',
        messaging_profile_id=PROFILE_IDS["secondary"],
    )
    assert "Moved +1312****100" in browser.find("#notice").text
    row = browser.find(f'#numbers tr[data-number-id="{number_id}"] td.profile')
    assert row.text == "OTP - US secondary"
    moved = admin.get(f"/v1/admin/phone-numbers/{number_id}").json["data"]
    assert moved["messaging_profile_id"] == PROFILE_IDS["secondary"]
    # and many at once, with the order's progress
    browser.submit(
        "#bulk-update",
        messaging_profile_id=PROFILE_IDS["marketing"],
        numbers="+13125550101\n+13125550102",
    )
    assert browser.path.startswith("/numbers/bulk-updates/")
    browser.wait_text(By.ID, "bulk-progress", "finished")
    assert browser.find("#bulk-success").text == "2"
    browser.screenshot("bulk-update")


def test_a_form_posted_without_its_csrf_token_is_refused(browser, admin):
    browser.sign_in()
    cookies = browser.session_cookie()
    url = f"{browser.base}/opt-outs"
    for data in (
        {"phone_number": "+13125550123"},
        {"phone_number": "+13125550123", "csrf_token": "x"},
    ):
        refused = httpx.post(url, data=data, cookies=cookies)
        assert refused.status_code == 403
        assert "Form refused" in refused.text
    assert admin.get("/v1/admin/opt-outs/+13125550123").status_code == 404
    # the same in the browser: the form's token taken out before it is sent
    browser.open("/opt-outs")
    browser.driver.execute_script(
        "document.querySelector('#add-optout input[name=csrf_token]').remove()"
    )
    browser.submit("#add-optout", phone_number="+13125550123")
    assert "Form refused" in browser.find("h1").text
    browser.screenshot("csrf-refused")
    assert admin.get("/v1/admin/opt-outs/+13125550123").status_code == 404


def test_sign_out_ends_the_session(browser):
    browser.sign_in()
    cookies = browser.session_cookie()
    browser.submit("form.signout")
    assert browser.path.startswith("/sign-in")
    assert "You are signed out." in browser.text
    # the old cookie is worth nothing now
    response = httpx.get(f"{browser.base}/overview", cookies=cookies)
    assert response.status_code == 302


def test_an_idle_session_expires(browser, clock):
    browser.sign_in()
    browser.open("/audit")
    assert browser.path == "/audit"
    clock.advance(IDLE_SECONDS + 1)
    browser.open("/audit")
    assert browser.path == "/sign-in?next=/console/audit"
    # signing in again leads back to the page asked for
    browser.submit("main form", key=ADMIN_KEY)
    assert browser.path == "/audit"


INSIGHT_CHARTS = {  # chart: series it draws from seed_traffic's run
    "rates-per-hour": 2,  # conversion, delivery rate
    "verifications-per-country": 3,  # US, CA, DE
    "sends-per-sender": 5,  # the short code, the long code, the pool's numbers
    "refusals-per-hour": 2,  # resend_cooldown, phone_hourly
    "audit-per-hour": 2,
    "optouts-per-day": 1,
}


def test_every_overview_chart_is_drawn_with_data(
    browser, admin, client, sandbox, clock, worker, steady_ids
):
    seed_history(admin, clock)
    seed_traffic(client, sandbox, clock, worker)
    browser.sign_in()
    assert browser.path == "/overview"
    for chart, series in INSIGHT_CHARTS.items():
        element = browser.wait_for(By.CSS_SELECTOR, f"#{chart}[data-drawn] canvas")
        drawn = browser.find(f"#{chart}")
        assert int(drawn.get_attribute("data-drawn-series")) == series, chart
        assert int(drawn.get_attribute("data-series")) == series, chart
        assert int(drawn.get_attribute("data-points")) > 0, chart
        assert element.size["width"] > 300
    legend = browser.find("#verifications-per-country .u-legend").text
    assert all(country in legend for country in ("US", "CA", "DE"))
    assert "resend_cooldown" in browser.find("#refusals-per-hour .u-legend").text
    assert "US" in browser.find("#summary-by-country").text
    assert "+13125550" not in browser.driver.page_source  # numbers masked, senders too
    browser.screenshot("overview", whole_page=True)


def test_a_verification_is_found_by_number_and_its_timeline_opened(
    browser, client, sandbox, clock, worker, steady_ids
):
    seed_traffic(client, sandbox, clock, worker)
    browser.sign_in()
    browser.open("/verifications")
    assert len(browser.driver.find_elements(By.CSS_SELECTOR, "#verifications tbody tr")) == 31
    browser.screenshot("verifications")
    browser.submit("#search-verifications", phone_number="+1 (312) 555-0201")
    assert browser.path == "/verifications"  # a form sent by POST: no number in the URL
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "#verifications tbody tr")
    assert len(rows) == 1
    assert "+1312****201" in browser.find("#searched").text
    assert "5550201" not in browser.driver.page_source
    browser.screenshot("verifications-search")
    old = browser.find("main")
    rows[0].find_element(By.CSS_SELECTOR, "a").click()
    WebDriverWait(browser.driver, WAIT_SECONDS).until(ec.staleness_of(old))
    browser.wait_for(By.ID, "timeline")
    assert browser.find("#outcome").text == "approved"
    timeline = browser.find("#timeline").text
    assert "wrong code" in timeline and "right code" in timeline and "delivered" in timeline
    assert "short code 22395" in browser.find("#sends").text
    browser.screenshot("verification", whole_page=True)


def test_a_webhook_endpoint_shows_its_secret_once_and_a_failed_delivery_is_retried(
    browser, admin, worker, steady_ids
):
    browser.sign_in()
    browser.open("/webhooks")
    assert "No webhook endpoints" in browser.find("#endpoints").text
    for event in ("verification.approved", "verification.failed"):
        browser.find(f'#create-endpoint input[value="{event}"]').click()
    browser.submit("#create-endpoint", url="http://127.0.0.1:9/hooks", description="Orders backend")
    secret = browser.find("#new-secret-value").text
    assert secret.startswith("whsec_")
    endpoint_id = browser.find("#endpoint-id").text
    endpoint_page = f"/webhooks/default/{endpoint_id}"
    # shown once: never on the endpoint's page or the list again
    browser.open(endpoint_page)
    assert secret not in browser.driver.page_source
    browser.open("/webhooks")
    assert secret not in browser.driver.page_source
    assert "verification.approved, verification.failed" in browser.find("#endpoints").text
    browser.screenshot("webhooks")
    # a test ping, which nothing answers: one failed attempt; then retried by hand
    browser.open(endpoint_page)
    browser.submit("#test-endpoint")
    assert "ping event is queued" in browser.find("#notice").text
    drain(worker)
    browser.open(endpoint_page)
    row = browser.find("#deliveries tbody tr")
    assert row.find_element(By.CSS_SELECTOR, ".attempts").text == "1"
    assert "connect_error" in row.find_element(By.CSS_SELECTOR, ".answer").text
    browser.submit("#deliveries tbody tr form")
    assert "due again now" in browser.find("#notice").text
    drain(worker)
    browser.open(endpoint_page)
    assert browser.find("#deliveries tbody tr .attempts").text == "2"
    browser.screenshot("webhook", whole_page=True)
    audit = admin.get("/v1/admin/audit").json["data"]
    assert [(e["action"], e["key_id"]) for e in audit[:3]] == [
        ("webhook_delivery.retry", "test-admin"),
        ("webhook.test", "test-admin"),
        ("webhook.create", "test-admin"),
    ]
