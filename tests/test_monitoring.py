"""Monitoring pages through crafted callback requests: scope, stale values, trends from rollups, and
the acknowledgement's electronic signature (who may sign, wrong password, audit trail)."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import app_for, dash_call, login
from live_support import PASSWORD, batch_rows, ramp, seed_network, utc_now
from sqlalchemy import text

from dashboard import ids
from ingest.writer import IngestWriter, Message
from queries.analyses import monitoring
from queries.engine.warehouse import Warehouse
from queries.records import audit

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
    app = app_for(wh, simulator=False, login_rate_per_user="100 per minute", login_rate_per_address="100 per minute")
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
@pytest.mark.requirement("URS-MON-006")
def test_overview_tiles_show_open_excursions_within_scope(live):
    app, wh = live
    leader = body(dash_call(client_for(app, "lead"), app, TILE_OUTPUTS, {f"{ids.OV_EXC_TICK}.n_intervals": 3}))
    for site in ("CHI", "ATL"):
        assert open_excursion(wh, site) in leader
    assert "Action" in leader and "open for" in leader and "CHI Grade B processing cleanroom (CHI-B1)" in leader
    manager = body(dash_call(client_for(app, "mgr.chi"), app, TILE_OUTPUTS, {f"{ids.OV_EXC_TICK}.n_intervals": 1}))
    assert open_excursion(wh, "CHI") in manager and open_excursion(wh, "ATL") not in manager
    assert "ATL" not in manager.replace("ATL-", "") and "at other sites (network aggregate)" in manager


@pytest.mark.requirement("URS-MON-007", "URS-MON-008", "URS-MON-009")
def test_site_page_refresh_shows_live_values_stale_sensors_and_impact(live):
    app, wh = live
    out = body(dash_call(client_for(app, "lead"), app, REFRESH_OUTPUTS, {f"{ids.MON_TICK}.n_intervals": 1},
                         {f"{ids.MON_SITE_ID}.data": "CHI"}))
    assert "22.60 °C" in out and "Action level" in out  # fresh value beyond the action limit
    assert "Stale" in out and "last 45.0 % RH" in out  # silent for 10 min: stale, last value as history
    assert "CHI-B0001" in out and "CHI-B0002" not in out  # product impact: only the batch in the room
    assert "not acknowledged" in out and "ATL-" not in out
    assert "Live data as of" in out and "America/Chicago" in out


@pytest.mark.requirement("URS-KIO-007")
def test_excursion_ids_link_to_their_records_for_roles_that_may_open_them(live):
    """Issue 28: an open excursion's tile and row link to its record, its batches to theirs; the wall
    display (which may open no record) gets the same facts without the links."""
    app, wh = live
    chi = open_excursion(wh, "CHI")
    tiles = body(dash_call(client_for(app, "lead"), app, TILE_OUTPUTS, {f"{ids.OV_EXC_TICK}.n_intervals": 4}))
    assert f'"href": "/excursion/{chi}"' in tiles
    out = body(dash_call(client_for(app, "lead"), app, REFRESH_OUTPUTS, {f"{ids.MON_TICK}.n_intervals": 2},
                         {f"{ids.MON_SITE_ID}.data": "CHI"}))
    assert f'"href": "/excursion/{chi}"' in out and '"href": "/batch/CHI-B0001"' in out
    wall = client_for(app, "wall")
    tiles = body(dash_call(wall, app, TILE_OUTPUTS, {f"{ids.OV_EXC_TICK}.n_intervals": 5}))
    out = body(dash_call(wall, app, REFRESH_OUTPUTS, {f"{ids.MON_TICK}.n_intervals": 3},
                         {f"{ids.MON_SITE_ID}.data": "CHI"}))
    assert chi in tiles and "CHI-B0001" in out
    assert not re.search(r'"href": "/(excursion|batch|deviation)/', tiles + out)


@pytest.mark.requirement("URS-ACC-003")
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


@pytest.mark.requirement("URS-MON-011")
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


@pytest.mark.requirement("URS-MON-011")
def test_choose_grain_keeps_a_year_under_the_point_cap():
    assert monitoring.choose_grain(timedelta(hours=24)) == "minute"
    assert monitoring.choose_grain(timedelta(days=30)) == "hour"
    assert monitoring.choose_grain(timedelta(days=365)) == "day"


# --- acknowledgement ------------------------------------------------------------------------------
def ack(app, user_id, excursion_id, *, comment="Reviewed: HVAC reset, batch CHI-B0001 assessed", password=PASSWORD,
        deviation="keep"):
    return dash_call(client_for(app, user_id), app, ACK_OUTPUTS, {f"{ids.MON_ACK_SUBMIT}.n_clicks": 1},
                     {f"{ids.MON_ACK_EXCURSION}.value": excursion_id, f"{ids.MON_ACK_COMMENT}.value": comment,
                      f"{ids.MON_ACK_PASSWORD}.value": password, f"{ids.MON_ACK_DEVIATION}.value": deviation})


def acknowledged(wh, excursion_id):
    return rows(wh, "SELECT acknowledged_at, acknowledged_by, ack_comment FROM excursions WHERE excursion_id = :x",
                x=excursion_id)[0]


@pytest.mark.requirement("URS-KIO-006")
@pytest.mark.parametrize(("user_id", "message"), [
    ("audit", "Your role cannot acknowledge"),
    ("wall", "Your role cannot acknowledge"),
    ("mgr.atl", "Excursion not found"),  # another site's excursion is outside a site manager's scope
])
@pytest.mark.requirement("URS-SIG-003", "URS-ACC-004")
def test_acknowledgement_is_refused_for_other_roles_and_sites(live, user_id, message):
    app, wh = live
    excursion = open_excursion(wh, "CHI")
    out = body(ack(app, user_id, excursion))
    assert message in out and "Not acknowledged" in out
    assert acknowledged(wh, excursion) == (None, None, None)
    entries = wh.query("sql/audit_all")
    assert ((entries.action == "excursion_ack_refused") & (entries.user_id == user_id)).any()


@pytest.mark.requirement("URS-SIG-001")
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


@pytest.mark.requirement("URS-SIG-001", "URS-SIG-005", "URS-SIG-006", "URS-SIG-007", "URS-AUD-002", "URS-AUD-003")
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
    assert len(signed["record_sha256"]) == 64 and signed["record_sha256"][:12] in out  # the page shows its start
    assert audit.verify(wh).ok
    again = body(ack(app, "lead", excursion))
    assert "Already acknowledged by lead" in again


@pytest.mark.requirement("URS-SIG-003")
def test_site_manager_signs_for_own_site(live):
    app, wh = live
    (excursion,) = [r[0] for r in rows(wh, "SELECT excursion_id FROM excursions WHERE sensor_id = 'CHI-A1-P05' "
                                           "AND level = 'action'")]
    assert "acknowledged by mgr.chi" in body(ack(app, "mgr.chi", excursion))
    assert acknowledged(wh, excursion)[1] == "mgr.chi"


@pytest.mark.requirement("URS-ACC-005")
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


# --- proposed deviations: not a deviation until a person confirms it ------------------------------
def chi_kpis(wh) -> dict:
    from queries.engine.scope import build_scope
    from queries.kpi.kpis import kpi_frame

    scope = build_scope(user_id="lead", role="leadership", own_site=None, all_sites=["CHI", "ATL"], end=utc_now(),
                        days=30)
    frame = kpi_frame(wh, scope, ["mttd", "recurrence", "deviation_rate", "human_error_share"])
    return {r.kpi_id: (r.n, r.numerator) for r in frame[frame.site_id == "CHI"].itertuples()}


@pytest.mark.requirement("URS-MON-010")
@pytest.mark.requirement("URS-KPI-009")
def test_a_proposed_deviation_counts_in_no_kpi_until_confirmed_by_signature(live):
    app, wh = live
    excursion = open_excursion(wh, "CHI")
    (deviation_id,) = rows(wh, "SELECT deviation_id FROM excursions WHERE excursion_id = :x", x=excursion)[0]
    assert rows(wh, "SELECT decision FROM deviation_proposals WHERE deviation_id = :d", d=deviation_id) == [(None,)]
    before = chi_kpis(wh)
    assert before.get("mttd", (0,))[0] in (0, None) and not rows(wh, "SELECT 1 FROM deviations")  # counts nowhere
    refresh = body(dash_call(client_for(app, "lead"), app, REFRESH_OUTPUTS, {f"{ids.MON_TICK}.n_intervals": 1},
                             {f"{ids.MON_SITE_ID}.data": "CHI"}))
    assert f"{deviation_id} (proposed, awaiting QA review)" in refresh

    out = body(ack(app, "lead", excursion, deviation="confirm", comment="HVAC failure confirmed; deviation opened"))
    assert "acknowledged by lead" in out
    assert rows(wh, "SELECT decision, decided_by FROM deviation_proposals WHERE deviation_id = :d",
                d=deviation_id) == [("confirmed", "lead")]
    (confirmed,) = rows(wh, "SELECT source, excursion_id FROM deviations WHERE deviation_id = :d", d=deviation_id)
    assert tuple(confirmed) == ("excursion", excursion)
    after = chi_kpis(wh)
    assert after["mttd"][0] == 1 and after["deviation_rate"][1] == 1  # now it counts
    entry = wh.query("sql/audit_all").query("action == 'excursion_acknowledged' and object_id == @excursion").iloc[0]
    signed = json.loads(entry.new_value)
    assert (signed["deviation_id"], signed["deviation_decision"]) == (deviation_id, "confirmed")
    assert audit.verify(wh).ok


@pytest.mark.requirement("URS-MON-010")
@pytest.mark.requirement("URS-KPI-009")
def test_rejecting_a_proposal_keeps_it_out_and_a_forged_decision_is_refused(live):
    app, wh = live
    start = utc_now() - timedelta(seconds=40)
    IngestWriter(wh).write([Message(t, p, utc_now()) for t, p in ramp(
        "CHI-A1-P05", "count_m3", [90, 6000, 6100, 95], start=start, step_s=10, tag="reject")])
    (excursion,) = [r[0] for r in rows(wh, "SELECT excursion_id FROM excursions WHERE sensor_id = 'CHI-A1-P05' AND "
                                           "level = 'action' AND started_at >= :s", s=start)]
    (deviation_id,) = rows(wh, "SELECT deviation_id FROM excursions WHERE excursion_id = :x", x=excursion)[0]
    forged = body(ack(app, "mgr.chi", excursion, deviation="delete"))
    assert "keep, confirm or reject" in forged and acknowledged(wh, excursion) == (None, None, None)
    assert "acknowledged by mgr.chi" in body(ack(app, "mgr.chi", excursion, deviation="reject"))
    assert rows(wh, "SELECT decision FROM deviation_proposals WHERE deviation_id = :d", d=deviation_id) == [("rejected",)]
    assert not rows(wh, "SELECT 1 FROM deviations WHERE deviation_id = :d", d=deviation_id)


@pytest.mark.requirement("URS-MON-011")
def test_the_sensor_trend_breaks_where_readings_are_missing():
    from dashboard.components.trend_chart import trend_figure

    buckets = pd.to_datetime(["2026-06-01 10:00", "2026-06-01 11:00", "2026-06-02 06:00", "2026-06-02 07:00"])
    points = pd.DataFrame({"bucket": buckets, "value_mean": [20.0, 20.1, 20.2, 20.3], "value_min": [19.9] * 4,
                           "value_max": [20.4] * 4, "n": [60] * 4})
    no_spans = pd.DataFrame(columns=["started_at", "ended_at", "level"])
    figure = trend_figure(points, "hour", {"unit": "degC", "parameter": "temperature"}, no_spans, "UTC", "t")
    mean = figure.data[2]
    assert [v if v == v else None for v in mean.y] == [20.0, 20.1, None, 20.2, 20.3]  # 19 h without readings
    assert pd.Timestamp(mean.x[2]) == pd.Timestamp("2026-06-01 12:00")
    assert not mean.connectgaps
    joined = trend_figure(points.iloc[:2], "hour", {"unit": "degC"}, no_spans, "UTC", "t")
    assert list(joined.data[2].y) == [20.0, 20.1]  # consecutive buckets stay joined


@pytest.mark.requirement("URS-MON-011")
def test_hourly_history_before_live_minutes_is_not_broken_at_every_point():
    from dashboard.components.trend_chart import with_gaps

    hours = pd.date_range("2026-06-01 00:00", periods=5, freq="h")
    minutes = pd.date_range("2026-06-01 04:01", periods=3, freq="min")
    points = pd.DataFrame({"bucket": list(hours) + list(minutes), "value_mean": range(8),
                           "grain": ["hour"] * 5 + ["minute"] * 3})
    assert len(with_gaps(points, "minute")) == 8  # no silence in either grain: one unbroken line
    gap = pd.concat([points.iloc[:2], points.iloc[3:]], ignore_index=True)  # one hour missing
    assert with_gaps(gap, "minute")["value_mean"].isna().sum() == 1
