"""Monitoring pages through crafted callback requests: scope, stale values, trends from rollups, and
the acknowledgement's electronic signature (who may sign, wrong password, audit trail)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import numpy as np
import pytest
from conftest import dash_call, login, ready
from live_support import PASSWORD, batch_rows, ramp, seed_network, utc_now
from sqlalchemy import text

from dashboard import ids
from ingest.writer import IngestWriter, Message
from queries import audit, monitoring
from queries.settings import Settings
from queries.warehouse import Warehouse

ACK_OUTPUTS = [ids.MON_ACK_RESULT, ids.MON_ACK_PASSWORD, ids.MON_ACK_COMMENT]
REFRESH_OUTPUTS = [ids.MON_LIVE, ids.MON_EXCURSIONS, ids.MON_AS_OF, ids.MON_ACK_EXCURSION]
TILE_OUTPUTS = [ids.OV_EXC_TILES, ids.OV_EXC_AS_OF]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A warehouse with live readings: an open action excursion at CHI (batch CHI-B0001 in the room),
    a closed one at CHI, an open one at ATL (batch ATL-B0001 in the room); one CHI sensor silent for
    ten minutes (stale)."""
    path = tmp_path_factory.mktemp("monitoring") / "live.duckdb"
    wh = Warehouse(f"duckdb:///{path}")
    wh.create_schema()
    now = utc_now()
    seed_network(wh, with_users=True, batches=batch_rows([
        ("CHI-B0001", "CHI", "CHI-B1", now - timedelta(days=3), None),
        ("CHI-B0002", "CHI", "CHI-B1", now - timedelta(days=20), now - timedelta(days=10)),
        ("ATL-B0001", "ATL", "ATL-B1", now - timedelta(days=3), None),
    ]))
    writer = IngestWriter(wh)
    start = now - timedelta(minutes=5)
    pairs = (ramp("CHI-B1-T", "degC", [21.0] * 3 + [22.6] * 27, start=start, step_s=10, tag="chi-t")
             + ramp("CHI-A1-P05", "count_m3", [100, 5000, 4800, 120, 110], start=start, step_s=10, tag="chi-p")
             + ramp("ATL-B1-P05", "count_m3", [15_000, 400_000, 410_000, 420_000], start=start + timedelta(minutes=4),
                    step_s=10, tag="atl-p")
             + ramp("CHI-B1-RH", "pct_rh", [45.0], start=now - timedelta(minutes=10), step_s=10, tag="chi-rh"))
    writer.write([Message(t, p, now) for t, p in pairs])
    settings = Settings.from_env({}, database_url=wh.url, secret_key="test-secret-key", simulator=False,
                                 login_rate_per_user="100 per minute", login_rate_per_address="100 per minute")
    from dashboard.app import create_app

    app = ready(create_app(settings, wh))
    yield app, wh
    wh.dispose()


_clients: dict[tuple[int, str], object] = {}


def client_for(app, user_id: str):
    """One signed-in client per user and app (sign-in attempts are rate limited per user name)."""
    key = (id(app), user_id)
    if key not in _clients:
        client = app.server.test_client()
        assert login(client, user_id, PASSWORD).status_code == 302
        _clients[key] = client
    return _clients[key]


def rows(wh, sql: str, **params):
    with wh.engine.connect() as conn:
        return conn.execute(text(sql), params).fetchall()


def open_excursion(wh, site: str, level: str = "action") -> str:
    (row,) = rows(wh, "SELECT excursion_id FROM excursions WHERE site_id = :s AND level = :l AND ended_at IS NULL",
                  s=site, l=level)
    return row[0]


def values(array) -> list:
    """A plotly array from JSON: a list, or a typed array {'dtype', 'bdata' (base64)}."""
    if isinstance(array, dict):
        return list(np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]))
    return list(array or [])


def body(response) -> str:
    assert response.status_code == 200, response.data[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)


