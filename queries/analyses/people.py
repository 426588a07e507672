"""The people views' data: survey index with suppression, behaviour, training and SOP load, under a scope.

Every function takes the server-built Scope and returns a DataFrame that may be shown as it is: survey
groups under the respondent threshold, and groups that could be recovered from shown ones by
subtraction, are already suppressed here (no value, no count), before any page filter is applied. A
filter may then only pick rows of this protected frame, so no combination of filter values can narrow
a view to a small group. Figures about operators (training per module and site, training-to-performance)
follow the same minimum, counted in distinct operators (queries/analyses/operator_groups.py).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from queries.analyses.operator_groups import protect_training_grid
from queries.engine.result_cache import cached
from queries.engine.scope import Scope
from queries.engine.warehouse import Warehouse
from queries.kpi.catalog import NETWORK
from queries.stats.correlation import spearman
from queries.stats.survey import MIN_RESPONDENTS, alpha_from_variances

logger = logging.getLogger(__name__)

GROUP_KEYS = ["wave", "level", "site_id", "team"]
ITEM_MEANS = [f"m{i}" for i in range(1, 8)]
ITEM_VARIANCES = [f"v{i}" for i in range(1, 8)]
SURVEY_VALUES = ["respondents", "score_1_7", "index_0_100", *ITEM_MEANS, "alpha"]
SURVEY_COLUMNS = [*GROUP_KEYS, *SURVEY_VALUES, "suppressed"]
SUPPRESSED_NOTE = (f"suppressed: fewer than {MIN_RESPONDENTS} respondents, or a group that could be worked "
                   "out from the ones shown")
HUMAN_FACTORS = ("cognitive_load", "communication", "environment", "none")
TRAINING_VALUES = ["first_attempts", "first_passed", "first_pass_pct", "certifications", "median_days"]
RHO_VALUES = ["value", "n", "ci_low", "ci_high", "p_value"]


def operators_note(min_n: int = MIN_RESPONDENTS) -> str:
    """What a suppressed operator figure means (said under a table that has one)."""
    return (f"suppressed: fewer than {min_n} operators, or a group that could be worked out from the ones "
            "shown")


# -- psychological safety ------------------------------------------------------------------------------
def survey_groups(wh: Warehouse, scope: Scope, *, min_n: int = MIN_RESPONDENTS) -> pd.DataFrame:
    """Index per wave for the network, each site and each team in scope, protected (see module doc).

    Columns: wave, level (network, site, team), site_id (NETWORK for the network), team (None above
    team level), respondents, score_1_7, index_0_100, m1..m7 (mean scored item), alpha, suppressed."""
    raw = wh.query("sql/people_survey_groups", {"min_n": min_n}, scope=scope)
    frame = raw.copy()
    frame["site_id"] = frame["site_id"].astype(object).where(frame["level"] != "network", NETWORK)
    frame["team"] = frame["team"].astype(object).where(frame["level"] == "team", None)
    for column in ["respondents", "score_1_7", "index_0_100", *ITEM_MEANS, *ITEM_VARIANCES, "v_total"]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["alpha"] = [alpha_from_variances(v, t) if np.isfinite(t) else np.nan
                      for v, t in zip(frame[ITEM_VARIANCES].to_numpy(), frame["v_total"], strict=True)]
    frame["suppressed"] = ~frame["shown"].astype(bool)
    return protect_survey_groups(frame[SURVEY_COLUMNS], min_n)


def protect_survey_groups(frame: pd.DataFrame, min_n: int = MIN_RESPONDENTS) -> pd.DataFrame:
    """Complementary suppression, per wave, so no group of 1 to min_n - 1 respondents can be recovered.

    - site minus its shown teams: if the remainder has 1 to min_n - 1 respondents, the smallest shown
      team is suppressed too (repeated until the remainder is 0 or at least min_n). The site value is
      kept because it is also shown elsewhere (site page, overview), so it is the fixed point.
    - network minus the shown sites (for a site manager: every other site): if that remainder has 1 to
      min_n - 1 respondents, the network value is suppressed (the same rule, by team).
    A suppressed row keeps its keys only; every value, the count included, becomes NaN."""
    out = frame.copy().reset_index(drop=True)
    out["suppressed"] = out["suppressed"].astype(bool)
    suppress = out["suppressed"].to_numpy().copy()
    respondents = out["respondents"].to_numpy(dtype=float)
    for _, wave in out.groupby("wave", sort=False):
        sites = wave[wave["level"] == "site"]
        teams = wave[wave["level"] == "team"]
        for site_index, site in sites.iterrows():
            members = teams.index[teams["site_id"] == site["site_id"]]
            if suppress[site_index]:
                suppress[members] = True  # defensive: a site under min_n has only smaller teams
                continue
            while True:
                shown = [i for i in members if not suppress[i]]
                remainder = respondents[site_index] - respondents[shown].sum()
                if not 0 < remainder < min_n or not shown:
                    break
                smallest = min(shown, key=lambda i: (respondents[i], str(out.at[i, "team"])))
                suppress[smallest] = True
        network = wave.index[wave["level"] == "network"]
        for net_index in network:
            if suppress[net_index]:
                continue
            shown_sites = [i for i in sites.index if not suppress[i]]
            remainder = respondents[net_index] - respondents[shown_sites].sum()
            if 0 < remainder < min_n:
                suppress[net_index] = True
    out["suppressed"] = suppress
    out.loc[suppress, [c for c in SURVEY_VALUES if c in out]] = np.nan
    return out


def survey_items(wh: Warehouse, scope: Scope, groups: pd.DataFrame, *, min_n: int = MIN_RESPONDENTS
                 ) -> pd.DataFrame:
    """Distribution of scored answers (wave, level, site_id, team, item, score, answers, share_pct) for the
    groups shown in `groups` (the output of survey_groups); suppressed groups return no rows."""
    raw = wh.query("sql/people_survey_items", {"min_n": min_n}, scope=scope)
    if raw.empty:
        return raw.assign(share_pct=pd.Series(dtype=float))
    frame = raw.copy()
    frame["site_id"] = frame["site_id"].astype(object).where(frame["level"] != "network", NETWORK)
    frame["team"] = frame["team"].astype(object).where(frame["level"] == "team", None)
    shown = groups.loc[~groups["suppressed"], GROUP_KEYS]
    frame = _join_on_groups(frame, shown)
    frame["answers"] = frame["answers"].astype(int)
    totals = frame.groupby([*GROUP_KEYS, "item"], dropna=False)["answers"].transform("sum")
    frame["share_pct"] = 100.0 * frame["answers"] / totals
    return frame.reset_index(drop=True)


def _join_on_groups(frame: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    key = shown.assign(team=shown["team"].fillna("")).drop_duplicates()
    left = frame.assign(team=frame["team"].fillna(""))
    merged = left.merge(key, on=GROUP_KEYS, how="inner")
    merged["team"] = merged["team"].where(merged["team"] != "", None)
    return merged


def select_groups(groups: pd.DataFrame, *, site_id: str | None = None, teams: list[str] | None = None
                  ) -> pd.DataFrame:
    """Rows of an already protected frame for one site (or the network) and some of its teams.

    Only ever picks rows: it never aggregates, so whatever the browser sends it can show no more than
    the protected frame holds."""
    out = groups
    if site_id is not None:
        out = out[out["site_id"] == site_id]
    if teams is not None:
        wanted = {t for t in teams if isinstance(t, str)}
        out = out[(out["level"] != "team") | out["team"].isin(wanted)]
    return out


def teams_in_scope(groups: pd.DataFrame, site_id: str) -> list[str]:
    rows = groups[(groups["level"] == "team") & (groups["site_id"] == site_id)]
    return sorted(rows["team"].dropna().unique())


def survey_export(groups: pd.DataFrame) -> pd.DataFrame:
    """The protected frame as exported: suppressed rows say so and carry no value or count."""
    out = groups[[*GROUP_KEYS, "respondents", "score_1_7", "index_0_100", "alpha", *ITEM_MEANS, "suppressed"]]
    out = out.rename(columns={f"m{i}": f"mean_scored_q{i}" for i in range(1, 8)})
    out = out.assign(site_id=out["site_id"].replace({NETWORK: "network"}),
                     note=np.where(out["suppressed"], SUPPRESSED_NOTE, ""))
    return out.round(3).reset_index(drop=True)


# -- behaviour -------------------------------------------------------------------------------------
def _network_key(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["site_id"] = frame["site_id"].astype(object).where(frame["site_id"].notna(), NETWORK)
    return frame


@cached("people.human_factors")
def human_factors(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    """site_id, human_factors, deviations, share_pct of deviations detected in the window."""
    frame = _network_key(wh.query("sql/people_human_factors", scope=scope))
    frame["deviations"] = frame["deviations"].astype(int)
    frame["share_pct"] = 100.0 * frame["deviations"] / frame.groupby("site_id")["deviations"].transform("sum")
    return frame


@cached("people.programme_recurrence")
def programme_recurrence(wh: Warehouse, scope: Scope, *, lookback_days: int = 90) -> pd.DataFrame:
    """Recurrence before, during the first look-back and after each programme start at a site in scope."""
    frame = wh.query("sql/people_programme_recurrence", {"lookback_days": lookback_days}, scope=scope)
    for column in ("deviations", "recurred"):
        frame[column] = frame[column].astype(int)
    frame["recurrence_pct"] = frame["recurrence_pct"].astype(float)
    return frame


@cached("people.quarterly_behaviour")
def quarterly_behaviour(wh: Warehouse, scope: Scope, *, lookback_days: int = 90) -> pd.DataFrame:
    """Per site (NETWORK too) and quarter: near misses per 100 batches, deviations per batch, recurrence %."""
    frame = _network_key(wh.query("sql/people_quarterly_behaviour", {"lookback_days": lookback_days},
                                  scope=scope))
    for column in ("batches", "batch_deviations", "near_misses", "deviations", "recurred"):
        frame[column] = frame[column].astype(int)
    batches = frame["batches"].where(frame["batches"] > 0)
    frame["near_misses_per_100_batches"] = 100.0 * frame["near_misses"] / batches
    frame["deviations_per_batch"] = frame["batch_deviations"] / batches
    frame["recurrence_pct"] = 100.0 * frame["recurred"] / frame["deviations"].where(frame["deviations"] > 0)
    frame["quarter"] = pd.to_datetime(frame["quarter"])
    frame["quarter_label"] = frame["quarter"].dt.to_period("Q").astype(str)
    return frame


# -- training --------------------------------------------------------------------------------------
@cached("people.training_modules")
def training_modules(wh: Warehouse, scope: Scope, *, min_n: int = MIN_RESPONDENTS) -> pd.DataFrame:
    """Per site (NETWORK too) and module: first attempts, first-attempt pass %, certifications, median days,
    suppressed.

    A (site, module) group with 1 to min_n - 1 distinct operators, and any group or network per-module
    total that would let one be worked out by subtraction (from the other rows, or from the per-site and
    network certification KPIs), is suppressed here: it keeps its keys, every value becomes NaN."""
    frame = _network_key(wh.query("sql/people_training_modules", scope=scope))
    for column in TRAINING_VALUES:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    members = wh.query("sql/people_training_members", scope=scope)
    protection = protect_training_grid(members, scope.site_ids, scope.network, min_n)
    frame["suppressed"] = pd.Series([module not in protection.shown_totals if site_id == NETWORK
                                     else (site_id, module) in protection.hidden_cells
                                     for site_id, module in zip(frame["site_id"], frame["module"], strict=True)],
                                    index=frame.index, dtype=bool)
    frame.loc[frame["suppressed"], TRAINING_VALUES] = np.nan
    return frame


def _operators(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    frame = wh.query("sql/people_operator_performance", scope=scope)
    frame["mean_first_score"] = frame["mean_first_score"].astype(float)
    frame["deviations"] = frame["deviations"].astype(int)
    frame["in_scope"] = frame["in_scope"].astype(bool)
    return frame


@cached("people.operator_performance")
def operator_performance(wh: Warehouse, scope: Scope, *, min_n: int = MIN_RESPONDENTS) -> pd.DataFrame:
    """Operators of the sites in scope only (pseudonymous refs): mean first-attempt score, deviations.
    A site with fewer than min_n such operators returns none of them (its correlation is suppressed too)."""
    frame = _operators(wh, scope)
    frame = frame[frame["in_scope"]]
    per_site = frame.groupby("site_id")["operator_ref"].transform("nunique")
    return frame[per_site >= min_n].drop(columns="in_scope").reset_index(drop=True)


@cached("people.training_performance_by_site")
def training_performance_by_site(wh: Warehouse, scope: Scope, *, min_n: int = MIN_RESPONDENTS
                                 ) -> pd.DataFrame:
    """KPI frame rows: Spearman rho of operator score vs deviation involvement, per site and network.

    The network row uses every site's operators (an aggregate; for a site manager the rows of other
    sites never leave this function). A group of 1 to min_n - 1 operators is suppressed: no rho, no n, no
    interval. (A rank correlation cannot be recovered from other groups' coefficients by subtraction; the
    operator counts alone could, and they say nothing about anyone's results.)"""
    frame = _operators(wh, scope)
    rows = []
    if scope.network:
        rows.append({"site_id": None, **_rho(frame)})
    for site_id in scope.site_ids:
        rows.append({"site_id": site_id, **_rho(frame[frame["site_id"] == site_id])})
    out = pd.DataFrame(rows, columns=["site_id", *RHO_VALUES])
    n = pd.to_numeric(out["n"], errors="coerce").fillna(0)
    out["suppressed"] = (n > 0) & (n < min_n)
    out[RHO_VALUES] = out[RHO_VALUES].astype(float)
    out.loc[out["suppressed"], RHO_VALUES] = np.nan
    return out


def _rho(frame: pd.DataFrame) -> dict:
    result = spearman(frame["mean_first_score"], frame["deviations"])
    return {"value": result.rho, "n": result.n, "ci_low": result.low, "ci_high": result.high,
            "p_value": result.p_value}


# -- SOP cognitive load ----------------------------------------------------------------------------
@cached("people.sop_load")
def sop_load(wh: Warehouse, scope: Scope) -> pd.DataFrame:
    """Per site (NETWORK too) and SOP: executions, deviations, cognitive-load deviations, per 1,000."""
    frame = _network_key(wh.query("sql/people_sop_load", scope=scope))
    for column in ("executions", "deviations", "cognitive_load"):
        frame[column] = frame[column].astype(int)
    frame["per_1000_executions"] = pd.to_numeric(frame["per_1000_executions"], errors="coerce").astype(float)
    return frame


