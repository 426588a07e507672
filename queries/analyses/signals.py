"""Statistical signals under a scope: CQA control charts with run rules, systemic deviation clusters, and
the CAPA proposals they raise (listed for review, never opened)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from queries.engine.result_cache import cached
from queries.engine.scope import Scope
from queries.engine.warehouse import Warehouse
from queries.kpi.catalog import CQA_COLUMNS
from queries.stats.spc import (
    beyond_three_sigma,
    moving_ranges,
    nelson_rules,
    phase_one_limits,
    western_electric_rules,
)
from queries.stats.systemic import clusters_for_keys

logger = logging.getLogger(__name__)

BASELINE_BATCHES = 20  # Phase I: the first 20 batches of a site, product and process version
MIN_BASELINE_BATCHES = 10  # fewer: no limits, the points are shown without judgement
# Right-skewed CQAs (lognormal in practice): an individuals chart assumes normality, so these are charted
# on the ln scale (Montgomery, Introduction to SQC, 6.4: transform non-normal individuals first).
LOG_SCALE_CQAS = frozenset({"vcn", "dose", "endotoxin_eu_ml"})
SYSTEMIC_WINDOWS = (7, 14, 30, 60)  # the choices offered for the systemic-signal window (days)
SYSTEMIC_DEFAULT_WINDOW = 14
SYSTEMIC_REFERENCE_DAYS = 365
SYSTEMIC_ALPHA = 0.05

RULE_SETS = {"nelson": nelson_rules, "western_electric": western_electric_rules, "shewhart": beyond_three_sigma}
# Share of batches a rule set flags while the process never changes: (limits known, limits from a cleaned
# 20-batch Phase I as charted here). Seeded simulation (queries.stats.spc.in_control_flag_rates, seed 1,
# 10,000 series of 100 normal values); tests/stats/test_spc.py recomputes them with another seed. Estimating
# the limits from 20 batches, not the rules, makes most of the difference.
IN_CONTROL_FLAG_RATE = {"nelson": (0.0215, 0.0568), "western_electric": (0.0157, 0.0452), "shewhart": (0.0028, 0.0130)}
RULE_TEXT = {
    "nelson": {
        "rule_1": "1 point beyond 3σ", "rule_2": "9 in a row on one side", "rule_3": "6 in a row trending",
        "rule_4": "14 in a row alternating", "rule_5": "2 of 3 beyond 2σ", "rule_6": "4 of 5 beyond 1σ",
        "rule_7": "15 in a row within 1σ", "rule_8": "8 in a row beyond 1σ",
    },
    "western_electric": {
        "rule_1": "1 point beyond 3σ", "rule_2": "2 of 3 beyond 2σ", "rule_3": "4 of 5 beyond 1σ",
        "rule_4": "8 in a row on one side",
    },
    "shewhart": {"rule_1": "1 point beyond 3σ"},
}
CQA_LABELS = {"viability_pct": "Viability (%)", "transduction_pct": "Transduction (%)", "cd3_pct": "CD3+ (%)",
              "vcn": "Vector copy number", "dose": "Dose", "endotoxin_eu_ml": "Endotoxin (EU/mL)"}


# --- CQA control charts ----------------------------------------------------------------------------
def control_chart(series: pd.DataFrame, value_column: str, rules: str = "nelson",
                  baseline_batches: int = BASELINE_BATCHES, log_scale: bool | None = None) -> pd.DataFrame:
    """I-MR chart of one site, product and CQA, segment by process version (pure: frame in, frame out).

    ``series`` has ``batch_id, started_at, process_version`` and the value column, one row per batch.
    Each process version gets its own Phase I limits from its first ``baseline_batches`` batches (a new
    process version is a new process), cleaned as Montgomery describes: baseline points beyond the trial
    limits are set aside and the limits recomputed (queries.stats.spc.phase_one_limits); with fewer than
    ``MIN_BASELINE_BATCHES`` batches there are no limits. Run rules are applied over the whole segment. Right-skewed CQAs (``LOG_SCALE_CQAS``) are charted on
    the natural-log scale, where they are close to normal; their lines are returned back-transformed
    (geometric centre, asymmetric limits) for a log axis, and ``mr`` is then the moving range of ln(x).

    Returns the rows with ``value, y`` (charted value), ``mr, center, ucl, lcl, mr_ucl, sigma`` (sigma and
    mr on the charted scale), ``phase`` ('baseline'/'monitoring'), ``set_aside`` (a baseline point left
    out of the limits), ``scale``, ``rules`` (the rules a
    point completes, as text) and ``flagged``; points without limits have NaN lines, never a flag.
    """
    if rules not in RULE_SETS:
        raise ValueError(f"unknown rule set {rules!r}")
    log_scale = value_column in LOG_SCALE_CQAS if log_scale is None else log_scale
    names = [*series.columns, "value", "y", "mr", "phase", "set_aside", "scale", "center", "ucl", "lcl", "mr_ucl",
             "sigma", "rules", "flagged"]
    positions, columns = _chart_arrays(pd.to_numeric(series[value_column], errors="coerce").to_numpy(dtype=float),
                                       pd.to_datetime(series["started_at"]).to_numpy(),
                                       series["process_version"].to_numpy(), rules, baseline_batches, log_scale)
    if not len(positions):
        return pd.DataFrame(columns=list(dict.fromkeys(names)))
    out = series.iloc[positions]
    # One frame from arrays (assigning 13 columns one by one cost more than the chart).
    return pd.DataFrame({**{name: out[name].array for name in out.columns if name not in columns},
                         **columns}, index=out.index)


def _chart_arrays(values_all: np.ndarray, times_all: np.ndarray, versions_all: np.ndarray, rules: str,
                  baseline_batches: int, log_scale: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """control_chart on arrays: the positions of the charted rows in the input (in chart order) and the
    chart's columns for them. Arrays, not frames: the risk model charts every CQA of every site."""
    keep = np.flatnonzero(~np.isnan(values_all) & ((values_all > 0) if log_scale else True))
    # Time order; ties keep the input's order (the query's, by batch id).
    keep = keep[np.argsort(times_all[keep], kind="stable")]
    times, values_sorted = times_all[keep], values_all[keep]
    n = len(keep)
    text = RULE_TEXT[rules]
    columns = {"value": np.empty(n), "y": np.empty(n), "mr": np.empty(n), "phase": np.empty(n, dtype=object),
               "set_aside": np.zeros(n, dtype=bool),
               "scale": np.full(n, "log" if log_scale else "linear", dtype=object),
               **{c: np.full(n, np.nan) for c in ("center", "ucl", "lcl", "mr_ucl", "sigma")},
               "rules": np.full(n, "", dtype=object), "flagged": np.zeros(n, dtype=bool)}
    if not n:
        return keep, columns
    segments = []  # positions of each process version's points, versions in order of first appearance
    versions, _ = pd.factorize(versions_all[keep], use_na_sentinel=False)
    for version in range(versions.max() + 1):
        at = np.flatnonzero(versions == version)
        segments.append(at)
        values = values_sorted[at]
        y = np.log(values) if log_scale else values
        n_base = min(baseline_batches, len(y))
        columns["value"][at], columns["y"][at], columns["mr"][at] = values, y, moving_ranges(y)
        columns["phase"][at] = np.where(np.arange(len(y)) < n_base, "baseline", "monitoring")
        if n_base < MIN_BASELINE_BATCHES:
            continue
        phase_one = phase_one_limits(y, slice(0, n_base), min_points=MIN_BASELINE_BATCHES)
        limits = phase_one.limits
        if not limits.sigma > 0:
            continue
        columns["set_aside"][at[:n_base]] = phase_one.set_aside
        back = np.exp if log_scale else float
        columns["center"][at], columns["ucl"][at] = back(limits.center), back(limits.ucl)
        columns["lcl"][at], columns["mr_ucl"][at], columns["sigma"][at] = back(limits.lcl), limits.mr_ucl, limits.sigma
        flags = RULE_SETS[rules](y, limits.center, limits.sigma)
        labels = [""] * len(y)
        for column in flags.columns:
            for i in np.flatnonzero(flags[column].to_numpy()):
                labels[i] = f"{labels[i]}; {text[column]}" if labels[i] else text[column]
        columns["rules"][at] = labels
        columns["flagged"][at] = flags.any(axis=1).to_numpy()
    # Segment by segment, then by start time (stable): a tie between versions keeps the segment order.
    grouped = np.concatenate(segments)
    final = grouped[np.argsort(times[grouped], kind="stable")]
    return keep[final], {name: column[final] for name, column in columns.items()}


