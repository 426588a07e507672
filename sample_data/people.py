"""People and documents: programmes, culture surveys, training, inspections, SOP versions and use."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from sample_data import leading_indicators
from sample_data.network import Network
from sample_data.reference import SOPS, TEAMS, TRAINING_MODULES, rng_for

logger = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
REVERSED_ITEMS = (1, 3, 5)  # Edmondson (1999): negatively worded, scored 8 - x
SMALL_GROUP = (3, 4)  # one team per wave answers with this few people: must be suppressed
PHX_BEFORE, PHX_AFTER, PHX_RAMP_DAYS = 3.5, 5.5, 180
NETWORK_SAFETY = 5.0
STORY_SOP_REVISION_DAYS = 52  # SOP-014 revised this long before `end`; ATL and DEN still on the old one
DRIFTING_SITES = ("ATL", "DEN")


def programmes(network: Network) -> pd.DataFrame:
    """Behaviour programmes, for before/after views: PHX's coaching-based deviation review (story c)."""
    return pd.DataFrame({
        "programme_id": ["PRG-PHX-01"],
        "site_id": ["PHX"],
        "kind": ["coaching_review"],
        "started_at": pd.to_datetime([network.stories.coaching_start]),
        "description": ["Coaching-based deviation review: blame-free huddles and root-cause coaching for shift leads"],
    })


def _wave_dates(network: Network) -> pd.DataFrame:
    """Quarterly waves: the survey opens 35 days into the quarter and stays open two weeks."""
    quarters = pd.period_range(pd.Timestamp(network.start), pd.Timestamp(network.end), freq="Q")
    opens = quarters.start_time + 35 * DAY
    keep = (opens >= pd.Timestamp(network.start)) & (opens + 14 * DAY <= pd.Timestamp(network.end))
    return pd.DataFrame({"wave": [f"{q.year}-Q{q.quarter}" for q in quarters[keep]], "opens": opens[keep]})


def team_safety_mean(site_id: str, opens: pd.Timestamp, base: float, network: Network) -> float:
    if site_id != "PHX":
        return base
    since = (opens - pd.Timestamp(network.stories.coaching_start)) / DAY
    if since < 0:
        return PHX_BEFORE
    return PHX_BEFORE + (PHX_AFTER - PHX_BEFORE) * min(1.0, since / PHX_RAMP_DAYS)


def survey_responses(network: Network, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, "surveys")
    sites = network.sites.reset_index(drop=True)
    site_base = dict(zip(sites["site_id"], rng.normal(NETWORK_SAFETY, 0.2, len(sites)), strict=True))
    site_teams = {s: TEAMS[: rng.integers(2, 4)] for s in sites["site_id"]}
    team_offset = {(s, t): rng.normal(0, 0.2) for s in sites["site_id"] for t in site_teams[s]}
    groups = []
    for wave in _wave_dates(network).itertuples(index=False):
        active = sites[sites["active_from"] <= wave.opens]
        cells = [(s, t) for s in active["site_id"] for t in site_teams[s]]
        sizes = rng.integers(5, 16, len(cells))
        sizes[rng.integers(0, len(cells))] = rng.integers(SMALL_GROUP[0], SMALL_GROUP[1] + 1)
        for (site_id, team), size in zip(cells, sizes, strict=True):
            mean = team_safety_mean(site_id, wave.opens, site_base[site_id], network) + team_offset[(site_id, team)]
            groups.append((wave.wave, wave.opens, site_id, team, int(size), mean + rng.normal(0, 0.1)))
    g = pd.DataFrame(groups, columns=["wave", "opens", "site_id", "team", "size", "mean"])
    rows = g.loc[g.index.repeat(g["size"])].reset_index(drop=True)
    n = len(rows)
    latent = rng.normal(rows["mean"].to_numpy(), 0.45)
    answers = np.clip(np.rint(latent[:, None] + rng.normal(0, 0.6, (n, 7))), 1, 7).astype(int)
    for item in REVERSED_ITEMS:
        answers[:, item - 1] = 8 - answers[:, item - 1]
    frame = pd.DataFrame(answers, columns=[f"q{i}" for i in range(1, 8)]).astype("int16")
    frame.insert(0, "submitted_at", rows["opens"] + pd.to_timedelta(rng.integers(0, 14 * 86_400, n), unit="s"))
    frame.insert(0, "wave", rows["wave"])
    frame.insert(0, "team", rows["team"])
    frame.insert(0, "site_id", rows["site_id"])
    frame = frame.sort_values(["wave", "site_id", "submitted_at"], kind="stable").reset_index(drop=True)
    seq = (frame.groupby(["wave", "site_id"]).cumcount() + 1).astype(str).str.zfill(3)
    frame.insert(0, "response_id", "SR-" + frame["wave"] + "-" + frame["site_id"] + "-" + seq)
    return frame