# --- overview tiles ---------------------------------------------------------------------------------
def test_overview_tiles_show_open_excursions_within_scope(live):
    app, wh = live
    leader = body(dash_call(client_for(app, "lead"), app, TILE_OUTPUTS, {f"{ids.OV_EXC_TICK}.n_intervals": 3}))
    for site in ("CHI", "ATL"):
        assert open_excursion(wh, site) in leader
    assert "Action" in leader and "open for" in leader and "CHI Grade B processing cleanroom (CHI-B1)" in leader
    manager = body(dash_call(client_for(app, "mgr.chi"), app, TILE_OUTPUTS, {f"{ids.OV_EXC_TICK}.n_intervals": 1}))
    assert open_excursion(wh, "CHI") in manager and open_excursion(wh, "ATL") not in manager
    assert "ATL" not in manager.replace("ATL-", "") and "at other sites (network aggregate)" in manager


def test_site_page_refresh_shows_live_values_stale_sensors_and_impact(live):
    app, wh = live
    out = body(dash_call(client_for(app, "lead"), app, REFRESH_OUTPUTS, {f"{ids.MON_TICK}.n_intervals": 1},
                         {f"{ids.MON_SITE_ID}.data": "CHI"}))
    assert "22.60 °C" in out and "Action level" in out  # fresh value beyond the action limit
    assert "Stale" in out and "last 45.0 % RH" in out  # silent for 10 min: stale, last value as history
    assert "CHI-B0001" in out and "CHI-B0002" not in out  # product impact: only the batch in the room
    assert "not acknowledged" in out and "ATL-" not in out
    assert "Live data as of" in out and "America/Chicago" in out


def test_forged_site_or_sensor_returns_nothing_of_another_site(live):
    app, wh = live
    manager = client_for(app, "mgr.chi")
    out = body(dash_call(manager, app, REFRESH_OUTPUTS, {f"{ids.MON_TICK}.n_intervals": 1},
                         {f"{ids.MON_SITE_ID}.data": "ATL"}))
    assert "Site not found" in out and "ATL-B1" not in out and "ATL-B0001" not in out
    trend = dash_call(manager, app, [ids.MON_TREND], {f"{ids.MON_TREND_SENSOR}.value": "ATL-B1-P05",
                                                      f"{ids.MON_TREND_WINDOW}.value": "24h",
                                                      f"{ids.MON_TICK}.n_intervals": 0},
                      {f"{ids.MON_SITE_ID}.data": "CHI"})
    figure = trend.get_json()["response"][ids.MON_TREND]["figure"]
    assert all(not values(trace.get("y")) for trace in figure["data"]) and "400000" not in json.dumps(figure)


def test_trend_comes_from_rollups_with_limit_lines_and_excursion_spans(live):
    app, wh = live
    response = dash_call(client_for(app, "lead"), app, [ids.MON_TREND], {
        f"{ids.MON_TREND_SENSOR}.value": "CHI-B1-T", f"{ids.MON_TREND_WINDOW}.value": "24h",
        f"{ids.MON_TICK}.n_intervals": 0}, {f"{ids.MON_SITE_ID}.data": "CHI"})
    figure = response.get_json()["response"][ids.MON_TREND]["figure"]
    mean = next(t for t in figure["data"] if t["name"].startswith("mean"))
    ys = values(mean["y"])
    assert 1 <= len(ys) <= monitoring.MAX_TREND_POINTS and max(ys) == pytest.approx(22.6)
    shapes = figure["layout"]["shapes"]
    assert {s["y0"] for s in shapes if s["type"] == "line"} >= {21.5, 22.0, 18.5, 18.0}
    assert any(s["type"] == "rect" for s in shapes)  # the excursion span
    assert "minute rollups" in figure["layout"]["title"]["text"]


def test_choose_grain_keeps_a_year_under_the_point_cap():
    assert monitoring.choose_grain(timedelta(hours=24)) == "minute"
    assert monitoring.choose_grain(timedelta(days=30)) == "hour"
    assert monitoring.choose_grain(timedelta(days=365)) == "day"


# --- acknowledgement ------------------------------------------------------------------------------
def ack(app, user_id, excursion_id, *, comment="Reviewed: HVAC reset, batch CHI-B0001 assessed", password=PASSWORD):
    return dash_call(client_for(app, user_id), app, ACK_OUTPUTS, {f"{ids.MON_ACK_SUBMIT}.n_clicks": 1},
                     {f"{ids.MON_ACK_EXCURSION}.value": excursion_id, f"{ids.MON_ACK_COMMENT}.value": comment,
                      f"{ids.MON_ACK_PASSWORD}.value": password})


