"""The review half of /signals: the risk ranking with its backtest and oversight allocation, the proposed
CAPAs, and the signed review of a proposal. Split from signals.py, which keeps the statistical signals
(control charts, drift, systemic clusters); the layout there places these sections.

Every callback rebuilds the scope on the server; the browser supplies only the window and the review form."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import auth, context, data, ids
from dashboard.components import stats_figures as figs
from dashboard.components.formatting import utc_label
from dashboard.components.record_links import record_link
from dashboard.components.tables import badge, table
from queries.analyses import proposals, risk
from queries.engine.scope import Scope

PAGE = "/signals"
GRAPH_CONFIG = {"displaylogo": False}


def review_form() -> html.Div:
    """The signed review form. It exists for every role (its options are refreshed with the list) but is
    shown only to those who may decide; the server checks every submission regardless."""
    user = context.user()
    may = user.role in proposals.DECISION_ROLES
    who = "any proposal" if user.role == "leadership" else f"proposals of {user.site_id} alone"
    form = dbc.Card(dbc.CardBody([
        html.H3("Review a proposal", className="h6"),
        html.P(["Electronic signature: your user id and password. ", html.Strong("Meaning of the signature: "),
                proposals.SIGNATURE_MEANING, f" You may decide {who}."], className="small", id="review-meaning"),
        dbc.Label("Proposal", html_for=ids.SIG_REVIEW_PROPOSAL),
        dcc.Dropdown(id=ids.SIG_REVIEW_PROPOSAL, options=[], placeholder="Choose a proposal awaiting review",
                     className="mb-2"),
        dbc.RadioItems(id=ids.SIG_REVIEW_DECISION, inline=True, className="mb-2", value=None, options=[
            {"label": "Accept: a CAPA was opened in the quality system", "value": "accepted"},
            {"label": "Dismiss", "value": "dismissed"}]),
        dbc.Label("CAPA number in the quality system (required to accept)", html_for=ids.SIG_REVIEW_CAPA_REF),
        dbc.Input(id=ids.SIG_REVIEW_CAPA_REF, maxLength=40, className="mb-2"),
        dbc.Label("Reason (required): what was reviewed and why this decision", html_for=ids.SIG_REVIEW_REASON),
        dbc.Textarea(id=ids.SIG_REVIEW_REASON, maxLength=proposals.REASON_MAX, rows=3, className="mb-2"),
        dbc.Label(f"Password of {user.display_name}", html_for=ids.SIG_REVIEW_PASSWORD),
        dbc.Input(id=ids.SIG_REVIEW_PASSWORD, type="password", autoComplete="current-password", className="mb-3"),
        dbc.Button("Sign and record the decision", id=ids.SIG_REVIEW_SUBMIT, color="primary", n_clicks=0),
        html.Div(id=ids.SIG_REVIEW_RESULT, role="status", className="mt-3"),
        dcc.Store(id=ids.SIG_REVIEW_DONE, data=0),
    ]), className="review-form mt-3")
    return html.Div([
        html.Div(form, hidden=not may, id="review-section"),
        html.P("Read-only: proposals are decided by quality leadership or the site's manager.",
               className="small text-body-secondary mt-2", hidden=may),
    ])


# --- risk, oversight, proposals ----------------------------------------------------------------------
def _proposals(days, window_days) -> pd.DataFrame:
    """The proposals for the signed-in user's scope (cached) with their recorded decisions (read fresh,
    so this callback's response is not cached)."""
    scope = context.scope(days, PAGE)
    wh = context.warehouse()
    window = window_days if isinstance(window_days, int) else 0  # systemic_signals replaces a bad one
    return proposals.with_decisions(wh, proposals.for_scope(wh, scope, window))


