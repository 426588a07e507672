"""Cross-site comparability under a scope: distributions against the network reference, TOST, Ppk against
the release specification, the consistency score, the deviation funnel and the onboarding trajectory.

Every comparison needs the other sites' batches as its reference; a user receives the rows of their
own sites and the reference only as pooled, anonymised values ("other sites").
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from queries.analyses.signals import LOG_SCALE_CQAS
from queries.engine.result_cache import cached
from queries.engine.scope import Scope
from queries.engine.warehouse import Warehouse
from queries.kpi.catalog import CQA_COLUMNS, NETWORK
from queries.kpi.kpis import kpi_frame
from queries.stats.capability import capability
from queries.stats.equivalence import (
    EQUIVALENT,
    INSUFFICIENT,
    all_equivalent,
    cross_site_consistency,
    evaluate_pair,
)
from queries.stats.funnel import poisson_funnel_limits, poisson_position

logger = logging.getLogger(__name__)

REFERENCE = "__reference__"  # site_id of the pooled reference in distribution frames
PPK_CAPABLE = 1.33
PPK_MARGINAL = 1.0
PPK_MIN_BATCHES = 10
TRAJECTORY_PERIOD_DAYS = 60
TRAJECTORY_PERIODS = 5


@dataclass
class Comparability:
    product: str
    products: list[str]
    distributions: pd.DataFrame  # site_id (REFERENCE for the pooled reference), cqa, value
    reference_label: str
    tost: pd.DataFrame  # per visible (site, CQA) pair: n, mean, ref_mean, difference, ci, margin, verdict, scale
    comparable: pd.DataFrame  # per visible site: equivalent on every CQA of the product (intersection-union)
    capability: pd.DataFrame  # per visible site (and NETWORK) and CQA: n, ppk and its interval, status, spec
    scores: pd.DataFrame  # consistency score per visible site and the network
    funnel: pd.DataFrame  # per visible site: batches, deviations, rate, limits, position
    funnel_curve: pd.DataFrame  # the funnel limits over a range of batch counts
    network_rate: float | None
    specifications: pd.DataFrame


def specifications(wh: Warehouse) -> pd.DataFrame:
    return wh.query("sql/signals/specifications")


def window_batches(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    """Every site's completed batches started in the window (the reference needs them all)."""
    frame = wh.query("sql/batch_cqas_all_sites", scope=scope)
    for cqa in CQA_COLUMNS:
        frame[cqa] = pd.to_numeric(frame[cqa], errors="coerce").astype(float)
    return frame


@cached("comparability.comparability")
def comparability(wh: Warehouse, scope: Scope, product: str | None = None, *, min_batches: int = 5) -> Comparability:
    batches = window_batches(wh, scope)
    specs = specifications(wh)
    products = sorted(set(specs["product"]) | set(batches["product"]))
    product = product if product in products else (products[0] if products else "")
    mine = set(scope.site_ids)
    of_product = batches[batches["product"] == product]
    visible = of_product[of_product["site_id"].isin(mine)]
    all_sites = set(of_product["site_id"])
    # The pooled reference: every site for a user who sees every site; the other sites otherwise.
    sees_all = all_sites <= mine
    reference = of_product if sees_all else of_product[~of_product["site_id"].isin(mine)]
    reference_label = "Network (all sites)" if sees_all else "Other sites (pooled)"
    if not sees_all and reference["site_id"].nunique() < 2:
        reference = reference.iloc[0:0]  # one other site pooled would be that site: show nothing
    distributions = _long(visible).assign(site_id=lambda f: f["site_id"].astype(object))
    distributions = pd.concat([distributions, _long(reference).assign(site_id=REFERENCE)], ignore_index=True)

    pairs = consistency_pairs(wh, scope, min_batches=min_batches)
    tost = pairs[(pairs["product"] == product) & pairs["site_id"].isin(mine)].reset_index(drop=True)
    comparable = all_equivalent(tost)
    caps = capability_table(of_product, specs[specs["product"] == product], mine, network=scope.network)
    scores = consistency_by_site(wh, scope, min_batches=min_batches)
    scores["site_id"] = scores["site_id"].astype(object).where(scores["site_id"].notna(), NETWORK)
    funnel, curve, rate = deviation_funnel(wh, scope)
    return Comparability(product, products, distributions, reference_label, tost, comparable, caps, scores, funnel,
                         curve, rate, specs)


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    long = frame.melt(id_vars=["site_id"], value_vars=list(CQA_COLUMNS), var_name="cqa", value_name="value")
    return long.dropna(subset=["value"])


