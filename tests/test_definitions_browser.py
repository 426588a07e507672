"""'Every definition one click away' in headless Chromium: a KPI tile's or grid header's link to
/definitions#kpi-<id> is followed inside the app (no page load), and the definition is scrolled into
view and highlighted (assets/anchor.js), not left at the top of a long page."""

from __future__ import annotations

import re

import pytest
from conftest import sign_in
from playwright.sync_api import Page, expect

from queries.kpi.catalog import CATALOG

pytestmark = pytest.mark.browser

# Where the definition sits once scrolling has settled (Bootstrap scrolls smoothly unless the user asks
# for reduced motion): fully in the window, and at its top unless the page has no more room below.
SETTLED = """id => { const el = document.getElementById(id); if (!el) return false;
    const r = el.getBoundingClientRect(), h = window.innerHeight;
    const atBottom = window.scrollY + h >= document.documentElement.scrollHeight - 2;
    return r.top >= 0 && r.bottom <= h && (r.top < h / 3 || atBottom) && window.scrollY > 0; }"""


def assert_landed(page: Page, kpi_id: str) -> None:
    target = page.locator(f"#kpi-{kpi_id}")
    expect(target).to_have_class(re.compile(r"\banchor-target\b"), timeout=15000)
    expect(target).to_be_in_viewport()
    page.wait_for_function(SETTLED, arg=f"kpi-{kpi_id}", timeout=10000)  # in view, page scrolled down
    expect(page.locator(".definition.anchor-target")).to_have_count(1)  # only the one is highlighted
    assert page.evaluate("document.activeElement.id") == f"kpi-{kpi_id}"  # keyboard users start there too


@pytest.mark.requirement("URS-KPI-002")
def test_definition_links_scroll_to_and_highlight_the_definition(page: Page, live_url, output_dir,
                                                                  console_errors):
    sign_in(page, live_url, "t.leader")
    tile_link = page.locator("""[id='{"kpi":"psych_safety","type":"kpi-tile"}'] a.tile-title""")
    expect(tile_link).to_be_visible(timeout=15000)
    page.evaluate("window.__sameDocument = true")  # gone if the browser loaded a new page
    tile_link.click()
    expect(page).to_have_url(f"{live_url}/definitions#kpi-psych_safety")
    assert_landed(page, "psych_safety")
    assert page.evaluate("window.__sameDocument === true")  # client-side navigation, as in the issue
    page.screenshot(path=str(output_dir / "definitions-psych_safety.png"))

    # The site grid's header links go through assets/grid.js, which scrolls to the top after navigating.
    page.go_back()
    expect(page).to_have_url(f"{live_url}/")
    last = CATALOG[-1]
    header = page.locator(f".site-grid thead a[href='/definitions#kpi-{last.id}']")
    expect(header).to_be_visible(timeout=15000)
    header.click()
    expect(page).to_have_url(f"{live_url}/definitions#kpi-{last.id}")
    assert_landed(page, last.id)
    expect(page.locator("#kpi-psych_safety")).not_to_have_class(re.compile(r"\banchor-target\b"))
    assert page.evaluate("window.__sameDocument === true")
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors
