"""The pages in headless Chromium: log in, see numbers, drill into a site and back; screenshots saved."""

from __future__ import annotations

import re

import pytest
from conftest import sign_in
from playwright.sync_api import Page, expect

from queries.kpi import catalog
from queries.kpi.catalog import CATALOG

pytestmark = pytest.mark.browser


def tile_selector(kpi_id: str) -> str:
    # Dash writes a dict id as JSON with sorted keys.
    return f"""[id='{{"kpi":"{kpi_id}","type":"kpi-tile"}}']"""


def test_overview_drilldown_and_back(page: Page, live_url, output_dir, console_errors):
    sign_in(page, live_url, "t.leader")
    tile = page.locator(tile_selector("mttd"))
    expect(tile.locator(".tile-value")).to_have_text(re.compile(r"^\d[\d,]*\.\d h$"), timeout=15000)
    for kpi in ("recurrence", "consistency", "psych_safety"):
        value = page.locator(tile_selector(kpi) + " .tile-value")
        expect(value).to_have_text(re.compile(r"\d"))
    expect(page.locator(".site-grid").first.locator("tbody tr")).to_have_count(10)  # network + hub + 8 nodes
    expect(page.locator("#whoami")).to_contain_text("Quality leadership")
    page.screenshot(path=str(output_dir / "overview.png"), full_page=True)

    page.get_by_role("link", name=re.compile(r"^CHI · ")).first.click()
    expect(page).to_have_url(f"{live_url}/site/CHI")
    expect(page.locator("#site-title")).to_contain_text("(CHI)", timeout=15000)
    expect(page.locator("#site-as-of")).to_contain_text("America/Chicago")
    expect(page.locator(".kpi-comparison tbody tr")).to_have_count(len(CATALOG))
    # plotly.js draws the chart after the callback has filled the page: a hang guard, not a speed claim.
    expect(page.locator("#site-deviation-timeline .main-svg").first).to_be_visible(timeout=30000)
    page.screenshot(path=str(output_dir / "site-CHI.png"), full_page=True)

    page.get_by_role("link", name="← Network overview").click()
    expect(page).to_have_url(f"{live_url}/")
    expect(page.locator(".site-grid").first.locator("tbody tr")).to_have_count(10, timeout=15000)

    page.get_by_role("link", name="KPI definitions").click()
    expect(page.locator("#kpi-mttd")).to_contain_text("Mean time to deviation detection")
    page.screenshot(path=str(output_dir / "definitions.png"), full_page=True)
    # The CSP must not block anything Dash or plotly needs.
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors


def test_from_a_tile_to_a_site_a_deviation_its_batch_and_back(page: Page, live_url, output_dir, console_errors):
    """Issue 28: one click per step from the overview to the record behind a number, and back."""
    sign_in(page, live_url, "t.leader")
    page.get_by_role("link", name=re.compile(r"^CHI · ")).first.click()
    expect(page).to_have_url(f"{live_url}/site/CHI")
    # A timeline point opens its deviation (plotly's own click event on the drawn chart).
    chart = page.locator("#site-deviation-timeline .js-plotly-plot")
    expect(chart).to_be_visible(timeout=30000)
    chart.evaluate("""gd => {
        const trace = gd.data.findIndex(t => t.customdata && t.customdata.length);
        gd.emit('plotly_click', {points: [{curveNumber: trace, pointNumber: 0,
                                           customdata: gd.data[trace].customdata[0]}]});
    }""")
    expect(page).to_have_url(re.compile(r"/deviation/DEV-CHI-\d+$"), timeout=15000)
    expect(page.locator("#deviation-record")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(f"{live_url}/site/CHI")
    # The list under the timeline: keyboard-reachable links to the same records.
    page.locator("#site-deviation-list summary").click()
    link = page.locator("#site-deviations a[href^='/deviation/']").first
    deviation_id = link.inner_text()
    link.click()
    expect(page).to_have_url(f"{live_url}/deviation/{deviation_id}")
    expect(page.locator("#record-title")).to_have_text(f"Deviation {deviation_id}")
    expect(page.locator("#deviation-facts")).to_contain_text("Detected")
    page.screenshot(path=str(output_dir / "deviation-record.png"), full_page=True)
    batch = page.locator("#deviation-facts a[href^='/batch/']")
    batch_id = batch.inner_text()
    batch.click()
    expect(page).to_have_url(f"{live_url}/batch/{batch_id}")
    expect(page.locator("#batch-cqas tbody tr")).to_have_count(6)
    expect(page.locator("#batch-stages")).to_contain_text("manufacture started")
    page.screenshot(path=str(output_dir / "batch-record.png"), full_page=True)
    page.go_back()
    expect(page).to_have_url(f"{live_url}/deviation/{deviation_id}")
    # The CAPA and excursion records of the CHI excursion story, through their links.
    page.goto(f"{live_url}/deviation/DEV-CHI-0086")
    page.locator("#deviation-excursion a[href^='/excursion/']").click()
    expect(page.locator("#excursion-facts")).to_contain_text("Acknowledged")
    expect(page.locator("#excursion-batches tbody tr").first).to_be_visible()
    page.screenshot(path=str(output_dir / "excursion-record.png"), full_page=True)
    page.go_back()
    page.locator("#deviation-capas a[href^='/capa/']").first.click()
    expect(page.locator("#capa-facts")).to_contain_text("Effectiveness")
    page.screenshot(path=str(output_dir / "capa-record.png"), full_page=True)
    page.locator("#record-site-link").click()
    expect(page).to_have_url(f"{live_url}/site/CHI")
    expect(page.locator("#site-title")).to_contain_text("(CHI)", timeout=15000)
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_column_of_the_site_grid_is_inside_the_screen(browser, live_url, output_dir, size):
    """Issue 28: the site x KPI grid, one table per theme, fits the width of a wall screen: every KPI of
    the catalogue is a column, and every column's right edge is inside the viewport (no table scrolls)."""
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    sign_in(page, live_url, "t.leader")
    expect(page.locator(".site-grid").first.locator("tbody tr")).to_have_count(10, timeout=15000)
    edges = page.evaluate("""() => [...document.querySelectorAll('.site-grid thead th')].map(
        th => [th.textContent.trim(), Math.round(th.getBoundingClientRect().right)])""")
    assert len(edges) == len(CATALOG) + len(catalog.THEMES)  # a Site column per theme table
    outside = [(name, right) for name, right in edges if right > width]
    assert not outside, outside
    scrolls = page.evaluate("""() => [...document.querySelectorAll('.site-grid')].filter(
        t => t.parentElement.scrollWidth > t.parentElement.clientWidth).length""")
    assert scrolls == 0
    page.screenshot(path=str(output_dir / f"overview-grid-{width}x{height}.png"), full_page=True)
    context.close()


def test_site_manager_is_kept_to_own_site(page: Page, live_url, output_dir):
    sign_in(page, live_url, "t.manager.chi")
    expect(page.locator(".site-grid").first.locator("tbody tr")).to_have_count(2, timeout=15000)  # network + CHI
    page.goto(f"{live_url}/site/ATL")
    expect(page.locator("#site-not-found")).to_be_visible(timeout=15000)
    expect(page.locator("body")).not_to_contain_text("ATL-")
    page.screenshot(path=str(output_dir / "site-manager-forbidden-site.png"))


def test_sign_out_returns_to_login(page: Page, live_url):
    sign_in(page, live_url, "t.auditor")
    expect(page.locator("#whoami")).to_contain_text("Auditor", timeout=15000)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1"))
    page.goto(f"{live_url}/")
    expect(page).to_have_url(re.compile(r"/login"))
