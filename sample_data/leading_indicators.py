"""Leading-indicator mechanism of the sample network: staffing strain (documented, with its effect sizes,
in sample_data/README.md).

Each site goes through strain episodes (rushed onboarding, thin shifts) as a Poisson process. From an
episode's start, first training attempts score lower (fewer pass first time); from HAZARD_LAG_DAYS into
it until it ends, a deviation is more often major or critical. A model that watches the first-attempt
pass rate can therefore see the hazard coming, which a count of recent deviations cannot. With the
mechanism off (``populate(..., leading_indicators=False)``, the negative control) nothing depends on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sample_data.network import Network
from sample_data.reference import rng_for

EPISODES_PER_YEAR = 1.5
EPISODE_DAYS = 120
HAZARD_LAG_DAYS = 30
FIRST_ATTEMPT_SCORE_DROP = 25.0
HIRES_PER_EPISODE = 4  # mean (Poisson) operators hired in an episode's first HIRE_DAYS days
HIRE_DAYS = 30  # points off a first attempt's score (pass mark 80) during an episode
SEVERITY_P = {"normal": (0.92, 0.07, 0.01), "strained": (0.10, 0.70, 0.20)}  # minor, major, critical


def strain_episodes(network: Network, seed: int) -> pd.DataFrame:
    """site_id, start, end of every episode (never overlapping within a site)."""
    rng = rng_for(seed, "strain")
    end = pd.Timestamp(network.end)
    rows = []
    for site in network.sites.itertuples(index=False):
        t = pd.Timestamp(site.active_from)
        while True:
            t += pd.Timedelta(days=float(rng.exponential(365 / EPISODES_PER_YEAR)))
            if t >= end:
                break
            rows.append((site.site_id, t, t + pd.Timedelta(days=EPISODE_DAYS)))
            t += pd.Timedelta(days=EPISODE_DAYS)
    return pd.DataFrame(rows, columns=["site_id", "start", "end"])


def no_episodes() -> pd.DataFrame:
    return pd.DataFrame({"site_id": pd.Series(dtype=object), "start": pd.Series(dtype="datetime64[ns]"),
                         "end": pd.Series(dtype="datetime64[ns]")})


def inside(episodes: pd.DataFrame, site_ids, times, lag_days: float = 0) -> np.ndarray:
    """True where (site, time) falls in an episode, from ``lag_days`` after its start to its end."""
    site_ids, times = np.asarray(site_ids, dtype=object), pd.to_datetime(pd.Series(times)).to_numpy()
    hit = np.zeros(len(site_ids), dtype=bool)
    for episode in episodes.itertuples(index=False):
        start = np.datetime64(episode.start + pd.Timedelta(days=lag_days))
        hit |= (site_ids == episode.site_id) & (times >= start) & (times < np.datetime64(episode.end))
    return hit


def strain_hires(episodes: pd.DataFrame, taken: set[str], seed: int) -> pd.DataFrame:
    """Operators hired in each episode's first HIRE_DAYS days: site_id, joined, operator_ref (not in
    ``taken``), ability (as other operators')."""
    rng = rng_for(seed, "strain-hires")
    rows = []
    for episode in episodes.itertuples(index=False):
        for _ in range(rng.poisson(HIRES_PER_EPISODE)):
            ref = f"OP-{int(rng.integers(16**4)):04X}"
            while ref in taken:
                ref = f"OP-{int(rng.integers(16**4)):04X}"
            taken.add(ref)
            rows.append((episode.site_id, episode.start + pd.Timedelta(days=float(rng.uniform(0, HIRE_DAYS))), ref,
                         float(rng.normal(0, 5))))
    return pd.DataFrame(rows, columns=["site_id", "joined", "operator_ref", "ability"])
