"""The /people page through crafted callback requests: roles, forged sites, and suppression (including
the subtraction attacks through the team filter and through site versus network) in the responses."""

from __future__ import annotations

import base64
import io
import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import dash_call
from export_helpers import downloaded, export_call

from queries.analyses import people
from queries.engine.scope import build_scope
from queries.kpi.catalog import NETWORK

SURVEY = ["people-survey"]
TEAMS = ["people-teams"]
WINDOW = ["people-behaviour", "people-training", "people-sop", "people-as-of"]
MIN_N = 5


def survey(client, app, site, teams=None, wave="2024-Q3"):
    response = dash_call(client, app, SURVEY, {"people-site.value": site, "people-teams.value": teams,
                                               "people-wave.value": wave})
    assert response.status_code == 200, response.data[:300]
    return response.get_json()["response"]["people-survey"]["children"]


def window(client, app, site, days=365):
    response = dash_call(client, app, WINDOW, {"people-window.value": days, "people-site.value": site})
    assert response.status_code == 200, response.data[:300]
    return response.get_json()["response"]


def texts(node) -> list[str]:
    """Every string in a Dash component tree or figure (what the browser receives)."""
    out = []
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, dict):
        for value in node.values():
            out += texts(value)
    elif isinstance(node, list):
        for value in node:
            out += texts(value)
    return out


def decode(node):
    """Plotly sends numpy arrays as typed arrays ({"dtype", "bdata", "shape"}): turn them into lists."""
    if isinstance(node, dict) and "bdata" in node and "dtype" in node:
        values = np.frombuffer(base64.b64decode(node["bdata"]), dtype=np.dtype(node["dtype"]))
        if "shape" in node:
            values = values.reshape([int(d) for d in str(node["shape"]).split(",")])
        return _nan_to_none(values.tolist())
    if isinstance(node, dict):
        return {k: decode(v) for k, v in node.items()}
    if isinstance(node, list):
        return [decode(v) for v in node]
    return node


def _nan_to_none(value):
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return None if isinstance(value, float) and np.isnan(value) else value


def figures(node) -> dict[str, dict]:
    """id -> figure (typed arrays decoded) of every dcc.Graph in a response."""
    found = {}
    if isinstance(node, dict):
        props = node.get("props", {})
        if node.get("type") == "Graph":
            found[props.get("id")] = decode(props["figure"])
        for value in node.values():
            found.update(figures(value))
    elif isinstance(node, list):
        for value in node:
            found.update(figures(value))
    return found


def scope_for(wh, role="leadership", own=None):
    sites = list(wh.query("sql/site_ids")["site_id"])
    from conftest import TEST_END
    return build_scope(user_id="t", role=role, own_site=own, all_sites=sites, end=TEST_END, days=90)


def raw_groups(wh) -> pd.DataFrame:
    """The true group sizes (test only): what the page must never let anyone work out below 5."""
    return wh.query("test", sql="""
        SELECT wave, site_id, team, COUNT(*) AS n,
               AVG(((8 - q1) + q2 + (8 - q3) + q4 + (8 - q5) + q6 + q7) / 7.0) AS score
        FROM survey_responses GROUP BY wave, site_id, team""")


# -- roles -------------------------------------------------------------------------------------------
@pytest.mark.requirement("URS-PPL-009")
@pytest.mark.parametrize("user", ["t.display", "t.admin"])
def test_roles_without_the_page_get_403_and_no_data(make_client, hub_app, user):
    client = make_client(user)
    response = dash_call(client, hub_app, SURVEY, {"people-site.value": NETWORK, "people-teams.value": [],
                                                   "people-wave.value": "2024-Q3"})
    assert response.status_code == 403 and b"index" not in response.data.lower()
    for outputs, inputs in ((WINDOW, {"people-window.value": 90, "people-site.value": "PHX"}),
                            (TEAMS, {"people-site.value": "PHX"})):
        response = dash_call(client, hub_app, outputs, inputs)
        assert response.status_code == 403 and b"OP-" not in response.data and b"Manufacturing" not in response.data


def test_anonymous_callback_gets_401(make_client):
    response = make_client(None).post("/_dash-update-component", json={"output": "people-survey.children"},
                                      headers={"Origin": "http://localhost"})
    assert response.status_code == 401


@pytest.mark.requirement("URS-PPL-009")
def test_page_is_in_the_navigation_of_leaders_only_roles(make_client):
    layout = make_client("t.manager.chi").get("/_dash-layout").get_json()
    assert "/people" in json.dumps(layout)
    assert "/people" not in json.dumps(make_client("t.display").get("/_dash-layout").get_json())


