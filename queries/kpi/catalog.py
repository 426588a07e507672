"""The KPI catalogue: the one place a KPI is declared. Tiles, tooltips, the definitions page, exports and
the KPI runner (queries/kpi/kpis.py) read it: how each KPI is computed (its SQL or its function), the queries
it reads, the options it takes from the settings and which data it depends on."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache

from queries.engine.settings import Settings

NETWORK = "__network__"  # site_id of the network-aggregate row (SQL ROLLUP gives NULL)
CQA_COLUMNS = ("viability_pct", "transduction_pct", "cd3_pct", "vcn", "dose", "endotoxin_eu_ml")
# Options a KPI may take and the setting each comes from; their defaults are the settings' defaults.
OPTION_SETTINGS = {"recurrence_days": "recurrence_window_days", "min_respondents": "min_survey_respondents",
                   "min_batches": "min_batches_for_comparability"}
OPTIONS = {option: Settings.__dataclass_fields__[name].default for option, name in OPTION_SETTINGS.items()}
RATIO_SCALES = {"%": 100.0, "per 100 batches": 100.0, "per batch": 1.0, "per inspection": 1.0}


@dataclass(frozen=True)
class Kpi:
    id: str
    title: str
    definition: str  # one line, shown in tooltips; {option} placeholders are filled by `rendered`
    formula: str  # numerator / denominator (or statistic) in words; placeholders as above
    window: str  # which timestamp the time window applies to
    unit: str
    better: str  # "lower" or "higher"
    target: float | None
    source: str  # where the definition comes from: docs/kpis.md (the reasons) and any primary source
    query: str | None  # queries/<query>.sql computes it; None when `compute` does
    kind: str  # ratio (scale x pooled numerator / pooled denominator), mean, median, score, count
    decimals: int = 1
    headline: bool = False
    compute: str | None = None  # "module:function" computing it: f(wh, scope, **params) -> rows per site
    params: tuple[tuple[str, str], ...] = ()  # (query or function parameter, option of OPTIONS)
    reads: tuple[str, ...] = ()  # queries a computed KPI reads (its query, if any, comes first)
    # Recomputed when sensors report (the cache's measurements domain): live counts such as uptime. A KPI
    # on finished days' means (prevented failures) is not: readings arriving today never change them.
    measured: bool = False

    @property
    def queries(self) -> tuple[str, ...]:
        """Every query the KPI reads, for the definitions page."""
        return tuple(dict.fromkeys(((self.query,) if self.query else ()) + self.reads))

    @property
    def scale(self) -> float:
        """A ratio KPI's value is scale x numerator / denominator (per cent, per 100 batches...)."""
        return RATIO_SCALES[self.unit]

    def computation(self) -> Callable:
        return _function(self.compute)

    def options(self, options: Mapping[str, int]) -> dict[str, int]:
        """The KPI's parameters from the run's options (defaults: OPTIONS)."""
        chosen = {**OPTIONS, **options}
        return {param: chosen[option] for param, option in self.params}

    def rendered(self, options: Mapping[str, int] | None = None) -> Kpi:
        """The KPI with its texts stating the options in force (the settings' values, not the defaults)."""
        chosen = {**OPTIONS, **(options or {})}
        return replace(self, definition=self.definition.format(**chosen), formula=self.formula.format(**chosen))

    def status(self, value: float | None) -> str:
        """'ok', 'near' (within 10 % of target on the wrong side) or 'off'; 'none' without data."""
        if value is None or self.target is None:
            return "none"
        gap = (value - self.target) if self.better == "lower" else (self.target - value)
        if gap <= 0:
            return "ok"
        return "near" if gap <= 0.1 * abs(self.target) else "off"

    def improved(self, value: float | None, previous: float | None) -> bool | None:
        if value is None or previous is None or value == previous:
            return None
        return (value < previous) if self.better == "lower" else (value > previous)


_HOUSE_TARGET = "network default target (quality leadership may change it in queries/kpi/catalog.py)"

