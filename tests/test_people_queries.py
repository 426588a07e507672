"""People views' query layer: survey scoring in SQL agrees with the pure functions; suppression,
including complementary suppression against subtraction, on DuckDB and PostgreSQL."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_END, make_warehouse
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from queries.analyses import people
from queries.engine.scope import build_scope
from queries.engine.warehouse import Warehouse
from queries.kpi.catalog import NETWORK
from queries.kpi.kpis import kpi_frame
from queries.stats.survey import cronbach_alpha, group_index, scored_items

WAVE_AT = TEST_END - timedelta(days=20)
_ids = itertools.count(1)


def answers(seed: int, n: int, centre: float) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    latent = rng.normal(centre, 0.8, n)
    raw = np.clip(np.rint(latent[:, None] + rng.normal(0, 0.7, (n, 7))), 1, 7).astype(int)
    raw[:, [0, 2, 4]] = 8 - raw[:, [0, 2, 4]]  # negatively worded items answered low when safe
    return [tuple(int(v) for v in row) for row in raw]


def add_responses(wh: Warehouse, groups: dict[tuple[str, str, str], int], seed: int = 1) -> pd.DataFrame:
    """groups: (wave, site, team) -> respondents. Returns the rows written."""
    rows = []
    for k, ((wave, site, team), n) in enumerate(groups.items()):
        for answer in answers(seed + k, n, 4.5 + 0.3 * k % 2):
            rows.append({"response_id": f"SR-{next(_ids)}", "site_id": site, "team": team, "wave": wave,
                         "submitted_at": WAVE_AT, **{f"q{i}": v for i, v in enumerate(answer, start=1)}})
    frame = pd.DataFrame(rows)
    with wh.transaction() as conn:
        wh.bulk_insert(conn, "survey_responses", frame)
    return frame


def scope(role="leadership", own_site=None, sites=("A", "B")):
    return build_scope(user_id="t", role=role, own_site=own_site, all_sites=list(sites), end=TEST_END, days=90)


def row(groups: pd.DataFrame, level: str, site: str, team: str | None = None) -> pd.Series:
    pick = groups[(groups["level"] == level) & (groups["site_id"] == site)]
    if team is not None:
        pick = pick[pick["team"] == team]
    assert len(pick) == 1, (level, site, team)
    return pick.iloc[0]


@pytest.mark.requirement("URS-PPL-007")
def test_sql_scoring_matches_pure_functions(warehouse):
    written = add_responses(warehouse, {("2026-Q2", "A", "T1"): 6, ("2026-Q2", "A", "T2"): 7,
                                        ("2026-Q2", "B", "T1"): 9})
    groups = people.survey_groups(warehouse, scope())
    expected = group_index(written, ["site_id", "team"]).set_index(["site_id", "team"])
    for (site, team), want in expected.iterrows():
        got = row(groups, "team", site, team)
        assert got["respondents"] == want["respondents"]
        assert got["index_0_100"] == pytest.approx(want["index_0_100"], rel=1e-9)
        items = scored_items(written[(written.site_id == site) & (written.team == team)])
        assert got["alpha"] == pytest.approx(cronbach_alpha(items), rel=1e-9)
        assert got[people.ITEM_MEANS].to_numpy(dtype=float) == pytest.approx(items.mean().to_numpy())
    network = row(groups, "network", NETWORK)
    assert network["respondents"] == 22
    assert network["index_0_100"] == pytest.approx(group_index(written, ["wave"])["index_0_100"].iloc[0])
    assert network["alpha"] == pytest.approx(cronbach_alpha(scored_items(written)))


@pytest.mark.requirement("URS-PPL-003", "URS-PPL-004")
def test_small_team_and_the_team_that_would_reveal_it_by_subtraction_are_suppressed(warehouse):
    add_responses(warehouse, {("2026-Q2", "A", "T1"): 6, ("2026-Q2", "A", "T2"): 9, ("2026-Q2", "A", "T3"): 3,
                              ("2026-Q2", "B", "T1"): 12})
    groups = people.survey_groups(warehouse, scope())
    assert row(groups, "site", "A")["respondents"] == 18  # the site total stays (it is shown elsewhere)
    t3, t1, t2 = (row(groups, "team", "A", t) for t in ("T3", "T1", "T2"))
    assert t3["suppressed"] and math.isnan(t3["respondents"]) and math.isnan(t3["index_0_100"])
    # 18 - 6 - 9 = 3 would be T3: T1 (the smallest shown team) is suppressed as well.
    assert t1["suppressed"] and math.isnan(t1["respondents"]) and math.isnan(t1["alpha"])
    assert not t2["suppressed"] and t2["respondents"] == 9
    assert all_remainders_safe(groups)
    items = people.survey_items(warehouse, scope(), groups)
    site_a_teams = items[(items["level"] == "team") & (items["site_id"] == "A")]
    assert set(site_a_teams["team"]) == {"T2"}  # no distribution of T1 or T3
    assert (items.groupby(["level", "site_id", "team", "item"], dropna=False)["share_pct"].sum()
            .round(9) == 100).all()


@pytest.mark.requirement("URS-PPL-003")
def test_a_small_site_wave_enters_no_aggregate_for_leaders_and_site_managers(warehouse):
    add_responses(warehouse, {("2026-Q2", "A", "T1"): 8, ("2026-Q2", "A", "T2"): 8, ("2026-Q2", "B", "T1"): 3})
    leader = people.survey_groups(warehouse, scope())
    assert row(leader, "site", "B")["suppressed"]
    # B's 3 answers are in no aggregate (as in the psych-safety KPI): the network is A's 16, so network
    # minus A is 0 and nothing about B can be worked out by subtraction
    assert row(leader, "network", NETWORK)["respondents"] == row(leader, "site", "A")["respondents"] == 16
    manager = people.survey_groups(warehouse, scope("site_manager", "A"))
    assert set(manager["site_id"]) == {"A", NETWORK}  # never another site's rows
    assert row(manager, "network", NETWORK)["respondents"] == 16
    assert row(manager, "network", NETWORK)["index_0_100"] == pytest.approx(row(manager, "site", "A")["index_0_100"])
    assert not row(manager, "site", "A")["suppressed"]


@pytest.mark.requirement("URS-PPL-004")
def test_people_page_and_kpi_count_the_same_respondents_so_no_small_group_is_recovered(warehouse):
    """The reproduction of the security sweep: with a 3-respondent site-wave, a site manager read n 205 on
    the people page and n 202 on the KPI, and (205 x 69.16 - 202 x 68.95) / 3 was that group's exact index."""
    add_responses(warehouse, {("2026-Q2", "A", "T1"): 6, ("2026-Q2", "A", "T2"): 6, ("2026-Q2", "B", "T1"): 7,
                              ("2026-Q2", "C", "T1"): 3})
    manager = scope("site_manager", "A", sites=("A", "B", "C"))
    page = row(people.survey_groups(warehouse, manager), "network", NETWORK)
    kpi = kpi_frame(warehouse, manager, ["psych_safety"])
    network_kpi = kpi[kpi["site_id"] == NETWORK].iloc[0]
    assert page["respondents"] == network_kpi["n"] == 19  # A 12 + B 7; C's 3 nowhere
    assert page["index_0_100"] == pytest.approx(network_kpi["value"])
    recovered = (page["respondents"] * page["index_0_100"] - network_kpi["n"] * network_kpi["value"])
    assert recovered == pytest.approx(0, abs=1e-6)  # the difference holds nobody


