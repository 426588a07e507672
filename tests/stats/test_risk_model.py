"""The risk model's features, outcome, backtest metrics and flagging, on hand-made events."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from queries.stats import risk_model
from queries.stats.risk_model import (
    FEATURES,
    RiskEvents,
    backtest,
    backtest_metrics,
    bootstrap_auc,
    calibration,
    features_at,
    flag_top,
    outcome,
    outcome_known_at,
    rank_auc,
    site_accuracy,
    site_months,
    wilson_interval,
)

T = pd.Timestamp("2026-03-01")


def events(**frames) -> RiskEvents:
    empty = {
        "deviations": pd.DataFrame(columns=["site_id", "occurred_at", "detected_at", "severity"]),
        "excursions": pd.DataFrame(columns=["site_id", "started_at", "detected_at", "level"]),
        "batches": pd.DataFrame(columns=["site_id", "started_at"]),
        "survey": pd.DataFrame(columns=["site_id", "closed_at", "index_0_100"]),
        "training": pd.DataFrame(columns=["site_id", "attempt_at", "passed"]),
    }
    empty.update(frames)
    for frame in (f for f in empty.values() if isinstance(f, pd.DataFrame)):
        for column in frame.columns:
            if column.endswith("_at"):
                frame[column] = pd.to_datetime(frame[column])
    return RiskEvents(**empty)


@pytest.mark.requirement("URS-STA-006")
def test_features_use_only_what_was_known_before_t() -> None:
    ev = events(
        deviations=pd.DataFrame({
            "site_id": ["A", "A", "A", "A"],
            "occurred_at": ["2026-01-10", "2026-02-20", "2026-02-27", "2025-10-01"],
            # the third is detected after T: not known yet; the fourth is older than 90 days
            "detected_at": ["2026-01-11", "2026-02-21", "2026-03-02", "2025-10-02"],
            "severity": ["major", "minor", "critical", "major"]}),
        # A's second action excursion started before T but was detected after it: not known yet.
        excursions=pd.DataFrame({"site_id": ["A", "B", "A"], "started_at": ["2026-02-01", "2026-02-02", "2026-02-28"],
                                 "detected_at": ["2026-02-01 00:00", "2026-02-02 00:00", "2026-03-01 08:00"],
                                 "level": ["action", "alert", "action"]}),
        survey=pd.DataFrame({"site_id": ["A", "A", "B"], "closed_at": ["2025-11-15", "2026-02-15", "2026-03-15"],
                             "index_0_100": [60.0, 70.0, 80.0]}),
        training=pd.DataFrame({"site_id": ["A", "A", "A", "B"],
                               "attempt_at": ["2026-01-05", "2026-02-05", "2025-11-15", "2026-02-10"],
                               "passed": [1.0, 0.0, 0.0, 1.0]}),
    )
    f = features_at(ev, ["A", "B"], T).set_index("site_id")
    assert list(f.columns) == list(FEATURES)
    assert f.loc["A", "deviations_90d"] == 2 and f.loc["A", "major_deviations_90d"] == 1
    assert f.loc["A", "action_excursions_90d"] == 1 and f.loc["B", "alert_excursions_90d"] == 1
    assert f.loc["A", "survey_index"] == 70.0  # the latest wave closed before T
    assert math.isnan(f.loc["B", "survey_index"])  # B's wave closes after T
    assert f.loc["A", "training_pass_rate_90d"] == 0.5  # 15 Nov 2025 is outside the 90 days
    assert f.loc["B", "deviations_90d"] == 0 and f.loc["B", "batches_90d"] == 0


def test_outcome_is_a_major_deviation_or_action_excursion_in_the_next_30_days() -> None:
    ev = events(
        deviations=pd.DataFrame({"site_id": ["A", "B", "C"], "occurred_at": ["2026-03-10", "2026-03-10", "2026-04-05"],
                                 "detected_at": ["2026-03-11"] * 3, "severity": ["major", "minor", "critical"]}),
        excursions=pd.DataFrame({"site_id": ["D"], "started_at": ["2026-03-30"], "detected_at": ["2026-04-02"],
                                 "level": ["action"]}),
    )
    assert outcome(ev, ["A", "B", "C", "D"], T).tolist() == [1, 0, 0, 1]
    # As known on 2026-04-01, D's excursion (detected on 2026-04-02) is not an outcome yet.
    assert outcome(ev, ["A", "B", "C", "D"], T, known_before=pd.Timestamp("2026-04-01")).tolist() == [1, 0, 0, 0]
    assert outcome_known_at(ev, ["A", "D"], T).tolist() == [pd.Timestamp("2026-03-11"), pd.Timestamp("2026-04-02")]


def test_signals_come_from_the_callers_view_at_t() -> None:
    """features_at asks for the signals known before t, and counts those of the 90 days before t."""
    asked = []

    def signals_before(t):
        asked.append(t)
        return pd.DataFrame({"site_id": ["A", "A", "B"],
                             "known_at": pd.to_datetime(["2026-02-01", "2025-11-01", "2026-02-27"])})

    f = features_at(events(signals_before=signals_before), ["A", "B"], T).set_index("site_id")
    assert asked == [T] and f["signals_90d"].to_dict() == {"A": 1.0, "B": 1.0}


@pytest.mark.requirement("URS-STA-006")
def test_training_labels_are_the_outcomes_known_when_the_model_is_trained() -> None:
    """Site A's major deviations occur on the 10th of every month but are detected only 70 days later;
    B's are detected at once. Trained at month M, a model may know A's month m as positive only if its
    deviation was detected before M. A backtest that used the labels as known at the end would see A's
    last two training months as positive."""
    months = pd.date_range("2024-01-01", "2026-05-01", freq="MS") + pd.Timedelta(days=9)
    rows = [(s, t, t + pd.Timedelta(days=70 if s == "A" else 0), "major") for s in ("A", "B") for t in months]
    ev = events(deviations=pd.DataFrame(rows, columns=["site_id", "occurred_at", "detected_at", "severity"]))
    sites = pd.DataFrame({"site_id": list("ABCD"), "onboarded_at": pd.Timestamp("2023-01-01")})
    frame = site_months(ev, sites, pd.Timestamp("2024-01-01"), pd.Timestamp("2026-06-01"))
    a = frame[frame["site_id"] == "A"].set_index("month")
    # As known at the end (2026-06-01): A's May 2026 deviation was detected in July, not yet known.
    assert a.loc[pd.Timestamp("2026-03-01"), "label"] == 1 and np.isnan(a.loc[pd.Timestamp("2026-06-01"), "label"])
    assert a.loc[pd.Timestamp("2026-04-01"), "label_known_at"] == pd.Timestamp("2026-06-19")
    assert a.loc[pd.Timestamp("2026-04-01"), "label"] == 0  # detected after the end
    seen = []
    real_fit = risk_model.fit

    def spy(train):
        seen.append(train)
        return real_fit(train)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(risk_model, "fit", spy)
        bt = backtest(frame)
    last = seen[-1]  # the model for the last test month
    month = bt.months[-1]
    latest_a = last[(last["site_id"] == "A")].sort_values("month").tail(3)
    # Its training months' windows closed before `month`, but A's deviations were detected 70 days after
    # they occurred: the last two windows' positives were not yet known.
    assert (latest_a["month"] + pd.Timedelta(days=30) <= month).all()
    assert latest_a["label"].tolist() == [1.0, 0.0, 0.0], latest_a[["month", "label", "label_known_at"]]


@pytest.mark.requirement("URS-STA-006")
def test_backtest_metrics_by_hand() -> None:
    """labels 1 0 1 0 1, risks .9 .8 .7 .2 .1, flags on the first two.

    precision = 1 true of 2 flagged = 0.5; recall = 1 of 3 positives; base rate 3/5. ROC AUC = share of
    (positive, negative) pairs ranked right: positives .9, .7, .1 vs negatives .8, .2 -> (.9>.8, .9>.2,
    .7>.2) = 3 of 6 = 0.5."""
    m = backtest_metrics([1, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.2, 0.1], [True, True, False, False, False])
    assert m["precision"] == 0.5
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["base_rate"] == pytest.approx(0.6)
    assert m["roc_auc"] == pytest.approx(0.5)
    assert m["roc_auc"] == pytest.approx(roc_auc_score([1, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.2, 0.1]))
    none = backtest_metrics([0, 0], [0.1, 0.2], [False, False])
    assert none["roc_auc"] is None and none["recall"] is None and none["precision"] is None


def test_flag_top_third_per_month() -> None:
    predictions = pd.DataFrame({"month": [T] * 4 + [T + pd.offsets.MonthBegin(1)] * 2,
                                "site_id": ["A", "B", "C", "D", "A", "B"],
                                "risk": [0.1, 0.9, 0.5, 0.9, 0.3, 0.2]})
    # 4 sites: ceil(4/3) = 2 flagged (B and D tie at 0.9: both); 2 sites: 1 flagged (A).
    assert flag_top(predictions).tolist() == [False, True, False, True, True, False]


def test_backtest_ranks_a_separable_history_perfectly() -> None:
    """Sites A and B have a major deviation on the 10th of every month, C and D never: every A/B month is
    positive, every C/D month negative, and the history separates them (3 major deviations in 90 days)."""
    months = pd.date_range("2024-01-10", "2026-05-10", freq="MS") + pd.Timedelta(days=9)
    rows = [(s, t, t + pd.Timedelta(hours=2), "major") for s in ("A", "B") for t in months]
    ev = events(deviations=pd.DataFrame(rows, columns=["site_id", "occurred_at", "detected_at", "severity"]))
    sites = pd.DataFrame({"site_id": list("ABCD"), "onboarded_at": pd.Timestamp("2023-01-01")})
    frame = site_months(ev, sites, pd.Timestamp("2024-01-10"), pd.Timestamp("2026-06-01"))
    assert frame["month"].min() == pd.Timestamp("2024-08-01")  # 180 days of history first
    known = frame.dropna(subset=["label"])
    assert known["month"].max() == pd.Timestamp("2026-05-01")  # its 30 days end before 2026-06-01
    assert np.isnan(frame.loc[frame["month"] == pd.Timestamp("2026-06-01"), "label"]).all()
    bt = backtest(frame)
    assert len(bt.months) == 12 and bt.n == 48
    assert (bt.roc_auc, bt.precision, bt.recall, bt.base_rate) == (1.0, 1.0, 1.0, 0.5)
    assert bt.predictions.groupby("month")["flagged"].sum().eq(2).all()  # ceil(4 / 3) per month


@pytest.mark.requirement("URS-STA-006")
def test_rank_auc_gives_hanley_and_mcneil_s_published_area() -> None:
    """Hanley & McNeil (1982), Radiology 143:29-36, Table 1: a radiologist's 5-point ratings of 58 normal
    and 51 abnormal CT images; the area under the ROC curve is 0.893 (ties count half)."""
    normal, abnormal = [33, 6, 6, 11, 2], [3, 2, 2, 11, 33]
    scores = np.r_[np.repeat(np.arange(1, 6), normal), np.repeat(np.arange(1, 6), abnormal)]
    labels = np.r_[np.zeros(sum(normal)), np.ones(sum(abnormal))]
    assert rank_auc(labels, scores)[0] == pytest.approx(0.893, abs=5e-4)
    assert rank_auc(labels, scores)[0] == pytest.approx(roc_auc_score(labels, scores))
    assert np.isnan(rank_auc(np.ones(4), np.arange(4.0))[0])  # one class: no AUC


@pytest.mark.requirement("URS-STA-006")
def test_bootstrap_intervals_are_paired_and_reproducible() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200)
    perfect, noise = labels + 0.0, rng.random(200)
    separable = bootstrap_auc(labels, perfect, noise)
    assert separable["model"] == (1.0, 1.0)
    assert separable["baseline"][0] < 0.5 < separable["baseline"][1]  # noise: chance inside its interval
    assert separable["gain"][0] > 0.3
    same = bootstrap_auc(labels, noise, noise)
    assert same["gain"] == (0.0, 0.0)  # paired: a score against itself gains exactly nothing
    assert bootstrap_auc(labels, noise, perfect) == bootstrap_auc(labels, noise, perfect)  # seeded


def _monthly(sites, first="2023-07-01", last="2026-05-01") -> list:
    """(site, the 10th of every month) for each site."""
    return [(s, t) for s in sites for t in pd.date_range(first, last, freq="MS") + pd.Timedelta(days=9)]


@pytest.mark.requirement("URS-STA-007")
def test_a_model_that_only_matches_the_naive_baseline_has_not_earned_its_ranking() -> None:
    """A and B have a major deviation every month: the model ranks perfectly, but so does counting last
    90 days' deviations, so the gain's interval is 0 to 0 and the ranking is not earned."""
    rows = [(s, t, t + pd.Timedelta(hours=2), "major") for s, t in _monthly("AB")]
    ev = events(deviations=pd.DataFrame(rows, columns=["site_id", "occurred_at", "detected_at", "severity"]))
    sites = pd.DataFrame({"site_id": list("ABCD"), "onboarded_at": pd.Timestamp("2023-01-01")})
    bt = backtest(site_months(ev, sites, pd.Timestamp("2023-07-01"), pd.Timestamp("2026-06-01")))
    assert bt.roc_auc == 1.0 and bt.baseline_roc_auc == 1.0 and bt.auc_gain_ci == (0.0, 0.0)
    assert bt.beats_chance and not bt.beats_baseline and not bt.earned


@pytest.mark.requirement("URS-STA-007")
def test_a_model_that_beats_chance_and_the_baseline_earns_its_ranking() -> None:
    """A and B have an action-level excursion every month (the outcome), and every site the same minor
    deviation count: the baseline ties everyone (AUC 0.5), the model separates (AUC 1)."""
    exc = [(s, t, t + pd.Timedelta(minutes=5), "action") for s, t in _monthly("AB")]
    devs = [(s, t, t + pd.Timedelta(hours=2), "minor") for s, t in _monthly("ABCD")]
    ev = events(excursions=pd.DataFrame(exc, columns=["site_id", "started_at", "detected_at", "level"]),
                deviations=pd.DataFrame(devs, columns=["site_id", "occurred_at", "detected_at", "severity"]))
    sites = pd.DataFrame({"site_id": list("ABCD"), "onboarded_at": pd.Timestamp("2023-01-01")})
    bt = backtest(site_months(ev, sites, pd.Timestamp("2023-07-01"), pd.Timestamp("2026-06-01")))
    assert bt.roc_auc == 1.0 and bt.baseline_roc_auc == 0.5
    assert bt.roc_auc_ci[0] > 0.5 and bt.auc_gain_ci[0] > 0 and bt.earned


@pytest.mark.parametrize(("successes", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)])
def test_wilson_interval_gives_newcombe_s_published_limits(successes, n, low, high) -> None:
    """Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score, no correction)."""
    assert wilson_interval(successes, n) == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))


def test_calibration_groups_site_months_by_predicted_risk() -> None:
    """Ten site-months with risks 0.05, 0.15, ..., 0.95 and events at the top four: five groups of two,
    mean predicted (0.1, 0.3, 0.5, 0.7, 0.9), observed shares (0, 0, 0, 1, 1)."""
    predictions = pd.DataFrame({"month": T, "site_id": [f"S{i}" for i in range(10)],
                                "risk": np.arange(10) / 10 + 0.05, "label": [0] * 6 + [1] * 4})
    cal = calibration(predictions.sample(frac=1, random_state=3))  # order of the rows does not matter
    assert cal["n"].tolist() == [2] * 5
    assert cal["mean_risk"].tolist() == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])
    assert cal["observed"].tolist() == [0, 0, 0, 1, 1]
    assert (cal["low"] <= cal["observed"]).all() and (cal["observed"] <= cal["high"]).all()
    assert calibration(predictions.iloc[0:0]).empty


def test_site_accuracy_by_hand() -> None:
    """A: risks .9 .2 .8, events 1 0 1, flagged on the first two -> AUC 1; flag right 1 of 3 (the second
    month flagged without an event, the third not flagged with one). B: events in every month -> no AUC."""
    predictions = pd.DataFrame({"site_id": ["A"] * 3 + ["B"] * 2, "risk": [0.9, 0.2, 0.8, 0.5, 0.4],
                                "label": [1, 0, 1, 1, 1], "flagged": [True, True, False, True, False]})
    acc = site_accuracy(predictions).set_index("site_id")
    assert acc.loc["A", "roc_auc"] == 1.0 and acc.loc["A", "flag_accuracy"] == pytest.approx(1 / 3)
    assert acc.loc["A", ["n", "n_positive", "n_flagged"]].tolist() == [3, 2, 2]
    assert pd.isna(acc.loc["B", "roc_auc"]) and acc.loc["B", "flag_accuracy"] == 0.5