@pytest.mark.requirement("URS-PPL-005")
def test_site_manager_forged_site_is_not_found(make_client, hub_app):
    client = make_client("t.manager.chi")
    body = survey(client, hub_app, "ATL")
    assert "Site not found" in texts(body)
    assert not figures(body)
    behaviour = window(client, hub_app, "ATL")
    assert "Site not found" in texts(behaviour["people-behaviour"]["children"])
    assert behaviour["people-training"]["children"] is None
    # Anything else that is not a site in scope is refused the same way (never widened).
    for forged in (["CHI", "ATL"], {"$ne": ""}, "CHI' OR 1=1 --", None):
        assert "Site not found" in texts(survey(client, hub_app, forged))


@pytest.mark.requirement("URS-PPL-009")
def test_site_manager_sees_own_site_and_anonymised_network_only(make_client, hub_app, sample_warehouse):
    client = make_client("t.manager.chi")
    body = survey(client, hub_app, "CHI", ["Manufacturing", "Quality Control", "Facilities & EM"])
    sites = sample_warehouse.query("test", sql="SELECT site_id, name FROM sites")
    site_names = dict(zip(sites["site_id"], sites["name"], strict=True))
    names = {trace["name"] for trace in figures(body)["people-index-sites"]["data"]}
    assert {"Network", "CHI"} <= names  # legends use site codes
    other_sites = set(site_names) - {"CHI"}
    everything = " ".join(texts(body)) + json.dumps(window(client, hub_app, NETWORK))
    for site in other_sites:
        assert site_names[site] not in everything, site
    # On the network view a site manager gets no operator of any site, only the aggregate rho.
    training = window(client, hub_app, NETWORK)["people-training"]["children"]
    assert figures(training)["people-operators"]["data"] == []
    assert not any(t.startswith("OP-") for t in texts(training))


@pytest.mark.requirement("URS-PPL-005")
def test_forged_filter_values_get_an_answer_not_an_error(make_client, hub_app):
    client = make_client("t.leader")
    for wave, teams in ((["2024-Q3"], "Manufacturing"), ({"$gt": ""}, {"a": 1}), (7, [1, None])):
        body = survey(client, hub_app, "CHI", teams, wave=wave)
        assert "no data" in texts(body)  # no wave picked: tiles say so, nothing else is widened
        assert "people-index-teams" not in figures(body)  # no valid team chosen


# -- suppression --------------------------------------------------------------------------------------
def shown_counts(body) -> list[tuple[str, float]]:
    """(trace name, wave) -> n as the browser receives them in the index charts' customdata."""
    out = []
    for fig_id, fig in figures(body).items():
        if fig_id not in ("people-index-sites", "people-index-teams"):
            continue
        for trace in fig["data"]:
            for x, custom, y in zip(trace.get("x", []), trace.get("customdata") or [], trace.get("y", []),
                                    strict=False):
                if y is not None and custom and custom[0] is not None:
                    out.append((trace["name"], x, custom[0], y))
    return out


@pytest.mark.requirement("URS-PPL-003")
def test_small_team_is_suppressed_in_the_response(make_client, hub_app, sample_warehouse):
    truth = raw_groups(sample_warehouse)
    small = truth[(truth["n"] < MIN_N) & (truth["site_id"] == "CHI")].iloc[0]  # CHI Facilities & EM, 2024-Q3
    client = make_client("t.leader")
    body = survey(client, hub_app, "CHI", [small["team"]], wave=small["wave"])
    team_fig = figures(body)["people-index-teams"]
    trace = next(t for t in team_fig["data"] if t["name"] == small["team"])
    at = trace["x"].index(small["wave"])
    assert trace["y"][at] is None and trace["customdata"][at][0] is None  # no value, no count
    payload = json.dumps(body)
    assert f"{small['score']:.4f}"[:6] not in payload
    suppressed_markers = [t for t in team_fig["data"] if t["name"].endswith("suppressed")]
    assert small["wave"] in suppressed_markers[0]["x"]
    assert not any(t.get("hovertemplate") for t in suppressed_markers)