@pytest.mark.requirement("URS-PPL-004")
def test_network_shown_when_the_hidden_rest_is_large_enough(warehouse):
    add_responses(warehouse, {("2026-Q2", "A", "T1"): 8, ("2026-Q2", "B", "T1"): 6})
    manager = people.survey_groups(warehouse, scope("site_manager", "B"))
    assert row(manager, "network", NETWORK)["respondents"] == 14
    assert set(manager["site_id"]) == {"B", NETWORK}


@pytest.mark.requirement("URS-PPL-005")
def test_select_groups_only_picks_rows_never_new_aggregates(warehouse):
    add_responses(warehouse, {("2026-Q2", "A", "T1"): 6, ("2026-Q2", "A", "T2"): 9, ("2026-Q2", "A", "T3"): 3})
    groups = people.survey_groups(warehouse, scope())
    teams = ["T1", "T2", "T3", "forged'; DROP TABLE x; --", None]
    for k in range(len(teams) + 1):
        for subset in itertools.combinations(teams, k):
            picked = people.select_groups(groups, site_id="A", teams=list(subset))
            assert set(picked.index) <= set(groups.index)
            shown = picked[~picked["suppressed"]]
            assert set(shown.loc[shown["level"] == "team", "team"]) <= {"T2"}


@pytest.mark.requirement("URS-PPL-006")
@pytest.mark.requirement("URS-EXP-011")
def test_export_carries_no_suppressed_value(warehouse):
    add_responses(warehouse, {("2026-Q2", "A", "T1"): 6, ("2026-Q2", "A", "T2"): 4})
    export = people.survey_export(people.survey_groups(warehouse, scope()))
    hidden = export[export["suppressed"]]
    assert len(hidden) == 2 and hidden[["respondents", "index_0_100", "alpha"]].isna().all().all()
    assert (hidden["note"].str.startswith("suppressed")).all()
    assert "__network__" not in set(export["site_id"])


