"""The Notifications page in headless Chromium: quality leadership adds a rule with the signed form (it
appears in the rules), queues it a test message (it appears among the messages waiting), and switches the
rule off. Screenshot for review."""

from __future__ import annotations

import re
import uuid

import pytest
from conftest import TEST_PASSWORD, sign_in
from playwright.sync_api import Page, expect
from test_accessibility import run_axe

pytestmark = pytest.mark.browser


def test_leadership_edits_the_rules_and_queues_a_test(page: Page, live_url, output_dir, console_errors):
    sign_in(page, live_url, "t.leader")
    page.locator("#navbar").get_by_role("link", name="Notifications").click()
    expect(page).to_have_url(f"{live_url}/notifications")
    address = f"oncall-{uuid.uuid4().hex[:6]}@example.org"
    form = page.locator("#notifications-add-form")
    form.get_by_label("Event", exact=True).select_option("excursion_action")
    form.get_by_label("Site", exact=True).select_option("CHI")
    form.get_by_label("E-mail address or webhook URL").fill(address)
    form.get_by_label("Remind every (minutes)").fill("10")
    form.get_by_label("Reminders, at most").fill("3")
    form.get_by_label(re.compile("^Reason")).fill("Night on-call at CHI (QA roster 2026-12)")
    form.get_by_label("Password of t.leader (electronic signature)").fill(TEST_PASSWORD)
    form.get_by_role("button", name="Sign and add the rule").click()
    expect(page.locator("#notifications-add-result-done")).to_contain_text("added", timeout=30000)
    row = page.locator("#notifications-rules tbody tr", has_text=address)
    expect(row).to_contain_text("at once, then every 10 min up to 3 more times", timeout=30000)
    expect(row).to_contain_text("✓ active")
    rule_id = row.locator("code").inner_text()

    tests = page.locator("#notifications-off-form")
    tests.get_by_label("Rule").last.select_option(rule_id)
    tests.get_by_role("button", name="Queue a test message").click()
    expect(page.locator("#notifications-test-result")).to_contain_text(f"A test message to {address} is queued")
    # The lists are read again every 10 s; the test app runs no dispatcher, so the message waits.
    expect(page.locator("#notifications-open-table tbody tr", has_text=address)).to_contain_text(
        "waiting", timeout=30000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(output_dir / "notifications.png"), full_page=True)

    tests.get_by_label("Rule").first.select_option(rule_id)
    tests.get_by_label(re.compile("^Reason")).fill("Roster changed")
    tests.get_by_label("Password of t.leader (electronic signature)").fill(TEST_PASSWORD)
    tests.get_by_role("button", name="Sign and switch the rule off").click()
    expect(page.locator("#notifications-off-result-done")).to_contain_text(f"Rule {rule_id} switched off")
    expect(page.locator("#notifications-rules tbody tr", has_text=address)).to_contain_text("✕ off", timeout=30000)
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors


@pytest.fixture
def served_excursion(tmp_path):
    """An app serving a small network with an open CHI action excursion, and a link to acknowledge it."""
    import threading

    from conftest import app_for
    from live_support import open_excursion_with_link
    from werkzeug.serving import make_server

    wh, excursion_id, token = open_excursion_with_link(tmp_path / "hub.duckdb")
    server = make_server("127.0.0.1", 0, app_for(wh, simulator=False).server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", excursion_id, token
    server.shutdown()
    wh.dispose()


def test_the_link_in_a_message_signs_in_and_acknowledges(page: Page, served_excursion, output_dir, console_errors):
    """The remote acknowledgement as a site manager meets it: the link opens the sign-in page, which leads
    back to the link; a comment and the password acknowledge the excursion; the link then is used up."""
    base, excursion_id, token = served_excursion
    page.goto(f"{base}/ack/{token}")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("User name").fill("mgr.chi")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/ack/{token}", timeout=15000)
    expect(page.locator("h1")).to_have_text(f"Acknowledge excursion {excursion_id}")
    assert run_axe(page) == []  # no serious or critical accessibility violation on the form
    page.get_by_label(re.compile("^Comment")).fill("Reviewed from the e-mail: HVAC reset, no batch affected")
    page.get_by_label("Password of mgr.chi (electronic signature)").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign and acknowledge").click()
    expect(page.locator("#ack-done")).to_contain_text(f"{excursion_id} acknowledged by mgr.chi", timeout=30000)
    page.screenshot(path=str(output_dir / "ack-link.png"), full_page=True)
    page.goto(f"{base}/ack/{token}")
    expect(page.locator("#ack-link-refused")).to_contain_text("used already, by mgr.chi")
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors
