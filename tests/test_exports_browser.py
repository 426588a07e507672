"""Exports in the browser: an auditor gets the inspection binder of a site in one click."""

from __future__ import annotations

import io
import re

import pytest
from conftest import sign_in
from playwright.sync_api import Page, expect
from pypdf import PdfReader

pytestmark = pytest.mark.browser


@pytest.mark.requirement("URS-EXP-006")
def test_inspection_binder_in_one_click(page: Page, live_url, output_dir, console_errors):
    sign_in(page, live_url, "t.auditor")
    page.goto(f"{live_url}/site/CHI")
    expect(page.locator("#site-title")).to_contain_text("(CHI)", timeout=20000)
    page.screenshot(path=str(output_dir / "site-CHI-exports.png"))
    with page.expect_download(timeout=60000) as download:
        page.get_by_role("button", name=re.compile("Inspection binder")).click()
    path = output_dir / "inspection-binder-CHI.pdf"
    download.value.save_as(path)
    assert re.fullmatch(r"atmp_site_CHI_report_\d{8}T\d{6}Z\.pdf", download.value.suggested_filename)
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Inspection binder" in text and "(CHI)" in text and "Exported by t.auditor" in text
    expect(page.locator(".export-status").first).to_contain_text("✓ atmp_site_CHI_report_")

    # A chart from the format menu.
    with page.expect_download(timeout=60000) as chart:
        page.get_by_role("button", name="Export charts and data").click()
        page.screenshot(path=str(output_dir / "site-CHI-export-menu.png"))
        page.get_by_text("PNG image of Deviation timeline").click()
    assert chart.value.suggested_filename.endswith(".png")
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors


@pytest.mark.requirement("URS-EXP-005")
def test_display_and_site_manager_see_only_their_exports(page: Page, live_url):
    sign_in(page, live_url, "t.manager.chi")
    expect(page.locator(".site-grid tbody tr").first).to_be_visible(timeout=20000)
    expect(page.locator("#overview-exports")).to_have_count(0)
    page.goto(f"{live_url}/site/CHI")
    expect(page.locator("#site-exports")).to_be_visible(timeout=20000)
