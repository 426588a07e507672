"""The import page in headless Chromium at 1920 px, on a server of its own over a copy of the sample network:
a quality lead uploads the example eQMS export, reads the dry run, imports it and sees it on the overview;
a file with bad rows shows its problems table and enables the report, not the import."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pandas as pd
import pytest
import test_import_page
from conftest import choose, sign_in, wait_until_drawn
from playwright.sync_api import Browser, expect
from werkzeug.serving import make_server

pytestmark = pytest.mark.browser
served = test_import_page.served  # fixture: an app over a copy of the sample network, uploads in a temp folder
EXAMPLE = test_import_page.EXAMPLE


@pytest.fixture(scope="module")
def import_url(served):
    server = make_server("127.0.0.1", 0, served[0].server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def import_page(browser: Browser, base: str):
    """A 1920 px browser context signed in as the quality lead, on /import, drawn."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    sign_in(page, base, "t.leader")
    page.goto(f"{base}/import")
    expect(page.locator("#import-intro")).to_be_visible(timeout=15000)
    return context, page


def test_upload_dry_run_import_and_the_problems_table(browser: Browser, import_url, served, output_dir,
                                                      tmp_path: Path):
    from test_accessibility import run_axe

    _, wh, _ = served
    context, page = import_page(browser, import_url)
    choose(page, "import-profile", "Generic eQMS deviation export")
    page.locator("#import-upload input[type=file]").set_input_files(str(EXAMPLE))
    plan = page.locator("#import-plan")
    expect(plan).to_contain_text("3 to insert, 0 to update, 0 unchanged", timeout=20000)
    # The rows as the profile maps them: the hub's codes, times in UTC (08:15 CDT is 13:15 UTC).
    preview = page.locator("#import-preview-rows tbody tr")
    expect(preview).to_have_count(3)
    expect(preview.nth(0)).to_contain_text("EQMS-2026-0101")
    expect(preview.nth(0)).to_contain_text("2026-05-20 13:15:00")
    expect(preview.nth(0)).to_contain_text("minor")
    commit = page.get_by_role("button", name="Import: 3 new, 0 updated")
    expect(commit).to_be_enabled()
    wait_until_drawn(page)
    page.screenshot(path=str(output_dir / "import-dry-run-1920.png"), full_page=True)
    violations = run_axe(page)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
    commit.click()
    expect(page.locator("#import-done")).to_contain_text("3 inserted, 0 updated, 0 unchanged", timeout=20000)
    expect(page.locator("#import-commit")).to_be_disabled()
    assert test_import_page.scalar(wh, "SELECT COUNT(*) FROM deviations WHERE deviation_id LIKE 'EQMS-%'") == 3

    bad = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    bad.loc[1, "Classification"] = "Severe"
    bad.loc[2, "Date Discovered"] = "yesterday"
    path = tmp_path / "eqms_deviations_bad.csv"
    bad.to_csv(path, index=False)
    page.locator("#import-upload input[type=file]").set_input_files(str(path))
    expect(page.locator("#import-refused")).to_contain_text("2 problems", timeout=20000)
    rows = page.locator("#import-errors tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("'Severe' is not in the profile's codes for severity")
    expect(page.get_by_role("button", name="Download the full report (CSV)")).to_be_enabled()
    expect(page.locator("#import-commit")).to_be_disabled()
    page.screenshot(path=str(output_dir / "import-refused-1920.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the full report (CSV)").click()
    report = Path(download.value.path()).read_text()
    assert report.count("\n") == 3 and "yesterday" in report
    # The imported deviation is on its site's page and opens as a record.
    page.goto(f"{import_url}/site/CHI")
    expect(page.locator("#site-deviation-list")).to_contain_text("EQMS-2026-0101", timeout=20000)
    page.goto(f"{import_url}/deviation/EQMS-2026-0101")
    expect(page.locator("main, #main").first).to_contain_text("Missing second-person verification", timeout=15000)
    context.close()


def test_a_long_dry_run_shows_its_progress_then_its_result(browser: Browser, import_url, output_dir, tmp_path: Path):
    """150,000 near misses (about 10 MB): while the dry run reads them, a progress bar counts the rows
    against the file's; it goes away when the result is shown."""
    rows = 150_000
    big = tmp_path / "near_misses_big.csv"
    pd.DataFrame({"near_miss_id": [f"NMB-{i:07d}" for i in range(rows)], "site_id": "CHI",
                  "reported_at": "2026-01-01T08:00:00", "category": "labelling"}).to_csv(big, index=False)
    context, page = import_page(browser, import_url)
    choose(page, "import-table", "Near misses")
    page.locator("#import-upload input[type=file]").set_input_files(str(big))
    progress = page.locator("#import-progress-text")
    expect(progress).to_contain_text(re.compile(r"Checking: [\d,]+ of about 150,000 rows \(\d+ %\)"), timeout=60000)
    expect(page.locator("#import-progress progress")).to_be_visible()
    page.screenshot(path=str(output_dir / "import-progress-1920.png"))
    expect(page.locator("#import-plan")).to_contain_text("150,000 to insert", timeout=120000)
    expect(page.locator("#import-progress")).to_be_hidden()
    context.close()


def test_a_dropped_file_is_sent_and_a_refused_one_says_why(browser: Browser, import_url):
    """Dropped on the zone instead of chosen: the file goes the same way (the upload route, then the dry
    run); a file of another type is refused by the server with its message, and nothing is planned."""
    context, page = import_page(browser, import_url)
    choose(page, "import-table", "Near misses")

    def drop(name: str, text: str) -> None:
        transfer = page.evaluate_handle("""([name, text]) => { const t = new DataTransfer();
            t.items.add(new File([text], name, {type: 'text/csv'})); return t; }""", [name, text])
        page.locator("#import-upload").dispatch_event("drop", {"dataTransfer": transfer})

    drop("notes.txt", "near_miss_id\nNMD-1\n")
    expect(page.locator("#import-send-status")).to_contain_text("unsupported file type", timeout=15000)
    expect(page.locator("#import-plan")).to_have_count(0)
    drop("dropped.csv", "near_miss_id,site_id,reported_at,category\nNMD-1,CHI,2026-01-01T08:00:00,labelling\n")
    expect(page.locator("#import-sha256")).to_be_visible(timeout=15000)
    expect(page.locator("#import-plan")).to_contain_text("1 to insert", timeout=30000)
    context.close()
