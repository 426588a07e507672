"""Batches with their CQAs, deviations (including the stories' ones), CAPAs and near misses."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from sample_data import leading_indicators
from sample_data.network import BATCH_ROOM, Network
from sample_data.reference import (
    CATEGORY,
    CODE_INFO,
    EXCURSION_CODE,
    FAMILIES,
    HUMAN_FACTOR_P,
    HUMAN_FACTORS,
    NEAR_MISS_CATEGORIES,
    PRODUCT_CODE,
    PRODUCT_SHARE,
    PRODUCTS,
    ROOT_CAUSES,
    SPECIFICATION,
    SUB_CAUSES,
    rng_for,
)

logger = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)
SEA_CONVERGENCE_DAYS = 120
SEA_OFFSET = {"viability_pct": -7.0, "transduction_pct": 10.0}
FAILURE_SHARE = 0.03
PHX_RECURRING = ("PPL-ASEPTIC", "DOC-SOP-UNCLEAR", "TRN-GAP")  # before coaching, these keep coming back
STORY_CODE, STORY_SOP = "DOC-ENTRY", "SOP-014"


def specifications() -> pd.DataFrame:
    rows = [(product, cqa, lo, hi, unit) for product in PRODUCTS for cqa, (lo, hi, unit) in SPECIFICATION.items()]
    return pd.DataFrame(rows, columns=["product", "cqa", "lower_limit", "upper_limit", "unit"])


def _days(rng: np.random.Generator, lo: float, hi: float, n: int) -> pd.TimedeltaIndex:
    return pd.to_timedelta(np.round(rng.uniform(lo, hi, n) * 86_400), unit="s")


def batches(network: Network, seed: int) -> pd.DataFrame:
    st = network.stories
    end = pd.Timestamp(st.end)
    frames = []
    for site in network.sites.itertuples(index=False):
        rng = rng_for(seed, "batches", site.site_id)
        per_week = 2.5 if site.kind == "hub" or site.site_id == "SEA" else rng.uniform(1.2, 2.7)
        first = site.active_from + 3 * DAY
        span_days = (end - first) / DAY
        n = rng.poisson(per_week * span_days / 7)
        started = first + pd.to_timedelta(np.sort(np.round(rng.uniform(0, span_days, n) * 1440)), unit="min")
        frames.append(pd.DataFrame({
            "site_id": site.site_id,
            "started_at": started,
            "product": np.array(PRODUCTS)[rng.choice(len(PRODUCTS), size=n, p=PRODUCT_SHARE)],
            "apheresis_at": started - _days(rng, 1, 3, n),
            "completed_at": started + _days(rng, 8, 12, n),
        }))
    frame = pd.concat(frames, ignore_index=True)
    rng = rng_for(seed, "batch-cqas")
    n = len(frame)
    frame["batch_id"] = frame["site_id"] + "-B" + (frame.groupby("site_id").cumcount() + 1).astype(str).str.zfill(4)
    frame["room_id"] = frame["site_id"] + "-" + BATCH_ROOM
    cd19 = frame["product"] == "CD19 CAR-T"
    new_pv = np.where(cd19, frame["started_at"] >= end - 420 * DAY, frame["started_at"] >= end - 200 * DAY)
    frame["process_version"] = np.where(cd19, np.where(new_pv, "CD19-PV2.2", "CD19-PV2.1"),
                                        np.where(new_pv, "BCMA-PV1.4", "BCMA-PV1.3"))
    offsets = _site_offsets(network, seed)
    off = {cqa: frame["site_id"].map(offsets[cqa]).to_numpy() for cqa in offsets}
    since = (frame["started_at"] - pd.Timestamp(st.onboarding)) / DAY
    ramp = np.where(frame["site_id"] == "SEA", np.clip(1 - since / SEA_CONVERGENCE_DAYS, 0, 1), 0.0)
    frame["viability_pct"] = rng.normal(88 + off["viability_pct"] + SEA_OFFSET["viability_pct"] * ramp, 4)
    frame["transduction_pct"] = rng.normal(
        40 + off["transduction_pct"] + 2.0 * (cd19 & new_pv) + SEA_OFFSET["transduction_pct"] * ramp, 9)
    frame["cd3_pct"] = rng.normal(95 + off["cd3_pct"], 3)
    frame["vcn"] = rng.lognormal(np.log(1.8) + off["vcn"], 0.35)
    frame["dose"] = rng.lognormal(np.log(2.5), 0.3, n)
    frame["endotoxin_eu_ml"] = rng.lognormal(np.log(0.2), 0.6, n)
    _inject_failures(frame, rng)
    bounds = {"viability_pct": (30, 99.5), "transduction_pct": (2, 85), "cd3_pct": (50, 99.8)}
    for cqa, (lo, hi) in bounds.items():
        frame[cqa] = frame[cqa].clip(lo, hi)
    for cqa, decimals in {"viability_pct": 1, "transduction_pct": 1, "cd3_pct": 1, "vcn": 2, "dose": 2,
                          "endotoxin_eu_ml": 3}.items():
        frame[cqa] = frame[cqa].round(decimals)
    disposition = frame["completed_at"] + _days(rng, 2, 6, n)
    oos = _out_of_spec(frame)
    decided = disposition <= end
    frame["status"] = np.where(~decided, "in_process", np.where(oos, "rejected", "released"))
    frame.loc[~decided, list(SPECIFICATION)] = np.nan
    frame["released_at"] = disposition.where(frame["status"] == "released")
    frame["infused_at"] = (frame["released_at"] + _days(rng, 1, 4, n)).where(lambda s: s <= end)
    frame["completed_at"] = frame["completed_at"].where(frame["completed_at"] <= end)
    # A few released batches miss one CQA in the warehouse (late LIMS transfer): completeness KPI.
    missing = (frame["status"] == "released").to_numpy() & (rng.random(n) < 0.01)
    which = np.where(rng.random(n) < 0.5, "cd3_pct", "endotoxin_eu_ml")
    for cqa in ("cd3_pct", "endotoxin_eu_ml"):
        frame.loc[missing & (which == cqa), cqa] = np.nan
    return frame[["batch_id", "site_id", "room_id", "product", "process_version", "apheresis_at", "started_at",
                  "completed_at", "released_at", "infused_at", "status", *SPECIFICATION]]


def _site_offsets(network: Network, seed: int) -> dict[str, dict[str, float]]:
    rng = rng_for(seed, "site-offsets")
    sites = list(network.sites["site_id"])
    sds = {"viability_pct": 1.0, "transduction_pct": 2.0, "cd3_pct": 0.7, "vcn": 0.05}
    offsets = {cqa: dict(zip(sites, rng.normal(0, sd, len(sites)), strict=True)) for cqa, sd in sds.items()}
    for cqa in offsets:  # SEA converges to the network reference itself (story d)
        offsets[cqa]["SEA"] = 0.0
    return offsets


def _inject_failures(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """About 3 % of batches fail one CQA the way real CAR-T batches do."""
    n = len(frame)
    fail = rng.random(n) < FAILURE_SHARE
    mode = rng.integers(0, 4, n)
    frame.loc[fail & (mode == 0), "viability_pct"] = rng.normal(65, 3, n)[fail & (mode == 0)]
    frame.loc[fail & (mode == 1), "transduction_pct"] = rng.normal(11, 2.5, n)[fail & (mode == 1)]
    frame.loc[fail & (mode == 2), "vcn"] = rng.lognormal(np.log(6), 0.15, n)[fail & (mode == 2)]
    frame.loc[fail & (mode == 3), "endotoxin_eu_ml"] = rng.uniform(5.5, 12, n)[fail & (mode == 3)]


def _out_of_spec(frame: pd.DataFrame) -> pd.Series:
    oos = pd.Series(False, index=frame.index)
    for cqa, (lo, hi, _unit) in SPECIFICATION.items():
        if lo is not None:
            oos |= frame[cqa] < lo
        if hi is not None:
            oos |= frame[cqa] > hi
    return oos


def _batch_in_process(batch_frame: pd.DataFrame, site_or_room: pd.Series, at: pd.Series, key: str) -> pd.Series:
    """For each (site or room, time), a batch in process then (the latest started), else None."""
    open_end = batch_frame["completed_at"].fillna(pd.Timestamp("2262-01-01"))
    result = []
    for place, when in zip(site_or_room, at, strict=True):  # one lookup per deviation, not per reading
        hit = batch_frame[(batch_frame[key] == place) & (batch_frame["started_at"] <= when) & (open_end >= when)]
        result.append(hit["batch_id"].iloc[-1] if len(hit) else None)
    return pd.Series(result, index=at.index, dtype=object)


def _code_weights(kind: int, exclude: tuple[str, ...] = (), boost: tuple[str, ...] = (), factor: float = 1.0,
                  flatten: bool = False) -> np.ndarray:
    w = np.array([ROOT_CAUSES[c][3 + kind] for c in FAMILIES], dtype=float)
    if flatten:  # causes spread evenly: nothing keeps coming back
        w = (w > 0).astype(float)
    for i, code in enumerate(FAMILIES):
        if code in exclude:
            w[i] = 0.0
        if code in boost:
            w[i] *= factor
    return w / w.sum() if w.sum() > 0 else w


def _specific_causes(families: np.ndarray, recurring: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each deviation's family refined to the specific cause an investigation records, the first cause of a
    family the most common (weights 1/rank). Where ``recurring`` (PHX before its coaching programme) a
    family of PHX_RECURRING is always its first cause: the same error keeps coming back."""
    out = families.astype(object).copy()
    u = rng.random(len(families))
    for family, subs in SUB_CAUSES.items():
        rows = np.flatnonzero(families == family)
        if not len(rows):
            continue
        p = np.cumsum(1.0 / np.arange(1, len(subs) + 1))
        rank = np.searchsorted(p / p[-1], u[rows], side="right")
        if family in PHX_RECURRING:
            rank = np.where(recurring[rows], 0, rank)
        out[rows] = [f"{family}-{subs[r][0]}" for r in rank]
    return out


