"""The sample network's stories seen by the signal and comparability layers (DuckDB sample warehouse).

The numbers printed here (drift lead time, backtest figures) are the ones the issue's note reports; run
with `-s` to see them.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
from conftest import TEST_END

from queries.analyses import comparability, proposals, risk, sensor_drift, signals
from queries.engine.scope import NotFound, build_scope
from queries.engine.warehouse import Warehouse
from queries.kpi.catalog import CQA_COLUMNS, NETWORK
from queries.kpi.kpis import kpi_frame
from queries.stats.risk_model import RiskEvents, features_at, site_months
from sample_data.network import Stories

STORIES = Stories.from_end(TEST_END)
SITES = ["ATL", "BOS", "CHI", "DEN", "HUB", "NYC", "PHX", "SEA", "SFO"]


def scope(days=90, role="leadership", own_site=None):
    return build_scope(user_id="tester", role=role, own_site=own_site, all_sites=SITES, end=TEST_END, days=days)


# --- (a) CHI grade B temperature drift -----------------------------------------------------------------
@pytest.mark.requirement("URS-STA-003")
@pytest.mark.parametrize("days", [90, 180])
def test_drift_warning_precedes_the_chi_action_excursion(sample_warehouse, days):
    result = sensor_drift.analyse(sample_warehouse, scope(days).for_site("CHI"))
    row = result.summary.set_index("sensor_id").loc["CHI-B1-T"]
    first_action = row["first_action_at"]
    # The story's valve failure: the first action-level excursion of CHI-B1-T in the window.
    assert abs(first_action - pd.Timestamp(STORIES.drift_event_start)) <= pd.Timedelta(hours=2)
    lead = row["lead_time_days"]
    print(f"\nCHI-B1-T drift warning lead time ({days}-day window): {lead:.1f} days before the action excursion "
          f"at {first_action:%Y-%m-%d %H:%M}")
    assert lead >= 3
    chart = result.charts["CHI-B1-T"]
    episodes = sensor_drift.warning_episodes(chart.frame["warning"])
    known = episodes["known_from"].iloc[0]
    # Credited to the drift, not to anything before it (the drift starts 100 days before the end).
    assert known > pd.Timestamp(STORIES.drift_start)
    assert row["n_peers"] == 3  # adjusted by the three other CHI temperature sensors


@pytest.mark.requirement("URS-STA-003")
def test_season_alone_raises_few_warnings(sample_warehouse):
    """Without the common-mode adjustment every temperature and humidity sensor warns each winter; with it,
    a sustained warning on a sensor other than the drifting one is the exception."""
    result = sensor_drift.analyse(sample_warehouse, scope(180))
    others = result.summary[result.summary["sensor_id"] != "CHI-B1-T"]
    warned = [sid for sid, chart in result.charts.items()
              if sid != "CHI-B1-T" and chart.frame["warning"].any()]
    print(f"\nsensors other than CHI-B1-T with a warning in 180 days: {len(warned)} of {len(others)}")
    assert len(warned) <= 0.2 * len(others)


# --- (b) the DOC-ENTRY cluster at ATL and DEN -------------------------------------------------------------
@pytest.mark.requirement("URS-STA-004", "URS-STA-008", "URS-STA-010")
def test_doc_entry_cluster_is_flagged_with_the_outdated_sop(sample_warehouse):
    result = signals.systemic_signals(sample_warehouse, scope(90), window_days=14)
    # The counts docs/signals.md states for the test sample's last 90 days.
    clusters = result.clusters
    assert (len(clusters), int((clusters["surprise_p"] < 0.05).sum()), int(clusters["flagged"].sum()),
            int(clusters["procedure_linked"].sum()), int((clusters["surprise_p"] < result.threshold).sum())) == (
        39, 5, 5, 5, 0)
    story = result.clusters[result.clusters["key"].str.contains("DOC-ENTRY")]
    assert len(story) == 1
    cluster = story.iloc[0]
    assert cluster["sites"] == ("ATL", "DEN") and cluster["n_deviations"] == 2
    assert cluster["first_at"] == pd.Timestamp(STORIES.cluster_first)
    assert cluster["last_at"] == pd.Timestamp(STORIES.cluster_second)
    assert cluster["sop_behind_sites"] == ("ATL", "DEN")  # both still run the superseded SOP-014
    listed = result.deviations[result.deviations["cluster_id"] == cluster["cluster_id"]]
    assert sorted(listed["site_id"]) == ["ATL", "DEN"] and set(listed["root_cause_code"]) == {"DOC-ENTRY"}
    proposed = proposals.from_systemic(result)
    assert any("DOC-ENTRY" in p["signal"] and "SOP-014" in p["proposed_action"] for p in proposed)
    assert all(p["status"].startswith("proposed") for p in proposed)


@pytest.mark.requirement("URS-STA-009")
def test_site_manager_sees_the_cluster_with_the_other_site_anonymised(sample_warehouse):
    result = signals.systemic_signals(sample_warehouse, scope(90, "site_manager", "ATL"), window_days=14)
    cluster = result.clusters[result.clusters["key"].str.contains("DOC-ENTRY")].iloc[0]
    assert cluster["sites"] == ("ATL",) and cluster["other_sites"] == 1
    assert cluster["sop_behind_other_sites"] == 1
    assert set(result.deviations["site_id"]) == {"ATL"}  # no other site's deviation, in any cluster
    assert all(set(c) <= {"ATL"} for c in result.clusters["sites"])


# --- (d) SEA onboarded 300 days before the end, converging over its first months ---------------------------
def test_sea_converges_to_the_network_after_onboarding(sample_warehouse):
    trajectory = comparability.onboarding_trajectory(sample_warehouse, scope(365), "SEA")
    story = trajectory[trajectory["cqa"].isin(["viability_pct", "transduction_pct"])]
    by_period = story.groupby("period")["std_difference"].apply(lambda s: s.abs().mean())
    print("\nSEA mean |standardised difference| (viability, transduction) by 60-day period: "
          + ", ".join(f"{v:.2f}" for v in by_period))
    assert len(by_period) == 5
    early, late = by_period.loc[[1, 2]].mean(), by_period.loc[[4, 5]].mean()
    assert early > 2 * late
    # Viability starts below the network (the story's -6 points), ends level with it.
    viability = story[story["cqa"] == "viability_pct"].groupby("period")["std_difference"].mean()
    assert viability.loc[1] < -0.5 and abs(viability.loc[5]) < 0.5
    summary = comparability.trajectory_summary(trajectory)
    assert summary["equivalent_pct"].iloc[-1] >= summary["equivalent_pct"].iloc[0]


@pytest.mark.requirement("URS-STA-009")
def test_onboarding_view_is_scoped(sample_warehouse):
    with pytest.raises(NotFound):
        comparability.onboarding_trajectory(sample_warehouse, scope(365, "site_manager", "CHI"), "SEA")
    assert comparability.recently_onboarded(sample_warehouse, scope(365)) == ["SEA"]


# --- comparability -------------------------------------------------------------------------------------
@pytest.mark.requirement("URS-STA-009")
def test_comparability_for_a_site_manager_pools_the_other_sites(sample_warehouse):
    result = comparability.comparability(sample_warehouse, scope(180, "site_manager", "CHI"), "CD19 CAR-T")
    assert set(result.tost["site_id"]) == {"CHI"}
    assert set(result.distributions["site_id"]) == {"CHI", comparability.REFERENCE}
    assert result.reference_label == "Other sites (pooled)"
    assert set(result.capability["site_id"]) == {"CHI", NETWORK}
    assert set(result.funnel["site_id"]) == {"CHI"}
    assert set(result.scores["site_id"]) == {"CHI", NETWORK}


@pytest.mark.requirement("URS-STA-005")
def test_ppk_uses_the_specification_table(sample_warehouse):
    result = comparability.comparability(sample_warehouse, scope(180), "CD19 CAR-T")
    viability = result.capability[(result.capability["site_id"] == "ATL") & (result.capability["cqa"] == "viability_pct")]
    batches = comparability.window_batches(sample_warehouse, scope(180))
    values = batches[(batches["site_id"] == "ATL") & (batches["product"] == "CD19 CAR-T")]["viability_pct"].dropna()
    # Viability has only a lower limit (70 %): Ppk = (mean - 70) / (3 sd).
    assert viability["ppk"].iloc[0] == pytest.approx((values.mean() - 70.0) / (3 * values.std(ddof=1)))
    assert viability["lower_limit"].iloc[0] == 70.0


@pytest.mark.requirement("URS-STA-010")
def test_the_sample_s_funnel_positions_are_the_ones_docs_state(sample_warehouse):
    """docs/signals.md: on the test sample no site is above 95 % at 90, 180 or 365 days; PHX is below."""
    for days in (90, 180, 365):
        funnel = comparability.deviation_funnel(sample_warehouse, scope(days))[0].set_index("site_id")
        assert not funnel["position"].str.startswith("above").any(), days
        assert funnel.loc["PHX", "position"] == "below 95 %", days


@pytest.mark.requirement("URS-STA-005")
def test_deviation_funnel_uses_the_catalogue_rate(sample_warehouse):
    funnel, curve, rate = comparability.deviation_funnel(sample_warehouse, scope(365))
    frame = kpi_frame(sample_warehouse, scope(365), ["deviation_rate"])
    network = frame[frame["site_id"] == NETWORK].iloc[0]
    assert rate == pytest.approx(network["numerator"] / network["denominator"])
    assert set(funnel["site_id"]) == set(SITES)
    assert (curve["upper_99.8"] >= curve["upper_95"]).all()
    inside = funnel["rate"].between(funnel["lower_99.8"], funnel["upper_99.8"])
    assert inside.sum() >= len(funnel) - 2  # a common-cause network: at most a couple outside 99.8 %


# --- risk model ----------------------------------------------------------------------------------------
@pytest.mark.requirement("URS-STA-006", "URS-STA-010")
def test_risk_backtest_gives_finite_figures(sample_warehouse):
    result = risk.network_risk(sample_warehouse, scope(90))
    bt = result.backtest
    print(f"\nrisk backtest {bt.months[0]:%Y-%m}..{bt.months[-1]:%Y-%m}: precision {bt.precision:.2f}, recall "
          f"{bt.recall:.2f}, ROC AUC {bt.roc_auc:.2f}, base rate {bt.base_rate:.2f} (n = {bt.n}, "
          f"{bt.n_positive} with an event, {bt.n_flagged} flagged)")
    for value in (bt.precision, bt.recall, bt.roc_auc, bt.base_rate):
        assert value is not None and math.isfinite(value) and 0 <= value <= 1
    # The figures docs/signals.md states for the test sample (update both together).
    shown = (round(bt.roc_auc, 2), tuple(round(v, 2) for v in bt.roc_auc_ci), round(bt.baseline_roc_auc, 2),
             tuple(round(v, 2) for v in bt.baseline_roc_auc_ci), tuple(round(v, 2) for v in bt.auc_gain_ci))
    assert shown == (0.72, (0.61, 0.83), 0.55, (0.44, 0.67), (0.04, 0.3)), shown
    assert (bt.n, bt.n_positive, bt.n_flagged, round(bt.precision, 2), round(bt.recall, 2)) == (100, 39, 36, 0.58, 0.54)
    assert len(bt.months) == 12 and bt.n >= 80
    # No look-ahead: every month was predicted by a model trained on earlier outcomes only.
    assert bt.predictions["month"].min() > result.rows.dropna(subset=["label"])["month"].min()
    current = result.current
    assert set(current["site_id"]) == set(SITES) and current["risk"].between(0, 1).all()
    assert current["oversight_share"].sum() == pytest.approx(1.0)
    assert (current["tier"] == "enhanced").sum() == 3  # the top third of nine sites


def known_before(events: RiskEvents, t: pd.Timestamp) -> RiskEvents:
    """The history as it stood just before t, cut by this test (not by the code under test): deviations
    and excursions detected before t, batches started before t with CQA results only when completed
    before t, survey waves closed and training attempts made before t; signals computed from that."""
    batches = events.batches[events.batches["started_at"] < t].copy()
    batches.loc[~(batches["completed_at"] < t), list(CQA_COLUMNS)] = float("nan")
    devs = events.deviations[events.deviations["detected_at"] < t]
    return RiskEvents(devs, events.excursions[events.excursions["detected_at"] < t], batches,
                      events.survey[events.survey["closed_at"] < t], events.training[events.training["attempt_at"] < t],
                      signals_before=risk.signals_known_before(devs, batches))


@pytest.mark.requirement("URS-STA-006")
def test_a_cqa_flag_is_known_when_every_point_up_to_it_has_completed():
    """20 baseline batches (viability alternating 80/82), then batch 21 far below (rule 1) and batch 22
    also below. Batch 20 started before 21 but completed after it: 21's flag needs 20 (it is in the
    baseline), so the flag is known at 20's completion, not 21's."""
    start = pd.Timestamp("2026-01-01")
    n = signals.BASELINE_BATCHES + 2
    values = [80.0 + 2 * (i % 2) for i in range(signals.BASELINE_BATCHES)] + [60.0, 60.0]
    completed = [start + pd.Timedelta(days=i + 2) for i in range(n)]
    completed[signals.BASELINE_BATCHES - 1] = start + pd.Timedelta(days=40)  # the last baseline batch is slow
    batches = pd.DataFrame({
        "batch_id": [f"B{i:02d}" for i in range(n)], "site_id": "X", "product": "P", "process_version": "v1",
        "started_at": [start + pd.Timedelta(days=i) for i in range(n)], "completed_at": completed,
        "viability_pct": values, **{c: float("nan") for c in signals.CQA_COLUMNS if c != "viability_pct"}})
    flags = signals.cqa_flags(batches).set_index("batch_id")
    first = flags.loc[f"B{signals.BASELINE_BATCHES:02d}"]
    assert first["phase"] == "monitoring" and "beyond 3" in first["rules"].lower()
    assert first["known_at"] == pd.Timestamp("2026-02-10")  # batch 20's completion, after its own (Jan 23)
    # The alternating baseline trips rule 4 inside Phase I: such a flag reads limits made with later
    # baseline batches, and is marked so the risk model can leave it out.
    assert flags.loc[flags["started_at"] < start + pd.Timedelta(days=signals.BASELINE_BATCHES), "phase"].eq(
        "baseline").all() and len(flags) > 2


@pytest.mark.requirement("URS-STA-006")
def test_risk_features_at_t_are_what_was_known_before_t(sample_warehouse):
    """Every month the backtest trains or tests on: the features computed from the whole history equal
    those computed from only the rows known before that month. Any later row that reached a feature (a
    future cluster member, a Phase I flag set by later baseline batches, an excursion detected after t)
    would make them differ."""
    events, sites, history_start = risk.load_events(sample_warehouse, scope(90))
    site_ids = sorted(sites["site_id"])
    rows = site_months(events, sites, history_start, pd.Timestamp(TEST_END))
    months = sorted(rows["month"].unique())
    assert len(months) >= 18
    signals_seen = 0
    for t in (pd.Timestamp(m) for m in months):
        full = features_at(events, site_ids, t)
        pd.testing.assert_frame_equal(full, features_at(known_before(events, t), site_ids, t), obj=f"features at {t}")
        signals_seen += int(full["signals_90d"].sum())
    assert signals_seen > 0  # the signals feature was exercised, not all zero


def test_prediction_accuracy_kpi_is_the_backtest_auc(sample_warehouse):
    frame = kpi_frame(sample_warehouse, scope(90), ["prediction_accuracy", "prevented_failures"])
    accuracy = frame[(frame["kpi_id"] == "prediction_accuracy") & (frame["site_id"] == NETWORK)].iloc[0]
    bt = risk.network_risk(sample_warehouse, scope(90)).backtest
    assert accuracy["value"] == pytest.approx(bt.roc_auc)
    assert accuracy["base_rate"] == pytest.approx(bt.base_rate)
    prevented = frame[(frame["kpi_id"] == "prevented_failures") & (frame["site_id"] == NETWORK)].iloc[0]
    # The CHI warning was acted on (alert excursions acknowledged) but the valve still failed: not prevented.
    assert prevented["denominator"] >= 1 and prevented["value"] == 0


@pytest.mark.requirement("URS-STA-007")
def test_the_sample_s_model_earns_its_ranking_and_the_negative_control_does_not(sample_warehouse,
                                                                                 control_warehouse):
    """With the sample's staffing-strain mechanism the model beats chance and the naive baseline beyond
    their intervals; without it (everything else equal) it does not, and no ranking row, tier or median
    leaves the server, for any role: only the backtest and the words."""
    earned = risk.risk_view(sample_warehouse, scope(90))
    assert earned.earned and "the model beats both" in earned.verdict and len(earned.ranking) == len(SITES)
    # The pass rate is what the mechanism moves first: it drives at least one site's risk.
    assert earned.ranking["drivers_text"].str.contains("first-attempt pass rate").any()
    for role, site in (("leadership", None), ("site_manager", "CHI"), ("auditor", None)):
        view = risk.risk_view(control_warehouse, scope(90, role, site))
        assert not view.earned and view.ranking.empty and view.network_median_risk is None, role
        assert "does not exclude chance (0.5)" in view.verdict
        assert f"{view.backtest.roc_auc:.2f}" in view.verdict and f"{view.backtest.baseline_roc_auc:.2f}" in view.verdict
    bt = risk.risk_view(control_warehouse, scope(90)).backtest
    print(f"\nnegative control: ROC AUC {bt.roc_auc:.2f} ({bt.roc_auc_ci[0]:.2f} to {bt.roc_auc_ci[1]:.2f}), naive "
          f"baseline {bt.baseline_roc_auc:.2f}, gain {bt.auc_gain_ci[0]:+.2f} to {bt.auc_gain_ci[1]:+.2f}")
    assert round(bt.roc_auc, 2) == 0.50 and tuple(round(v, 2) for v in bt.roc_auc_ci) == (0.35, 0.65)  # docs
    assert (round(bt.baseline_roc_auc, 2), tuple(round(v, 2) for v in bt.auc_gain_ci)) == (0.59, (-0.25, 0.06))
    # What the mechanism moves (sample_data/README.md): first attempts pass far less often with it.
    first = "SELECT AVG(CASE WHEN passed THEN 1.0 ELSE 0.0 END) FROM training_records WHERE attempt_no = 1"
    assert 0.80 < control_warehouse.query("test", sql=first).iat[0, 0] < 0.86
    assert 0.52 < sample_warehouse.query("test", sql=first).iat[0, 0] < 0.62


@pytest.mark.requirement("URS-STA-009")
def test_an_earned_ranking_shows_a_site_manager_only_their_site(sample_warehouse):
    network = risk.risk_view(sample_warehouse, scope(90))
    mine = risk.risk_view(sample_warehouse, scope(90, "site_manager", "CHI"))
    assert network.earned and network.network_median_risk is not None
    assert list(mine.ranking["site_id"]) == ["CHI"] and mine.n_sites == len(SITES)
    assert mine.ranking.iloc[0]["rank"] == network.ranking.set_index("site_id").loc["CHI", "rank"]
    assert list(mine.site_accuracy["site_id"]) == ["CHI"]


# --- control charts ---------------------------------------------------------------------------------
@pytest.mark.requirement("URS-STA-001")
def test_cqa_chart_limits_come_from_the_phase_one_baseline(sample_warehouse):
    sc = scope(365)
    chart = signals.cqa_chart(sample_warehouse, sc, "SEA", "CD19 CAR-T", "viability_pct")
    assert (pd.to_datetime(chart["started_at"]) >= pd.Timestamp(sc.start)).all()
    batches = signals.scoped_batches(sample_warehouse, sc, "SEA")
    first = batches[(batches["product"] == "CD19 CAR-T")].sort_values("started_at")
    for version, seg in first.groupby("process_version"):
        values = seg["viability_pct"].dropna().to_numpy()[: signals.BASELINE_BATCHES]
        line = chart.loc[chart["process_version"] == version, "center"]
        if len(line) and len(values) >= signals.MIN_BASELINE_BATCHES:
            assert line.iloc[0] == pytest.approx(values.mean())
    with pytest.raises(NotFound):
        signals.cqa_chart(sample_warehouse, scope(90, "site_manager", "CHI"), "ATL", "CD19 CAR-T", "viability_pct")


@pytest.mark.requirement("URS-STA-003")
def test_window_stops_at_scope_end(sample_warehouse):
    """Nothing after the scope's end leaks into the drift or the systemic signals."""
    early = build_scope(user_id="t", role="leadership", own_site=None, all_sites=SITES,
                        end=TEST_END - timedelta(days=70), days=90)
    result = sensor_drift.analyse(sample_warehouse, early.for_site("CHI"))
    assert result.summary.set_index("sensor_id").loc["CHI-B1-T", "action_excursions"] == 0
    assert result.charts["CHI-B1-T"].frame.index.max() < pd.Timestamp(early.end)
    clusters = signals.systemic_signals(sample_warehouse, early).clusters
    assert not clusters["key"].str.contains("DOC-ENTRY").any()


