"""The audit page in headless Chromium at 1920 px, and the skip link every page starts with (issue 28)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import sign_in
from playwright.sync_api import Browser, expect

from queries.records import audit

pytestmark = pytest.mark.browser


@pytest.mark.requirement("URS-AUD-008")
def test_audit_entries_fit_the_screen_and_every_cell_is_reachable(browser: Browser, live_url, sample_warehouse,
                                                                  output_dir):
    from test_accessibility import run_axe

    # An entry with a long JSON value (as a settings change or an export writes).
    long_value = json.dumps({"filters": {f"field_{i}": "x" * 40 for i in range(30)}, "sha256": "ab" * 32})
    audit.append(sample_warehouse, user_id="t.admin", action="settings_changed", object_type="settings",
                 object_id="layout-test", new_value=long_value, old_value=long_value[:400])
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    sign_in(page, live_url, "t.auditor")
    page.goto(f"{live_url}/audit")
    today = datetime.now(UTC).date()  # entries are stamped with the real clock
    page.locator("#audit-since").fill((today - timedelta(days=1)).isoformat())
    page.locator("#audit-until").fill((today + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Apply filters").click()
    row = page.locator("#audit-entries tbody tr", has_text="layout-test").first
    expect(row).to_be_visible(timeout=15000)
    geometry = page.evaluate("""() => {
        const table = document.querySelector('#audit-entries');
        const rows = [...table.querySelectorAll('tbody tr')].map(r => r.getBoundingClientRect().height);
        return {width: table.getBoundingClientRect().width, viewport: window.innerWidth, tallest: Math.max(...rows)};
    }""")
    assert geometry["width"] <= geometry["viewport"], geometry  # no column three screens to the right
    page.screenshot(path=str(output_dir / "audit-1920-closed.png"), full_page=True)
    assert geometry["tallest"] < 120, geometry  # long values are closed until asked for
    details = row.locator("details")
    expect(details.locator("pre").first).to_be_hidden()
    details.locator("summary").click()
    expect(details.locator("pre").first).to_be_visible()
    opened = row.bounding_box()["height"]
    assert opened <= 2 * 16 * 16 + 200, opened  # each value box stops at 16 rem and scrolls inside
    expect(page.locator(".audit-scroll")).to_have_attribute("tabindex", "0")
    page.screenshot(path=str(output_dir / "audit-1920.png"), full_page=True)
    violations = run_axe(page)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
    context.close()


def test_the_first_tab_offers_a_skip_to_the_page(browser: Browser, live_url):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    sign_in(page, live_url, "t.leader")
    expect(page.locator(".site-grid").first).to_be_visible(timeout=15000)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "skip-link"
    expect(page.locator("#skip-link")).to_be_visible()  # shown while focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is inside the page, not the navigation
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")
    context.close()
