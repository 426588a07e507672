"""Site risk under a scope: the network history, the backtest, the current ranking and oversight allocation.

The model learns from every site (its history is the network's); a user sees the ranking rows of their
own sites, and otherwise only network figures (backtest metrics, the median risk), never another
site's score.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from queries.analyses.signals import cqa_flags
from queries.engine import data_version
from queries.engine.result_cache import cached
from queries.engine.scope import Scope
from queries.engine.warehouse import Warehouse
from queries.kpi.catalog import CQA_COLUMNS
from queries.stats.risk_model import (
    FEATURE_LABELS,
    FEATURES,
    FLAG_SHARE,
    HORIZON_DAYS,
    Backtest,
    RiskEvents,
    backtest,
    calibration,
    features_at,
    fit,
    score,
    site_accuracy,
    site_months,
)
from queries.stats.systemic import clusters_for_keys

logger = logging.getLogger(__name__)

HISTORY_DAYS = 3 * 365  # the model learns from at most the last three years
BACKTEST_MONTHS = 12
SYSTEMIC_WINDOW_DAYS = 14
@dataclass(frozen=True)
class NetworkRisk:
    """Everything the model knows at ``end``; callers filter ``current`` to the user's scope."""

    end: datetime
    rows: pd.DataFrame  # site-months with features and labels
    backtest: Backtest
    current: pd.DataFrame  # every site: site_id, risk, drivers, rank, tier, oversight_share + FEATURES
    n_sites: int


def load_events(wh: Warehouse, scope: Scope, min_respondents: int = 5) -> tuple[RiskEvents, pd.DataFrame, pd.Timestamp]:
    """The network's history as known at the scope's end (all sites: see the module docstring)."""
    end = pd.Timestamp(scope.end)
    history = scope.with_window(scope.end - timedelta(days=HISTORY_DAYS), scope.end)
    sites = wh.query("sql/signals/sites_all")
    devs = wh.query("sql/signals/deviations_all_sites", scope=history)
    excursions = wh.query("sql/signals/excursions_all_sites", scope=history)
    batches = wh.query("sql/signals/cqa_batches_all_sites", scope=history)
    survey = wh.query("sql/signals/survey_waves_all_sites", {"min_n": min_respondents}, scope=history)
    training = wh.query("sql/signals/training_first_attempts_all_sites", scope=history)
    for frame, columns in ((devs, ("occurred_at", "detected_at")), (excursions, ("started_at", "detected_at")),
                           (batches, ("started_at", "completed_at")), (survey, ("closed_at",)),
                           (training, ("attempt_at",)), (sites, ("onboarded_at",))):
        for column in columns:
            frame[column] = pd.to_datetime(frame[column])
    # What happened before the end but was detected (or completed) after it was not known at the end.
    devs = devs[devs["detected_at"] < end].reset_index(drop=True)
    excursions = excursions[excursions["detected_at"] < end].reset_index(drop=True)
    batches.loc[~(batches["completed_at"] < end), list(CQA_COLUMNS)] = np.nan
    survey["index_0_100"] = survey["index_0_100"].astype(float)
    training["passed"] = training["passed"].astype(float)
    events = RiskEvents(devs, excursions, batches, survey, training, signals_before=signals_known_before(devs, batches))
    # The history starts where the data does (a network younger than HISTORY_DAYS has no earlier rows).
    firsts = [t for t in (batches["started_at"].min(), devs["occurred_at"].min()) if pd.notna(t)]
    history_start = min(firsts) if firsts else pd.Timestamp(history.start)
    return events, sites, max(pd.Timestamp(history_start), pd.Timestamp(history.start))


