"""Comparability (/comparability): does every site make the same product? Distributions against the network
reference, TOST equivalence, Ppk against the release specification, the consistency score, the deviation
funnel and the convergence of newly onboarded sites.

Site managers see their own site against 'other sites (pooled)'; other sites are never named to them."""

from __future__ import annotations

import math

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, callback, dcc, html

from dashboard import context, data, ids, page_items
from dashboard.components import export
from dashboard.components import stats_figures as figs
from dashboard.components.controls import window_selector
from dashboard.components.formatting import utc_label
from dashboard.components.tables import badge, table
from queries.analyses import comparability as cmp
from queries.analyses.signals import CQA_LABELS, LOG_SCALE_CQAS
from queries.kpi.catalog import CQA_COLUMNS, NETWORK

PAGE = "/comparability"
dash.register_page(__name__, path=PAGE, name="Comparability", nav=True, order=45,
                   title="Comparability · ATMP Quality Hub")
GRAPH_CONFIG = {"displaylogo": False}
# TOST, Ppk and the funnel export for the chosen product, rebuilt from the server-side scope
# (dashboard/exports/sources.py, items of page "comparability").
EXPORT_ITEMS = ["tost", "ppk", "funnel"]
export.register("comparability", window_id=ids.CMP_WINDOW, selections={"product": ids.CMP_PRODUCT})


def layout(**_):
    if not context.allowed(PAGE):
        return context.denied_page()
    products = page_items.products()
    return html.Div([
        html.Div([
            html.H1("Cross-site comparability", className="h3 mb-0"),
            window_selector(ids.CMP_WINDOW, context.settings().default_window_days),
        ], className="d-flex flex-wrap justify-content-between align-items-center gap-3 mb-2"),
        html.P(id=ids.CMP_AS_OF, className="as-of text-body-secondary"),
        html.Div([
            html.Label("Product", htmlFor=ids.CMP_PRODUCT, className="fw-semibold me-2"),
            dbc.RadioItems(id=ids.CMP_PRODUCT, inline=True, value=products[0] if products else None,
                           options=[{"label": p, "value": p} for p in products]),
        ], className="d-flex align-items-center gap-2 mb-3"),
        export.export_bar("comparability", EXPORT_ITEMS),
        dcc.Loading(html.Div(id=ids.CMP_BODY), type="dot"),
    ], id="comparability-page")


def site_label(site_id: str) -> str:
    return "Network" if site_id == NETWORK else site_id


@callback(
    Output(ids.CMP_BODY, "children"),
    Output(ids.CMP_AS_OF, "children"),
    Input(ids.CMP_WINDOW, "value"),
    Input(ids.CMP_PRODUCT, "value"),
)
def refresh(days, product):
    scope = context.scope(days, PAGE)
    wh = context.warehouse()
    min_batches = context.settings().min_batches_for_comparability
    result = page_items.comparability(scope, product)
    sites = list(scope.site_ids)
    specs = result.specifications[result.specifications["product"] == result.product]
    body = [
        html.H2("Cross-site consistency score", className="h5"),
        html.P(f"Share of (site, CQA) pairs equivalent to the reference by TOST (α = 0.05, margin ±1.5 sd of the "
               f"reference; sites with fewer than {min_batches} batches: insufficient data). Both products count.",
               className="small"),
        score_table(result.scores),
        html.H2(f"Distributions: {result.product}", className="h5 mt-4"),
        dcc.Graph(figure=figs.box_figure(result.distributions.replace({"site_id": {cmp.REFERENCE: figs.REFERENCE_NAME}}),
                                         list(CQA_COLUMNS), CQA_LABELS, result.reference_label, specs, sites),
                  config=GRAPH_CONFIG, id="comparability-boxes"),
        html.H2("Equivalence to the network reference (TOST)", className="h5 mt-4"),
        html.P("Difference = site mean − mean of the other sites' batches; 90 % confidence interval; equivalent "
               "when the interval lies inside ± margin, the margin being 1.5 sd of the other sites' batches (estimated "
               "from them: at a true difference of exactly the margin the test says equivalent about 6 % of the "
               "time, not 5 %). Right-skewed CQAs (vector copy number, dose, endotoxin) are judged on the ln scale, "
               "as charted: the ratio of geometric means against a margin ×/÷. All CQAs: the site is comparable "
               "when every CQA is equivalent (an intersection-union test: that claim holds at α = 0.05 as it is, "
               "with no correction for the six CQAs).", className="small"),
        tost_table(result.tost, result.comparable),
        html.H2("Process capability against the release specification", className="h5 mt-4"),
        html.P(f"Ppk (process performance: the overall standard deviation of the window's batches, not the "
               f"within-subgroup sigma of a Cpk) against the specification limits "
               f"of the product file (never limits from the data): capable ≥ {cmp.PPK_CAPABLE}, marginal "
               f"{cmp.PPK_MARGINAL}–{cmp.PPK_CAPABLE}, not capable below; fewer than {cmp.PPK_MIN_BATCHES} batches: "
               "insufficient data. The status reads the point estimate; the 95 % interval beside it (Bissell 1990) "
               "shows how little a few batches say. Right-skewed CQAs are assessed on the ln scale (ln data "
               "against ln limits).",
               className="small"),
        capability_table(result.capability),
        html.H2("Deviation rate per batch: funnel plot", className="h5 mt-4"),
        html.P("Exact Poisson limits around the network rate (deviations per batch, a count, so Poisson rather "
               "than binomial): a small site inside the funnel is not extreme, however its rate looks.",
               className="small"),
        dcc.Graph(figure=page_items.funnel_chart(result), config=GRAPH_CONFIG, id="comparability-funnel"),
        funnel_table(result.funnel),
        *onboarding(wh, scope),
    ]
    as_of = (f"Window: {scope.start:%Y-%m-%d} to {scope.end:%Y-%m-%d %H:%M} UTC (batches started) · data as of "
             f"{utc_label(data.data_as_of())}"
             + (" · other sites are shown only pooled" if scope.role == "site_manager" else ""))
    return body, as_of