def all_remainders_safe(groups: pd.DataFrame, min_n: int = 5) -> bool:
    """No site minus its shown teams, and no network minus its shown sites, is a group of 1..min_n-1."""
    for _, wave in groups.groupby("wave"):
        for _, site in wave[(wave["level"] == "site") & ~wave["suppressed"]].iterrows():
            teams = wave[(wave["level"] == "team") & (wave["site_id"] == site["site_id"]) & ~wave["suppressed"]]
            if 0 < site["respondents"] - teams["respondents"].sum() < min_n:
                return False
        for _, net in wave[(wave["level"] == "network") & ~wave["suppressed"]].iterrows():
            sites = wave[(wave["level"] == "site") & ~wave["suppressed"]]
            if 0 < net["respondents"] - sites["respondents"].sum() < min_n:
                return False
    return True


@pytest.mark.requirement("URS-PPL-004")
@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(1, 16), min_size=1, max_size=4), min_size=1, max_size=4))
def test_protection_leaves_no_small_remainder(site_teams):
    """Any team sizes: after protection no subtraction of shown counts yields 1 to 4 respondents."""
    rows = []
    total = 0
    for s, teams in enumerate(site_teams):
        site_n = sum(teams)
        total += site_n
        rows.append({"wave": "W", "level": "site", "site_id": f"S{s}", "team": None, "respondents": site_n})
        rows += [{"wave": "W", "level": "team", "site_id": f"S{s}", "team": f"T{t}", "respondents": n}
                 for t, n in enumerate(teams)]
    rows.append({"wave": "W", "level": "network", "site_id": NETWORK, "team": None, "respondents": total})
    frame = pd.DataFrame(rows)
    frame["suppressed"] = frame["respondents"] < 5
    frame["respondents"] = frame["respondents"].astype(float).where(~frame["suppressed"])
    for column in people.SURVEY_VALUES[1:]:
        frame[column] = 1.0
    protected = people.protect_survey_groups(frame[people.SURVEY_COLUMNS], 5)
    assert all_remainders_safe(protected)
    assert protected.loc[protected["suppressed"], people.SURVEY_VALUES].isna().all().all()
    # Nothing shown was under 5 in the first place.
    assert (protected.loc[~protected["suppressed"], "respondents"] >= 5).all()


