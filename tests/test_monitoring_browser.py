"""End to end in headless Chromium: readings published to a private Mosquitto cross an action limit;
the app's own bridge stores them, the excursion tile appears on the overview within seconds without
a reload, and the site's monitoring page names the batches in the room as potential product impact."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from conftest import app_for, sign_in
from live_support import batch_rows, mosquitto, publish_all, publisher, ramp, seed_network, utc_now
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from queries.engine.warehouse import Warehouse

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]
TILE_DEADLINE_S = 5.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with mosquitto(tmp_path_factory.mktemp("broker")) as b:
        yield b


@pytest.fixture(scope="module")
def live_site(tmp_path_factory, broker):
    """The app with its in-app bridge on the private broker (the ATMP_MQTT_URL path), real clock."""

    wh = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('e2e') / 'hub.duckdb'}")
    wh.create_schema()
    now = utc_now()
    seed_network(wh, with_users=True, batches=batch_rows([
        ("CHI-B0101", "CHI", "CHI-B1", now - timedelta(days=2), None),  # in the room now: impacted
        ("CHI-B0102", "CHI", "CHI-B1", now - timedelta(days=15), now - timedelta(days=4)),  # finished
        ("CHI-B0103", "CHI", "CHI-C1", now - timedelta(days=1), None),  # another room
        ("ATL-B0101", "ATL", "ATL-B1", now - timedelta(days=1), None),  # another site
    ]))
    app = app_for(wh, simulator=False, mqtt_url=broker.url, mqtt_client_id=f"e2e-{now:%H%M%S%f}",
                  monitoring_refresh_s=1)
    live = app.server.extensions["atmp_live"]
    assert live.mode == "bridge" and live.bridge.wait_connected(10)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", wh
    server.shutdown()
    live.stop()
    wh.dispose()


@pytest.mark.requirement("URS-MON-006", "URS-MON-007", "URS-MON-009")
def test_action_excursion_reaches_the_overview_tile_and_names_the_impacted_batches(
        page: Page, live_site, broker, output_dir, console_errors):
    base, wh = live_site
    sign_in(page, base, "lead")
    expect(page.locator("#overview-excursion-tiles")).to_contain_text("No open excursions", timeout=15000)

    # Grade B room temperature: 21 degC, then above the 22 degC action limit for 100 s (delay 60 s).
    now = utc_now()
    values = [21.0, 21.2, 21.6, 22.4, 22.7, 22.9, 22.8, 22.8, 22.9, 22.7, 22.8, 22.8, 22.6, 22.6]
    readings = ramp("CHI-B1-T", "degC", values, start=now - timedelta(seconds=10 * (len(values) - 1)), step_s=10,
                    tag=f"e2e-{now:%H%M%S}")
    pub = publisher(broker)
    published = time.monotonic()
    publish_all(pub, readings)
    tile = page.locator(".excursion-tile", has_text="Temperature")
    expect(tile).to_be_visible(timeout=TILE_DEADLINE_S * 1000)
    seen_after = time.monotonic() - published
    pub.disconnect()
    expect(tile).to_contain_text("Action")
    expect(tile).to_contain_text("CHI")
    expect(tile).to_contain_text("CHI Grade B processing cleanroom (CHI-B1)")
    expect(tile).to_contain_text(re.compile(r"peak 22\.\d\d °C"))  # a peak carries its unit
    first_age = tile.locator(".excursion-age").inner_text()
    expect(tile.locator(".excursion-age")).not_to_have_text(first_age, timeout=4000)  # it ticks, no reload
    page.screenshot(path=str(output_dir / "monitoring-overview-excursion.png"), full_page=True)
    print(f"excursion tile visible {seen_after:.2f} s after publishing")
    assert seen_after < TILE_DEADLINE_S

    tile.get_by_role("link", name=re.compile("Monitoring")).click()
    expect(page).to_have_url(f"{base}/monitoring/CHI")
    row = page.locator("#excursion-list tbody tr", has_text="Temperature")
    expect(row).to_contain_text("CHI-B0101", timeout=10000)
    expect(row).not_to_contain_text("CHI-B0102")
    expect(row).not_to_contain_text("CHI-B0103")
    expect(row).to_contain_text("open")
    expect(row).to_contain_text("(proposed, awaiting QA review)")  # a proposal, not a deviation
    expect(row).to_contain_text("°C")
    live_temperature = page.locator('[id=\'{"sensor":"CHI-B1-T","type":"live-sensor"}\']')
    expect(live_temperature).to_contain_text("22.60 °C")
    expect(live_temperature).to_contain_text("Action level")
    expect(page.locator("#monitoring-as-of")).to_contain_text("America/Chicago")
    expect(page.locator("#monitoring-trend .main-svg").first).to_be_visible()
    expect(page.locator("#ack-section")).to_be_visible()
    page.screenshot(path=str(output_dir / "monitoring-site-CHI.png"), full_page=True)

    deviation = wh.query("monitoring/excursions", {"since": now - timedelta(hours=1), "until": utc_now()},
                         scope=_scope(wh))
    assert (deviation.level == "action").sum() == 1 and deviation.deviation_id.notna().any()
    assert not console_errors, console_errors  # e.g. a callback of /monitoring fired into this page


def _scope(wh):
    from queries.engine.scope import build_scope

    return build_scope(user_id="t", role="leadership", own_site=None, all_sites=list(wh.query("sql/site_ids").site_id),
                       end=utc_now(), days=1)
