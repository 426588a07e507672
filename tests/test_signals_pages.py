"""Signals and comparability callbacks answered to crafted requests: numbers for the right users, 'not
found' for a forged site, 403 for roles without the pages, and no other site's rows for a site manager."""

from __future__ import annotations

import json
import re

import pytest
from conftest import TEST_END, app_for, dash_call, login

from dashboard import ids, page_items
from queries.analyses import signals

IMR = [ids.SIG_IMR, ids.SIG_IMR_SUMMARY, ids.SIG_IMR_TABLE]
DRIFT = [ids.SIG_SENSOR, ids.SIG_DRIFT, ids.SIG_DRIFT_SUMMARY, ids.SIG_DRIFT_TABLE]
SYSTEMIC = [ids.SIG_SYSTEMIC]
RISK = [ids.SIG_RISK, ids.SIG_AS_OF]
PROPOSALS = [ids.SIG_PROPOSALS, ids.SIG_REVIEW_PROPOSAL]
COMPARABILITY = [ids.CMP_BODY, ids.CMP_AS_OF]
OTHER_SITES = ("ATL", "BOS", "DEN", "HUB", "NYC", "PHX", "SEA", "SFO")


def imr_inputs(site, product="CD19 CAR-T", cqa="viability_pct", rules="nelson"):
    return {f"{ids.SIG_WINDOW}.value": 180, f"{ids.SIG_SITE}.value": site, f"{ids.SIG_PRODUCT}.value": product,
            f"{ids.SIG_CQA}.value": cqa, f"{ids.SIG_RULES}.value": rules}


def drift_inputs(site, sensor=None):
    return {f"{ids.SIG_WINDOW}.value": 90, f"{ids.SIG_SITE}.value": site, f"{ids.SIG_SENSOR}.value": sensor}


def response(resp) -> dict:
    assert resp.status_code == 200, resp.data[:300]
    return resp.get_json()["response"]


@pytest.mark.requirement("URS-STA-003")
def test_leader_gets_the_chi_drift_story(make_client, hub_app):
    body = response(dash_call(make_client("t.leader"), hub_app, DRIFT, drift_inputs("CHI")))
    assert body[ids.SIG_SENSOR]["value"] == "CHI-B1-T"  # the sensor whose warning preceded an excursion
    lead = json.dumps(body[ids.SIG_DRIFT_SUMMARY]["children"])
    days = float(re.search(r"The warning came ([\d.]+) days before the first action-level excursion", lead).group(1))
    assert days >= 3
    assert "CHI-B1-T" in json.dumps(body[ids.SIG_DRIFT]["figure"]["layout"]["title"])


@pytest.mark.requirement("URS-STA-001")
def test_leader_gets_a_control_chart_with_limits(make_client, hub_app):
    body = response(dash_call(make_client("t.leader"), hub_app, IMR, imr_inputs("SEA", rules="western_electric")))
    figure = body[ids.SIG_IMR]["figure"]
    names = {trace.get("name") for trace in figure["data"]}
    assert {"batch result", "centre", "UCL / LCL"} <= names
    summary = json.dumps(body[ids.SIG_IMR_SUMMARY]["children"])
    assert "Western Electric" in summary and "first 20 batches of each process version" in summary
    flags = json.dumps(body[ids.SIG_IMR_TABLE])
    assert '"href": "/batch/SEA-B' in flags  # flagged batches link to their records
    points = sum(len(t.get("x") or []) for t in figure["data"])
    assert points < 3000 * len(figure["data"])


@pytest.mark.requirement("URS-STA-002")
@pytest.mark.parametrize("rules", ["nelson", "western_electric", "shewhart"])
def test_the_chart_states_its_rules_in_control_false_alarm_rate(make_client, hub_app, rules):
    """Issue 18 (3): beside the chart, the share of batches the chosen rules flag in a process that never
    changes, with limits from 20 batches as charted and with the limits known."""
    body = response(dash_call(make_client("t.leader"), hub_app, IMR, imr_inputs("SEA", rules=rules)))
    summary = json.dumps(body[ids.SIG_IMR_SUMMARY]["children"], ensure_ascii=False)
    known, estimated = signals.IN_CONTROL_FLAG_RATE[rules]
    assert f"about {estimated:.1%} of its batches flagged" in summary
    assert f"(1 in {round(1 / estimated)})" in summary and f"{known:.1%} with the true limits known" in summary
    assert page_items.RULE_SET_LABELS[rules] in summary
    assert re.search(r"set aside and the limits recomputed \(\d+ in this window\)", summary)


@pytest.mark.requirement("URS-STA-009")
@pytest.mark.parametrize("forged", ["ATL", "NOPE", "' OR 1=1 --", None, ["CHI", "ATL"], {"site": "ATL"}])
def test_site_manager_forging_another_site_gets_not_found(make_client, hub_app, forged):
    client = make_client("t.manager.chi")
    for outputs, inputs in ((IMR, imr_inputs(forged)), (DRIFT, drift_inputs(forged, "ATL-B1-T"))):
        resp = dash_call(client, hub_app, outputs, inputs)
        assert resp.status_code == 200
        text = json.dumps(resp.get_json())
        assert "Site not found" in text
        assert "ATL-" not in text and "DEN-" not in text  # no batch, sensor or deviation id of another site


def test_site_manager_own_site_works_and_forged_sensor_is_ignored(make_client, hub_app):
    body = response(dash_call(make_client("t.manager.chi"), hub_app, DRIFT, drift_inputs("CHI", "ATL-B1-T")))
    assert body[ids.SIG_SENSOR]["value"].startswith("CHI-")
    assert all(o["value"].startswith("CHI-") for o in body[ids.SIG_SENSOR]["options"])
    assert "ATL-" not in json.dumps(body)