# -- behaviour, training and SOP views, by hand on both warehouses ---------------------------------
def test_behaviour_training_and_sop_views_by_hand(warehouse):
    from test_kpis import START, at, insert

    coaching = START + timedelta(days=10)
    dev = {"category": "people", "source": "operator", "human_factors": "none"}
    insert(warehouse,
           programmes=[{"programme_id": "P1", "site_id": "A", "kind": "coaching_review", "started_at": coaching}],
           deviations=[
               # before coaching: RC-1 twice (the second recurs), RC-2 once
               {**dev, "site_id": "A", "root_cause_code": "RC-1", "occurred_at": at(1), "detected_at": at(1),
                "human_factors": "cognitive_load", "sop_id": "SOP-1"},
               {**dev, "site_id": "A", "root_cause_code": "RC-1", "occurred_at": at(2), "detected_at": at(2),
                "human_factors": "cognitive_load", "sop_id": "SOP-1"},
               {**dev, "site_id": "A", "root_cause_code": "RC-2", "occurred_at": at(3), "detected_at": at(3),
                "sop_id": "SOP-2"},
               # in the first look-back days after the start: RC-1 again (recurs)
               {**dev, "site_id": "A", "root_cause_code": "RC-1", "occurred_at": at(12), "detected_at": at(12),
                "sop_id": "SOP-1"},
               {**dev, "site_id": "B", "root_cause_code": "RC-1", "occurred_at": at(5), "detected_at": at(5),
                "human_factors": "communication", "sop_id": "SOP-1"},
           ],
           sop_executions=[{"site_id": "A", "sop_id": "SOP-1", "month": START.date().replace(day=1),
                            "executions": 30},
                           {"site_id": "A", "sop_id": "SOP-2", "month": START.date().replace(day=1),
                            "executions": 100},
                           {"site_id": "B", "sop_id": "SOP-1", "month": START.date().replace(day=1),
                            "executions": 20}],
           training_records=[
               {"site_id": "A", "operator_ref": "a1", "module": "M1", "started_at": at(-9), "attempt_at": at(1),
                "passed": True, "certified_at": at(1)},  # 10 days
               {"site_id": "A", "operator_ref": "a2", "module": "M1", "started_at": at(-4), "attempt_at": at(1),
                "passed": False, "score": 60.0},
               {"site_id": "A", "operator_ref": "a2", "module": "M1", "started_at": at(-4), "attempt_no": 2,
                "attempt_at": at(16), "passed": True, "certified_at": at(16)},  # 20 days
               {"site_id": "B", "operator_ref": "b1", "module": "M1", "started_at": at(0), "attempt_at": at(2),
                "passed": True, "certified_at": at(2)},  # 2 days
           ])
    sc = build_scope(user_id="t", role="leadership", own_site=None, all_sites=["A", "B"], end=TEST_END, days=30)
    hf = people.human_factors(warehouse, sc).set_index(["site_id", "human_factors"])
    assert hf.loc[("A", "cognitive_load"), "deviations"] == 2 and hf.loc[("A", "none"), "deviations"] == 2
    assert hf.loc[("A", "cognitive_load"), "share_pct"] == pytest.approx(50.0)
    assert hf.loc[(NETWORK, "communication"), "share_pct"] == pytest.approx(20.0)  # 1 of 5

    rec = people.programme_recurrence(warehouse, sc, lookback_days=90).set_index("period")
    assert (rec.loc["before", "recurred"], rec.loc["before", "deviations"]) == (1, 3)
    assert (rec.loc["transition", "recurred"], rec.loc["transition", "deviations"]) == (1, 1)
    assert "after" not in rec.index

    # Two operators at A: the arithmetic is checked with the minimum group size off (1); with the real
    # minimum (5) A's group and the network total (three operators) are suppressed.
    protected = people.training_modules(warehouse, sc).set_index("site_id")
    assert protected["suppressed"].all() and protected[people.TRAINING_VALUES].isna().all().all()
    modules = people.training_modules(warehouse, sc, min_n=1).set_index("site_id")
    assert not modules["suppressed"].any()
    # A: first attempts a1 pass, a2 fail: 50 %; certifications 10 and 20 days: median 15
    assert modules.loc["A", "first_pass_pct"] == pytest.approx(50.0)
    assert modules.loc["A", "median_days"] == pytest.approx(15.0)
    assert modules.loc[NETWORK, "first_passed"] == 2 and modules.loc[NETWORK, "first_attempts"] == 3
    assert modules.loc[NETWORK, "median_days"] == pytest.approx(10.0)  # median of 2, 10, 20

    load = people.sop_load(warehouse, sc).set_index(["site_id", "sop_id"])
    assert load.loc[("A", "SOP-1"), "per_1000_executions"] == pytest.approx(1000 * 3 / 30)
    assert load.loc[("A", "SOP-1"), "cognitive_load"] == 2
    assert load.loc[("A", "SOP-2"), "per_1000_executions"] == pytest.approx(10.0)
    assert load.loc[(NETWORK, "SOP-1"), "per_1000_executions"] == pytest.approx(1000 * 4 / 50)

    quarters = people.quarterly_behaviour(warehouse, sc, lookback_days=90)
    network = quarters[quarters["site_id"] == NETWORK]
    assert network["deviations"].sum() == 5 and network["recurred"].sum() == 2