CATALOG: tuple[Kpi, ...] = (
    Kpi(
        "mttd", "Mean time to deviation detection",
        "Mean hours from when a deviation occurred to when it was detected, over the deviations detected in "
        "the window (by detection date: an undetected deviation has no record yet); median and p90 beside it.",
        "sum(detected_at - occurred_at) / count(deviations); excursion-sourced deviations count from "
        "the excursion start",
        "deviations detected in the window", "h", "lower", 24.0,
        "docs/kpis.md (project definition)", "metrics/mttd", "mean", headline=True,
    ),
    Kpi(
        "recurrence", "Deviation recurrence rate",
        "Share of deviations with an earlier deviation of the same root cause at the same site in the "
        "previous {recurrence_days} days; cross-site recurrence (same code at another site) beside it.",
        "deviations with an earlier same-code deviation at the same site within {recurrence_days} days / deviations",
        "deviations detected in the window", "%", "lower", 10.0,
        "docs/kpis.md; EU GMP Part I Chapter 1 (1.4 xiv)", "metrics/recurrence", "ratio", headline=True,
        params=(("lookback_days", "recurrence_days"),),
    ),
    Kpi(
        "consistency", "Cross-site consistency score",
        "Share of (site, CQA) pairs whose mean is equivalent to the network reference by TOST "
        "(alpha 0.05, margin ±1.5 SD of the reference); sites with < {min_batches} batches: insufficient data.",
        "equivalent (site, CQA) pairs / evaluable (site, CQA) pairs × 100",
        "batches started in the window", "/100", "higher", 90.0,
        "docs/kpis.md; TOST: Schuirmann (1987); margin 1.5 σ_R: FDA draft guidance on analytical similarity (2017)",
        None, "score", decimals=0, headline=True, compute="queries.analyses.comparability:consistency_by_site",
        params=(("min_batches", "min_batches"),), reads=("sql/batch_cqas_all_sites",),
    ),
    Kpi(
        "psych_safety", "Psychological safety index",
        "Edmondson's 7-item team psychological safety scale on 0-100; items 1, 3, 5 reverse-scored; "
        "site survey waves under {min_respondents} respondents are suppressed and enter no aggregate.",
        "mean over respondents of mean(q1..q7, reversed items 8 - x); shown as (score - 1) / 6 × 100",
        "survey waves whose last answer lies in the window (whole waves only)", "/100", "higher", 70.0,
        "docs/kpis.md; Edmondson A. (1999) Psychological safety and learning behavior in work teams. ASQ 44(2)",
        "metrics/psych_safety", "mean", decimals=0, headline=True, params=(("min_n", "min_respondents"),),
    ),
    Kpi(
        "closure_time", "Deviation closure time",
        "Median days from detection to closure of deviations closed in the window.",
        "median(closed_at - detected_at) in days", "deviations closed in the window", "days", "lower",
        30.0, "docs/kpis.md", "metrics/closure_time", "median",
    ),
    Kpi(
        "capa_on_time", "CAPA on-time rate",
        "Share of CAPAs falling due in the window that were closed by their due date.",
        "CAPAs closed on or before due_at / CAPAs with due_at in the window (and already due)",
        "CAPAs due in the window", "%", "higher", 90.0, "docs/kpis.md", "metrics/capa_on_time",
        "ratio",
    ),
    Kpi(
        "capa_effectiveness", "CAPA effectiveness rate",
        "Share of CAPAs judged effective at their effectiveness check.",
        "CAPAs with effective = true / CAPAs with an effectiveness check in the window",
        "effectiveness checks in the window", "%", "higher", 80.0, "docs/kpis.md",
        "metrics/capa_effectiveness", "ratio",
    ),
    Kpi(
        "human_error_share", "Human-error share of deviations",
        "Share of deviations attributed to people; a high share is itself a signal (EU GMP Ch. 1 expects "
        "process, procedure and system causes to be ruled out first).",
        "deviations with category 'people' / deviations", "deviations detected in the window", "%",
        "lower", 25.0, "docs/kpis.md; EU GMP Part I Chapter 1 (1.4 xiv)",
        "metrics/human_error_share", "ratio",
    ),
    Kpi(
        "deviation_rate", "Deviation rate",
        "Batch-linked deviations per batch manufactured (funnel limits on the comparability page).",
        "deviations linked to batches started in the window / batches started in the window",
        "batches started in the window", "per batch", "lower", 0.3, "docs/kpis.md",
        "metrics/deviation_rate", "ratio", decimals=2,
    ),
    Kpi(
        "near_miss_rate", "Near-miss reporting frequency",
        "Near misses reported per 100 batches; more reporting is a sign of a reporting culture.",
        "near misses reported in the window × 100 / batches started in the window",
        "near misses reported and batches started in the window", "per 100 batches", "higher", 20.0,
        "docs/kpis.md", "metrics/near_miss_rate", "ratio",
    ),
    Kpi(
        "cert_pass_rate", "Certification first-attempt pass rate",
        "Share of first training-certification attempts that passed; a site whose first attempts come from "
        "fewer than {min_respondents} operators is suppressed and enters no aggregate.",
        "first attempts passed / first attempts", "first attempts in the window", "%", "higher", 85.0,
        "docs/kpis.md", "metrics/cert_pass_rate", "ratio", params=(("min_n", "min_respondents"),),
    ),
    Kpi(
        "time_to_competency", "Time to competency",
        "Median days from starting a training module to certification; a site with fewer than {min_respondents} operators "
        "certified is suppressed and enters no aggregate.",
        "median(certified_at - started_at) in days", "certifications in the window", "days", "lower",
        45.0, "docs/kpis.md", "metrics/time_to_competency", "median", params=(("min_n", "min_respondents"),),
    ),
    Kpi(
        "training_performance", "Training-to-performance correlation",
        "Spearman rho between operators' mean first-attempt certification score and the deviations they "
        "were involved in; negative means training predicts performance (95 % CI and n beside it).",
        "Spearman rank correlation over operators (pseudonymous) in training before the window: mean "
        "first-attempt score vs deviations with their operator_ref; CI by Fisher z",
        "deviations detected in the window", "ρ", "lower", None,
        "docs/kpis.md; Spearman rank correlation, Fisher z interval", None, "score", decimals=2,
        compute="queries.analyses.people:training_performance_by_site", params=(("min_n", "min_respondents"),),
        reads=("sql/people_operator_performance",),
    ),
    Kpi(
        "uptime", "System uptime",
        "Share of expected hourly gateway heartbeats received (from a site's onboarding on).",
        "hours with at least one heartbeat / hours in the window since onboarding",
        "heartbeats in the window", "%", "higher", 99.5, "docs/kpis.md", "metrics/uptime", "ratio",
        decimals=2, measured=True,
    ),
    Kpi(
        "data_completeness", "Data integration completeness",
        "Sensor readings received as a share of readings expected at each sensor's sampling interval.",
        "readings received / (seconds in the window since installation / interval_s), over sensors",
        "readings in the window", "%", "higher", 99.0, "docs/kpis.md",
        "metrics/data_completeness", "ratio", decimals=2, measured=True,
    ),
    Kpi(
        "batch_record_completeness", "Batch record completeness",
        "Share of completed batches with all six CQAs recorded.",
        "completed batches with every CQA recorded / completed batches",
        "batches completed in the window", "%", "higher", 99.0, "docs/kpis.md",
        "metrics/batch_record_completeness", "ratio",
    ),
    Kpi(
        "inspection_findings", "Regulatory inspection findings",
        "Findings (critical + major + minor) per inspection; classification (NAI/VAI/OAI) beside it.",
        "sum(findings) / inspections", "inspections in the window", "per inspection", "lower", 3.0,
        "docs/kpis.md; FDA inspection classifications (NAI/VAI/OAI)", "metrics/inspection_findings", "ratio",
    ),
    Kpi(
        "manufacturing_turnaround", "Manufacturing turnaround",
        "Median days from manufacturing start to QP/QA release.",
        "median(released_at - started_at) in days", "batches released in the window", "days", "lower",
        17.0, "docs/kpis.md", "metrics/manufacturing_turnaround", "median",
    ),
    Kpi(
        "vein_to_vein", "Vein-to-vein time",
        "Median days from apheresis to infusion.",
        "median(infused_at - apheresis_at) in days", "batches infused in the window", "days", "lower",
        24.0, "docs/kpis.md", "metrics/vein_to_vein", "median",
    ),
    Kpi(
        "right_first_time", "Right-first-time batch rate",
        "Share of dispositioned batches released with no deviation and every CQA within specification.",
        "released batches with no linked deviation and no OOS result / batches released or rejected",
        "batches dispositioned in the window", "%", "higher", 90.0, "docs/kpis.md",
        "metrics/right_first_time", "ratio",
    ),
    Kpi(
        "oos_rate", "Out-of-specification rate",
        "Share of tested batches with at least one CQA outside its release specification.",
        "batches with any CQA outside specification / batches with results",
        "batches completed in the window", "%", "lower", 3.0,
        "docs/kpis.md; specifications table (product file)", "metrics/oos_rate", "ratio",
    ),
    Kpi(
        "prediction_accuracy", "Prediction accuracy (risk model)",
        "Backtested ROC AUC of the site risk model (major/critical deviation or action-level excursion in "
        "the next 30 days); precision, recall and the base rate beside it.",
        "ROC AUC over the site-months of the last 12 months with known outcomes, each month scored by a "
        "model trained only on earlier months (rolling origin); precision and recall of flagging the top "
        "third of sites each month; base rate = share of site-months with an event; survey waves under "
        "{min_respondents} respondents are left out of the model's inputs. A site's value is the AUC of its own "
        "monthly risks over the same months (none when all of them had, or none had, an event). "
        "Model: queries/stats/risk_model.py",
        "site-months predicted in the 12 months before the window end (not the window length)", "AUC",
        "higher", 0.7,
        "docs/kpis.md; ROC AUC: Hanley & McNeil (1982) Radiology 143:29-36",
        None, "score", decimals=2, compute="queries.analyses.risk:prediction_accuracy_by_site",
        params=(("min_respondents", "min_respondents"),),
        reads=("sql/signals/sites_all", "sql/signals/deviations_all_sites", "sql/signals/excursions_all_sites",
               "sql/signals/cqa_batches_all_sites", "sql/signals/survey_waves_all_sites",
               "sql/signals/training_first_attempts_all_sites"),
    ),
    Kpi(
        "prevented_failures", "Prevented failures",
        "Drift warnings acted on (an excursion on the sensor acknowledged) and not followed by an "
        "action-level excursion within 30 days; warnings raised beside it.",
        "warning episodes known in the window with an acknowledged excursion on that sensor during the "
        "warning (+7 days) and no action-level excursion until 30 days after it (count); denominator: "
        "warning episodes known in the window. Warnings: EWMA on site-adjusted daily means "
        "(queries/stats/early_warning.py)",
        "drift warnings known in the window", "warnings", "higher", None,
        "docs/kpis.md (signals that preceded an intervention before an excursion)",
        None, "count", decimals=0, compute="queries.analyses.sensor_drift:prevented_failures_by_site",
        reads=("sql/signals/sensors", "sql/signals/excursions", "sql/signals/sensor_daily_means", "sql/site_ids"),
    ),
)

