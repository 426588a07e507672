"""Proactive CAPA proposals: each statistical signal worth a look becomes a proposal for QA review.

Proposals are computed from the signals every time and listed for a reviewer; they are never opened
silently. The reviewer's decision is the only thing written: accepted (with the reference of the CAPA
they opened in the quality system) or dismissed (with the reason), electronically signed, kept with what
was decided on (capa_proposal_decisions) and audited in the same transaction. A proposal's id is a hash
of the signal that raised it, so its decision follows it from one computation to the next.

Who may decide: quality leadership any proposal; a site manager only a proposal of their own site alone
(a cross-site proposal is leadership's). The server checks the proposal is among those it computes for
the signed-in user's scope; the browser only names it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy.exc import IntegrityError

from queries.analyses import sensor_drift, signals
from queries.analyses.sensor_drift import DriftResult
from queries.analyses.signals import CQA_LABELS, SystemicResult, cqa_flags
from queries.engine import data_version
from queries.engine.result_cache import cached
from queries.engine.scope import Scope
from queries.engine.warehouse import Warehouse
from queries.records import audit, esignature

logger = logging.getLogger(__name__)

STATUS = "proposed · awaiting QA review (not opened)"
CQA_RECENT_DAYS = 30
CQA_MIN_FLAGS = 2
SHIFT_RULES = frozenset({"9 in a row on one side", "6 in a row trending", "2 of 3 beyond 2σ", "4 of 5 beyond 1σ",
                         "8 in a row on one side"})
STATUS_CROSS_SITE = "cross-site: reviewed by quality leadership (involves sites outside your scope)"
# site_ids: the proposal's sites in the scope; partial: it also involves sites outside the scope.
COLUMNS = ["proposal_id", "source", "sites", "signal", "evidence", "proposed_action", "status", "site_ids", "partial",
           "records"]  # records: (kind, id) pairs of the scope's records behind the signal, for links
DECISION_ROLES = frozenset({"leadership", "site_manager"})
DECISIONS = ("accepted", "dismissed")
REASON_MAX = 1000
CAPA_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,39}")  # the quality system's CAPA number
SIGNATURE_MEANING = ("Review: I have reviewed this CAPA proposal and its evidence; the decision and its reason "
                     "are mine.")


def _proposal_id(*parts: str) -> str:
    return "PCAPA-" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:8].upper()


def from_systemic(systemic: SystemicResult) -> list[dict]:
    """One proposal per flagged cluster, except that clusters pointing at the same outdated procedure
    (behind the master version at two or more sites) make one proposal for that procedure: its cure is one
    roll-out, however many causes and months the clusters span. (``procedure_linked`` counts the behind
    sites in and out of the viewer's scope, queries/analyses/signals.py.)"""
    flagged = [c for c in systemic.clusters.itertuples(index=False) if c.flagged]
    # The deviations of each cluster the viewer may see (the result lists only those).
    listed = systemic.deviations
    members = {} if listed.empty else {cluster_id: tuple(("deviation", d) for d in group["deviation_id"])
                                       for cluster_id, group in listed.groupby("cluster_id", sort=False)}
    by_sop: dict[tuple, list] = {}
    for c in flagged:
        if c.procedure_linked:
            by_sop.setdefault(tuple(sorted(c.sops)), []).append(c)
    rows = [{**_procedure_proposal(sops, group),
             "records": tuple(dict.fromkeys(r for c in group for r in members.get(c.cluster_id, ())))}
            for sops, group in by_sop.items()]
    for c in flagged:
        if c.procedure_linked:
            continue
        evidence = (f"{c.n_deviations} deviations at {c.n_sites} sites between {c.first_at:%Y-%m-%d} and "
                    f"{c.last_at:%Y-%m-%d}; {chance_text(c)}")
        rows.append({"proposal_id": _proposal_id("systemic", *c.sites, c.key, str(c.first_at)),
                     "source": "systemic signal", "sites": ", ".join(c.sites) + _others(c.other_sites),
                     "signal": c.key, "evidence": evidence,
                     "proposed_action": f"Cross-site investigation of {c.key}: shared procedure, training or "
                                        "supplier cause before treating the deviations as isolated",
                     "status": STATUS if not c.other_sites else STATUS_CROSS_SITE,
                     "site_ids": ",".join(c.sites), "partial": bool(c.other_sites),
                     "records": members.get(c.cluster_id, ())})
    return rows


def _others(n: int, at_least: bool = False) -> str:
    if not n:
        return ""
    return f" and {'at least ' if at_least else ''}{n} other site{'s' if n != 1 else ''}"


def _procedure_proposal(sops: tuple, group: list) -> dict:
    sites = sorted({s for c in group for s in c.sites})
    behind = sorted({s for c in group for s in c.sop_behind_sites})
    # Sites outside the viewer's scope are counts per cluster: their union is at least the largest count.
    others = max(c.other_sites for c in group)
    behind_others = max(c.sop_behind_other_sites for c in group)
    first, last = min(c.first_at for c in group), max(c.last_at for c in group)
    keys = sorted({c.key for c in group})
    clusters = f"{len(group)} clusters ({'; '.join(keys)})" if len(group) > 1 else f"cluster {keys[0]}"
    evidence = (f"{clusters}: {sum(c.n_deviations for c in group)} deviations between {first:%Y-%m-%d} and "
                f"{last:%Y-%m-%d}, least likely by chance {p_text(min(c.surprise_p for c in group))}; "
                f"{', '.join(sops)} behind the master version at {', '.join(behind) or 'none of your sites'}"
                f"{_others(behind_others, at_least=len(group) > 1)}")
    return {"proposal_id": _proposal_id("procedure", *sops, *behind, str(behind_others)),
            "source": "systemic signal", "sites": ", ".join(sites) + _others(others, at_least=len(group) > 1),
            "signal": " · ".join(keys) if len(keys) <= 3 else f"{', '.join(sops)} ({len(keys)} causes)",
            "evidence": evidence,
            "proposed_action": f"Cross-site CAPA: complete the roll-out of the current {', '.join(sops)} and retrain "
                               "on it at the sites involved; check whether the procedure itself invites the error",
            "status": STATUS if not others else STATUS_CROSS_SITE, "site_ids": ",".join(sites),
            "partial": bool(others)}


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
                     "status": STATUS, "site_ids": s.site_id, "partial": False, "records": ()})
    return rows


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def chance_text(cluster) -> str:
    """How surprising a systemic cluster is, in the terms its p-value uses (queries/stats/systemic.py):
    the deviations that followed the first within the window against the year before's rate."""
    return (f"{cluster.n_deviations - 1} followed the first where {cluster.expected:.2f} were expected from "
            f"the year before ({p_text(cluster.surprise_p)})")


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
                     "status": STATUS, "site_ids": site_id, "partial": False,
                     "records": tuple(("batch", b) for b in group["batch_id"])})
    return rows


@cached("capa_proposals", domains=(data_version.MEASUREMENTS, data_version.QUALITY))
def for_scope(wh: Warehouse, scope: Scope, systemic_window_days: int) -> pd.DataFrame:
    """The proposals of the scope from its drift, systemic and control-chart signals (cached: charting
    every CQA of every site takes about a second at 21 sites; decisions are merged in afterwards)."""
    drift = sensor_drift.analyse(wh, scope)
    systemic = signals.systemic_signals(wh, scope, systemic_window_days)
    return proposals(wh, scope, systemic, drift)


def proposals(wh: Warehouse, scope: Scope, systemic: SystemicResult, drift: DriftResult) -> pd.DataFrame:
    """All proposals for the scope's sites (the signals passed in are already scoped)."""
    flags = pd.concat([cqa_flags(wh.query("sql/signals/cqa_batches", scope=scope.for_site(s)))
                       for s in scope.site_ids], ignore_index=True) if scope.site_ids else pd.DataFrame()
    rows = from_systemic(systemic) + from_drift(drift) + from_control_charts(flags, pd.Timestamp(scope.end))
    return pd.DataFrame(rows, columns=COLUMNS)


# --- QA review (electronic signature) ---------------------------------------------------------------
class DecisionRefused(PermissionError):
    """The decision was not recorded; the message says why (shown to the reviewer)."""


@dataclass(frozen=True)
class Decided:
    proposal_id: str
    decision: str
    user_id: str
    at: datetime
    record_sha256: str


def may_decide(role: str, own_site: str | None, proposal: dict) -> bool:
    """Leadership any proposal; a site manager only one of their own site alone; nobody else."""
    if role == "leadership":
        return True
    return (role == "site_manager" and own_site is not None and not proposal["partial"]
            and proposal["site_ids"] == own_site)


def with_decisions(wh: Warehouse, proposed: pd.DataFrame) -> pd.DataFrame:
    """The proposals with their recorded decisions in ``status`` (and ``decided``: True once decided)."""
    out = proposed.assign(decided=False)
    if proposed.empty:
        return out
    found = wh.query("sql/capa_decisions_get", {"ids": list(proposed["proposal_id"])})
    for d in found.itertuples(index=False):
        at = f"{pd.Timestamp(d.decided_at):%Y-%m-%d %H:%M} UTC"
        status = (f"accepted by {d.decided_by} {at} · CAPA {d.capa_ref}" if d.decision == "accepted"
                  else f"dismissed by {d.decided_by} {at}: {d.reason}")
        row = out["proposal_id"] == d.proposal_id
        out.loc[row, "status"] = status
        out.loc[row, "decided"] = True
    return out


def record_digest(proposal: dict, decision: str, capa_ref: str | None, reason: str) -> str:
    """sha256 of what is signed: the proposal as shown and the decision on it."""
    signed = {k: str(proposal[k]) for k in ("proposal_id", "source", "sites", "signal", "evidence",
                                            "proposed_action")}
    signed |= {"decision": decision, "capa_ref": capa_ref, "reason": reason}
    return hashlib.sha256(json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def decide(wh: Warehouse, proposed: pd.DataFrame, *, user_id: str, role: str, own_site: str | None,
           proposal_id, decision, capa_ref, reason, password, now: datetime,
           attempt_allowed: Callable[[], bool] | None = None) -> Decided:
    """Record a signed decision on one of ``proposed`` (the proposals the server computed for the
    user's scope). Role, scope, inputs and password are checked here; the decision and its audit entry
    commit together, and a proposal is decided once."""
    def refuse(message: str, why: str) -> DecisionRefused:
        esignature.audit_refusal(wh, user_id=user_id, action="capa_proposal_review_refused",
                                 object_type="capa_proposal", object_id=proposal_id, reason=why)
        return DecisionRefused(message)

    if role not in DECISION_ROLES:
        raise refuse("Your role cannot review CAPA proposals.", f"role {role} may not review")
    if not isinstance(proposal_id, str) or not proposal_id:
        raise DecisionRefused("Choose a proposal to review.")
    match = proposed[proposed["proposal_id"] == proposal_id]
    if match.empty:
        raise refuse("Proposal not found (the signals may have changed: reload the page).",
                     "proposal not among those computed for the user's scope")
    proposal = match.iloc[0].to_dict()
    if not may_decide(role, own_site, proposal):
        raise refuse("A site manager may review proposals of their own site only; cross-site proposals are "
                     "quality leadership's.", f"site manager of {own_site} may not review {proposal['site_ids']}")
    if decision not in DECISIONS:
        raise DecisionRefused("Choose accept or dismiss.")
    why = reason.strip() if isinstance(reason, str) else ""
    if not why:
        raise DecisionRefused("A reason is required: say what was reviewed and why this decision.")
    if len(why) > REASON_MAX:
        raise DecisionRefused(f"The reason is limited to {REASON_MAX} characters.")
    ref = capa_ref.strip() if isinstance(capa_ref, str) and decision == "accepted" else None
    if decision == "accepted" and not (ref and CAPA_REF.fullmatch(ref)):
        raise DecisionRefused("Accepting needs the number of the CAPA opened in the quality system "
                              "(letters, digits, - _ . /; up to 40 characters).")
    try:
        esignature.check(wh, user_id=user_id, password=password, object_type="capa_proposal",
                         object_id=proposal_id, meaning=SIGNATURE_MEANING, attempt_allowed=attempt_allowed)
    except esignature.SignatureFailed as failed:
        raise DecisionRefused(str(failed)) from None
    digest = record_digest(proposal, decision, ref, why)
    row = {"proposal_id": proposal_id, "site_ids": proposal["site_ids"], "source": proposal["source"],
           "signal": proposal["signal"], "evidence": proposal["evidence"], "decision": decision, "capa_ref": ref,
           "reason": why, "decided_by": user_id, "decided_at": now, "record_sha256": digest}
    try:
        with wh.transaction() as conn:
            wh.run(conn, "sql/capa_decision_insert", row)
            audit.append(wh, user_id=user_id, action=f"capa_proposal_{decision}", object_type="capa_proposal",
                         object_id=proposal_id, reason=why, old_value=json.dumps({"status": proposal["status"]}),
                         new_value=json.dumps({"decision": decision, "capa_ref": ref, "role": role,
                                               "sites": proposal["site_ids"], "record_sha256": digest}),
                         meaning=SIGNATURE_MEANING, conn=conn)
    except IntegrityError:  # the primary key: decided before (perhaps by someone else a moment ago)
        raise DecisionRefused("This proposal has already been decided.") from None
    logger.info("CAPA proposal %s %s by %s", proposal_id, decision, user_id)
    return Decided(proposal_id, decision, user_id, now, digest)