def score_table(scores: pd.DataFrame):
    frame = scores.assign(
        site=scores["site_id"].map(site_label),
        score=scores["value"].map(lambda v: f"{v:.0f}" if pd.notna(v) else "insufficient data"),
        pairs=[f"{int(n)} of {int(d)}" if d else "–" for n, d in zip(scores["numerator"].fillna(0),
                                                                      scores["denominator"].fillna(0), strict=True)])
    return table(frame, {"site": "Site", "score": "Consistency score (0-100)", "pairs": "Equivalent pairs"},
                 "comparability-scores", "No batches in this window.", compact=True)


def _matrix(frame: pd.DataFrame, cell, table_id: str, empty: str, header=None, last=None) -> html.Div:
    """Sites down, CQAs across; ``cell(row)`` renders one (site, CQA) result; ``last`` = (title,
    function of the site id giving a Td) adds a column after the CQAs."""
    if frame.empty:
        return html.P(empty, className="text-body-secondary", id=table_id)
    cqas = [c for c in CQA_COLUMNS if c in set(frame["cqa"])]
    sites = list(dict.fromkeys(frame["site_id"]))
    head = html.Thead(html.Tr([html.Th("Site", scope="col")] + [
        html.Th([CQA_LABELS[c], html.Br(), html.Small(header(c), className="text-body-secondary")] if header
                else CQA_LABELS[c], scope="col") for c in cqas] + ([html.Th(last[0], scope="col")] if last else [])))
    by_key = {(r["site_id"], r["cqa"]): r for _, r in frame.iterrows()}
    rows = [html.Tr([html.Th(site_label(site), scope="row")]
                    + [_td(cell(by_key[(site, c)])) if (site, c) in by_key else html.Td("–") for c in cqas]
                    + ([last[1](site)] if last else []))
            for site in sites]
    return html.Div(dbc.Table([head, html.Tbody(rows)], size="sm", bordered=True, responsive=True,
                              className="align-middle matrix", id=table_id))


def _td(content: html.Div) -> html.Td:
    """The cell's content straight in the Td (no wrapping Div): at 21 sites x 6 CQAs per matrix, one
    component less per cell keeps the page's response under 300 KB."""
    return html.Td(content.children, title=getattr(content, "title", None))


