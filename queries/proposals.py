"""Proactive CAPA proposals: each statistical signal worth a look becomes a proposal for QA review.

Nothing here writes anything: proposals are computed from the signals every time and listed for a
reviewer, who decides and opens a CAPA (or not) in the quality system. They are never opened silently.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import pandas as pd

from queries.scope import Scope
from queries.sensor_drift import DriftResult
from queries.signals import CQA_LABELS, SystemicResult, cqa_flags
from queries.warehouse import Warehouse

logger = logging.getLogger(__name__)

STATUS = "proposed · awaiting QA review (not opened)"
CQA_RECENT_DAYS = 30
CQA_MIN_FLAGS = 2
SHIFT_RULES = frozenset({"9 in a row on one side", "6 in a row trending", "2 of 3 beyond 2σ", "4 of 5 beyond 1σ",
                         "8 in a row on one side"})
COLUMNS = ["proposal_id", "source", "sites", "signal", "evidence", "proposed_action", "status"]


def _proposal_id(*parts: str) -> str:
    return "PCAPA-" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:8].upper()


def from_systemic(systemic: SystemicResult) -> list[dict]:
    rows, seen = [], set()
    for c in systemic.clusters.itertuples(index=False):
        behind = len(c.sop_behind_sites) + c.sop_behind_other_sites
        if not c.flagged:
            continue
        if behind >= 2:  # one proposal per outdated procedure and set of sites, however many keys point at it
            same = (tuple(sorted(c.sops)), tuple(c.sop_behind_sites), c.sop_behind_other_sites)
            if same in seen:
                continue
            seen.add(same)
        others = f" and {c.other_sites} other site{'s' if c.other_sites != 1 else ''}" if c.other_sites else ""
        sites = ", ".join(c.sites) + others
        evidence = (f"{c.n_deviations} deviations at {c.n_sites} sites between {c.first_at:%Y-%m-%d} and "
                    f"{c.last_at:%Y-%m-%d}; {c.expected:.2f} expected by chance ({p_text(c.surprise_p)})")
        if behind >= 2:
            evidence += f"; {', '.join(c.sops)} behind the master version at {behind} of these sites"
            action = (f"Cross-site CAPA: complete the roll-out of the current {', '.join(c.sops)} and retrain on it "
                      "at the sites involved; check whether the procedure itself invites the error")
        else:
            action = (f"Cross-site investigation of {c.key}: shared procedure, training or supplier cause "
                      "before treating the deviations as isolated")
        rows.append({"proposal_id": _proposal_id("systemic", *c.sites, c.key, str(c.first_at)),
                     "source": "systemic signal", "sites": sites, "signal": c.key, "evidence": evidence,
                     "proposed_action": action, "status": STATUS})
    return rows


def from_drift(drift: DriftResult) -> list[dict]:
    rows = []
    warning = drift.summary[drift.summary["status"] == "warning"]
    for s in warning.itertuples(index=False):
        chart = drift.charts.get(s.sensor_id)
        shift = ""
        if chart is not None:
            last = chart.frame.iloc[-1]
            run = int(max(last["n_plus"], last["n_minus"]))
            if run:
                began = chart.frame.index[-1] - pd.Timedelta(days=run - 1)
                shift = f"; CUSUM places the start of the shift around {began:%Y-%m-%d}"
        rows.append({"proposal_id": _proposal_id("drift", s.sensor_id, str(s.warning_since)),
                     "source": "drift warning", "sites": s.site_id,
                     "signal": f"{s.sensor_id} ({s.parameter}, {s.room_name})",
                     "evidence": f"EWMA of the daily mean beyond its limit since {s.warning_since:%Y-%m-%d}{shift}",
                     "proposed_action": f"Preventive check of {s.room_name} ({s.parameter}): HVAC, sensor "
                                        "calibration and recent changes, before an action-level excursion",
                     "status": STATUS})
    return rows


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def from_control_charts(flags: pd.DataFrame, end: pd.Timestamp, recent_days: int = CQA_RECENT_DAYS) -> list[dict]:
    """A CQA chart with ``CQA_MIN_FLAGS`` or more points in the last ``recent_days`` days that complete a
    shift or trend rule (``SHIFT_RULES``). A single point beyond 3 sigma is a one-off for the batch's own
    review, and the stratification rules (15 within 1 sigma, 14 alternating) point at how samples are
    taken rather than at a process moving towards a limit, so neither proposes a CAPA on its own."""
    rows = []
    if flags.empty:
        return rows
    shift = flags["rules"].map(lambda text: bool(set(text.split("; ")) & SHIFT_RULES))
    recent = flags[shift & (pd.to_datetime(flags["completed_at"]) >= end - timedelta(days=recent_days))]
    for (site_id, product, cqa), group in recent.groupby(["site_id", "product", "cqa"], sort=True):
        if len(group) < CQA_MIN_FLAGS:
            continue
        rules = sorted({r for text in group["rules"] for r in text.split("; ")})
        rows.append({"proposal_id": _proposal_id("cqa", site_id, product, cqa, str(group["batch_id"].iloc[-1])),
                     "source": "control chart", "sites": site_id,
                     "signal": f"{CQA_LABELS.get(cqa, cqa)} · {product}",
                     "evidence": f"{len(group)} batches flagged in the last {recent_days} days ({'; '.join(rules)}): "
                                 + ", ".join(group["batch_id"]),
                     "proposed_action": f"Investigate a shift in {CQA_LABELS.get(cqa, cqa)} of {product} "
                                        f"at {site_id} (materials, equipment, operators) before results leave "
                                        "the specification",
                     "status": STATUS})
    return rows


def proposals(wh: Warehouse, scope: Scope, systemic: SystemicResult, drift: DriftResult) -> pd.DataFrame:
    """All proposals for the scope's sites (the signals passed in are already scoped)."""
    flags = pd.concat([cqa_flags(wh.query("sql/signals/cqa_batches", scope=scope.for_site(s)))
                       for s in scope.site_ids], ignore_index=True) if scope.site_ids else pd.DataFrame()
    rows = from_systemic(systemic) + from_drift(drift) + from_control_charts(flags, pd.Timestamp(scope.end))
    return pd.DataFrame(rows, columns=COLUMNS)