# -- operator groups: training per module and site follows the survey's minimum -------------------------
MODULES = ("Aseptic gowning", "Isolator operation")


def one_operator_module(warehouse) -> dict[tuple[str, str], int]:
    """A: Aseptic gowning by six operators; Isolator operation by one (a1, who failed the first attempt
    and was certified 11 days after starting). B and C: six operators in each module. Returns the true
    first-attempt group sizes (test only)."""
    from test_kpis import at, insert

    records = [{"site_id": "A", "operator_ref": f"a{i}", "module": "Aseptic gowning", "started_at": at(0),
                "attempt_at": at(2), "passed": True, "certified_at": at(2)} for i in range(1, 7)]
    records += [{"site_id": "A", "operator_ref": "a1", "module": "Isolator operation", "started_at": at(1),
                 "attempt_at": at(5), "passed": False, "score": 50.0},
                {"site_id": "A", "operator_ref": "a1", "module": "Isolator operation", "started_at": at(1),
                 "attempt_no": 2, "attempt_at": at(12), "passed": True, "certified_at": at(12)}]
    records += [{"site_id": site, "operator_ref": f"{site.lower()}{i}", "module": module, "started_at": at(0),
                 "attempt_at": at(3), "passed": i % 3 != 0, "certified_at": at(3 + i)}
                for site in ("B", "C") for module in MODULES for i in range(6)]
    insert(warehouse, training_records=records)
    truth = {("A", "Aseptic gowning"): 6, ("A", "Isolator operation"): 1}
    truth |= {(site, module): 6 for site in ("B", "C") for module in MODULES}
    return truth


def derivable_groups(frame: pd.DataFrame, sites: list[str], all_sites: list[str]
                     ) -> list[list[tuple[str, str]]]:
    """Unions of suppressed groups whose first-attempt count can be worked out from what the role sees.

    Known: the shown rows of `frame`, and every total over modules: the cert_pass_rate KPI's n per site in
    scope and for the network (overview and site pages), so also network minus the sites in scope (one
    "others" group per module for a site manager). Worked out = determined by adding and subtracting."""
    modules = sorted(frame["module"].unique())
    hidden = [(r.site_id, r.module) for r in frame.itertuples() if r.suppressed and r.site_id != NETWORK]
    if set(all_sites) - set(sites):
        hidden += [("others", m) for m in modules]
    rows = [*sites, "others"] if set(all_sites) - set(sites) else list(sites)
    shown_totals = frame.loc[(frame["site_id"] == NETWORK) & ~frame["suppressed"], "module"]
    equations = [[1.0 if v[0] == row else 0.0 for v in hidden] for row in rows]
    equations += [[1.0 if v[1] == m else 0.0 for v in hidden] for m in shown_totals]
    matrix = np.array(equations)
    rank = np.linalg.matrix_rank(matrix)
    found = []
    for k in range(1, len(hidden) + 1):
        for subset in itertools.combinations(hidden, k):
            vector = np.array([[1.0 if v in subset else 0.0 for v in hidden]])
            if np.linalg.matrix_rank(np.vstack([matrix, vector])) == rank:
                found.append(list(subset))
    return found