NEVER = np.datetime64("9999-12-31T00:00:00", "s")  # the completion time of a batch not completed
FLAG_COLUMNS = ["site_id", "product", "cqa", "batch_id", "process_version", "started_at", "completed_at", "value",
                "rules"]


def cqa_flags(batches: pd.DataFrame, rules: str = "nelson") -> pd.DataFrame:
    """Every flagged point of every (site, product, CQA) chart in ``batches`` (pure).

    Returns ``site_id, product, cqa, batch_id, process_version, started_at, completed_at, value, rules``,
    the point's ``phase`` (baseline or monitoring) and ``known_at``: when the flag could first be raised,
    the latest completion among the chart's points up to it (its limits and run rules read only those; a
    baseline point's limits also read later baseline batches, so only monitoring flags are causal).
    """
    rows = []
    for _key, group in batches.groupby(["site_id", "product"], sort=True):
        times, versions = pd.to_datetime(group["started_at"]).to_numpy(), group["process_version"].to_numpy()
        # A batch not completed is never known (NaT would otherwise drop out of the running maximum).
        completed = pd.to_datetime(group["completed_at"]).to_numpy().astype("datetime64[s]")
        completed[np.isnat(completed)] = NEVER
        for cqa in CQA_COLUMNS:
            positions, chart = _chart_arrays(pd.to_numeric(group[cqa], errors="coerce").to_numpy(dtype=float),
                                             times, versions, rules, BASELINE_BATCHES, cqa in LOG_SCALE_CQAS)
            hit = chart["flagged"]
            if hit.any():
                known = np.maximum.accumulate(completed[positions])
                rows.append(group.iloc[positions[hit]][FLAG_COLUMNS[:2] + FLAG_COLUMNS[3:7]].assign(
                    value=chart["value"][hit], rules=chart["rules"][hit], cqa=cqa, phase=chart["phase"][hit],
                    known_at=known[hit]))
    if not rows:
        return pd.DataFrame(columns=FLAG_COLUMNS + ["phase", "known_at"])
    return pd.concat(rows, ignore_index=True)