def _num(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{v:.3g}"


def tost_table(tost: pd.DataFrame, comparable: pd.DataFrame):
    def cell(r):
        if r["verdict"] == "insufficient data":
            return html.Div([badge("insufficient data"), html.Div(f"n = {r['n']}", className="small")])
        if r["scale"] == "ln":  # judged on ln values: the difference is a ratio of geometric means
            lines = (f"ratio × {_num(math.exp(r['difference']))}",
                     f"90 % CI [{_num(math.exp(r['ci_low']))}, {_num(math.exp(r['ci_high']))}] · margin ×/÷ "
                     f"{_num(math.exp(r['margin']))} · n {r['n']}/{r['ref_n']}")
            means = f"site geometric mean {_num(math.exp(r['mean']))}, reference {_num(math.exp(r['ref_mean']))}"
        else:
            lines = (f"Δ {_num(r['difference'])}", f"90 % CI [{_num(r['ci_low'])}, {_num(r['ci_high'])}] · margin ± "
                                                   f"{_num(r['margin'])} · n {r['n']}/{r['ref_n']}")
            means = f"site mean {_num(r['mean'])}, reference mean {_num(r['ref_mean'])}"
        return html.Div([badge(r["verdict"]), html.Div(lines[0], className="fw-semibold"),
                         html.Div(lines[1], className="small")], title=f"{means}, p = {_num(r['p_value'])}")

    def whole(site_id):
        row = comparable[comparable["site_id"] == site_id]
        if row.empty:
            return html.Td("–")
        r = row.iloc[0]
        return html.Td([badge(r["verdict"]), html.Div(f"{r['n_equivalent']} of {r['n_pairs']} CQAs", className="small")])

    return _matrix(tost, cell, "comparability-tost", "No pairs in this window.",
                   header=lambda c: "ln scale: ratio" if c in LOG_SCALE_CQAS else "difference",
                   last=("All CQAs", whole))


def capability_table(caps: pd.DataFrame):
    specs = caps.drop_duplicates("cqa").set_index("cqa") if len(caps) else caps

    def header(cqa):
        row = specs.loc[cqa]
        lo, hi = row["lower_limit"], row["upper_limit"]
        parts = ([f"≥ {lo:g}"] if pd.notna(lo) else []) + ([f"≤ {hi:g}"] if pd.notna(hi) else [])
        return "spec " + " and ".join(parts) + (" · ln scale" if row["scale"] == "ln" else "")

    def cell(r):
        if r["status"] == "insufficient data" or r["ppk"] is None or pd.isna(r["ppk"]):
            return html.Div([badge("insufficient data"), html.Div(f"n = {r['n']}", className="small")])
        return html.Div([html.Span(f"Ppk {r['ppk']:.2f} ", className="fw-semibold"), badge(r["status"]),
                         html.Div(f"95 % CI {r['ppk_low']:.2f}–{r['ppk_high']:.2f} · n = {r['n']}",
                                  className="small")])
    return _matrix(caps, cell, "comparability-ppk", "No batches in this window.", header=header)


def funnel_table(funnel: pd.DataFrame):
    if funnel.empty:
        return None
    frame = funnel.assign(rate_text=funnel["rate"].map(lambda v: f"{v:.2f}"),
                          limits=[f"{lo:.2f} – {hi:.2f}" for lo, hi in zip(funnel["lower_99.8"], funnel["upper_99.8"],
                                                                           strict=True)],
                          counts=[f"{d:.0f} / {b:.0f}" for d, b in zip(funnel["deviations"], funnel["batches"],
                                                                      strict=True)])
    return table(frame, {"site_id": "Site", "counts": "Deviations / batches", "rate_text": "Per batch",
                         "limits": "99.8 % limits", "position": "Position"}, "comparability-funnel-table", "",
                 compact=True)


def onboarding(wh, scope) -> list:
    """The convergence view for sites onboarded in the last two years (story: a new node converging)."""
    out = []
    for site_id in cmp.recently_onboarded(wh, scope):
        trajectory = cmp.onboarding_trajectory(wh, scope, site_id)
        summary = cmp.trajectory_summary(trajectory)
        out += [html.H2(f"Onboarding: {site_id}", className="h5 mt-4"),
                html.P("Per 60-day period since onboarding, against the other sites' batches of the same period: "
                       "mean absolute standardised difference over CQAs and products (lower is closer), and the "
                       "share of CQA pairs equivalent by TOST.", className="small"),
                dcc.Graph(figure=figs.trajectory_figure(summary, site_id), config=GRAPH_CONFIG,
                          id={"type": "comparability-onboarding", "site": site_id})]
    return out