@pytest.mark.requirement("URS-PPL-004", "URS-PPL-005")
def test_team_filter_cannot_narrow_to_a_small_group_by_subtraction(make_client, hub_app, sample_warehouse):
    """Every team subset and the site total: no shown counts subtract to a group of 1 to 4."""
    truth = raw_groups(sample_warehouse)
    client = make_client("t.leader")
    for site in ("CHI", "PHX"):
        site_truth = truth[truth["site_id"] == site]
        teams = sorted(site_truth["team"].unique())
        seen: dict[tuple[str, str], float] = {}  # (series, wave) -> n, over every request
        for k in range(len(teams) + 1):
            for subset in itertools.combinations(teams, k):
                body = survey(client, hub_app, site, list(subset))
                for name, wave, n, _ in shown_counts(body):
                    seen[(name, wave)] = n
        for wave, wave_truth in site_truth.groupby("wave"):
            site_n = seen.get((site, wave))
            team_ns = {t: seen.get((t, wave)) for t in teams}
            shown = {t: n for t, n in team_ns.items() if n is not None}
            hidden = set(wave_truth["team"]) - set(shown)
            if site_n is not None and hidden:
                assert site_n - sum(shown.values()) >= MIN_N, (site, wave, shown)
            for team, n in shown.items():
                assert n >= MIN_N
                assert n == wave_truth.loc[wave_truth["team"] == team, "n"].iat[0]
    # The sample has this case: CHI 2024-Q3 is 3 + 8 + 12; showing 23 and 12 and 8 would reveal the 3.
    chi = truth[(truth["site_id"] == "CHI") & (truth["wave"] == "2024-Q3")].set_index("team")["n"]
    assert chi.to_dict() == {"Facilities & EM": 3, "Manufacturing": 8, "Quality Control": 12}
    everything = survey(client, hub_app, "CHI", list(chi.index))
    counts = {(name, wave): n for name, wave, n, _ in shown_counts(everything) if wave == "2024-Q3"}
    assert counts[("Quality Control", "2024-Q3")] == 12
    assert ("Manufacturing", "2024-Q3") not in counts  # 8 is safe alone, but 23 - 12 - 8 = 3
    assert ("Facilities & EM", "2024-Q3") not in counts
    assert counts[("CHI", "2024-Q3")] == 23  # the site total stays: it is shown on other pages too


@pytest.mark.requirement("URS-PPL-004")
def test_network_minus_shown_sites_never_reveals_a_small_group(make_client, hub_app, sample_warehouse):
    truth = raw_groups(sample_warehouse).groupby(["wave", "site_id"], as_index=False)["n"].sum()
    for user in ("t.leader", "t.manager.chi", "t.manager.atl"):
        client = make_client(user)
        body = survey(client, hub_app, NETWORK)
        counts, checked = shown_counts(body), 0
        for wave in truth["wave"].unique():
            network = [n for name, w, n, _ in counts if name == "Network" and w == wave]
            sites = [n for name, w, n, _ in counts if name != "Network" and w == wave]
            if network:
                checked += 1
                assert network[0] - sum(sites) == 0 or network[0] - sum(sites) >= MIN_N, (user, wave)
        assert checked >= 6, user  # most waves show a network value


@pytest.mark.requirement("URS-PPL-004")
def test_network_is_suppressed_for_a_site_manager_when_the_rest_is_small(sample_warehouse):
    """Direct check of the rule on the sample: a scope of one site whose complement is under 5."""
    groups = people.survey_groups(sample_warehouse, scope_for(sample_warehouse, "site_manager", "CHI"))
    assert set(groups["site_id"]) == {"CHI", NETWORK}
    assert (groups.loc[groups["suppressed"], people.SURVEY_VALUES].isna()).all().all()


@pytest.mark.requirement("URS-PPL-006")
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_keeps_suppression_and_is_audited(make_client, sample_warehouse, fmt):
    content, filename = downloaded(export_call(make_client("t.auditor"), "people", "survey", fmt), "people",
                                   "survey")
    assert filename.startswith("atmp_people_network_survey_") and filename.endswith(f".{fmt}")
    if fmt == "csv":
        text = content.decode("utf-8-sig")
        lines = text.splitlines()
        frame = pd.read_csv(io.StringIO(text), skiprows=lines.index("") + 1)  # provenance block first
    else:
        frame = pd.read_excel(io.BytesIO(content), sheet_name=0)
    frame["suppressed"] = frame["suppressed"].astype(str).str.lower() == "true"
    hidden = frame[frame["suppressed"]]
    assert len(hidden) > 0 and hidden[["respondents", "index_0_100", "alpha"]].isna().all().all()
    assert (frame.loc[~frame["suppressed"], "respondents"] >= MIN_N).all()
    wave = frame[(frame["site_id"] == "CHI") & (frame["wave"] == "2024-Q3")]
    site_n = wave.loc[wave["level"] == "site", "respondents"].iat[0]
    teams = wave.loc[wave["level"] == "team", "respondents"]
    assert site_n == 23 and teams.sum() == 12  # only Quality Control (12): 23 - 12 = 11 people, not 3
    last = sample_warehouse.query("sql/audit_all").iloc[-1]
    assert (last["action"], last["user_id"], last["object_type"]) == ("export", "t.auditor", "people")


def test_export_chart_as_png(make_client):
    content, filename = downloaded(export_call(make_client("t.manager.chi"), "people", "survey", "png"),
                                   "people", "survey")
    assert content.startswith(b"\x89PNG") and filename.endswith(".png")


@pytest.mark.requirement("URS-PPL-009")
def test_export_refused_to_roles_without_the_page(make_client):
    for user in ("t.display", "t.admin"):
        assert export_call(make_client(user), "people", "survey", "csv", formats=("csv",)).status_code == 403