def capability_table(batches: pd.DataFrame, specs: pd.DataFrame, sites: set[str], *, network: bool) -> pd.DataFrame:
    """Ppk (with its 95 % interval) of each visible site (and the pooled network) per CQA against the product's specification.

    Right-skewed CQAs are assessed on the ln scale against ln of the limits (a normal-theory index on
    lognormal data misstates the tail); the table says which scale was used.
    """
    rows = []
    groups = [(s, batches[batches["site_id"] == s]) for s in sorted(sites & set(batches["site_id"]))]
    if network and len(batches):
        groups.insert(0, (NETWORK, batches))
    for site_id, group in groups:
        for spec in specs.itertuples(index=False):
            if spec.cqa not in group:
                continue
            values = group[spec.cqa].dropna().to_numpy(dtype=float)
            lsl = None if pd.isna(spec.lower_limit) else float(spec.lower_limit)
            usl = None if pd.isna(spec.upper_limit) else float(spec.upper_limit)
            log_scale = spec.cqa in LOG_SCALE_CQAS
            if log_scale:
                values = np.log(values[values > 0])
                lsl = math.log(lsl) if lsl is not None and lsl > 0 else None
                usl = math.log(usl) if usl is not None and usl > 0 else None
            if lsl is None and usl is None:
                continue
            result = capability(values, lsl=lsl, usl=usl)
            rows.append({"site_id": site_id, "cqa": spec.cqa, "n": result.n, "ppk": result.ppk,
                         "ppk_low": result.ppk_low, "ppk_high": result.ppk_high,
                         "status": ppk_status(result.ppk, result.n), "scale": "ln" if log_scale else "linear",
                         "lower_limit": spec.lower_limit, "upper_limit": spec.upper_limit, "unit": spec.unit})
    return pd.DataFrame(rows, columns=["site_id", "cqa", "n", "ppk", "ppk_low", "ppk_high", "status", "scale", "lower_limit", "upper_limit",
                                       "unit"])


def ppk_status(ppk: float | None, n: int, min_n: int = PPK_MIN_BATCHES) -> str:
    """'capable' (>= 1.33), 'marginal' (1.0-1.33), 'not capable' (< 1.0) or 'insufficient data'."""
    if ppk is None or n < min_n:
        return "insufficient data"
    if ppk >= PPK_CAPABLE:
        return "capable"
    return "marginal" if ppk >= PPK_MARGINAL else "not capable"


def deviation_funnel(wh: Warehouse, scope: Scope) -> tuple[pd.DataFrame, pd.DataFrame, float | None]:
    """Deviations per batch per visible site against exact Poisson funnel limits around the network rate.

    The rate is the catalogue's deviation_rate (deviations linked to batches started in the window per
    batch started), network = sum over sum. Returns (sites, curve, network rate)."""
    frame = kpi_frame(wh, scope, ["deviation_rate"])
    network_rows = frame[frame["site_id"] == NETWORK]
    sites = frame[(frame["site_id"] != NETWORK) & (frame["denominator"].fillna(0) > 0)]
    sites = sites.sort_values("site_id", kind="stable").reset_index(drop=True)
    if network_rows.empty or not network_rows["denominator"].fillna(0).iloc[0] > 0:
        return sites.assign(position="no data"), pd.DataFrame(), None
    rate = float(network_rows["numerator"].iloc[0]) / float(network_rows["denominator"].iloc[0])
    sites["batches"] = sites["denominator"].astype(float)
    sites["deviations"] = sites["numerator"].astype(float)
    sites["rate"] = sites["deviations"] / sites["batches"]
    limits = poisson_funnel_limits(sites["batches"].to_numpy(), rate)
    sites = pd.concat([sites.reset_index(drop=True), limits.drop(columns=["n"]).reset_index(drop=True)], axis=1)
    # Classified by the exact Poisson tail of the count, not by the drawn (interpolated) line.
    sites["position"] = [poisson_position(c, e) for c, e in zip(sites["deviations"], sites["expected"], strict=True)]
    top = float(sites["batches"].max()) if len(sites) else 10.0
    grid = np.unique(np.round(np.geomspace(1, max(top * 1.5, 10), 80)))
    curve = poisson_funnel_limits(grid, rate)
    return sites[["site_id", "batches", "deviations", "rate", "expected", "lower_95", "upper_95", "lower_99.8",
                  "upper_99.8", "position"]], curve, rate