@pytest.mark.requirement("URS-STA-009")
def test_site_manager_sees_only_own_rows_in_systemic_risk_and_comparability(make_client, hub_app):
    client = make_client("t.manager.chi")
    systemic = json.dumps(response(dash_call(client, hub_app, SYSTEMIC, {
        f"{ids.SIG_WINDOW}.value": 365, f"{ids.SIG_SYSTEMIC_WINDOW}.value": 30, f"{ids.SIG_SYSTEMIC_ALL}.value": ["all"]})))
    assert "DEV-CHI" in systemic  # CHI's own deviations in cross-site clusters are listed
    assert re.search(r'"href": "/deviation/DEV-CHI-\d+"', systemic)  # each a link to its record
    assert not re.search(r"DEV-(?!CHI)[A-Z]{3}-", systemic)
    risk = json.dumps(response(dash_call(client, hub_app, RISK, {f"{ids.SIG_WINDOW}.value": 90}))[ids.SIG_RISK])
    assert "the model beats both" in risk and "signals-risk-table" in risk  # the sample's model earns it
    assert re.search(r"\"\d/9\"", risk)  # CHI's rank among the nine sites, without the others' rows
    assert not any(f'"{site}"' in risk for site in OTHER_SITES)
    proposed = json.dumps(response(dash_call(client, hub_app, PROPOSALS, {
        f"{ids.SIG_WINDOW}.value": 90, f"{ids.SIG_SYSTEMIC_WINDOW}.value": 14, f"{ids.SIG_REVIEW_DONE}.data": 0})))
    assert not any(f"{site}-" in proposed for site in OTHER_SITES)
    # The records behind each proposal link to them (here CHI deviations of a flagged cross-site cluster).
    assert re.search(r'"href": "/deviation/DEV-CHI-\d+"', proposed), proposed[:500]
    body = json.dumps(response(dash_call(client, hub_app, COMPARABILITY, {
        f"{ids.CMP_WINDOW}.value": 180, f"{ids.CMP_PRODUCT}.value": "CD19 CAR-T"})))
    assert "against the other sites (pooled)" in body and "CHI" in body
    assert not any(f'"{site}"' in body or f"{site}-" in body for site in OTHER_SITES)


@pytest.mark.requirement("URS-STA-007")
def test_a_ranking_not_earned_reaches_no_one(control_warehouse):
    """The negative control (the sample without its leading-indicator mechanism): every role gets the
    backtest and the words, no ranking; a site manager's per-site backtest names their site only."""
    app = app_for(control_warehouse, now=TEST_END.isoformat())
    for user in ("t.leader", "t.manager.chi", "t.auditor"):
        client = app.server.test_client()
        assert login(client, user).status_code == 302
        risk = json.dumps(response(dash_call(client, app, RISK, {f"{ids.SIG_WINDOW}.value": 90}))[ids.SIG_RISK])
        assert "the model has not earned it" in risk and "signals-risk-table" not in risk, user
        assert "enhanced" not in risk and "Share of oversight effort" not in risk, user
        if user == "t.manager.chi":
            assert '"CHI"' in risk and not any(f'"{site}"' in risk for site in OTHER_SITES)


def test_leader_comparability_names_every_site_and_links_from_the_overview(make_client, hub_app):
    client = make_client("t.leader")
    body = response(dash_call(client, hub_app, COMPARABILITY, {f"{ids.CMP_WINDOW}.value": 365,
                                                               f"{ids.CMP_PRODUCT}.value": "BCMA CAR-T"}))
    text = json.dumps(body[ids.CMP_BODY])
    for site in ("ATL", "SEA", "CHI"):
        assert f'"{site}"' in text
    assert "Onboarding: SEA" in text and "against the network (all sites)" in text
    # Issue 18 (4): skewed CQAs as ratios of geometric means on the ln scale; the all-CQA claim per site.
    assert "ln scale: ratio" in text and "ratio \\u00d7 " in text and "margin \\u00d7/\\u00f7" in text
    assert "All CQAs" in text and len(re.findall(r"\d of 6 CQAs", text)) >= 9  # one per site
    overview = response(dash_call(client, hub_app, list(ids.OV_REFRESH),
                                  {"overview-window.value": 90}))
    tiles = json.dumps(overview["overview-tiles"], ensure_ascii=False)
    assert '"href": "/comparability"' in tiles
    # Issue 18 (6): the MTTD tile says it is a mean by detection date, with the median and the late finds.
    assert "Mean time to deviation detection" in tiles
    assert re.search(r"median [\d.]+ h · p90 [\d.]+ h · by detection date(, \d+ occurred before the window)?", tiles)


@pytest.mark.parametrize("user_id", ["t.display", "t.admin"])
def test_roles_without_the_pages_are_refused(make_client, hub_app, user_id):
    client = make_client(user_id)
    for outputs, inputs in ((IMR, imr_inputs("CHI")), (DRIFT, drift_inputs("CHI")),
                            (COMPARABILITY, {f"{ids.CMP_WINDOW}.value": 90, f"{ids.CMP_PRODUCT}.value": "CD19 CAR-T"})):
        resp = dash_call(client, hub_app, outputs, inputs)
        assert resp.status_code == 403
        assert b"CHI-" not in resp.data


def test_pages_are_in_the_navigation_only_for_their_roles(make_client):
    for user_id, expected in (("t.leader", True), ("t.manager.chi", True), ("t.auditor", True), ("t.display", False)):
        layout = json.dumps(make_client(user_id).get("/_dash-layout").get_json())
        assert ('"/signals"' in layout) is expected, user_id
        assert ('"/comparability"' in layout) is expected, user_id
