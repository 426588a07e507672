"""Scoring of the team psychological safety survey (Edmondson 1999) and its reliability (Cronbach's alpha).

Pure functions on arrays and DataFrames, no database and no Dash. The SQL in queries/sql/people_*.sql
scores the same way inside the warehouse (so raw responses never leave it); tests check that both agree.

Scale (docs/kpis.md, psych_safety): seven items on a 1-7 Likert scale; items 1, 3 and 5 are negatively worded
and reverse-scored as 8 - x; a respondent's score is the mean of the seven scored items; a group's index
is the mean of its respondents' scores, also shown on 0-100 as (score - 1) / 6 * 100. A group with fewer
than `min_n` respondents is suppressed: neither its value nor its count is returned.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

ITEMS: tuple[str, ...] = ("q1", "q2", "q3", "q4", "q5", "q6", "q7")
REVERSED: tuple[str, ...] = ("q1", "q3", "q5")
SCALE_MIN, SCALE_MAX = 1, 7
MIN_RESPONDENTS = 5


def scored_items(responses: pd.DataFrame) -> pd.DataFrame:
    """The seven items with the negatively worded ones reversed (8 - x), in ITEMS order."""
    items = responses.loc[:, list(ITEMS)].astype(float)
    for item in REVERSED:
        items[item] = (SCALE_MIN + SCALE_MAX) - items[item]
    return items


def respondent_scores(responses: pd.DataFrame) -> pd.Series:
    """Each respondent's score on the 1-7 scale: the mean of the seven scored items."""
    return scored_items(responses).mean(axis=1)


def to_0_100(score_1_7: float | np.ndarray | pd.Series):
    """A 1-7 score on 0-100: (score - 1) / 6 * 100."""
    return (score_1_7 - SCALE_MIN) / (SCALE_MAX - SCALE_MIN) * 100.0


def group_index(responses: pd.DataFrame, by: Sequence[str], *, min_n: int = MIN_RESPONDENTS) -> pd.DataFrame:
    """Index per group: by..., respondents, score_1_7, index_0_100, suppressed.

    A group under min_n respondents keeps only its keys and suppressed=True: its count and value are
    NaN, so nothing downstream can show or subtract them."""
    scores = responses.loc[:, list(by)].assign(score=respondent_scores(responses))
    groups = scores.groupby(list(by), as_index=False, sort=True).agg(
        respondents=("score", "size"), score_1_7=("score", "mean"))
    groups["index_0_100"] = to_0_100(groups["score_1_7"])
    suppressed = groups["respondents"] < min_n
    groups["respondents"] = groups["respondents"].astype(float)
    groups.loc[suppressed, ["respondents", "score_1_7", "index_0_100"]] = np.nan
    groups["suppressed"] = suppressed
    return groups


def cronbach_alpha(items: np.ndarray | pd.DataFrame) -> float:
    """Cronbach's alpha of an (respondents x items) matrix of scored items.

    alpha = k / (k - 1) * (1 - sum of item variances / variance of the total), sample variances
    (ddof = 1; the ratio is the same with ddof = 0). NaN when it is undefined: fewer than two
    respondents or items, or a total with no variance."""
    matrix = np.asarray(items, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 2:
        return float("nan")
    item_variances = matrix.var(axis=0, ddof=1)
    total_variance = matrix.sum(axis=1).var(ddof=1)
    return alpha_from_variances(item_variances, total_variance)


def alpha_from_variances(item_variances: Sequence[float] | np.ndarray, total_variance: float) -> float:
    """Cronbach's alpha from the item variances and the variance of the summed score (as SQL returns them)."""
    variances = np.asarray(item_variances, dtype=float)
    k = variances.size
    if k < 2 or total_variance is None or not np.isfinite(total_variance) or total_variance <= 0 \
            or not np.isfinite(variances).all():
        return float("nan")
    return float(k / (k - 1) * (1.0 - variances.sum() / float(total_variance)))


def alpha_label(alpha: float) -> str:
    """The usual reading of alpha (George & Mallery 2003 rule of thumb), for the page."""
    if alpha is None or not np.isfinite(alpha):
        return "not computable"
    for bound, word in ((0.9, "excellent"), (0.8, "good"), (0.7, "acceptable"), (0.6, "questionable"),
                        (0.5, "poor")):
        if alpha >= bound:
            return word
    return "unacceptable"