def register() -> None:
    """Register this half's callbacks; signals.py calls it at its top level (Dash runs page modules once
    per app, but imports this helper module only once per process, so callbacks defined at import time
    would reach the first app alone)."""

    @callback(
        Output(ids.SIG_RISK, "children"),
        Output(ids.SIG_AS_OF, "children"),
        Input(ids.SIG_WINDOW, "value"),
    )
    def risk_ranking(days):
        scope = context.scope(days, PAGE)
        view = risk.risk_view(context.warehouse(), scope, context.settings().min_survey_respondents)
        as_of = (f"Window: {scope.start:%Y-%m-%d} to {scope.end:%Y-%m-%d %H:%M} UTC · data as of "
                 f"{utc_label(data.data_as_of())} · times in UTC")
        return risk_section(view, scope), as_of

    @callback(
        Output(ids.SIG_PROPOSALS, "children"),
        Output(ids.SIG_REVIEW_PROPOSAL, "options"),
        Input(ids.SIG_WINDOW, "value"),
        Input(ids.SIG_SYSTEMIC_WINDOW, "value"),
        Input(ids.SIG_REVIEW_DONE, "data"),
    )
    def proposal_list(days, window_days, _decided):
        proposed = _proposals(days, window_days)
        user = context.user()
        open_ = proposed[~proposed["decided"]] if not proposed.empty else proposed
        options = [{"label": f"{r['proposal_id']} · {r['source']} · {r['sites']} · {r['signal']}"[:140],
                    "value": r["proposal_id"]}
                   for r in open_.to_dict("records") if proposals.may_decide(user.role, user.site_id, r)]
        return proposal_section(proposed), options

    @callback(
        Output(ids.SIG_REVIEW_RESULT, "children"),
        Output(ids.SIG_REVIEW_PASSWORD, "value"),
        Output(ids.SIG_REVIEW_REASON, "value"),
        Output(ids.SIG_REVIEW_DONE, "data"),
        Input(ids.SIG_REVIEW_SUBMIT, "n_clicks"),
        State(ids.SIG_REVIEW_PROPOSAL, "value"),
        State(ids.SIG_REVIEW_DECISION, "value"),
        State(ids.SIG_REVIEW_CAPA_REF, "value"),
        State(ids.SIG_REVIEW_REASON, "value"),
        State(ids.SIG_REVIEW_PASSWORD, "value"),
        State(ids.SIG_WINDOW, "value"),
        State(ids.SIG_SYSTEMIC_WINDOW, "value"),
        State(ids.SIG_REVIEW_DONE, "data"),
        prevent_initial_call=True,
    )
    def review(n_clicks, proposal_id, decision, capa_ref, reason, password, days, window_days, done):
        if not n_clicks:
            raise PreventUpdate
        # Who decides is the server-side user, and the proposal must be one the server computes for them;
        # the browser supplies only which proposal, the decision, the CAPA number, the reason and the password.
        user = context.user()
        try:
            decided = proposals.decide(context.warehouse(), _proposals(days, window_days), user_id=user.user_id,
                                       role=user.role, own_site=user.site_id, proposal_id=proposal_id,
                                       decision=decision, capa_ref=capa_ref, reason=reason, password=password,
                                       now=context.now(), attempt_allowed=auth.signature_attempts_of(user.user_id))
        except proposals.DecisionRefused as refused:
            return dbc.Alert(["✕ Not recorded: ", str(refused)], color="danger", className="mb-0",
                             id="review-refused"), "", dash.no_update, dash.no_update
        count = (done if isinstance(done, int) else 0) + 1
        return dbc.Alert([f"✓ {decided.proposal_id} {decided.decision} by {decided.user_id} at "
                          f"{decided.at:%Y-%m-%d %H:%M:%S} UTC. Signature recorded in the audit trail (record hash ",
                          html.Code(decided.record_sha256[:12]), "…)."], color="success", className="mb-0",
                         id="review-done"), "", "", count


def _metric(label: str, value, detail: str, as_ratio: bool = False) -> dbc.Col:
    shown = "–" if value is None else (f"{value:.2f}" if as_ratio else f"{100 * value:.0f} %")
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="tile-title"), html.Div(shown, className="tile-value"),
        html.Div(detail, className="tile-target")]), className="kpi-tile h-100"), xs=6, lg=True)


