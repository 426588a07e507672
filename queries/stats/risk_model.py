"""Site risk model: features from recent history, a 30-day outcome, a rolling-origin backtest, scores.

Pure: event frames in, frames and numbers out (no warehouse, no Dash). No look-ahead, in three places:

- a feature at a moment t uses only what was known before t: deviations and excursions by detection
  time, batches by start, survey waves by close, training by attempt, and statistical signals as the
  caller's ``signals_before(t)`` computes them from what was known before t (queries/analyses/risk.py);
- a month's outcome carries the moment it became known (``label_known_at``: the first detection of a
  qualifying event in its window), so a model trained at month M learns a label only if it was known
  before M, not as the whole history later shows it;
- the backtest trains each month's model only on months whose outcome window had closed before it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

logger = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
HORIZON_DAYS = 30
LOOKBACK_DAYS = 90
TRAINING_LOOKBACK_DAYS = 90
MIN_HISTORY_DAYS = 180  # a site-month needs this much history behind it (the longest look-back)
FLAG_SHARE = 1 / 3  # the oversight policy the backtest scores: the top third of sites each month
MIN_TRAIN_ROWS = 24
NAIVE_FEATURE = "deviations_90d"  # the naive baseline: rank sites by their last 90 days' deviation count
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261207  # fixed: the same backtest always shows the same interval

FEATURES = (
    "deviations_90d",
    "major_deviations_90d",
    "alert_excursions_90d",
    "action_excursions_90d",
    "signals_90d",
    "batches_90d",
    "survey_index",
    "training_pass_rate_90d",
)
COUNT_FEATURES = FEATURES[:6]  # counts of events (none: 0); the survey and pass rate stay unknown (NaN)
FEATURE_LABELS = {
    "deviations_90d": "deviations (90 days)",
    "major_deviations_90d": "major/critical deviations (90 days)",
    "alert_excursions_90d": "alert-level excursions (90 days)",
    "action_excursions_90d": "action-level excursions (90 days)",
    "signals_90d": "statistical signals (90 days)",
    "batches_90d": "batches started (90 days)",
    "survey_index": "psychological safety index",
    "training_pass_rate_90d": "first-attempt pass rate (90 days)",
}


def no_signals(t: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"site_id": pd.Series(dtype=object), "known_at": pd.Series(dtype="datetime64[ns]")})


@dataclass(frozen=True)
class RiskEvents:
    """The history the model learns from; one row per event, every site of the network.

    deviations: site_id, occurred_at, detected_at, severity; excursions: site_id, started_at,
    detected_at, level; batches: site_id, started_at; survey: site_id, closed_at, index_0_100 (groups
    under the anonymity threshold already removed); training: site_id, attempt_at, passed (first
    attempts). ``signals_before(t)``: site_id, known_at of the statistical signals (Nelson-flagged CQA
    results, deviations in a cross-site cluster) as they could be computed from what was known before t.
    """

    deviations: pd.DataFrame
    excursions: pd.DataFrame
    batches: pd.DataFrame
    survey: pd.DataFrame
    training: pd.DataFrame
    signals_before: Callable[[pd.Timestamp], pd.DataFrame] = no_signals


def _count(frame: pd.DataFrame, time_column: str, t: pd.Timestamp, days: int, mask=None) -> pd.Series:
    times = pd.to_datetime(frame[time_column])
    keep = (times < t) & (times >= t - days * DAY)
    if mask is not None:
        keep &= mask
    return frame.loc[keep].groupby("site_id").size()


def features_at(events: RiskEvents, site_ids: list[str], t: pd.Timestamp) -> pd.DataFrame:
    """One row per site: the FEATURES as known just before ``t``."""
    t = pd.Timestamp(t)
    dev, exc = events.deviations, events.excursions
    out = pd.DataFrame(index=pd.Index(site_ids, name="site_id"))
    out["deviations_90d"] = _count(dev, "detected_at", t, LOOKBACK_DAYS)
    out["major_deviations_90d"] = _count(dev, "detected_at", t, LOOKBACK_DAYS, dev["severity"] != "minor")
    out["alert_excursions_90d"] = _count(exc, "detected_at", t, LOOKBACK_DAYS, exc["level"] == "alert")
    out["action_excursions_90d"] = _count(exc, "detected_at", t, LOOKBACK_DAYS, exc["level"] == "action")
    out["signals_90d"] = _count(events.signals_before(t), "known_at", t, LOOKBACK_DAYS)
    out["batches_90d"] = _count(events.batches, "started_at", t, LOOKBACK_DAYS)
    out[list(COUNT_FEATURES)] = out[list(COUNT_FEATURES)].fillna(0).astype(float)  # no event counted: 0
    survey = events.survey[pd.to_datetime(events.survey["closed_at"]) < t].sort_values("closed_at")
    out["survey_index"] = survey.groupby("site_id")["index_0_100"].last().astype(float)
    tr = events.training
    times = pd.to_datetime(tr["attempt_at"])
    recent = tr[(times < t) & (times >= t - TRAINING_LOOKBACK_DAYS * DAY)]
    out["training_pass_rate_90d"] = recent.groupby("site_id")["passed"].mean().astype(float)
    return out[list(FEATURES)].reset_index()


def outcome_known_at(events: RiskEvents, site_ids: list[str], t: pd.Timestamp,
                     horizon_days: int = HORIZON_DAYS) -> pd.Series:
    """When each site's outcome in [t, t + horizon) became known: the first detection of a major/critical
    deviation that occurred, or an action-level excursion that started, in the window (NaT: none)."""
    t = pd.Timestamp(t)
    end = t + horizon_days * DAY
    dev, exc = events.deviations, events.excursions
    occurred, started = pd.to_datetime(dev["occurred_at"]), pd.to_datetime(exc["started_at"])
    hits = pd.concat([
        dev.loc[(occurred >= t) & (occurred < end) & (dev["severity"] != "minor"), ["site_id", "detected_at"]],
        exc.loc[(started >= t) & (started < end) & (exc["level"] == "action"), ["site_id", "detected_at"]],
    ])
    first = pd.to_datetime(hits["detected_at"]).groupby(hits["site_id"]).min()
    return first.reindex(pd.Index(site_ids, name="site_id")).rename("label_known_at")


def outcome(events: RiskEvents, site_ids: list[str], t: pd.Timestamp, horizon_days: int = HORIZON_DAYS,
            known_before: pd.Timestamp | None = None) -> pd.Series:
    """1 where a major/critical deviation occurred or an action-level excursion started in [t, t + horizon)
    (and, with ``known_before``, was detected before that moment)."""
    known_at = outcome_known_at(events, site_ids, t, horizon_days)
    hit = known_at.notna() if known_before is None else known_at < pd.Timestamp(known_before)
    return hit.astype(int).rename("label")


def site_months(events: RiskEvents, sites: pd.DataFrame, history_start: pd.Timestamp, end: pd.Timestamp,
                horizon_days: int = HORIZON_DAYS) -> pd.DataFrame:
    """Training rows: one per site and month start t with ``MIN_HISTORY_DAYS`` of history behind it.

    ``sites``: site_id, onboarded_at. ``label`` is the outcome as known before ``end`` (NaN where the
    outcome window is not over by then); ``label_known_at`` when a positive outcome became known.
    """
    first = pd.Timestamp(history_start) + MIN_HISTORY_DAYS * DAY
    months = pd.date_range(first.to_period("M").to_timestamp() + pd.offsets.MonthBegin(1), end, freq="MS")
    rows = []
    for t in months:
        eligible = sites.loc[pd.to_datetime(sites["onboarded_at"]) <= t - MIN_HISTORY_DAYS * DAY, "site_id"]
        site_ids = sorted(eligible)
        if not site_ids:
            continue
        frame = features_at(events, site_ids, t)
        frame.insert(0, "month", t)
        over = t + horizon_days * DAY <= pd.Timestamp(end)
        known_at = outcome_known_at(events, site_ids, t, horizon_days).to_numpy()
        frame["label"] = (known_at < np.datetime64(pd.Timestamp(end))).astype(float) if over else np.nan
        frame["label_known_at"] = known_at
        rows.append(frame)
    if not rows:
        return pd.DataFrame(columns=["month", "site_id", *FEATURES, "label", "label_known_at"])
    return pd.concat(rows, ignore_index=True)


def make_model() -> Pipeline:
    """Median imputation (a suppressed survey is unknown, not zero), standardisation, L2 logistic regression
    (Newton-Cholesky: the same fit as lbfgs, several times faster on a few hundred rows)."""
    return Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("model", LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=200)),
    ])


def fit(rows: pd.DataFrame) -> Pipeline | None:
    """A model fitted on rows with known labels; None without both outcomes or enough rows."""
    known = rows.dropna(subset=["label"])
    if len(known) < MIN_TRAIN_ROWS or known["label"].nunique() < 2:
        return None
    return make_model().fit(known[list(FEATURES)].astype(float), known["label"].astype(int))


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin backtest: each month predicted by a model trained only on outcomes known by then.

    The same test rows are also ranked by the naive baseline (``NAIVE_FEATURE``); intervals are 95 %
    percentile bootstrap intervals over the test site-months (the gain: model minus baseline, paired)."""

    predictions: pd.DataFrame  # month, site_id, risk, flagged, label, baseline_score, baseline_flagged
    precision: float | None
    recall: float | None
    roc_auc: float | None
    base_rate: float | None
    n: int
    n_positive: int
    n_flagged: int
    months: list[pd.Timestamp] = field(default_factory=list)
    roc_auc_ci: tuple[float, float] | None = None
    baseline_roc_auc: float | None = None
    baseline_roc_auc_ci: tuple[float, float] | None = None
    baseline_precision: float | None = None
    baseline_recall: float | None = None
    auc_gain_ci: tuple[float, float] | None = None

    @property
    def beats_chance(self) -> bool:
        return self.roc_auc_ci is not None and self.roc_auc_ci[0] > 0.5

    @property
    def beats_baseline(self) -> bool:
        return self.auc_gain_ci is not None and self.auc_gain_ci[0] > 0

    @property
    def earned(self) -> bool:
        """Whether the ranking may be shown: the model beats chance and the naive baseline, each beyond
        its 95 % interval."""
        return self.beats_chance and self.beats_baseline