def signals_known_before(devs: pd.DataFrame, batches: pd.DataFrame):
    """``t -> site_id, known_at`` of the statistical signals one could have computed just before t.

    CQA: Nelson-flagged results of the monitoring phase (a baseline point's limits read later baseline
    batches), known when the chart's points up to the flagged one had all completed. Systemic: the
    clusters found among the deviations detected before t (a cluster exists only once its second site's
    deviation is known, and the greedy window scan depends on which deviations it sees), each member
    known at its detection. Each t's answer is computed once."""
    flags = cqa_flags(batches)
    from_cqa = flags.loc[flags["phase"] == "monitoring", ["site_id", "known_at"]]
    from_cqa = from_cqa.assign(known_at=pd.to_datetime(from_cqa["known_at"]))
    detected = devs.sort_values("detected_at", kind="stable")

    @functools.cache
    def before(t: pd.Timestamp) -> pd.DataFrame:
        known = detected[detected["detected_at"] < t]
        clusters = clusters_for_keys(known, keys=("root_cause_code",), window_days=SYSTEMIC_WINDOW_DAYS)
        ids = {i for group in clusters["deviation_ids"] for i in group}
        members = known.loc[known["deviation_id"].isin(ids), ["site_id", "detected_at"]]
        return pd.concat([from_cqa[from_cqa["known_at"] < t], members.rename(columns={"detected_at": "known_at"})],
                         ignore_index=True)

    return before


def network_risk(wh: Warehouse, scope: Scope, min_respondents: int = 5) -> NetworkRisk:
    """Backtest and current scores for every site as of the scope's end, truncated to the hour.

    Every query stops at that hour and reads every site, so the answer is one per hour and warehouse, for
    every user: the result cache keys it on the hour and the data versions (new or back-dated data
    recompute it). Callers filter it to the user's sites (risk_view, prediction_accuracy_by_site).
    """
    return _network_risk_at(wh, pd.Timestamp(scope.end).floor("h").to_pydatetime(), min_respondents)


@cached("network_risk", domains=(data_version.QUALITY,))  # deviations, excursions, batches, people: no readings
def _network_risk_at(wh: Warehouse, end: datetime, min_respondents: int) -> NetworkRisk:
    scope = Scope(user_id="risk-model", role="leadership", site_ids=(), network=True,
                  start=end - timedelta(days=HISTORY_DAYS), end=end)
    return _compute(wh, scope, min_respondents)


def _compute(wh: Warehouse, scope: Scope, min_respondents: int) -> NetworkRisk:
    end = pd.Timestamp(scope.end)
    events, sites, history_start = load_events(wh, scope, min_respondents)
    rows = site_months(events, sites, history_start, end)
    result_backtest = backtest(rows, test_months=BACKTEST_MONTHS)
    model = fit(rows)
    eligible = sorted(sites.loc[sites["onboarded_at"] <= end, "site_id"])
    current = features_at(events, eligible, end)
    if model is not None and eligible:
        scored = score(model, current).merge(current, on="site_id")
    else:
        scored = current.assign(risk=np.nan, drivers=[()] * len(current))
    return NetworkRisk(scope.end, rows, result_backtest, allocate(scored), len(eligible))