# Mean first-attempt score of an average operator on the easiest module: with ability (sd 5), module
# difficulty (0-6 points) and the day's form (sd 6), about 83 % of first attempts reach the pass mark of 80,
# near the catalogue's 85 % target, as in GMP qualification programmes that work.
BASE_SCORE = 90.0


def training_records(network: Network, seed: int, strain: pd.DataFrame | None = None) -> pd.DataFrame:
    """Operators (pseudonymous refs) work through the modules; up to three attempts, pass at 80. A first
    attempt inside a strain episode (leading_indicators.py) scores lower."""
    end = pd.Timestamp(network.end)
    rng = rng_for(seed, "training")
    ops = []
    for site in network.sites.itertuples(index=False):
        span = (end - site.active_from) / DAY
        initial, hires = rng.integers(10, 17), rng.poisson(4 * span / 365)
        offsets = np.concatenate([rng.uniform(0, min(120, span), initial), rng.uniform(0, span, hires)])
        ops.append(pd.DataFrame({"site_id": site.site_id, "joined": site.active_from + pd.to_timedelta(
            np.round(offsets * 86_400), unit="s")}))
    op = pd.concat(ops, ignore_index=True)
    refs = rng.choice(16**4, size=len(op), replace=False)
    op["operator_ref"] = [f"OP-{r:04X}" for r in refs]
    op["ability"] = rng.normal(0, 5, len(op))
    if strain is not None and len(strain):  # rushed onboarding: hires at the start of each episode
        op = pd.concat([op, leading_indicators.strain_hires(strain, set(op["operator_ref"]), seed)], ignore_index=True)
    k = len(TRAINING_MODULES)
    difficulty = np.array([0.0, 4.0, 6.0, 2.0, 1.0, 3.0])[:k]
    gaps = rng.uniform(5, 15, (len(op), k)).cumsum(axis=1)
    grid = pd.DataFrame({
        "operator_ref": np.repeat(op["operator_ref"].to_numpy(), k),
        "site_id": np.repeat(op["site_id"].to_numpy(), k),
        "module": np.tile(np.array(TRAINING_MODULES), len(op)),
        "started_at": np.repeat(op["joined"].to_numpy(), k) + pd.to_timedelta(np.round(gaps.ravel() * 86_400),
                                                                               unit="s"),
        "ability": np.repeat(op["ability"].to_numpy(), k) - np.tile(difficulty, len(op)),
    })
    attempts, pending = [], grid
    when = pending["started_at"] + pd.to_timedelta(np.round(rng.uniform(1, 7, len(pending)) * 86_400), unit="s")
    for attempt_no in (1, 2, 3):
        rushed = 0.0
        if attempt_no == 1 and strain is not None:
            rushed = leading_indicators.FIRST_ATTEMPT_SCORE_DROP * leading_indicators.inside(
                strain, pending["site_id"], when)
        score = np.clip(BASE_SCORE + pending["ability"].to_numpy() + 4 * (attempt_no - 1)
                        + rng.normal(0, 6, len(pending)) - rushed, 30, 100).round(1)
        rows = pending.assign(attempt_no=attempt_no, attempt_at=when.to_numpy(), score=score, passed=score >= 80)
        attempts.append(rows)
        pending = rows[~rows["passed"]].drop(columns=["attempt_no", "attempt_at", "score", "passed"])
        when = rows.loc[~rows["passed"], "attempt_at"] + pd.to_timedelta(
            np.round(rng.uniform(5, 14, len(pending)) * 86_400), unit="s")
    frame = pd.concat(attempts, ignore_index=True).drop(columns="ability")
    frame["certified_at"] = frame["attempt_at"].where(frame["passed"])
    frame = frame[frame["attempt_at"] <= end].sort_values(["site_id", "attempt_at", "operator_ref", "module"],
                                                           kind="stable").reset_index(drop=True)
    frame.insert(0, "record_id", "TR-" + frame["site_id"] + "-" + (frame.groupby("site_id").cumcount() + 1)
                 .astype(str).str.zfill(5))
    return frame


