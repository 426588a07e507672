"""The export component: format buttons and a dcc.Download per exportable item, one callback per page.

Ids are pattern-matching dicts ({"type": export-button, "page", "item", "fmt"}). The callback takes
only which button was clicked, the time window, the site id and the page's selections (product, CQA,
sensor...) from the browser, looks the item up in the server's registry, validates the selections
there (they may only narrow the user's scope), rebuilds the data from the server-side scope, writes the
file with its provenance and records the export (with the file's SHA-256) in the audit trail."""

from __future__ import annotations

import hashlib
import json
import logging

import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Input, Output, State, callback, ctx, dcc, html, no_update
from werkzeug.exceptions import Forbidden

from dashboard import context, data, ids
from dashboard.exports import files
from dashboard.exports.provenance import Provenance
from dashboard.exports.sources import EXPORT_ROLES, ITEMS, REPORT, Export, PageData, export_data
from queries.engine.scope import NotFound
from queries.records import audit

logger = logging.getLogger(__name__)

FORMAT_LABELS = {"png": "PNG image", "svg": "SVG image", "pdf": "PDF", "csv": "CSV data", "xlsx": "Excel data"}


def may_export(page: str) -> bool:
    """For layouts: show export controls only to roles that may use them (the callback re-checks)."""
    try:
        return context.user().role in EXPORT_ROLES[page]
    except Exception:
        return False


def _report_button(page: str) -> dbc.Button:
    spec = ITEMS[(page, REPORT)]
    return dbc.Button([html.Span("⤓ ", **{"aria-hidden": "true"}), f"{spec.title} (PDF)"],
                      id=ids.export_button(page, REPORT, "pdf"), color="primary", size="sm",
                      className="export-report")


def _menu(page: str, items: list[str]) -> dbc.DropdownMenu:
    """One menu for every chart and table of the page: a header per item, then its formats."""
    entries = []
    for item in items:
        spec = ITEMS[(page, item)]
        entries.append(dbc.DropdownMenuItem(spec.title, header=True))
        entries += [dbc.DropdownMenuItem([FORMAT_LABELS[fmt], html.Span(f" of {spec.title}", className="visually-hidden")],
                                         id=ids.export_button(page, item, fmt)) for fmt in spec.formats]
    return dbc.DropdownMenu(entries, label="Export charts and data", size="sm", color="secondary",
                            className="export-menu")


def _outputs(page: str, item: str) -> html.Span:
    return html.Span([
        dcc.Loading(html.Span(id=ids.export_status(page, item), className="export-status small"),
                    type="circle", delay_show=300, display="auto"),
        dcc.Download(id=ids.export_download(page, item)),
    ], className="export-outputs")


def export_menu(page: str, item: str, *, label: str | None = None, size: str = "sm") -> html.Div | None:
    """The controls of one item on its own (e.g. beside its chart): a PDF button for the whole-page
    report, a format menu otherwise."""
    if not may_export(page):
        return None
    spec = ITEMS[(page, item)]
    if item == REPORT:
        control = _report_button(page)
    else:
        control = dbc.DropdownMenu(
            [dbc.DropdownMenuItem([FORMAT_LABELS[fmt], html.Span(f" of {spec.title}", className="visually-hidden")],
                                  id=ids.export_button(page, item, fmt)) for fmt in spec.formats],
            label=label or f"Export: {spec.title}", size=size, color="secondary", className="export-menu")
    return html.Div([control, html.Span(_outputs(page, item), role="status")],
                    className="export-control d-inline-flex align-items-center gap-1")


def export_bar(page: str, items: list[str]) -> html.Div | None:
    """The page's export controls: the whole-page report button and a menu of the other items.
    Shown only to roles that may export (the callback checks again)."""
    if not may_export(page):
        return None
    others = [i for i in items if i != REPORT]
    controls = [_report_button(page)] if REPORT in items else []
    if others:
        controls.append(_menu(page, others))
    return html.Div([html.Span("Exports", className="fw-semibold me-1"), *controls,
                     html.Span([_outputs(page, i) for i in items], className="export-statuses", role="status")],
                    className="export-bar d-flex flex-wrap align-items-center gap-2 mb-3", id=f"{page}-exports")