# --- the same answers from PostgreSQL ------------------------------------------------------------------
@pytest.mark.requirement("URS-STA-010")
@pytest.mark.postgres
@pytest.mark.postgres
def test_postgres_gives_the_same_signals(sample_warehouse, sample_postgres_template):
    """Every signal query is portable: the sample network on PostgreSQL tells the same stories, number
    for number (drift lead time, clusters, the backtest, comparability)."""
    pg = Warehouse(sample_postgres_template)
    try:
        wh_a, wh_b = sample_warehouse, pg
        drift_a = sensor_drift.analyse(wh_a, scope(90).for_site("CHI")).summary.set_index("sensor_id")
        drift_b = sensor_drift.analyse(wh_b, scope(90).for_site("CHI")).summary.set_index("sensor_id")
        assert drift_b.loc["CHI-B1-T", "lead_time_days"] == pytest.approx(drift_a.loc["CHI-B1-T", "lead_time_days"])
        assert list(drift_b["status"]) == list(drift_a["status"])
        keys_a = signals.systemic_signals(wh_a, scope(90)).clusters[["key", "sites", "flagged"]]
        keys_b = signals.systemic_signals(wh_b, scope(90)).clusters[["key", "sites", "flagged"]]
        assert keys_b.values.tolist() == keys_a.values.tolist()
        bt_a, bt_b = risk.network_risk(wh_a, scope(90)).backtest, risk.network_risk(wh_b, scope(90)).backtest
        assert (bt_b.precision, bt_b.recall, bt_b.n) == (bt_a.precision, bt_a.recall, bt_a.n)
        assert bt_b.roc_auc == pytest.approx(bt_a.roc_auc)
        cmp_a = comparability.comparability(wh_a, scope(180), "CD19 CAR-T")
        cmp_b = comparability.comparability(wh_b, scope(180), "CD19 CAR-T")
        assert cmp_b.tost["verdict"].tolist() == cmp_a.tost["verdict"].tolist()
        assert cmp_b.capability["ppk"].tolist() == pytest.approx(cmp_a.capability["ppk"].tolist())
        rates_a, rates_b = (c.funnel.set_index("site_id")["rate"].sort_index() for c in (cmp_a, cmp_b))
        assert rates_b.index.tolist() == rates_a.index.tolist()
        assert rates_b.tolist() == pytest.approx(rates_a.tolist())
        chart_a = signals.cqa_chart(wh_a, scope(365), "SEA", "CD19 CAR-T", "vcn")
        chart_b = signals.cqa_chart(wh_b, scope(365), "SEA", "CD19 CAR-T", "vcn")
        assert chart_b["flagged"].tolist() == chart_a["flagged"].tolist()
    finally:
        pg.dispose()