INVOLVED_CATEGORIES = ("people", "method", "measurement")  # deviations an operator's action can cause
INVOLVEMENT_SCALE = 6.0  # score points per e-fold of involvement: weaker scorers are involved more often


def assign_operators(deviation_frame: pd.DataFrame, training: pd.DataFrame, seed: int) -> pd.DataFrame:
    """operator_ref on operator- or review-raised deviations of people/method/measurement causes.

    The operator is drawn from the site's operators already in training when it happened, weighted by
    exp(-(mean first-attempt score - BASE_SCORE) / 6): lower scorers are involved more often, so training
    predicts performance (a negative Spearman rho), as the training-to-performance KPI expects."""
    rng = rng_for(seed, "deviation-operators")
    first = training[training["attempt_no"] == 1]
    ops = first.groupby(["site_id", "operator_ref"], as_index=False).agg(
        score=("score", "mean"), joined=("started_at", "min"))
    ops["weight"] = np.exp(-(ops["score"] - BASE_SCORE) / INVOLVEMENT_SCALE)
    out = deviation_frame.copy()
    refs = np.full(len(out), None, dtype=object)
    eligible = (out["source"].isin(["operator", "review"]) & out["category"].isin(INVOLVED_CATEGORIES)).to_numpy()
    u = rng.random(len(out))
    occurred = out["occurred_at"].to_numpy()
    sites = out["site_id"].to_numpy()
    for site, group in ops.groupby("site_id"):  # one small (deviations x operators) matrix per site
        group = group.sort_values("operator_ref")
        idx = np.flatnonzero(eligible & (sites == site))
        present = group["joined"].to_numpy()[None, :] <= occurred[idx, None]
        cumulative = np.cumsum(np.where(present, group["weight"].to_numpy()[None, :], 0.0), axis=1)
        total = cumulative[:, -1]
        # searchsorted(side="right") row by row: absent operators add no weight, so they are never picked
        pick = np.minimum((cumulative <= (u[idx] * total)[:, None]).sum(axis=1), len(group) - 1)
        found = total > 0
        refs[idx[found]] = group["operator_ref"].to_numpy()[pick[found]]
    out["operator_ref"] = refs
    return out


def inspections(network: Network, seed: int) -> pd.DataFrame:
    end = pd.Timestamp(network.end)
    coaching = pd.Timestamp(network.stories.coaching_start)
    rng = rng_for(seed, "inspections")
    rows = []
    for site in network.sites.itertuples(index=False):
        k = rng.integers(1, 4)
        span = (end - site.active_from) / DAY - 50
        dates = np.sort(site.active_from + pd.to_timedelta(np.round(45 + rng.uniform(0, span, k)), unit="D"))
        for d in dates:
            authority = rng.choice(["FDA", "State DoH", "EMA"], p=[0.55, 0.3, 0.15])
            cls = rng.choice(["NAI", "VAI", "OAI"], p=[0.45, 0.45, 0.10])
            if site.site_id == "PHX" and d < coaching:
                cls = "VAI"
            critical = rng.integers(1, 3) if cls == "OAI" else 0
            major = {"NAI": 0, "VAI": rng.integers(0, 3), "OAI": rng.integers(2, 5)}[cls]
            minor = {"NAI": 0, "VAI": rng.integers(1, 6), "OAI": rng.integers(2, 7)}[cls]
            rows.append((site.site_id, pd.Timestamp(d).normalize(), authority, cls, critical, major, minor))
    frame = pd.DataFrame(rows, columns=["site_id", "inspected_on", "authority", "classification",
                                        "findings_critical", "findings_major", "findings_minor"])
    frame.insert(0, "inspection_id",
                 "INS-" + frame["site_id"] + "-" + (frame.groupby("site_id").cumcount() + 1).astype(str).str.zfill(2))
    return frame