@pytest.mark.requirement("URS-PPL-008")
def test_one_operators_training_result_is_suppressed_for_leaders_and_site_managers(warehouse):
    """Issue 25.7: 'Isolator operation 0 % (0/1), 11 days (n = 1)' was one operator's result."""
    truth = one_operator_module(warehouse)
    sites = ["A", "B", "C"]

    def size(group: list[tuple[str, str]]) -> int:  # first attempts; others = network minus the scope (A)
        others = {m: sum(n for (s, mm), n in truth.items() if s != "A" and mm == m) for m in MODULES}
        return sum(truth[g] if g[0] != "others" else others[g[1]] for g in group)

    for role, own, in_scope in (("leadership", None, sites), ("site_manager", "A", ["A"])):
        frame = people.training_modules(warehouse, scope(role, own, sites=sites))
        isolator = frame[(frame["site_id"] == "A") & (frame["module"] == "Isolator operation")].iloc[0]
        assert isolator["suppressed"], role
        assert isolator[people.TRAINING_VALUES].isna().all(), role  # no 0 %, no 0/1, no 11 days, no n
        assert set(frame["site_id"]) == {*in_scope, NETWORK}  # never another site's row
        shown = frame[~frame["suppressed"]]
        assert (shown["first_attempts"] >= 5).all() and (shown["certifications"] >= 5).all()
        # Nothing suppressed can be worked out from the shown rows and the totals shown elsewhere.
        for group in derivable_groups(frame, in_scope, sites):
            assert size(group) >= 5, (role, group)
    leader = people.training_modules(warehouse, scope("leadership", sites=sites)).set_index(
        ["site_id", "module"])
    # A's total (7 first attempts, the KPI) minus a shown Aseptic row (6) would be the one operator, and
    # a network total minus B and C would give an A row: all of these are suppressed.
    assert leader.loc[("A", "Aseptic gowning"), "suppressed"]
    assert leader.loc[(NETWORK, "Isolator operation"), "suppressed"]
    assert leader.loc[(NETWORK, "Aseptic gowning"), "suppressed"]
    assert leader.loc[("B", "Isolator operation"), "first_attempts"] == 6
    # For A's manager B and C are one aggregate: 13 = 1 + 12 and 18 = 6 + 12 cannot be split.
    manager = people.training_modules(warehouse, scope("site_manager", "A", sites=sites)).set_index(
        ["site_id", "module"])
    assert manager.loc[(NETWORK, "Isolator operation"), "first_attempts"] == 13
    assert manager.loc[(NETWORK, "Aseptic gowning"), "first_attempts"] == 18
    # The minimum is the survey's setting: with 1, the same query shows the group as it is.
    raw = people.training_modules(warehouse, scope("leadership", sites=sites), min_n=1).set_index(
        ["site_id", "module"])
    assert raw.loc[("A", "Isolator operation"), ["first_pass_pct", "first_attempts"]].tolist() == [0.0, 1.0]
    assert raw.loc[("A", "Isolator operation"), "median_days"] == pytest.approx(11.0)


# -- every survey figure one role can obtain, against linear combination ---------------------------
@pytest.fixture(scope="module")
def survey_only_warehouse(tmp_path_factory):
    with make_warehouse("duckdb", tmp_path_factory.mktemp("survey-disclosure")) as wh:
        yield wh