@pytest.mark.requirement("URS-STA-010")
def test_the_sample_flag_rates_docs_signals_states(sample_warehouse):
    """docs/signals.md: on the sample network's whole history 20 of 4,026 Phase I baseline points are set
    aside, and Nelson's rules flag 5.4 % of monitoring-phase results, Western Electric's 4.6 %, beyond 3
    sigma alone 1.3 % (close to the in-control rates the page states)."""
    with sample_warehouse.engine.connect() as conn:
        batches = pd.read_sql("SELECT * FROM batches WHERE completed_at IS NOT NULL", conn)
    shares, set_aside, baseline = {}, 0, 0
    for rules in signals.RULE_SETS:
        flagged = monitored = 0
        for _key, group in batches.groupby(["site_id", "product"]):
            for cqa in CQA_COLUMNS:
                chart = signals.control_chart(group, cqa, rules)
                judged = chart[chart["center"].notna()]
                monitoring = judged[judged["phase"] == "monitoring"]
                flagged += int(monitoring["flagged"].sum())
                monitored += len(monitoring)
                if rules == "nelson":
                    set_aside += int(chart["set_aside"].sum())
                    baseline += int((judged["phase"] == "baseline").sum())
        shares[rules] = round(100 * flagged / monitored, 1)
    assert (set_aside, baseline) == (20, 4026)
    assert shares == {"nelson": 5.4, "western_electric": 4.6, "shewhart": 1.3}