def _sops(code: str) -> tuple[str, ...]:
    return ROOT_CAUSES[CODE_INFO[code][0]][2]


def _effective_capas(codes: np.ndarray, occurred: np.ndarray, mask: np.ndarray, kind: np.ndarray,
                     quiet: np.ndarray, rng: np.random.Generator, recur_share: float = 0.15) -> None:
    """After coaching, PHX's CAPAs work: a cause seen in the last 90 days mostly does not come back."""
    window = np.timedelta64(90, "D")
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(occurred[idx], kind="stable")]
    for pos, i in enumerate(idx):  # one step per PHX deviation (a few dozen), in time order
        recent = {codes[j] for j in idx[:pos] if occurred[i] - occurred[j] <= window}
        if codes[i] in recent and rng.random() >= recur_share:
            excluded = tuple(recent) + ((STORY_CODE,) if quiet[i] else ())
            w = _code_weights(int(kind[i]), exclude=excluded, flatten=True)
            if w.sum() > 0:
                codes[i] = rng.choice(np.array(FAMILIES, dtype=object), p=w)


def deviations(network: Network, batch_frame: pd.DataFrame, excursions: pd.DataFrame, seed: int,
               strain: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ordinary deviations, the DOC-ENTRY cluster (b) and one deviation per action-level excursion.
    An ordinary deviation inside a strain episode's hazard period (leading_indicators.py) is more often
    major or critical."""
    st = network.stories
    end = pd.Timestamp(st.end)
    coaching = pd.Timestamp(st.coaching_start)
    quiet_from = pd.Timestamp(st.cluster_first) - 60 * DAY  # DOC-ENTRY kept rare around the cluster
    rng = rng_for(seed, "deviations")
    # In-process deviations: Poisson per batch; PHX raised more before its coaching programme.
    phx_before = (batch_frame["site_id"] == "PHX") & (batch_frame["started_at"] < coaching)
    phx_after = (batch_frame["site_id"] == "PHX") & (batch_frame["started_at"] >= coaching)
    counts = rng.poisson(np.where(phx_before, 0.5, np.where(phx_after, 0.25, 0.3)))
    in_batch = batch_frame.loc[batch_frame.index.repeat(counts)].reset_index(drop=True)
    ordinary = pd.DataFrame({
        "site_id": in_batch["site_id"],
        "batch_id": in_batch["batch_id"],
        "occurred_at": in_batch["started_at"] + _days(rng, 0, 10, len(in_batch)),
        "kind": 0,
    })
    facility = []
    for site in network.sites.itertuples(index=False):
        months = (end - site.active_from) / (30.4 * DAY)
        k = rng.poisson(0.8 * months)
        facility.append(pd.DataFrame({"site_id": site.site_id, "batch_id": None,
                                      "occurred_at": site.active_from + _days(rng, 0, months * 30.4, k),
                                      "kind": 1}))
    ordinary = pd.concat([ordinary, *facility], ignore_index=True)
    ordinary = ordinary[ordinary["occurred_at"] < end].sort_values(["site_id", "occurred_at"], kind="stable")
    ordinary = ordinary.reset_index(drop=True)
    n = len(ordinary)
    phx = (ordinary["site_id"] == "PHX").to_numpy()
    before = (ordinary["occurred_at"] < coaching).to_numpy()
    quiet = (ordinary["occurred_at"] >= quiet_from).to_numpy()
    codes = np.empty(n, dtype=object)
    for kind in (0, 1):
        for in_quiet in (False, True):
            for phx_mode in ("other", "phx_before", "phx_after"):
                mask = (ordinary["kind"].to_numpy() == kind) & (quiet == in_quiet)
                mask &= {"other": ~phx, "phx_before": phx & before, "phx_after": phx & ~before}[phx_mode]
                factor = {"other": 1.0, "phx_before": 10.0, "phx_after": 0.3}[phx_mode]
                w = _code_weights(kind, exclude=(STORY_CODE,) if in_quiet else (), boost=PHX_RECURRING,
                                  factor=factor, flatten=phx_mode == "phx_after")
                codes[mask] = rng.choice(np.array(FAMILIES, dtype=object), size=int(mask.sum()), p=w)
    _effective_capas(codes, ordinary["occurred_at"].to_numpy(), phx & ~before, ordinary["kind"].to_numpy(),
                     quiet, rng)
    ordinary["root_cause_code"] = _specific_causes(codes, phx & before, rng)
    ordinary["source"] = np.where(rng.random(n) < 0.6, "operator", "review")
    lag_h = np.where(ordinary["source"] == "operator", rng.lognormal(np.log(3), 1.1, n),
                     rng.lognormal(np.log(30), 0.9, n))
    lag_h *= np.where(phx & before, 2.0, 1.0)  # low psychological safety: errors surface later
    ordinary["detected_at"] = ordinary["occurred_at"] + pd.to_timedelta(np.round(lag_h * 3600), unit="s")
    # One uniform per deviation, as rng.choice draws them: without strain the same severities as before.
    u = rng.random(n)
    strained = leading_indicators.inside(strain if strain is not None else leading_indicators.no_episodes(),
                                         ordinary["site_id"], ordinary["occurred_at"], leading_indicators.HAZARD_LAG_DAYS)
    severity = np.empty(n, dtype=object)
    for state, mask in (("normal", ~strained), ("strained", strained)):
        cdf = np.cumsum(leading_indicators.SEVERITY_P[state])
        severity[mask] = np.array(["minor", "major", "critical"])[np.searchsorted(cdf / cdf[-1], u[mask], side="right")]
    ordinary["severity"] = severity
    ordinary["description"] = ordinary["root_cause_code"].map(lambda c: CODE_INFO[c][1])
    story = _cluster_deviations(network, batch_frame)
    from_excursions = _excursion_deviations(excursions, batch_frame, rng)
    frame = pd.concat([ordinary.drop(columns="kind"), story, from_excursions], ignore_index=True)
    frame = frame[frame["detected_at"] <= end]
    frame["category"] = frame["root_cause_code"].map(CATEGORY)
    m = len(frame)
    pick = rng.random(m)
    frame["sop_id"] = frame["sop_id"].where(frame["sop_id"].notna(), [
        _sops(c)[int(u * len(_sops(c)))] for c, u in zip(frame["root_cause_code"], pick, strict=True)])
    hf = frame["human_factors"].copy()
    u = rng.random(m)
    for category, p in HUMAN_FACTOR_P.items():
        sel = (frame["category"] == category).to_numpy() & hf.isna().to_numpy()
        hf[sel] = np.array(HUMAN_FACTORS)[np.searchsorted(np.cumsum(p), u[sel] * sum(p), side="right")]
    frame["human_factors"] = hf
    close_days = rng.lognormal(np.log(20), 0.6, m) * np.where(frame["severity"] == "minor", 1.0, 1.3)
    closed = frame["detected_at"] + pd.to_timedelta(np.round(close_days * 86_400), unit="s")
    frame["closed_at"] = frame["closed_at"].fillna(closed).where(lambda s: s <= end)
    frame = frame.sort_values(["site_id", "occurred_at", "root_cause_code"], kind="stable").reset_index(drop=True)
    frame["deviation_id"] = (
        "DEV-" + frame["site_id"] + "-" + (frame.groupby("site_id").cumcount() + 1).astype(str).str.zfill(4)
    )
    return frame[["deviation_id", "site_id", "batch_id", "occurred_at", "detected_at", "closed_at", "severity",
                  "category", "root_cause_code", "sop_id", "source", "human_factors", "excursion_id",
                  "description"]]


def _cluster_deviations(network: Network, batch_frame: pd.DataFrame) -> pd.DataFrame:
    """(b) The same GDP entry error on SOP-014 at ATL and at DEN, four days apart."""
    st = network.stories
    frame = pd.DataFrame({
        "site_id": ["ATL", "DEN"],
        "occurred_at": pd.to_datetime([st.cluster_first, st.cluster_second]),
        "detected_at": pd.to_datetime([st.cluster_first, st.cluster_second]) + pd.to_timedelta([5, 2.5], unit="h"),
        "closed_at": pd.to_datetime([st.cluster_first, st.cluster_second]) + pd.to_timedelta([18, 21], unit="D"),
        "root_cause_code": STORY_CODE, "sop_id": STORY_SOP, "source": ["review", "operator"],
        "severity": "minor", "human_factors": "cognitive_load",
        "description": ["Batch record entry error (GDP): yield entered in the wrong field of SOP-014 form",
                        "Batch record entry error (GDP): same SOP-014 form field filled with the wrong value"],
    })
    frame["batch_id"] = _batch_in_process(batch_frame, frame["site_id"], frame["occurred_at"], "site_id")
    return frame


def _excursion_deviations(excursions: pd.DataFrame, batch_frame: pd.DataFrame, rng: np.random.Generator
                          ) -> pd.DataFrame:
    action = excursions[excursions["level"] == "action"].reset_index(drop=True)
    story = action["sensor_id"] == "CHI-B1-T"
    frame = pd.DataFrame({
        "site_id": action["site_id"],
        "occurred_at": action["started_at"],  # counts from the excursion start (MTTD definition)
        "detected_at": action["detected_at"],
        "root_cause_code": action["parameter"].map(EXCURSION_CODE),
        "sop_id": np.where(action["parameter"].str.startswith("particles"), "SOP-005", "SOP-006"),
        "source": "excursion",
        "severity": np.where(story | (rng.random(len(action)) < 0.4), "major", "minor"),
        "excursion_id": action["excursion_id"],
        "description": np.where(story, "Grade B room temperature above action limit: reheat valve stuck open",
                                "Action-level excursion: " + action["parameter"] + " in " + action["room_id"]),
    })
    frame["batch_id"] = _batch_in_process(batch_frame, action["room_id"], action["started_at"], "room_id")
    return frame


def link_excursions(excursions: pd.DataFrame, deviation_frame: pd.DataFrame) -> pd.DataFrame:
    linked = deviation_frame.dropna(subset=["excursion_id"]).set_index("excursion_id")["deviation_id"]
    out = excursions.copy()
    out["deviation_id"] = out["excursion_id"].map(linked)
    return out


def capas(network: Network, deviation_frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """CAPAs for every major/critical deviation and ~15 % of minor ones."""
    end = pd.Timestamp(network.end)
    coaching = pd.Timestamp(network.stories.coaching_start)
    rng = rng_for(seed, "capas")
    n = len(deviation_frame)
    needs = (deviation_frame["severity"] != "minor").to_numpy() | (rng.random(n) < 0.15)
    dev = deviation_frame[needs].reset_index(drop=True)
    m = len(dev)
    opened = dev["detected_at"] + pd.to_timedelta(np.round(rng.lognormal(np.log(3), 0.6, m) * 86_400), unit="s")
    struggling = ((dev["site_id"] == "PHX") & (dev["occurred_at"] < coaching)).to_numpy()
    close_median = np.where(struggling, 45.0, 28.0)
    closed = opened + pd.to_timedelta(np.round(rng.lognormal(np.log(close_median), 0.4) * 86_400), unit="s")
    checked = closed + 90 * DAY
    effective = rng.random(m) < np.where(struggling, 0.5, 0.82)
    frame = pd.DataFrame({
        "deviation_id": dev["deviation_id"],
        "site_id": dev["site_id"],
        "opened_at": opened,
        "due_at": opened.dt.normalize() + pd.to_timedelta(rng.integers(30, 61, m), unit="D"),
        "closed_at": closed.where(closed <= end),
        "effectiveness_checked_at": checked.where(checked <= end),
        "effective": pd.array(np.where(checked <= end, effective, None), dtype="boolean"),
        "description": "CAPA for " + dev["root_cause_code"] + ": " + dev["description"],
    })
    frame = frame[frame["opened_at"] <= end].sort_values(["site_id", "opened_at"], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.insert(0, "capa_id",
                 "CAPA-" + frame["site_id"] + "-" + (frame.groupby("site_id").cumcount() + 1).astype(str).str.zfill(4))
    return frame


def near_misses(network: Network, seed: int) -> pd.DataFrame:
    """Near-miss reports; PHX reports rarely until its coaching programme, then much more."""
    end = pd.Timestamp(network.end)
    coaching = pd.Timestamp(network.stories.coaching_start)
    frames = []
    for site in network.sites.itertuples(index=False):
        rng = rng_for(seed, "near-misses", site.site_id)
        span = (end - site.active_from) / DAY
        top = 3.0 / 30.4  # per day, the highest rate any site reaches
        t = site.active_from + _days(rng, 0, span, rng.poisson(top * span))
        since = ((t - coaching) / DAY).to_numpy()
        if site.site_id == "PHX":
            rate = np.where(since < 0, 0.3, 0.3 + 2.7 * np.clip(since / 120, 0, 1)) / 30.4
        else:
            rate = np.full(len(t), rng.uniform(1.0, 2.0) / 30.4)
        keep = rng.random(len(t)) < rate / top
        frames.append(pd.DataFrame({"site_id": site.site_id, "reported_at": np.sort(t[keep])}))
    frame = pd.concat(frames, ignore_index=True)
    rng = rng_for(seed, "near-miss-categories")
    frame["category"] = np.array(NEAR_MISS_CATEGORIES)[rng.integers(0, len(NEAR_MISS_CATEGORIES), len(frame))]
    frame["description"] = "Near miss reported: " + frame["category"].str.replace("_", " ")
    frame.insert(0, "near_miss_id",
                 "NM-" + frame["site_id"] + "-" + (frame.groupby("site_id").cumcount() + 1).astype(str).str.zfill(4))
    return frame


__all__ = ["PRODUCT_CODE", "batches", "capas", "deviations", "link_excursions", "near_misses", "specifications"]