def register(page: str, *, window_id: str | None = None, site_store_id: str | None = None,
             site_property: str = "data", selections: dict[str, str] | None = None) -> None:
    """Register the page's export callback; call it at the page module's top level (Dash runs page
    modules once per app, so each app gets the callback once).

    ``selections`` names the page's controls an item depends on (name -> component id, whose "value"
    the browser sends); the registry (dashboard/exports/sources.py) validates each on the server."""
    controls = [("_window", window_id, "value"), ("_site", site_store_id, site_property),
                *((name, component, "value") for name, component in (selections or {}).items())]
    controls = [c for c in controls if c[1]]
    names = [name for name, _, _ in controls]
    states = [State(component, prop) for _, component, prop in controls]

    @callback(
        Output({"type": ids.EXPORT_DOWNLOAD, "page": page, "item": MATCH}, "data"),
        Output({"type": ids.EXPORT_STATUS, "page": page, "item": MATCH}, "children"),
        Input({"type": ids.EXPORT_BUTTON, "page": page, "item": MATCH, "fmt": ALL}, "n_clicks"),
        *states,
        prevent_initial_call=True,
    )
    def _export(clicks, *values):
        trigger = ctx.triggered_id
        if not trigger or not any(clicks or []):
            return no_update, no_update
        sent = dict(zip(names, values, strict=True))
        days, site_id = sent.pop("_window", None), sent.pop("_site", None)
        try:
            content, filename, mime = produce(page, trigger["item"], trigger["fmt"], days, site_id, sent)
        except NotFound:
            return no_update, "✕ Not found."
        except files.ChartRendererMissing as missing:
            logger.error("export %s/%s as %s: %s", page, trigger["item"], trigger["fmt"], missing)
            return no_update, "✕ Chart images are unavailable on this server (no Chromium); CSV and Excel work."
        return dcc.send_bytes(content, filename, type=mime), f"✓ {filename}"


def produce(page: str, item_id, fmt, days, site_id=None, selections: dict | None = None) -> tuple[bytes, str, str]:
    """Build one export for the logged-in user and audit it; raises Forbidden or NotFound (also for a
    selection that is not one the user may choose)."""
    user = context.user()
    if page not in EXPORT_ROLES or user.role not in EXPORT_ROLES[page]:
        raise Forbidden(f"role {user.role} may not export from {page}")
    spec = ITEMS.get((page, item_id)) if isinstance(item_id, str) else None
    if spec is None or fmt not in spec.formats:
        raise NotFound(f"no export {item_id!r} as {fmt!r}")
    pd_ = export_data(page, item_id, days, site_id, selections or {})
    built = None if item_id == REPORT else spec.build(pd_)  # first: the provenance states its rows
    prov = provenance(pd_, spec.title if page == "overview" or item_id != REPORT
                      else f"Inspection binder: {pd_.site_name} ({pd_.site_id})", spec.kpis, built)
    if built is None:
        from dashboard.exports.report import build_report

        content = build_report(pd_, prov)
    else:
        if fmt in files.IMAGE_FORMATS:
            content = files.render_chart(built.figure, fmt, prov)
        elif fmt == "csv":
            content = files.to_csv(built.frame, prov)
        else:
            content = files.to_xlsx(built.frame, prov, sheet_title=spec.title)
    filename = f"atmp_{page}_{pd_.site_id or 'network'}_{item_id}_{prov.exported_at:%Y%m%dT%H%M%SZ}.{fmt}"
    audit.append(context.warehouse(), user_id=user.user_id, action="export", object_type=page,
                 object_id=f"{pd_.site_id or 'network'}/{item_id}", new_value=json.dumps({
                     "format": fmt, "file": filename, "sha256": hashlib.sha256(content).hexdigest(),
                     "export_id": prov.export_id, "window": prov.window_text, "bytes": len(content),
                     "filters": prov.filters}))
    logger.info("export %s/%s as %s by %s", page, item_id, fmt, user.user_id)
    return content, filename, files.MIME[fmt]


def provenance(pd_: PageData, title: str, kpis, built: Export | None = None) -> Provenance:
    """The page's filters, with the item's own statement of its rows (Export.filters) over them; times
    in the site's zone on a one-site export, UTC on network ones (as each page shows them)."""
    user = context.user()
    if pd_.site_id:
        title = f"{title} · {pd_.site_name} ({pd_.site_id})" if pd_.site_id not in title else title
    filters = pd_.filters() | (dict(built.filters) if built is not None else {})
    return Provenance(title=title, filters=filters, window_start=pd_.scope.start,
                      window_end=pd_.scope.end, data_as_of=data.data_as_of(),
                      kpis=tuple(data.kpi_text(k) for k in kpis),
                      user_id=user.user_id, user_name=user.display_name, role=user.role,
                      timezone=pd_.timezone or "UTC")