def scoped_batches(wh: Warehouse, scope: Scope, site_id: str) -> pd.DataFrame:
    """Completed batches of one site in the scope (NotFound outside it), all history to the window end."""
    return wh.query("sql/signals/cqa_batches", scope=scope.for_site(site_id))


def cqa_chart(wh: Warehouse, scope: Scope, site_id: str, product: str, cqa: str, rules: str = "nelson") -> pd.DataFrame:
    """One I-MR chart for the page: the window's points, limits from each version's Phase I baseline."""
    if cqa not in CQA_COLUMNS:
        raise ValueError(f"unknown CQA {cqa!r}")
    batches = scoped_batches(wh, scope, site_id)
    chart = control_chart(batches[batches["product"] == product], cqa, rules)
    started = pd.to_datetime(chart["started_at"])
    return chart[started >= pd.Timestamp(scope.start)]


# --- systemic signals ------------------------------------------------------------------------------
@dataclass
class SystemicResult:
    clusters: pd.DataFrame  # one row per cluster the user may see (sites outside the scope anonymised)
    deviations: pd.DataFrame  # the visible deviations of those clusters, with a cluster_id
    window_days: int
    threshold: float = SYSTEMIC_ALPHA  # surprise p below which a cluster is flagged (Bonferroni over keys)