# -- behaviour -----------------------------------------------------------------------------------------
def test_coaching_story_recurrence_falls_at_phx(make_client, hub_app, sample_warehouse):
    rows = people.programme_recurrence(sample_warehouse, scope_for(sample_warehouse))
    phx = rows[(rows["site_id"] == "PHX") & (rows["kind"] == "coaching_review")].set_index("period")
    # Sample network (seed 7, end 2026-06-01), coaching starts 2025-06-01: 28 of 50 deviations in the
    # year before recurred (56 %); 2 of 6 in the first 90 days (33 %); 0 of 22 after that.
    assert (phx.loc["before", "recurred"], phx.loc["before", "deviations"]) == (28, 50)
    assert (phx.loc["transition", "recurred"], phx.loc["transition", "deviations"]) == (2, 6)
    assert (phx.loc["after", "recurred"], phx.loc["after", "deviations"]) == (0, 22)
    response = window(make_client("t.leader"), hub_app, "PHX")
    behaviour = response["people-behaviour"]["children"]
    strings = texts(behaviour)
    assert "56 %" in strings and "0 %" in strings and "28 of 50" in strings and "0 of 22" in strings
    caveat = " ".join(strings)
    assert "rising near-miss rate beside a falling deviation rate is a good sign" in caveat
    assert "Correlation is not causation" in caveat
    near_miss = figures(behaviour)["people-near-miss"]
    rate = dict(zip(near_miss["data"][0]["x"], near_miss["data"][0]["y"], strict=True))
    assert rate["2025Q3"] > 3 * max(rate["2024Q3"], rate["2025Q1"], 1)  # reporting rose after coaching


def test_training_and_sop_sections_show_numbers(make_client, hub_app):
    response = window(make_client("t.leader"), hub_app, "CHI")
    training = response["people-training"]["children"]
    rho_text = next(t for t in texts(training) if t.startswith("ρ ="))
    assert "95 % CI" in rho_text and "n = " in rho_text
    operators = figures(training)["people-operators"]["data"][0]
    assert all(ref.startswith("OP-") for ref, site in operators["customdata"])
    assert {site for _, site in operators["customdata"]} == {"CHI"}
    sop = figures(response["people-sop"]["children"])["people-sop-load"]["data"][0]
    assert len(sop["x"]) > 0 and all(v > 0 for v in sop["x"])


# -- operator groups (issue 25.7) ----------------------------------------------------------------------
def module_rows(training) -> dict[str, list[str]]:
    """Module -> the cells of its row in the training table, as the browser receives them."""
    def find(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "people-module-table":
                return node
            for value in node.values():
                if (hit := find(value)) is not None:
                    return hit
        elif isinstance(node, list):
            for value in node:
                if (hit := find(value)) is not None:
                    return hit
        return None
    table = find(training)
    assert table is not None
    body = table["props"]["children"][1]["props"]["children"]
    rows = [[cell["props"]["children"] for cell in row["props"]["children"]] for row in body]
    return {row[0]: row[1:] for row in rows}


@pytest.mark.requirement("URS-PPL-008")
def test_one_operators_training_result_is_not_shown_to_a_site_manager(make_client, hub_app, sample_warehouse):
    """CHI, last 90 days: fewer than 5 operators made a first CAR-T attempt (when one did, the page
    showed '0 % (0/1)' and '17 days (n = 1)'); the group is suppressed, as survey groups are."""
    truth = sample_warehouse.query("test", sql="""
        SELECT COUNT(DISTINCT operator_ref) AS n FROM training_records
        WHERE site_id = 'CHI' AND module = 'CAR-T manufacturing process' AND attempt_no = 1
          AND attempt_at >= TIMESTAMP '2026-03-03' AND attempt_at < TIMESTAMP '2026-06-01'""")
    assert 1 <= truth["n"].iat[0] < 5
    training = window(make_client("t.manager.chi"), hub_app, "CHI", days=90)["people-training"]["children"]
    rows = module_rows(training)
    assert rows["CAR-T manufacturing process"][:2] == ["suppressed", "suppressed"]
    strings = texts(training)
    small = re.compile(r"/[1-4]\)|n = [1-4]\)")
    assert not any(small.search(t) for t in strings), [t for t in strings if small.search(t)]
    assert any(t.startswith("suppressed: fewer than 5 operators") for t in strings)
    for cells in rows.values():  # whatever is shown is a group of at least 5 operators
        for cell in cells:
            assert cell in ("suppressed", "–") or re.search(r"/(\d+)\)|n = (\d+)", cell), cell
            for n in re.findall(r"/(\d+)\)|n = (\d+)\)", cell):
                assert int(next(v for v in n if v)) >= 5, cell