def allocate(scored: pd.DataFrame, share: float = FLAG_SHARE) -> pd.DataFrame:
    """Rank by risk; the top ``share`` get enhanced oversight; oversight effort split in proportion to risk."""
    frame = scored.sort_values(["risk", "site_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    k = max(1, int(np.ceil(share * len(frame)))) if len(frame) else 0
    frame["tier"] = np.where(frame["rank"] <= k, "enhanced", "routine")
    total = frame["risk"].sum()
    frame["oversight_share"] = frame["risk"] / total if total > 0 else np.nan
    frame["drivers_text"] = frame["drivers"].map(lambda d: ", ".join(FEATURE_LABELS[f] for f in d) or "–")
    return frame


@dataclass(frozen=True)
class RiskView:
    """What one user may see: their sites' rows, the network median, the backtest. Without a backtest
    that earns it (``Backtest.earned``), no ranking and no median leave the server: only the backtest
    and the words of ``verdict``."""

    ranking: pd.DataFrame  # the user's sites only (rank is among all n_sites); empty when not earned
    network_median_risk: float | None
    n_sites: int
    backtest: Backtest
    calibration: pd.DataFrame  # the backtest's reliability, network-wide (no site named)
    site_accuracy: pd.DataFrame  # the backtest per site, the user's sites only
    features: tuple[str, ...] = FEATURES

    @property
    def earned(self) -> bool:
        return self.backtest.earned

    @property
    def verdict(self) -> str:
        return verdict(self.backtest)


def ci_text(interval: tuple[float, float] | None) -> str:
    return f"95 % CI {interval[0]:.2f} to {interval[1]:.2f}" if interval else "no interval"


def verdict(bt: Backtest) -> str:
    """In words: whether the model beats chance and the naive baseline in its backtest, with the figures."""
    if bt.roc_auc is None:
        return ("No backtest yet (too little history with known outcomes): no ranking and no oversight tiers "
                "are set from the model.")
    model = f"The model's backtest ROC AUC is {bt.roc_auc:.2f} ({ci_text(bt.roc_auc_ci)})"
    baseline = (f"the naive baseline (each site's deviation count over the previous 90 days) scores "
                f"{bt.baseline_roc_auc:.2f} ({ci_text(bt.baseline_roc_auc_ci)})" if bt.baseline_roc_auc is not None
                else "the naive baseline cannot be scored")
    gain = (f"the model's gain over it is {bt.auc_gain_ci[0]:+.2f} to {bt.auc_gain_ci[1]:+.2f}"
            if bt.auc_gain_ci else "their difference has no interval")
    if bt.earned:
        return f"{model}, above chance; {baseline}, and {gain}: the model beats both, so its ranking is shown."
    failures = [f for f, failed in (("does not exclude chance (0.5)", not bt.beats_chance),
                                    ("does not beat the naive baseline", not bt.beats_baseline)) if failed]
    return (f"{model}; {baseline}; {gain}. The model {' and '.join(failures)}, so no ranking and no oversight "
            f"tiers are shown from it.")


def risk_view(wh: Warehouse, scope: Scope, min_respondents: int = 5) -> RiskView:
    risk = network_risk(wh, scope, min_respondents)
    bt = risk.backtest
    evidence = {"calibration": calibration(bt.predictions),
                "site_accuracy": site_accuracy(bt.predictions[bt.predictions["site_id"].isin(scope.site_ids)])}
    if not bt.earned:
        return RiskView(risk.current.iloc[0:0], None, risk.n_sites, bt, **evidence)
    mine = risk.current[risk.current["site_id"].isin(scope.site_ids)].reset_index(drop=True)
    median = float(risk.current["risk"].median()) if risk.current["risk"].notna().any() else None
    return RiskView(mine, median if scope.network else None, risk.n_sites, bt, **evidence)


def prediction_accuracy_by_site(wh: Warehouse, scope: Scope, *, min_respondents: int = 5) -> pd.DataFrame:
    """KPI prediction_accuracy: backtest ROC AUC of the network, and of each of the scope's sites over its
    own backtest months (None where all of them had, or none had, an event).

    numerator / denominator carry the flagged site-months that had an event / flagged site-months
    (precision); extra columns give recall, base rate and the number of positive site-months."""
    bt = network_risk(wh, scope, min_respondents).backtest
    per_site = site_accuracy(bt.predictions).set_index("site_id")
    rows = []
    for site_id in scope.site_ids:
        if site_id not in per_site.index:
            rows.append({"site_id": site_id, "value": None, "n": None, "numerator": None, "denominator": None})
            continue
        site = per_site.loc[site_id]
        hits, flagged, positive = site["n_flagged_positive"], site["n_flagged"], site["n_positive"]
        rows.append({"site_id": site_id, "value": site["roc_auc"], "n": site["n"], "numerator": hits,
                     "denominator": flagged, "precision": hits / flagged if flagged else None,
                     "recall": hits / positive if positive else None, "base_rate": positive / site["n"],
                     "n_positive": positive})
    if scope.network:
        true_flags = int(round((bt.precision or 0) * bt.n_flagged)) if bt.precision is not None else None
        rows.insert(0, {"site_id": None, "value": bt.roc_auc, "n": bt.n, "numerator": true_flags,
                        "denominator": bt.n_flagged, "precision": bt.precision, "recall": bt.recall,
                        "base_rate": bt.base_rate, "n_positive": bt.n_positive})
    return pd.DataFrame(rows, columns=["site_id", "value", "n", "numerator", "denominator", "precision", "recall",
                                       "base_rate", "n_positive"])


def describe_policy() -> str:
    return (f"each of the last {BACKTEST_MONTHS} months with a known outcome was scored by a model trained only "
            "on earlier months whose outcome was known by then; the outcome is a major/critical deviation or an "
            f"action-level excursion in the {HORIZON_DAYS} days after the month start; flagged = the top third "
            "of sites by risk that month")