# One result-cache answer per scope, window and quality data: a /signals visit asks twice (the clusters'
# callback, and the CAPA proposals, which read the flagged clusters).
@cached("signals.systemic_signals")
def systemic_signals(wh: Warehouse, scope: Scope, window_days: int = SYSTEMIC_DEFAULT_WINDOW) -> SystemicResult:
    """Same root cause or SOP at two or more sites within ``window_days``, clusters ending in the window.

    Detection runs over every site (a cluster is cross-site by nature). A user sees a cluster only if it
    involves one of their sites; sites outside their scope appear as a count ('1 other site'), never by
    name, and their deviations are not listed.

    Popular causes meet the rule by chance every month, so a cluster is ``flagged`` when it is
    ``procedure_linked`` (its SOP is behind the master version at two or more of its sites) or its
    surprise p is below ``SYSTEMIC_ALPHA`` divided by the number of causes and SOPs scanned (Bonferroni;
    the choice of window start is not corrected for). Flagged clusters come first, procedure-linked ones
    first of all, root-cause keys before SOP keys (a shared cause is the more specific signal).
    """
    if window_days not in SYSTEMIC_WINDOWS:
        window_days = SYSTEMIC_DEFAULT_WINDOW
    history = scope.with_window(scope.start - timedelta(days=SYSTEMIC_REFERENCE_DAYS + window_days), scope.end)
    devs = wh.query("sql/signals/deviations_all_sites", scope=history)
    devs["occurred_at"] = pd.to_datetime(devs["occurred_at"])
    recent = devs[devs["occurred_at"] >= pd.Timestamp(scope.start) - pd.Timedelta(days=window_days)]
    clusters = clusters_for_keys(recent, window_days=window_days, reference=devs,
                                 reference_days=SYSTEMIC_REFERENCE_DAYS)
    clusters = clusters[clusters["last_at"] >= pd.Timestamp(scope.start)]
    clusters = _merge_same_deviations(clusters)
    in_window = recent[recent["occurred_at"] >= pd.Timestamp(scope.start)]
    n_keys = max(1, int(in_window["root_cause_code"].nunique() + in_window["sop_id"].nunique()))
    threshold = SYSTEMIC_ALPHA / n_keys
    behind = wh.query("sql/signals/documents_behind_all_sites", scope=scope)
    behind_at: dict[str, set[str]] = {}  # document -> the sites where it is behind the master version
    for doc_id, site_id in zip(behind["doc_id"], behind["site_id"], strict=True):
        behind_at.setdefault(doc_id, set()).add(site_id)
    visible_sites = set(scope.site_ids)
    # Plain lookups per cluster (a frame filter per cluster cost more than the clustering).
    position = {deviation_id: i for i, deviation_id in enumerate(devs["deviation_id"])}
    dev_sites, dev_sops = devs["site_id"].to_numpy(), devs["sop_id"].to_numpy()
    rows, listed, listed_ids = [], [], []
    for cluster in clusters.itertuples(index=False):
        mine = [s for s in cluster.sites if s in visible_sites]
        if not mine:
            continue
        cluster_id = "SYS-" + hashlib.sha1("|".join(cluster.deviation_ids).encode()).hexdigest()[:8].upper()
        members = np.sort([position[i] for i in cluster.deviation_ids])  # the query's order
        sops = [k for k in cluster.key.split(" · ") if k.startswith("SOP-")]
        sops += sorted({sop for sop in dev_sops[members] if not pd.isna(sop)} - set(sops))
        old = {site for sop in sops for site in behind_at.get(sop, ()) if site in cluster.sites}
        rows.append({
            "cluster_id": cluster_id, "key": cluster.key, "first_at": cluster.first_at, "last_at": cluster.last_at,
            "n_sites": cluster.n_sites, "n_deviations": cluster.n_deviations, "sites": tuple(mine),
            "other_sites": cluster.n_sites - len(mine), "expected": cluster.expected, "surprise_p": cluster.surprise_p,
            "sops": tuple(sops),
            "sop_behind_sites": tuple(sorted(old & set(mine))),
            "sop_behind_other_sites": len(old - set(mine)),
            "procedure_linked": len(old) >= 2,
            "root_cause_key": not cluster.key.startswith("SOP-"),
        })
        shown = members[np.isin(dev_sites[members], mine)]
        listed.append(shown)
        listed_ids += [cluster_id] * len(shown)
    if listed:
        deviations = devs.iloc[np.concatenate(listed)].reset_index(drop=True).assign(cluster_id=listed_ids)
    else:
        deviations = devs.iloc[0:0].assign(cluster_id=None)
    frame = pd.DataFrame(rows, columns=[
        "cluster_id", "key", "first_at", "last_at", "n_sites", "n_deviations", "sites", "other_sites", "expected",
        "surprise_p", "sops", "sop_behind_sites", "sop_behind_other_sites", "procedure_linked", "root_cause_key"])
    frame["flagged"] = frame["procedure_linked"].astype(bool) | (frame["surprise_p"] < threshold)
    frame = frame.sort_values(["flagged", "procedure_linked", "root_cause_key", "surprise_p", "first_at"],
                              ascending=[False, False, False, True, True], kind="stable").reset_index(drop=True)
    return SystemicResult(frame, deviations, window_days, threshold)


def _merge_same_deviations(clusters: pd.DataFrame) -> pd.DataFrame:
    """A root-cause cluster and an SOP cluster of the very same deviations are one signal, two keys."""
    if clusters.empty:
        return clusters.assign(key=clusters["key"].astype(str))
    merged: dict[tuple, dict] = {}
    for row in clusters.to_dict("records"):
        ids = tuple(sorted(row["deviation_ids"]))
        if ids in merged:
            merged[ids]["key"] = f"{merged[ids]['key']} · {row['key']}"
            merged[ids]["surprise_p"] = min(merged[ids]["surprise_p"], row["surprise_p"])
        else:
            merged[ids] = {**row, "key": str(row["key"]), "deviation_ids": ids}
    return pd.DataFrame(list(merged.values())).sort_values(
        ["surprise_p", "n_sites", "first_at"], ascending=[True, False, True], kind="stable").reset_index(drop=True)
