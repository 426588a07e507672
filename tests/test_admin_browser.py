"""The admin pages in headless Chromium: an administrator lands on the users page after signing in and adds
a user with a signed form (the new row appears), then creates a display token (shown once, listed).
Screenshots for review."""

from __future__ import annotations

import re
import uuid

import pytest
from conftest import TEST_PASSWORD, sign_in
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_admin_lands_on_users_adds_a_user_and_creates_a_token(page: Page, live_url, output_dir, console_errors):
    sign_in(page, live_url, "t.admin")
    expect(page).to_have_url(f"{live_url}/admin/users", timeout=15000)
    expect(page.locator("#whoami")).to_contain_text("Administrator")
    expect(page.locator("#users-table tbody tr", has_text="t.manager.chi")).to_contain_text("CHI")
    expect(page.locator("#navbar").get_by_role("link", name="Display tokens")).to_be_visible()

    new_id = f"t.browser.{uuid.uuid4().hex[:6]}"
    form = page.locator("#admin-add-form")
    form.get_by_label("User id (the login name)").fill(new_id)
    form.get_by_label("Name", exact=True).fill("Robin Browser")
    form.get_by_label("Role").select_option("auditor")
    form.get_by_label(re.compile("^Initial password")).fill("initial-password-123")
    form.get_by_label(re.compile("^Reason")).fill("Joined the audit team (ticket HR-204)")
    form.get_by_label("Password of t.admin (electronic signature)").fill(TEST_PASSWORD)
    form.get_by_role("button", name="Sign and add the user").click()

    expect(page.locator("#admin-add-result-done")).to_contain_text(f"User {new_id} (auditor) added by t.admin",
                                                                   timeout=30000)
    row = page.locator("#users-table tbody tr", has_text=new_id)
    expect(row).to_contain_text("Robin Browser", timeout=30000)
    expect(row).to_contain_text("auditor")
    expect(form.get_by_label("Password of t.admin (electronic signature)")).to_have_value("")
    page.wait_for_timeout(300)
    page.screenshot(path=str(output_dir / "admin-users.png"), full_page=True)

    page.locator("#navbar").get_by_role("link", name="Display tokens").click()
    expect(page).to_have_url(f"{live_url}/admin/display-tokens")
    form = page.locator("#admin-token-form")
    form.get_by_label("Display user (role: wall display)").select_option("t.display")
    form.get_by_label("Label: where the screen is").fill("QA corridor TV")
    form.get_by_label(re.compile("^Reason")).fill("New screen in the QA corridor")
    form.get_by_label("Password of t.admin (electronic signature)").fill(TEST_PASSWORD)
    form.get_by_role("button", name="Sign and create the token").click()
    expect(page.locator("#admin-new-token")).to_have_text(re.compile(r"^dt_[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$"),
                                                          timeout=30000)
    token_id = page.locator("#admin-new-token").inner_text().split(".")[0]
    expect(page.locator("#tokens-table tbody tr", has_text=token_id)).to_contain_text("✓ active", timeout=30000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(output_dir / "admin-display-tokens.png"), full_page=True)
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors
