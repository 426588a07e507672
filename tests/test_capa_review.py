"""The signed QA review of CAPA proposals: who may decide what, what is stored and audited, and that a
decision is made once and kept as signed (on DuckDB and PostgreSQL); then through crafted callbacks."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest
from conftest import TEST_PASSWORD, dash_call
from sqlalchemy import text

from dashboard import ids
from queries.analyses import proposals, signals
from queries.engine.warehouse import Warehouse
from queries.records import audit, users

NOW = datetime(2026, 11, 20, 9, 30)
PROPOSED = pd.DataFrame([
    {"proposal_id": "PCAPA-CHI00001", "source": "drift warning", "sites": "CHI", "signal": "CHI-B1-T (temperature)",
     "evidence": "EWMA beyond its limit since 2026-10-30", "proposed_action": "Preventive check of B1",
     "status": proposals.STATUS, "site_ids": "CHI", "partial": False},
    {"proposal_id": "PCAPA-ATLDEN01", "source": "systemic signal", "sites": "ATL, DEN", "signal": "DOC-ENTRY",
     "evidence": "2 deviations at 2 sites", "proposed_action": "Cross-site CAPA", "status": proposals.STATUS,
     "site_ids": "ATL,DEN", "partial": False},
], columns=proposals.COLUMNS)


@pytest.fixture
def reviewers(warehouse: Warehouse) -> Warehouse:
    sites = pd.DataFrame({"site_id": ["CHI", "ATL"], "name": ["Chicago", "Atlanta"], "region": "US",
                          "timezone": ["America/Chicago", "America/New_York"], "kind": "node",
                          "onboarded_at": pd.Timestamp("2024-01-01")})
    with warehouse.transaction() as conn:
        warehouse.bulk_insert(conn, "sites", sites)
    for user_id, role, site in (("lead", "leadership", None), ("mgr.chi", "site_manager", "CHI"),
                                ("mgr.atl", "site_manager", "ATL"), ("aud", "auditor", None)):
        users.add_user(warehouse, user_id=user_id, display_name=user_id, role=role, site_id=site,
                       password=TEST_PASSWORD)
    return warehouse


def decide(wh, user_id, role, site, proposal_id="PCAPA-CHI00001", decision="accepted", capa_ref="CAPA-2026-117",
           reason="EWMA trend confirmed on the HVAC log", password=TEST_PASSWORD):
    return proposals.decide(wh, PROPOSED, user_id=user_id, role=role, own_site=site, proposal_id=proposal_id,
                            decision=decision, capa_ref=capa_ref, reason=reason, password=password, now=NOW)


def stored(wh) -> pd.DataFrame:
    return wh.query("sql/capa_decisions_get", {"ids": list(PROPOSED["proposal_id"])})


def actions(wh) -> list[str]:
    return list(wh.query("sql/audit_all")["action"])


@pytest.mark.requirement("URS-STA-008")
@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
@pytest.mark.requirement("URS-SIG-002", "URS-SIG-003", "URS-SIG-005", "URS-SIG-006", "URS-SIG-007", "URS-AUD-002")
def test_a_site_manager_accepts_a_proposal_of_their_site_once(reviewers):
    wh = reviewers
    done = decide(wh, "mgr.chi", "site_manager", "CHI")
    row = stored(wh).iloc[0]
    assert (row.proposal_id, row.decision, row.capa_ref, row.decided_by) == (
        "PCAPA-CHI00001", "accepted", "CAPA-2026-117", "mgr.chi")
    assert pd.Timestamp(row.decided_at) == pd.Timestamp(NOW) and row.record_sha256 == done.record_sha256
    assert done.record_sha256 == proposals.record_digest(PROPOSED.iloc[0].to_dict(), "accepted", "CAPA-2026-117",
                                                         "EWMA trend confirmed on the HVAC log")
    entry = wh.query("sql/audit_all").iloc[-1]
    assert (entry.action, entry.object_id, entry.meaning) == (
        "capa_proposal_accepted", "PCAPA-CHI00001", proposals.SIGNATURE_MEANING)
    assert json.loads(entry.new_value)["record_sha256"] == done.record_sha256
    assert audit.verify(wh).ok

    shown = proposals.with_decisions(wh, PROPOSED).set_index("proposal_id")
    assert shown.loc["PCAPA-CHI00001", "decided"]
    assert shown.loc["PCAPA-CHI00001", "status"].startswith("accepted by mgr.chi 2026-11-20 09:30 UTC · CAPA CAPA-2026-117")
    assert not shown.loc["PCAPA-ATLDEN01", "decided"] and shown.loc["PCAPA-ATLDEN01", "status"] == proposals.STATUS

    with pytest.raises(proposals.DecisionRefused, match="already been decided"):  # leadership too: once only
        decide(wh, "lead", "leadership", None, decision="dismissed", capa_ref=None, reason="not needed")
    assert len(stored(wh)) == 1 and stored(wh).iloc[0].decision == "accepted"


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
@pytest.mark.requirement("URS-SIG-002", "URS-SIG-003", "URS-ACC-004")
def test_refusals_name_the_reason_and_write_no_decision(reviewers):
    wh = reviewers
    cases = [
        (("aud", "auditor", None), {}, "Your role cannot review"),
        (("mgr.atl", "site_manager", "ATL"), {}, "own site only"),  # CHI's proposal
        (("mgr.atl", "site_manager", "ATL"), {"proposal_id": "PCAPA-ATLDEN01"}, "own site only"),  # cross-site
        (("lead", "leadership", None), {"proposal_id": "PCAPA-FORGED"}, "not found"),
        (("lead", "leadership", None), {"proposal_id": ["PCAPA-CHI00001"]}, "Choose a proposal"),
        (("lead", "leadership", None), {"decision": "opened"}, "accept or dismiss"),
        (("lead", "leadership", None), {"reason": "   "}, "reason is required"),
        (("lead", "leadership", None), {"reason": "x" * 1001}, "limited to 1000"),
        (("lead", "leadership", None), {"capa_ref": None}, "needs the number of the CAPA"),
        (("lead", "leadership", None), {"capa_ref": "=HYPERLINK(1)"}, "needs the number of the CAPA"),
        (("lead", "leadership", None), {"password": "wrong"}, "Signature failed"),
        (("lead", "leadership", None), {"password": None}, "Signature failed"),
    ]
    for (user_id, role, site), change, message in cases:
        with pytest.raises(proposals.DecisionRefused, match=message):
            decide(wh, user_id, role, site, **change)
    assert stored(wh).empty
    logged = actions(wh)
    assert logged.count("esignature_failed") == 2 and logged.count("capa_proposal_review_refused") == 4
    assert audit.verify(wh).ok
    # Leadership may decide the cross-site one; a dismissal needs no CAPA number and stores none.
    decide(wh, "lead", "leadership", None, proposal_id="PCAPA-ATLDEN01", decision="dismissed",
           capa_ref="CAPA-IGNORED", reason="Both entries traced to one retired form; no CAPA needed")
    row = stored(wh).iloc[0]
    assert (row.decision, row.capa_ref) == ("dismissed", None)


@pytest.mark.postgres
@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
@pytest.mark.requirement("URS-SIG-007")
def test_postgresql_keeps_a_decision_as_signed(reviewers):
    wh = reviewers
    decide(wh, "lead", "leadership", None)
    for statement in ("UPDATE capa_proposal_decisions SET decision = 'dismissed'",
                      "DELETE FROM capa_proposal_decisions", "TRUNCATE capa_proposal_decisions"):
        with pytest.raises(Exception, match="signed records"), wh.engine.begin() as conn:
            conn.execute(text(statement))
    assert stored(wh).iloc[0].decision == "accepted"


# --- through the dashboard's callbacks (the session's sample network) --------------------------------
PROPOSALS = [ids.SIG_PROPOSALS, ids.SIG_REVIEW_PROPOSAL]
REVIEW = [ids.SIG_REVIEW_RESULT, ids.SIG_REVIEW_PASSWORD, ids.SIG_REVIEW_REASON, ids.SIG_REVIEW_DONE]
WINDOWS = {f"{ids.SIG_WINDOW}.value": 365, f"{ids.SIG_SYSTEMIC_WINDOW}.value": 30}


def listed(client, app) -> dict:
    resp = dash_call(client, app, PROPOSALS, {**WINDOWS, f"{ids.SIG_REVIEW_DONE}.data": 0})
    assert resp.status_code == 200
    return resp.get_json()["response"]


def submit(client, app, **state):
    return dash_call(client, app, REVIEW, {f"{ids.SIG_REVIEW_SUBMIT}.n_clicks": 1},
                     {**WINDOWS, f"{ids.SIG_REVIEW_DONE}.data": 0, f"{ids.SIG_REVIEW_PASSWORD}.value": TEST_PASSWORD,
                      **{f"{k}.value": v for k, v in state.items()}})


@pytest.mark.requirement("URS-STA-008")
@pytest.mark.requirement("URS-SIG-003", "URS-SIG-004", "URS-SIG-005", "URS-ACC-004")
def test_review_through_the_page_respects_the_signed_in_user(make_client, hub_app, sample_warehouse):
    # SEA's transduction chart raises a single-site proposal in the sample (CHI's and ATL's are cross-site).
    if users.get_user(sample_warehouse, "t.manager.sea") is None:
        users.add_user(sample_warehouse, user_id="t.manager.sea", display_name="t.manager.sea", role="site_manager",
                       site_id="SEA", password=TEST_PASSWORD)
    manager, leader = make_client("t.manager.sea"), make_client("t.leader")
    assert listed(make_client("t.manager.chi"), hub_app)[ids.SIG_REVIEW_PROPOSAL]["options"] == []
    mine = listed(manager, hub_app)[ids.SIG_REVIEW_PROPOSAL]["options"]
    everyone = listed(leader, hub_app)[ids.SIG_REVIEW_PROPOSAL]["options"]
    assert mine and all(" · SEA · " in o["label"] for o in mine)
    others = [o["value"] for o in everyone if " · SEA · " not in o["label"]]
    assert others, "the sample network raises proposals at other sites"

    # A site manager naming another site's proposal: refused as not found in their scope, nothing stored.
    resp = submit(manager, hub_app, **{ids.SIG_REVIEW_PROPOSAL: others[0], ids.SIG_REVIEW_DECISION: "dismissed",
                                       ids.SIG_REVIEW_REASON: "forged"})
    assert resp.status_code == 200 and "Proposal not found" in json.dumps(resp.get_json())

    chosen = mine[0]["value"]
    resp = submit(manager, hub_app, **{ids.SIG_REVIEW_PROPOSAL: chosen, ids.SIG_REVIEW_DECISION: "accepted",
                                       ids.SIG_REVIEW_CAPA_REF: "CAPA-SEA-0042",
                                       ids.SIG_REVIEW_REASON: "Trend confirmed; CAPA opened"})
    body = resp.get_json()["response"]
    assert f"{chosen} accepted by t.manager.sea" in json.dumps(body[ids.SIG_REVIEW_RESULT])
    assert body[ids.SIG_REVIEW_DONE]["data"] == 1 and body[ids.SIG_REVIEW_PASSWORD]["value"] == ""

    after = listed(leader, hub_app)  # the leader sees the decision at once (read fresh, not cached)
    assert chosen not in [o["value"] for o in after[ids.SIG_REVIEW_PROPOSAL]["options"]]
    assert "accepted by t.manager.sea" in json.dumps(after[ids.SIG_PROPOSALS]) and "CAPA CAPA-SEA-0042" in json.dumps(
        after[ids.SIG_PROPOSALS])

    auditor = make_client("t.auditor")
    resp = submit(auditor, hub_app, **{ids.SIG_REVIEW_PROPOSAL: others[0], ids.SIG_REVIEW_DECISION: "dismissed",
                                       ids.SIG_REVIEW_REASON: "auditors only read"})
    assert "Your role cannot review" in json.dumps(resp.get_json())


# --- what is proposed from systemic clusters -----------------------------------------------------------
def _cluster(key, sites, first, *, other=0, behind=(), behind_other=0, sops=("SOP-016",), flagged=True, p=1e-4):
    return {"cluster_id": key + first, "key": key, "first_at": pd.Timestamp(first),
            "last_at": pd.Timestamp(first) + pd.Timedelta(days=9), "n_sites": len(sites) + other, "n_deviations": 3,
            "sites": tuple(sites), "other_sites": other, "expected": 0.2, "surprise_p": p, "sops": tuple(sops),
            "sop_behind_sites": tuple(behind), "sop_behind_other_sites": behind_other,
            "procedure_linked": len(behind) + behind_other >= 2, "root_cause_key": True, "flagged": flagged}


@pytest.mark.requirement("URS-STA-008")
def test_clusters_behind_the_same_outdated_procedure_make_one_proposal():
    clusters = pd.DataFrame([
        _cluster("MAT-SUPPLIER · SOP-016", ["ATL", "BOS"], "2026-03-01", behind=["ATL", "BOS"]),
        _cluster("MAT-SUPPLIER · SOP-016", ["CHI", "DEN"], "2026-07-01", other=1, behind=["CHI"], behind_other=1),
        _cluster("SOP-011", ["ATL", "SEA"], "2026-05-01", sops=("SOP-011",)),  # not procedure-linked: its own
        _cluster("SOP-019", ["ATL", "SEA"], "2026-05-01", sops=("SOP-019",), flagged=False),  # chance: none
    ])
    result = signals.SystemicResult(clusters=clusters, deviations=pd.DataFrame(), window_days=30)
    rows = proposals.from_systemic(result)
    assert [r["signal"] for r in rows] == ["MAT-SUPPLIER · SOP-016", "SOP-011"]
    procedure = rows[0]
    assert procedure["sites"] == "ATL, BOS, CHI, DEN and at least 1 other site"
    assert procedure["site_ids"] == "ATL,BOS,CHI,DEN" and procedure["partial"]
    assert procedure["status"] == proposals.STATUS_CROSS_SITE
    assert procedure["evidence"].startswith("2 clusters (MAT-SUPPLIER · SOP-016): 6 deviations between 2026-03-01 "
                                            "and 2026-07-10")
    assert "SOP-016 behind the master version at ATL, BOS, CHI and at least 1 other site" in procedure["evidence"]
    assert "complete the roll-out of the current SOP-016" in procedure["proposed_action"]
    assert rows[1]["sites"] == "ATL, SEA" and not rows[1]["partial"] and rows[1]["status"] == proposals.STATUS
    # The same signals give the same ids (a decision follows its proposal from one computation to the next).
    assert [r["proposal_id"] for r in proposals.from_systemic(result)] == [r["proposal_id"] for r in rows]


@pytest.mark.requirement("URS-SIG-008")
def test_signature_attempts_are_limited_per_user_and_audited(make_client, hub_app, sample_warehouse):
    if users.get_user(sample_warehouse, "t.leader.esign") is None:
        users.add_user(sample_warehouse, user_id="t.leader.esign", display_name="t.leader.esign", role="leadership",
                       site_id=None, password=TEST_PASSWORD)
    client = make_client("t.leader.esign")
    chosen = listed(client, hub_app)[ids.SIG_REVIEW_PROPOSAL]["options"][0]["value"]
    attempt = {ids.SIG_REVIEW_PROPOSAL: chosen, ids.SIG_REVIEW_DECISION: "dismissed",
               ids.SIG_REVIEW_REASON: "guessing", ids.SIG_REVIEW_PASSWORD: "wrong-password"}
    answers = [json.dumps(submit(client, hub_app, **attempt).get_json()) for _ in range(11)]
    assert all("Signature failed" in a for a in answers[:10])  # ATMP_ESIGNATURE_RATE_PER_USER: 10 per minute
    assert "Too many signature attempts" in answers[10]
    # Within the minute even the right password is refused; nothing was decided.
    right = json.dumps(submit(client, hub_app, **{**attempt, ids.SIG_REVIEW_PASSWORD: TEST_PASSWORD}).get_json())
    assert "Too many signature attempts" in right
    log = sample_warehouse.query("sql/audit_all")
    mine = log[log["user_id"] == "t.leader.esign"]
    assert (mine["action"] == "esignature_failed").sum() == 10
    assert (mine["action"] == "esignature_rate_limited").sum() == 2
    assert chosen in [o["value"] for o in listed(client, hub_app)[ids.SIG_REVIEW_PROPOSAL]["options"]]