def rank_auc(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``scores`` against the same row of ``labels`` (2-D, one resample per row),
    by the Mann-Whitney rank sum with ties counted half; NaN for a row holding one class only."""
    labels, scores = np.atleast_2d(labels).astype(bool), np.atleast_2d(scores).astype(float)
    ranks = stats.rankdata(scores, axis=1)
    n_pos = labels.sum(axis=1)
    n_neg = labels.shape[1] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * labels).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def bootstrap_auc(labels, risk, baseline, resamples: int = BOOTSTRAP_RESAMPLES,
                  seed: int = BOOTSTRAP_SEED) -> dict[str, tuple[float, float] | None]:
    """95 % percentile intervals of the model's AUC, the baseline's and their difference, from the same
    resamples of the test rows (paired)."""
    labels, risk, baseline = (np.asarray(a, dtype=float) for a in (labels, risk, baseline))
    if len(labels) < 2 or labels.min() == labels.max():
        return {"model": None, "baseline": None, "gain": None}
    picks = np.random.default_rng(seed).integers(0, len(labels), size=(resamples, len(labels)))
    model, naive = rank_auc(labels[picks], risk[picks]), rank_auc(labels[picks], baseline[picks])
    keep = ~np.isnan(model) & ~np.isnan(naive)

    def interval(values: np.ndarray) -> tuple[float, float]:
        low, high = np.percentile(values[keep], [2.5, 97.5])
        return float(low), float(high)

    return {"model": interval(model), "baseline": interval(naive), "gain": interval(model - naive)}


def flag_top(predictions: pd.DataFrame, share: float = FLAG_SHARE) -> pd.Series:
    """Per month, the top ``ceil(share * sites)`` by risk are flagged (ties broken by site id)."""
    def top(group: pd.DataFrame) -> pd.Series:
        k = max(1, math.ceil(share * len(group)))
        order = group.sort_values(["risk", "site_id"], ascending=[False, True], kind="stable").index[:k]
        return pd.Series(group.index.isin(order), index=group.index)
    if predictions.empty:
        return pd.Series(dtype=bool)
    return pd.concat([top(g) for _, g in predictions.groupby("month", sort=True)]).reindex(predictions.index)


def backtest_metrics(labels, risk, flagged) -> dict[str, float | int | None]:
    """Precision and recall of the flags, ROC AUC of the risk scores, and the base rate (share positive)."""
    labels = np.asarray(labels, dtype=int)
    risk = np.asarray(risk, dtype=float)
    flagged = np.asarray(flagged, dtype=bool)
    n, n_pos, n_flag = len(labels), int(labels.sum()), int(flagged.sum())
    true_pos = int((labels[flagged] == 1).sum())
    return {
        "precision": true_pos / n_flag if n_flag else None,
        "recall": true_pos / n_pos if n_pos else None,
        "roc_auc": float(roc_auc_score(labels, risk)) if 0 < n_pos < n else None,
        "base_rate": n_pos / n if n else None,
        "n": n, "n_positive": n_pos, "n_flagged": n_flag,
    }


def backtest(rows: pd.DataFrame, test_months: int = 12, flag_share: float = FLAG_SHARE,
             horizon_days: int = HORIZON_DAYS) -> Backtest:
    """Predict each of the last ``test_months`` months with known outcomes from a model trained on the
    rows whose outcome window had closed by that month's start, with their labels as known then
    (``label_known_at`` before the month: a deviation detected later was not yet a positive), expanding
    window, no look-ahead. Each test month is scored against its outcome as known at the end."""
    known = rows.dropna(subset=["label"])
    months = sorted(known["month"].unique())[-test_months:]
    parts = []
    for month in months:
        month = pd.Timestamp(month)
        train = known[known["month"] + horizon_days * DAY <= month]
        train = train.assign(label=(train["label_known_at"] < month).astype(float))
        model = fit(train)
        if model is None:
            continue
        test = known[known["month"] == month].copy()
        test["risk"] = model.predict_proba(test[list(FEATURES)].astype(float))[:, 1]
        parts.append(test)
    if not parts:
        return Backtest(pd.DataFrame(columns=["month", "site_id", "risk", "flagged", "label"]),
                        None, None, None, None, 0, 0, 0, [])
    predictions = pd.concat(parts, ignore_index=True)
    predictions["flagged"] = flag_top(predictions, flag_share)
    predictions["baseline_score"] = predictions[NAIVE_FEATURE].astype(float)
    predictions["baseline_flagged"] = flag_top(predictions.assign(risk=predictions["baseline_score"]), flag_share)
    metrics = backtest_metrics(predictions["label"], predictions["risk"], predictions["flagged"])
    naive = backtest_metrics(predictions["label"], predictions["baseline_score"], predictions["baseline_flagged"])
    intervals = bootstrap_auc(predictions["label"], predictions["risk"], predictions["baseline_score"])
    used = sorted(pd.Timestamp(m) for m in predictions["month"].unique())
    return Backtest(predictions[["month", "site_id", "risk", "flagged", "label", "baseline_score", "baseline_flagged"]],
                    metrics["precision"], metrics["recall"], metrics["roc_auc"], metrics["base_rate"], metrics["n"],
                    metrics["n_positive"], metrics["n_flagged"], used, roc_auc_ci=intervals["model"],
                    baseline_roc_auc=naive["roc_auc"], baseline_roc_auc_ci=intervals["baseline"],
                    baseline_precision=naive["precision"], baseline_recall=naive["recall"],
                    auc_gain_ci=intervals["gain"])


def score(model: Pipeline, current: pd.DataFrame, top_drivers: int = 2) -> pd.DataFrame:
    """Risk per site from ``current`` (features_at output) and the features pushing it up most.

    A driver's weight is coefficient x standardised value: how far the feature moves the log-odds from an
    average site's. Only positive contributions are drivers.
    """
    x = current[list(FEATURES)].astype(float)
    risk = model.predict_proba(x)[:, 1]
    z = model.named_steps["scale"].transform(model.named_steps["impute"].transform(x))
    contributions = z * model.named_steps["model"].coef_[0]
    drivers = []
    for row in contributions:
        order = [i for i in np.argsort(-row) if row[i] > 0][:top_drivers]
        drivers.append(tuple(FEATURES[i] for i in order))
    return pd.DataFrame({"site_id": current["site_id"].to_numpy(), "risk": risk, "drivers": drivers})


def calibration(predictions: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Reliability of the backtest's risks: the test site-months in ``bins`` groups of (nearly) equal size
    by predicted risk, each with its mean predicted risk and the share that had an event. A calibrated
    model's points lie on the diagonal. Columns: bin, n, mean_risk, observed, low, high (the observed
    share's 95 % Wilson interval)."""
    columns = ["bin", "n", "mean_risk", "observed", "low", "high"]
    if predictions.empty:
        return pd.DataFrame(columns=columns)
    ordered = predictions.sort_values(["risk", "month", "site_id"], kind="stable")
    groups = np.array_split(np.arange(len(ordered)), min(bins, len(ordered)))
    rows = []
    for number, index in enumerate(groups, start=1):
        part = ordered.iloc[index]
        n, events = len(part), float(part["label"].sum())
        low, high = wilson_interval(events, n)
        rows.append((number, n, float(part["risk"].mean()), events / n, low, high))
    return pd.DataFrame(rows, columns=columns)


def wilson_interval(successes: float, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (scipy's; Newcombe 1998, method 3)."""
    if n == 0:
        return math.nan, math.nan
    ci = stats.binomtest(int(successes), n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def site_accuracy(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per site, over its backtest months: ROC AUC of its monthly risks against its outcomes (None when
    the site had only months with, or only without, an event), months, months with an event, flagged
    months (and of them those with an event), and the share of months the flag matched the outcome."""
    rows = []
    for site_id, part in predictions.groupby("site_id", sort=True):
        labels = part["label"].to_numpy(dtype=int)
        auc = rank_auc(labels, part["risk"].to_numpy(dtype=float))[0]
        flagged = part["flagged"].to_numpy(dtype=bool)
        rows.append({"site_id": site_id, "roc_auc": None if np.isnan(auc) else float(auc), "n": len(part),
                     "n_positive": int(labels.sum()), "n_flagged": int(flagged.sum()),
                     "n_flagged_positive": int((flagged & labels.astype(bool)).sum()),
                     "flag_accuracy": float((flagged == labels.astype(bool)).mean())})
    return pd.DataFrame(rows, columns=["site_id", "roc_auc", "n", "n_positive", "n_flagged", "n_flagged_positive",
                                       "flag_accuracy"])