def _figures(wh: Warehouse, role: str, own_site: str | None, sites: list[str]) -> list[tuple[int, int]]:
    """(respondents, 7 x sum of respondent scores) of every survey figure the role can obtain: the people
    page's network, site and team rows (its CSV and item tables are these rows) and the psych-safety KPI
    per site and network in every window. 7 x sum is an integer (a respondent score is a mean of 7)."""
    figures = []
    groups = people.survey_groups(wh, scope(role, own_site, sites))
    for r in groups[~groups["suppressed"]].itertuples():
        figures.append((int(r.respondents), round(r.respondents * r.score_1_7 * 7)))
    for days in (7, 30, 90, 365):
        window = build_scope(user_id="t", role=role, own_site=own_site, all_sites=sites, end=TEST_END, days=days)
        kpi = kpi_frame(wh, window, ["psych_safety"])
        for r in kpi[~kpi["suppressed"].astype(bool) & kpi["n"].notna()].itertuples():
            figures.append((int(r.n), round(r.n * (r.value / 100 * 6 + 1) * 7)))
    return figures


def _membership(figure: tuple[int, int], atoms: list[tuple[int, int]]) -> list[tuple[int, ...]]:
    """Every set of atoms (site-team groups) whose respondents and score sum make up the figure."""
    return [subset for k in range(1, len(atoms) + 1) for subset in itertools.combinations(range(len(atoms)), k)
            if sum(atoms[i][0] for i in subset) == figure[0] and sum(atoms[i][1] for i in subset) == figure[1]]


@pytest.mark.requirement("URS-PPL-004")
@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(1, 12), min_size=1, max_size=3), min_size=2, max_size=4),
       st.integers(0, 10_000))
def test_no_group_under_the_minimum_is_derivable_from_what_one_role_can_see(survey_only_warehouse, site_teams,
                                                                                  seed):
    """Random site and team sizes: for leadership and for each site manager, collect every figure of the
    survey the role can obtain, work out which site-team groups each one covers (by its respondents and
    score sum), and prove by linear algebra that no union of groups with 1 to 4 respondents is a linear
    combination of those figures (subtraction of any two views included)."""
    wh = survey_only_warehouse
    with wh.transaction() as conn:
        conn.exec_driver_sql("DELETE FROM survey_responses")
    sites = [f"S{s}" for s in range(len(site_teams))]
    groups = {("2026-Q2", site, f"T{t}"): n for site, teams in zip(sites, site_teams, strict=True)
              for t, n in enumerate(teams)}
    written = add_responses(wh, groups, seed=seed)
    scores = scored_items(written).sum(axis=1)  # 7 x respondent score, an integer
    keys = list(groups)
    atoms = [(n, int(round(scores[(written.site_id == k[1]) & (written.team == k[2])].sum()))) for k, n
             in groups.items()]
    for role, own_site in [("leadership", None)] + [("site_manager", s) for s in sites]:
        rows = []
        for figure in set(_figures(wh, role, own_site, sites)):
            covers = _membership(figure, atoms)
            assert covers, f"figure {figure} is no union of whole groups"
            assume(len(covers) == 1)  # two sets of groups with equal counts and sums: membership unknown
            rows.append([1.0 if i in covers[0] else 0.0 for i in range(len(atoms))])
        if not rows:
            continue
        _, sv, vt = np.linalg.svd(np.array(rows))
        null = vt[int((sv > 1e-9).sum()):].T
        for k in range(1, len(atoms) + 1):
            for subset in itertools.combinations(range(len(atoms)), k):
                size = sum(atoms[i][0] for i in subset)
                if not 0 < size < 5:
                    continue
                vector = np.zeros(len(atoms))
                vector[list(subset)] = 1.0
                derivable = not null.size or np.abs(vector @ null).max() < 1e-9
                assert not derivable, (role, own_site, [keys[i] for i in subset])