def _share(value) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def risk_section(view: risk.RiskView, scope: Scope):
    bt = view.backtest
    months = f"{bt.months[0]:%Y-%m} to {bt.months[-1]:%Y-%m}" if bt.months else "no months"
    metrics = dbc.Row([
        _metric("ROC AUC", bt.roc_auc, f"{risk.ci_text(bt.roc_auc_ci)}; 0.5 = chance, 1 = perfect ranking",
                as_ratio=True),
        _metric("Naive baseline AUC", bt.baseline_roc_auc,
                f"{risk.ci_text(bt.baseline_roc_auc_ci)}; ranking by each site's last 90 days' deviations; "
                f"precision {_share(bt.baseline_precision)}, recall {_share(bt.baseline_recall)}", as_ratio=True),
        _metric("Precision", bt.precision, f"of {bt.n_flagged} flagged site-months, share with an event"),
        _metric("Recall", bt.recall, f"of {bt.n_positive} site-months with an event, share flagged"),
        _metric("Base rate", bt.base_rate, f"site-months with an event, of {bt.n} predicted"),
    ], className="g-3 mb-2", id="signals-backtest")
    per_site = view.site_accuracy.assign(
        auc=lambda f: f["roc_auc"].map(lambda v: f"{v:.2f}" if pd.notna(v) else "– (one outcome only)"),
        hits=lambda f: f["flag_accuracy"].map(lambda v: f"{100 * v:.0f} %"))
    evidence = dbc.Row([
        dbc.Col(dcc.Graph(figure=figs.calibration_figure(view.calibration), config=GRAPH_CONFIG,
                          id="signals-risk-calibration"), lg=6),
        dbc.Col([html.Div("Backtest per site", className="tile-title"),
                 table(per_site, {"site_id": "Site", "auc": "ROC AUC", "n": "Months", "n_positive": "With an event",
                                  "n_flagged": "Flagged", "hits": "Flag right"},
                       "signals-risk-per-site", "No site in scope."),
                 html.P("A site's ROC AUC ranks its own months against each other (12 at most: read it with "
                        "care); 'flag right' is the share of months whose flag matched the outcome.",
                        className="small")], lg=6),
    ], className="g-3 mb-2")
    about = html.P(f"Logistic regression on each site's last 90 days (deviations, excursions, statistical signals, "
                   f"batches), its latest survey index and 90-day first-attempt training pass rate. Backtest {months}: "
                   f"{risk.describe_policy()}.", className="small")
    if not view.earned:
        return html.Div([
            about, metrics,
            dbc.Alert([html.Strong("No risk ranking: the model has not earned it. "), view.verdict,
                       " Oversight should follow the sites' own KPIs and signals until it does."],
                      color="warning", id="signals-risk-withheld"),
            evidence,
        ])
    ranking = view.ranking.assign(
        risk_pct=lambda f: f["risk"].map(lambda r: f"{100 * r:.0f} %" if pd.notna(r) else "–"),
        share=lambda f: f["oversight_share"].map(lambda s: f"{100 * s:.0f} %" if pd.notna(s) else "–"),
        rank_text=lambda f: [f"{r}/{view.n_sites}" for r in f["rank"]])
    median = (f" Network median risk: {100 * view.network_median_risk:.0f} %."
              if view.network_median_risk is not None else "")
    return html.Div([
        about, metrics,
        html.P(view.verdict, className="small", id="signals-risk-earned"),
        evidence,
        dbc.Row([
            dbc.Col(dcc.Graph(figure=figs.risk_figure(view.ranking, view.network_median_risk), config=GRAPH_CONFIG,
                              id="signals-risk-chart"), lg=6),
            dbc.Col([table(ranking, {"rank_text": "Rank", "site_id": "Site", "risk_pct": "Risk (30 days)",
                                     "tier": "Oversight", "share": "Share of oversight effort",
                                     "drivers_text": "Main drivers"},
                           "signals-risk-table", "No site in scope.", cell=lambda c, v, r: badge(v) if c == "tier" else v),
                     html.P("Oversight effort is split in proportion to risk; the top third get enhanced oversight "
                            "(extra QA walk-throughs and batch record review)." + median, className="small")], lg=6),
        ]),
    ])


def proposal_section(proposed: pd.DataFrame):
    return html.Div([
        html.P("Each proposal comes from a statistical signal above. Nothing is opened automatically: a QA reviewer "
               "decides and, if warranted, opens the CAPA in the quality system, then records the decision here "
               "(signed, audited).", className="small"),
        table(proposed, {"proposal_id": "Proposal", "source": "From", "sites": "Sites", "signal": "Signal",
                         "evidence": "Evidence", "records": "Records", "proposed_action": "Proposed action",
                         "status": "Status"},
              "signals-proposals-table", "No signal calls for a CAPA proposal in this window.", cell=_cell),
    ])


def _cell(column: str, value, _row):
    """The records behind a proposal as links (at most 12, then a count); other cells as they are."""
    if column != "records":
        return value
    records = list(value) if isinstance(value, list | tuple) else []
    if not records:
        return "–"
    links = [part for i, (kind, record_id) in enumerate(records[:12])
             for part in ((", " if i else ""), record_link(kind, record_id))]
    return links + ([f" and {len(records) - 12} more"] if len(records) > 12 else [])