@cached("comparability.onboarding_trajectory")
def onboarding_trajectory(wh: Warehouse, scope: Scope, site_id: str, *, period_days: int = TRAJECTORY_PERIOD_DAYS,
                          periods: int = TRAJECTORY_PERIODS, min_batches: int = 5) -> pd.DataFrame:
    """How a newly onboarded site's CQAs approach the network, period by period since onboarding.

    Per period of ``period_days`` after the onboarding date, product and CQA: the standardised difference
    (site mean - other sites' mean) / sd(other sites) over the same period's batches, and the TOST
    verdict (margin 1.5 sd of the reference, as for the consistency score; right-skewed CQAs on the ln
    scale). NotFound outside the scope.
    """
    site_scope = scope.for_site(site_id)
    site = wh.query("sql/sites_in_scope", scope=site_scope).iloc[0]
    onboarded = pd.Timestamp(site["onboarded_at"])
    horizon = min(onboarded + timedelta(days=period_days * periods), pd.Timestamp(scope.end))
    batches = wh.query("sql/signals/cqa_batches_all_sites", scope=scope.with_window(onboarded, horizon))
    batches["started_at"] = pd.to_datetime(batches["started_at"])
    rows = []
    for p in range(periods):
        start = onboarded + timedelta(days=period_days * p)
        end = start + timedelta(days=period_days)
        if end > pd.Timestamp(scope.end):
            break
        part = batches[(batches["started_at"] >= start) & (batches["started_at"] < end)]
        for product, group in part.groupby("product", sort=True):
            own = group[group["site_id"] == site_id]
            ref = group[group["site_id"] != site_id]
            for cqa in CQA_COLUMNS:
                x, r = _on_tost_scale(own[cqa], cqa), _on_tost_scale(ref[cqa], cqa)
                outcome = evaluate_pair(x.to_numpy(), r.to_numpy(), min_n=min_batches)
                ref_sd = float(r.std(ddof=1)) if len(r) >= 2 else math.nan
                diff = (x.mean() - r.mean()) / ref_sd if len(x) and ref_sd > 0 else math.nan
                rows.append({"period": p + 1, "period_start": start, "period_end": end, "product": product,
                             "cqa": cqa, "n": len(x), "ref_n": len(r), "std_difference": diff,
                             "verdict": outcome.verdict})
    return pd.DataFrame(rows, columns=["period", "period_start", "period_end", "product", "cqa", "n", "ref_n",
                                       "std_difference", "verdict"])


def _on_tost_scale(values: pd.Series, cqa: str) -> pd.Series:
    """A CQA's results on the scale its equivalence is judged on: ln for right-skewed CQAs (as charted)."""
    values = values.dropna().astype(float)
    return np.log(values[values > 0]) if cqa in LOG_SCALE_CQAS else values


def trajectory_summary(trajectory: pd.DataFrame) -> pd.DataFrame:
    """Per period: mean |standardised difference| and the share of evaluable pairs that are equivalent."""
    if trajectory.empty:
        return pd.DataFrame(columns=["period", "period_start", "mean_abs_difference", "equivalent", "evaluable",
                                     "equivalent_pct"])
    rows = []
    for (period, start), group in trajectory.groupby(["period", "period_start"], sort=True):
        evaluable = group[group["verdict"] != INSUFFICIENT]
        equivalent = int((evaluable["verdict"] == EQUIVALENT).sum())
        rows.append({"period": period, "period_start": start,
                     "mean_abs_difference": float(group["std_difference"].abs().mean()),
                     "equivalent": equivalent, "evaluable": len(evaluable),
                     "equivalent_pct": 100.0 * equivalent / len(evaluable) if len(evaluable) else math.nan})
    return pd.DataFrame(rows)


@cached("comparability.recently_onboarded")
def recently_onboarded(wh: Warehouse, scope: Scope, within_days: int = 730) -> list[str]:
    """The scope's sites onboarded within ``within_days`` before the window end (candidates for the
    onboarding view), oldest first."""
    sites = wh.query("sql/sites_in_scope", scope=scope)
    onboarded = pd.to_datetime(sites["onboarded_at"])
    recent = sites[(onboarded >= pd.Timestamp(scope.end) - timedelta(days=within_days))
                   & (onboarded < pd.Timestamp(scope.end))]
    return list(recent.sort_values("onboarded_at")["site_id"])


# --- KPI consistency (declared in queries/kpi/catalog.py) -------------------------------------------------
def consistency_by_site(wh: Warehouse, scope: Scope, *, min_batches: int = 5) -> pd.DataFrame:
    """Cross-site consistency score per site and for the network.

    The reference is every site's batches in the window (needed even for a site manager, whose
    scope then shows only its own row and the anonymised network score)."""
    per_pair = consistency_pairs(wh, scope, min_batches=min_batches)
    rows = []
    if scope.network:
        rows.append({"site_id": None, **_score(per_pair)})
    for site_id in scope.site_ids:
        rows.append({"site_id": site_id, **_score(per_pair[per_pair["site_id"] == site_id])})
    return pd.DataFrame(rows, columns=["site_id", "value", "n", "numerator", "denominator"])


def consistency_pairs(wh: Warehouse, scope: Scope, *, min_batches: int = 5) -> pd.DataFrame:
    """TOST result per (site, product, CQA) for every site in the window; callers filter to their scope.
    Each product is compared only with the same product elsewhere (their specifications differ)."""
    batches = wh.query("sql/batch_cqas_all_sites", scope=scope)
    parts = []
    for product, group in batches.groupby("product", sort=True):
        _, per_pair = cross_site_consistency(group, list(CQA_COLUMNS), min_n=min_batches, log_columns=LOG_SCALE_CQAS)
        parts.append(per_pair.assign(product=product))
    if not parts:
        return pd.DataFrame(columns=["site_id", "product", "cqa", "verdict"])
    return pd.concat(parts, ignore_index=True)


def _score(pairs: pd.DataFrame) -> dict:
    evaluable = pairs[pairs["verdict"] != "insufficient data"]
    equivalent = int((evaluable["verdict"] == "equivalent").sum())
    value = 100.0 * equivalent / len(evaluable) if len(evaluable) else None
    return {"value": value, "n": len(evaluable), "numerator": equivalent, "denominator": len(evaluable)}
