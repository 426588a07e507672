"""The /validation page in headless Chromium: quality leadership reviews a registered report by signature and
the table says so at once."""

from __future__ import annotations

import re

import pytest
from conftest import TEST_PASSWORD, sign_in
from playwright.sync_api import Browser, expect
from test_validation_reports import NOW, written_report

from queries.records import validation_reports as vr

pytestmark = pytest.mark.browser


@pytest.mark.requirement("URS-VAL-004")
def test_a_leader_reviews_a_report_on_the_page(browser: Browser, live_url, sample_warehouse, output_dir, tmp_path):
    report_id = f"browser-{tmp_path.name}"
    vr.register(sample_warehouse, tmp_path / "report", written_report(tmp_path / "report", report_id), by="cli",
                now=NOW)
    page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    sign_in(page, live_url, "t.leader")
    page.goto(f"{live_url}/validation")
    row = page.locator("#validation-report-table tbody tr", has_text=report_id)
    expect(row).to_contain_text("files match their registered SHA-256", timeout=30000)
    page.locator("#validation-sign-report").click()
    page.locator(".dash-dropdown-option, [role=option]", has_text=report_id).first.click()
    page.get_by_label(re.compile("^Review: ")).check()
    page.get_by_label(re.compile("^Comment")).fill("Checks, traceability and deviations read; none open.")
    page.get_by_label("Password of t.leader").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign the report").click()
    expect(page.locator("#validation-sign-done")).to_contain_text(f"Report {report_id} reviewed by t.leader",
                                                                  timeout=30000)
    expect(row).to_contain_text("t.leader", timeout=30000)
    expect(row).to_contain_text("none open")
    page.screenshot(path=str(output_dir / "validation.png"), full_page=True)
