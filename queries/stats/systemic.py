"""Systemic signals: the same root cause (or SOP) at two or more sites within a short window."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

logger = logging.getLogger(__name__)

CLUSTER_COLUMNS = ("key_type", "key", "first_at", "last_at", "n_sites", "n_deviations", "sites",
                   "deviation_ids", "reference_count", "expected", "surprise_p")


def systemic_clusters(
    deviations: pd.DataFrame,
    key: str = "root_cause_code",
    window_days: int = 14,
    min_sites: int = 2,
    reference: pd.DataFrame | None = None,
    reference_days: int = 365,
) -> pd.DataFrame:
    """Groups of deviations with the same ``key`` value at ``min_sites`` or more sites within ``window_days``.

    ``deviations`` needs ``deviation_id, site_id, occurred_at`` and the ``key`` column. Per key value,
    in time order: a window opens at the earliest deviation not yet in a cluster and holds every
    deviation of that value up to ``window_days`` later; if they span ``min_sites`` sites the window is a
    cluster (its deviations are consumed), otherwise the window moves on to the next deviation. So a
    cluster never spans more than the window, and each deviation is in at most one cluster.

    A popular root cause meets this rule by chance now and then, so each cluster carries how surprising it
    is. The deviation that opens the window is given (the scan opens a window at each deviation), so the
    evidence is the ``n_deviations - 1`` that followed it within the window, compared with the key's
    ``reference_count`` in the ``reference_days`` before the opening one (from ``reference``, default
    ``deviations``). If both periods share one network rate, the followers given the total are binomial
    with the window's share of the time, so ``surprise_p`` = P(X >= n_deviations - 1) for
    X ~ Binomial(n_deviations - 1 + reference_count, window / (window + reference_days)): the exact
    conditional test of two Poisson rates, which also carries the reference rate's own uncertainty
    (a key unseen in the year before gets p = window / (window + reference), not 0).
    ``expected`` = reference_count / reference_days x window is shown beside it.

    Under independent sites a deviation opens a window with p < 0.05 at most 5 % of the time; among
    the clusters found the rate is near 5 % for keys expected about once a window or more and higher for
    rare keys (for those, a cluster forming at all is the rare event): tests/stats/test_systemic.py
    measures both by simulation and docs/signals.md states the figures. The p is not corrected for
    scanning many keys (the page divides its threshold by the number of keys).
    """
    if window_days <= 0 or min_sites < 2:
        raise ValueError(f"need window_days > 0 and min_sites >= 2, got {window_days!r}, {min_sites!r}")
    reference = deviations if reference is None else reference
    prior_times = _times_by_value(reference, key)
    window = pd.Timedelta(days=window_days).to_timedelta64()
    share = window_days / (window_days + reference_days)
    rows = []
    data = deviations.dropna(subset=[key]).sort_values([key, "occurred_at", "deviation_id"], kind="stable")
    values = data[key].to_numpy()
    all_times = pd.to_datetime(data["occurred_at"]).to_numpy()
    all_sites, all_ids = data["site_id"].to_numpy(), data["deviation_id"].to_numpy()
    # Each key value's rows are one run of the sorted arrays, in time order within it.
    bounds = np.r_[np.flatnonzero(np.r_[True, values[1:] != values[:-1]])[:len(values)], len(values)]
    for begin, stop in itertools.pairwise(bounds):
        value, times = values[begin], all_times[begin:stop]
        sites, ids = all_sites[begin:stop], all_ids[begin:stop]
        # The window opened at i holds i .. ends[i]-1 (times sorted: those up to window later).
        ends = np.searchsorted(times, times + window, side="right")
        i = 0
        while i < len(times):
            members = set(sites[i:ends[i]])
            if len(members) >= min_sites:
                last_i = ends[i] - 1
                first, last = pd.Timestamp(times[i]), pd.Timestamp(times[last_i])
                prior = _count_before(prior_times.get(value), first, reference_days)
                rows.append({
                    "key_type": key, "key": value, "first_at": first, "last_at": last,
                    "n_sites": len(members), "n_deviations": last_i - i + 1,
                    "sites": tuple(sorted(members)), "deviation_ids": tuple(ids[i:ends[i]]),
                    "reference_count": prior, "expected": prior / reference_days * window_days,
                })
                i = int(ends[i])
            else:
                i += 1
    frame = pd.DataFrame(rows, columns=list(CLUSTER_COLUMNS))
    followers = frame["n_deviations"].to_numpy(dtype=float) - 1  # every cluster's p in one call
    frame["surprise_p"] = stats.binom.sf(followers - 1, followers + frame["reference_count"].to_numpy(dtype=float),
                                         share).astype(float)
    return frame.sort_values(["surprise_p", "n_sites", "first_at"], ascending=[True, False, True],
                             kind="stable").reset_index(drop=True)


def _times_by_value(reference: pd.DataFrame, key: str) -> dict[object, np.ndarray]:
    """Each ``key`` value's occurrence times in ``reference``, sorted (for counting by binary search)."""
    occurred = pd.to_datetime(reference["occurred_at"])
    known = reference[key].notna() & occurred.notna()
    return {value: np.sort(times.to_numpy())
            for value, times in occurred[known].groupby(reference.loc[known, key], sort=False)}


def _count_before(times: np.ndarray | None, before: pd.Timestamp, reference_days: int) -> int:
    """How many of a key value's deviations (``times``: sorted) fell in the ``reference_days`` before ``before``."""
    if times is None:
        return 0
    start = (before - pd.Timedelta(days=reference_days)).to_datetime64()
    return int(np.searchsorted(times, before.to_datetime64(), side="left") - np.searchsorted(times, start, side="left"))


def clusters_for_keys(deviations: pd.DataFrame, keys: Sequence[str] = ("root_cause_code", "sop_id"),
                      **kwargs) -> pd.DataFrame:
    """:func:`systemic_clusters` for several keys, one frame, most surprising first."""
    parts = [systemic_clusters(deviations, key=k, **kwargs) for k in keys]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=list(CLUSTER_COLUMNS))
    return pd.concat(parts, ignore_index=True).sort_values(
        ["surprise_p", "n_sites", "first_at"], ascending=[True, False, True], kind="stable").reset_index(drop=True)