def documents(network: Network, seed: int) -> pd.DataFrame:
    """Current master and site version of each SOP; sites adopt a revision after a lag (drift)."""
    start, end = pd.Timestamp(network.start), pd.Timestamp(network.end)
    story_revision = end - STORY_SOP_REVISION_DAYS * DAY
    rng = rng_for(seed, "documents")
    span = (end - start) / DAY
    rows = []
    for doc_id, (title, _unit, _per) in SOPS.items():
        first_version = int(rng.integers(1, 6))
        before_history = start - pd.to_timedelta(round(rng.uniform(30, 700)), unit="D")
        revisions = sorted(start + pd.to_timedelta(np.round(rng.uniform(0, span, rng.poisson(1.8)) * 86_400),
                                                   unit="s"))
        if doc_id == "SOP-014":
            revisions = [r for r in revisions if r < story_revision - 60 * DAY] + [story_revision]
        effective = [before_history, *revisions]
        master_version = first_version + len(revisions)
        for site in network.sites.itertuples(index=False):
            lag = pd.to_timedelta(np.round(rng.lognormal(np.log(12), 0.7, 2) * 86_400), unit="s")
            stuck = doc_id == "SOP-014" and site.site_id in DRIFTING_SITES
            if doc_id == "SOP-014":  # everyone else adopts the story revision within a month
                lag = lag.where(lag < pd.Timedelta(days=30), pd.Timedelta(days=30))
            adopted = effective[-1] + lag[0]
            if adopted <= end and not stuck:
                version, since = master_version, adopted
            else:
                version = master_version - 1
                since = effective[-2] + lag[1] if len(effective) > 1 else effective[-1]
                since = min(since, effective[-1])
            if since < site.onboarded_at:  # a site starts on the versions in force when it joins
                since = site.onboarded_at + pd.to_timedelta(round(rng.uniform(0, 10)), unit="D")
            rows.append((doc_id, site.site_id, title, master_version, effective[-1], version, since))
    return pd.DataFrame(rows, columns=["doc_id", "site_id", "title", "master_version", "master_effective_at",
                                       "site_version", "site_effective_at"])


def sop_executions(network: Network, batch_frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Executions per site, SOP and month: per batch for process SOPs, per calendar period otherwise."""
    end = pd.Timestamp(network.end)
    rng = rng_for(seed, "sop-executions")
    months = pd.date_range(pd.Timestamp(network.start).to_period("M").start_time, end - pd.Timedelta(seconds=1),
                           freq="MS")
    grid = pd.MultiIndex.from_product([network.sites["site_id"], months, list(SOPS)],
                                      names=["site_id", "month", "sop_id"]).to_frame(index=False)
    active_from = grid["site_id"].map(network.sites.set_index("site_id")["active_from"])
    month_end = (grid["month"] + pd.offsets.MonthBegin(1)).clip(upper=end)
    active_days = ((month_end - grid["month"].clip(lower=active_from)) / DAY).clip(lower=0)
    unit = grid["sop_id"].map({k: v[1] for k, v in SOPS.items()})
    per = grid["sop_id"].map({k: v[2] for k, v in SOPS.items()}).astype(float)
    started = batch_frame.assign(month=batch_frame["started_at"].dt.to_period("M").dt.start_time)
    per_month = started.groupby(["site_id", "month"]).size()
    batch_count = pd.Series(per_month.reindex(pd.MultiIndex.from_frame(grid[["site_id", "month"]])).fillna(0)
                            .to_numpy(), index=grid.index)
    expected = np.select(
        [unit == "batch", unit == "day", unit == "week", unit == "month"],
        [batch_count * per, active_days * per, active_days / 7 * per, active_days / 30.4 * per],
    )
    executions = np.where(unit == "batch", np.rint(expected), rng.poisson(expected.astype(float)))
    grid["executions"] = executions.astype("int64")
    grid = grid[active_days > 0].reset_index(drop=True)
    return grid[["site_id", "sop_id", "month", "executions"]]