KPIS: dict[str, Kpi] = {k.id: k for k in CATALOG}
HEADLINE = tuple(k for k in CATALOG if k.headline)
# The catalogue in themes of at most eight, for grids that must fit a screen's width (the overview shows
# one site x KPI table per theme); every KPI is in exactly one (tests/test_catalog.py).
THEMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Deviations and CAPA", ("mttd", "recurrence", "closure_time", "capa_on_time", "capa_effectiveness",
                             "human_error_share", "deviation_rate", "near_miss_rate")),
    ("Product and process", ("consistency", "right_first_time", "oos_rate", "batch_record_completeness",
                             "manufacturing_turnaround", "vein_to_vein", "inspection_findings")),
    ("People and training", ("psych_safety", "cert_pass_rate", "time_to_competency", "training_performance")),
    ("Monitoring and prediction", ("uptime", "data_completeness", "prediction_accuracy", "prevented_failures")),
)


def get(kpi_id: str) -> Kpi:
    try:
        return KPIS[kpi_id]
    except KeyError:
        raise KeyError(f"unknown KPI {kpi_id!r}") from None


@cache
def _function(path: str | None) -> Callable:
    """The function a catalogue entry names ("module:function"), imported on first use: the analyses
    import the catalogue, so it cannot import them."""
    if not path:
        raise ValueError("this KPI is computed by its query, not by a function")
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)
