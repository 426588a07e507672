"""/people in headless Chromium: the coaching story at PHX, suppression labels, screenshot saved."""

from __future__ import annotations

import re

import pytest
from conftest import choose, sign_in
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_people_page_shows_the_coaching_story(page: Page, live_url, output_dir, console_errors):
    sign_in(page, live_url, "t.leader")
    expect(page.locator("#whoami")).to_contain_text("Quality leadership", timeout=15000)
    page.get_by_role("link", name="People").click()
    expect(page).to_have_url(f"{live_url}/people")
    expect(page.locator("#people-index-sites .main-svg").first).to_be_visible(timeout=20000)
    choose(page, "people-site", re.compile(r"\(PHX\)"))
    expect(page.locator("#people-coaching-table")).to_contain_text("56 %", timeout=20000)
    expect(page.locator("#people-coaching-table")).to_contain_text("28 of 50")
    expect(page.locator("#people-coaching-table")).to_contain_text("0 of 22")
    expect(page.locator("#people-index-teams .main-svg").first).to_be_visible(timeout=20000)
    expect(page.locator("#people-behaviour-caveat")).to_contain_text("is a good sign")
    expect(page.locator("#people-behaviour-caveat")).to_contain_text("Correlation is not causation")
    expect(page.locator("#people-rho")).to_have_text(re.compile(r"^ρ = [+-]0\.\d\d · 95 % CI"))
    expect(page.locator("#people-sop-load .main-svg").first).to_be_visible()
    page.get_by_label("365 days").check()  # a year of training and SOP data for the picture
    expect(page.locator("#people-as-of")).to_contain_text("2025-06-01 to 2026-06-01", timeout=20000)
    expect(page.locator("#people-rho")).to_contain_text("n = ")
    page.wait_for_timeout(800)  # let plotly finish drawing before the picture
    page.screenshot(path=str(output_dir / "people-PHX.png"), full_page=True)
    # 2026-Q1 at PHX: Manufacturing had 3 respondents, so both teams are suppressed (14 - 11 = 3).
    choose(page, "people-wave", "2026-Q1")
    expect(page.locator("#people-alpha-table")).to_contain_text("2026-Q1")
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors
    assert not [e for e in console_errors if "callback" in e.lower()], console_errors
