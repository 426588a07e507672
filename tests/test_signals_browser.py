"""The signals and comparability pages in headless Chromium, with screenshots for review."""

from __future__ import annotations

import re
import threading

import pytest
from conftest import TEST_END, TEST_PASSWORD, app_for, sign_in, wait_until_drawn
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

pytestmark = pytest.mark.browser


def test_signals_and_comparability_pages(page: Page, live_url, output_dir, console_errors):
    sign_in(page, live_url, "t.leader")
    expect(page.locator("#whoami")).to_contain_text("Quality leadership", timeout=15000)
    page.get_by_role("link", name="Signals").click()
    expect(page).to_have_url(f"{live_url}/signals")

    page.goto(f"{live_url}/signals?site=CHI")
    expect(page.locator("#signals-drift-lead")).to_contain_text(
        re.compile(r"The warning came \d+\.\d days before the first action-level excursion"), timeout=30000)
    expect(page.locator("#signals-imr .main-svg").first).to_be_visible()
    expect(page.locator("#signals-drift .main-svg").first).to_be_visible()
    expect(page.locator(".systemic-cluster").first).to_be_visible(timeout=30000)
    expect(page.locator("#signals-page")).to_contain_text("DOC-ENTRY")
    expect(page.locator("#signals-backtest")).to_contain_text("Naive baseline AUC", timeout=30000)
    # The sample's model beats chance and the naive baseline (its staffing-strain mechanism): ranked.
    expect(page.locator("#signals-risk-earned")).to_contain_text("the model beats both")
    expect(page.locator("#signals-risk-table tbody tr")).to_have_count(9)
    expect(page.locator("#signals-risk-calibration .main-svg").first).to_be_visible()
    expect(page.locator("#signals-risk-per-site tbody tr")).to_have_count(9)
    page.locator("#signals-risk").screenshot(path=str(output_dir / "signals-risk-earned.png"))
    expect(page.locator("#signals-proposals-table tbody tr").first).to_be_visible()
    wait_until_drawn(page)
    page.screenshot(path=str(output_dir / "signals.png"), full_page=True)

    # Review one proposal: dismiss it with a reason and the signature; its row says so at once.
    page.locator("#signals-review-proposal").click()
    option = page.locator(".dash-dropdown-option, [role=option]").first
    chosen = option.inner_text().split(" · ")[0].strip()
    option.click()
    page.get_by_label("Dismiss").check()
    page.get_by_label(re.compile("^Reason")).fill("Reviewed with the site: already covered by an open CAPA")
    page.get_by_label("Password of t.leader").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign and record the decision").click()
    expect(page.locator("#review-done")).to_contain_text(f"{chosen} dismissed by t.leader", timeout=30000)
    row = page.locator("#signals-proposals-table tbody tr", has_text=chosen)
    expect(row).to_contain_text("dismissed by t.leader", timeout=30000)
    expect(row).to_contain_text("already covered by an open CAPA")
    page.locator("#review-section").screenshot(path=str(output_dir / "signals-review.png"))

    page.get_by_role("link", name="Comparability").click()
    expect(page).to_have_url(f"{live_url}/comparability")
    expect(page.locator("#comparability-tost tbody tr").first).to_be_visible(timeout=30000)
    expect(page.locator("#comparability-ppk tbody tr").first).to_be_visible()
    expect(page.locator("#comparability-funnel .main-svg").first).to_be_visible()
    expect(page.locator("#comparability-page")).to_contain_text("Onboarding: SEA")
    wait_until_drawn(page)
    # Every site's distribution is drawn, those without outliers too (plotly.js skips a box whose sample
    # list is empty: they had vanished).
    traces = page.locator("#comparability-boxes .js-plotly-plot").evaluate("el => el.data.length")
    assert traces >= 6 * 3, traces
    expect(page.locator("#comparability-boxes path.box")).to_have_count(traces)
    page.screenshot(path=str(output_dir / "comparability.png"), full_page=True)
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors


@pytest.fixture
def control_site(control_warehouse):
    """A server over the negative control: the sample without its leading-indicator mechanism."""
    app = app_for(control_warehouse, now=TEST_END.isoformat(), simulator=False)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.requirement("URS-STA-007")
def test_a_risk_ranking_not_earned_is_withheld_in_words(page: Page, control_site, output_dir, console_errors):
    sign_in(page, control_site, "t.leader")
    expect(page.locator("#whoami")).to_contain_text("Quality leadership", timeout=15000)
    page.goto(f"{control_site}/signals")
    withheld = page.locator("#signals-risk-withheld")
    expect(withheld).to_contain_text("No risk ranking: the model has not earned it", timeout=60000)
    expect(withheld).to_contain_text("does not exclude chance (0.5)")
    expect(page.locator("#signals-risk-table")).to_have_count(0)
    expect(page.locator("#signals-risk-chart")).to_have_count(0)
    # The evidence stays: calibration of the backtest and each site's own backtest months.
    expect(page.locator("#signals-risk-calibration .main-svg").first).to_be_visible()
    expect(page.locator("#signals-risk-per-site tbody tr")).to_have_count(9)
    wait_until_drawn(page)
    page.locator("#signals-risk").screenshot(path=str(output_dir / "signals-risk-withheld.png"))