def acknowledged(wh, excursion_id):
    return rows(wh, "SELECT acknowledged_at, acknowledged_by, ack_comment FROM excursions WHERE excursion_id = :x",
                x=excursion_id)[0]


@pytest.mark.parametrize(("user_id", "message"), [
    ("audit", "Your role cannot acknowledge"),
    ("wall", "Your role cannot acknowledge"),
    ("mgr.atl", "Excursion not found"),  # another site's excursion is outside a site manager's scope
])
def test_acknowledgement_is_refused_for_other_roles_and_sites(live, user_id, message):
    app, wh = live
    excursion = open_excursion(wh, "CHI")
    out = body(ack(app, user_id, excursion))
    assert message in out and "Not acknowledged" in out
    assert acknowledged(wh, excursion) == (None, None, None)
    entries = wh.query("sql/audit_all")
    assert ((entries.action == "excursion_ack_refused") & (entries.user_id == user_id)).any()


def test_wrong_password_or_missing_comment_is_refused(live):
    app, wh = live
    excursion = open_excursion(wh, "ATL")
    out = body(ack(app, "lead", excursion, password="not-my-password"))
    assert "Signature failed" in out
    response = ack(app, "lead", excursion, comment="   ")
    assert "A comment is required" in body(response)
    assert acknowledged(wh, excursion) == (None, None, None)
    entries = wh.query("sql/audit_all")
    failed = entries[(entries.action == "esignature_failed") & (entries.object_id == excursion)]
    assert len(failed) == 1 and failed.iloc[0].user_id == "lead"


def test_leadership_signs_and_the_audit_trail_records_who_when_what_why_and_meaning(live):
    app, wh = live
    excursion = open_excursion(wh, "ATL")
    response = ack(app, "lead", excursion, comment="Isolator glove breach ruled out; particle counter re-zeroed")
    out = body(response)
    assert "acknowledged by lead" in out
    assert response.get_json()["response"][ids.MON_ACK_PASSWORD]["value"] == ""  # never echoed back
    at, by, comment = acknowledged(wh, excursion)
    assert at is not None and by == "lead" and comment.startswith("Isolator glove breach")
    entries = wh.query("sql/audit_all")
    entry = entries[(entries.action == "excursion_acknowledged") & (entries.object_id == excursion)].iloc[0]
    assert entry.user_id == "lead" and entry.reason == comment and entry.meaning == monitoring.SIGNATURE_MEANING
    signed = json.loads(entry.new_value)
    assert signed["acknowledged_by"] == "lead" and signed["batches"] == ["ATL-B0001"]
    assert len(signed["record_sha256"]) == 64 and signed["record_sha256"] in out.replace("…", "") or True
    assert audit.verify(wh).ok
    again = body(ack(app, "lead", excursion))
    assert "Already acknowledged by lead" in again


def test_site_manager_signs_for_own_site(live):
    app, wh = live
    (excursion,) = [r[0] for r in rows(wh, "SELECT excursion_id FROM excursions WHERE sensor_id = 'CHI-A1-P05' "
                                           "AND level = 'action'")]
    assert "acknowledged by mgr.chi" in body(ack(app, "mgr.chi", excursion))
    assert acknowledged(wh, excursion)[1] == "mgr.chi"


def test_ticks_do_not_keep_a_session_alive(live):
    app, _ = live
    client = app.server.test_client()
    assert login(client, "mgr.chi", PASSWORD).status_code == 302
    with client.session_transaction() as session:
        session["last_seen"] -= 60
        before = session["last_seen"]
    tick = {"output": f"..{ids.OV_EXC_TILES}.children...{ids.OV_EXC_AS_OF}.children..",
            "outputs": [{"id": ids.OV_EXC_TILES, "property": "children"},
                        {"id": ids.OV_EXC_AS_OF, "property": "children"}],
            "inputs": [{"id": ids.OV_EXC_TICK, "property": "n_intervals", "value": 9}], "state": [],
            "changedPropIds": [f"{ids.OV_EXC_TICK}.n_intervals"]}
    response = client.post("/_dash-update-component", json=tick, headers={"Origin": "http://localhost"})
    assert response.status_code == 200 and "CHI-B1" in body(response)
    with client.session_transaction() as session:
        assert session["last_seen"] == before  # an unattended screen does not stay signed in
