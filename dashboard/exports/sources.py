"""What each page can export, each rebuilt on the server from the server-side scope.

Nothing here trusts the browser: the page, item and format are looked up in this registry, the site
only ever narrows the user's own scope, and the data is queried again (never taken from the figure
JSON the browser holds)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go

from dashboard import context, data, page_items
from dashboard.components import figures
from dashboard.components.formatting import (
    SUPPRESSED_TEXT,
    format_target,
    is_missing,
    status_parts,
    utc_label,
)
from dashboard.components.kpi_chart import kpi_by_site
from dashboard.exports.files import DATA_FORMATS, IMAGE_FORMATS
from queries.analyses import monitoring, signals
from queries.engine.scope import NotFound, Scope
from queries.kpi import catalog
from queries.kpi.catalog import CQA_COLUMNS, NETWORK

# Which roles may export from which page. Site managers only reach their own site: the scope does
# that. Display never exports; admin sees no quality data.
EXPORT_ROLES = {
    "overview": frozenset({"leadership", "auditor"}),
    "site": frozenset({"leadership", "auditor", "site_manager"}),
    "people": frozenset({"leadership", "auditor", "site_manager"}),
    # The display role opens /monitoring/<site> on a wall, but exports nothing anywhere.
    "signals": frozenset({"leadership", "auditor", "site_manager"}),
    "comparability": frozenset({"leadership", "auditor", "site_manager"}),
    "monitoring_site": frozenset({"leadership", "auditor", "site_manager"}),
}
PAGE_TEMPLATES = {"overview": "/", "site": "/site/<site_id>", "people": "/people", "signals": "/signals",
                  "comparability": "/comparability", "monitoring_site": "/monitoring/<site_id>"}
PAGE_NAMES = {"overview": "Network overview", "site": "Site drill-down", "people": "People",
              "signals": "Statistical signals", "comparability": "Cross-site comparability",
              "monitoring_site": "Site environmental monitoring"}
REPORT = "report"


@dataclass(frozen=True)
class PageData:
    """The server-built scope of one export and what every item of the page needs."""
    page: str
    scope: Scope  # narrowed to the site on the site page
    days: int
    site_id: str | None
    site_name: str | None
    timezone: str | None
    sites: pd.DataFrame

    def filters(self) -> dict[str, str]:
        out = {"Page": PAGE_NAMES[self.page]}
        if self.site_id:
            out["Site"] = f"{self.site_name} ({self.site_id}), times in {self.timezone}"
        else:
            out["Sites"] = ", ".join(self.sites["site_id"]) or "none"
        out["Window"] = f"last {self.days} days"
        out["Scope"] = f"role {self.scope.role}" + (", network aggregate included" if self.scope.network else "")
        return out


@dataclass(frozen=True)
class Export:
    """What an item's builder returns. ``filters`` states what the rows are where the page's filters do
    not: its lines replace or follow the page's in the provenance ({"Window": ..., "Rows": ...}). A builder
    whose rows ignore or reshape the page's window must say so there (design: provenance states the
    filter actually applied to the rows in the file)."""
    frame: pd.DataFrame
    figure: go.Figure | None = None
    filters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportItem:
    page: str
    item: str
    title: str
    formats: tuple[str, ...]
    kpi_ids: tuple[str, ...]
    build: Callable[[PageData], Export] | None  # None for the whole-page report

    @property
    def kpis(self) -> tuple[catalog.Kpi, ...]:
        return tuple(catalog.get(k) for k in self.kpi_ids)


def page_data(page: str, days, site_id=None) -> PageData:
    """Scope from the logged-in user (403 for a role without the page; NotFound for a foreign site)."""
    full = context.scope(days, PAGE_TEMPLATES[page])
    days = context.window_days(days)
    if page == "site":
        scope = full.for_site(site_id)
        sites = data.sites(scope)
        site = sites.iloc[0]
        return PageData(page, scope, days, site_id, str(site["name"]), str(site["timezone"]), sites)
    return PageData(page, full, days, None, None, None, data.sites(full))


# --- builders -------------------------------------------------------------------------------------
def _status_text(kpi: catalog.Kpi, value, suppressed: bool) -> str:
    symbol, word, _ = status_parts(kpi, value, suppressed=suppressed)
    return f"{symbol} {word}"


def _counts(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Counts as integers in every file (never '90.0'), missing ones empty."""
    present = [c for c in columns if c in frame.columns]
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce").round().astype("Int64") for c in present})


def _window_text(pd_: PageData) -> str:
    return f"{utc_label(pd_.scope.start)} to {utc_label(pd_.scope.end)}"


def _long_kpis(frame: pd.DataFrame, pd_: PageData) -> pd.DataFrame:
    """One row per (site, KPI): value, unit, n, numerator, denominator, target, status; suppression kept."""
    names = dict(zip(pd_.sites["site_id"], pd_.sites["name"], strict=True))
    rows = []
    for r in frame.itertuples(index=False):
        kpi = catalog.get(r.kpi_id)
        suppressed = bool(r.suppressed)
        value = None if suppressed or is_missing(r.value) else round(float(r.value), 6)
        rows.append({
            "site_id": "NETWORK" if r.site_id == NETWORK else r.site_id,
            "site": "Network" if r.site_id == NETWORK else names.get(r.site_id, r.site_id),
            "kpi_id": kpi.id, "kpi": kpi.title, "value": value,
            "unit": kpi.unit,
            "n": None if suppressed or is_missing(r.n) else r.n,
            "numerator": None if suppressed or is_missing(r.numerator) else r.numerator,
            "denominator": None if suppressed or is_missing(r.denominator) else r.denominator,
            "target": format_target(kpi),
            "status": _status_text(kpi, value, suppressed),
            "note": SUPPRESSED_TEXT if suppressed else "",
        })
    return _counts(pd.DataFrame(rows), "n")


def _kpi_rows(frame: pd.DataFrame, what: str) -> dict[str, str]:
    return {"Rows": f"{len(frame)} rows: {what}, each over the window (the timestamp it applies to is in "
                    "each KPI's definition)"}


def overview_kpis(pd_: PageData) -> Export:
    frame = _long_kpis(data.kpis(pd_.scope), pd_)
    return Export(frame, filters=_kpi_rows(frame, "every catalogue KPI for the network and each site in scope"))


def overview_headline(pd_: PageData) -> Export:
    ids = [k.id for k in catalog.HEADLINE]
    frame = data.kpis(pd_.scope, ids)
    long = _long_kpis(frame, pd_)
    return Export(long, kpi_by_site(frame, pd_.sites, list(catalog.HEADLINE)),
                  filters=_kpi_rows(long, "the headline KPIs for the network and each site in scope"))


def _site_scope_with_network(pd_: PageData) -> Scope:
    full = context.scope(pd_.days, PAGE_TEMPLATES["site"])
    return full.for_site(pd_.site_id, with_network=True)


def site_kpis(pd_: PageData) -> Export:
    frame = data.kpis(_site_scope_with_network(pd_))
    long = _long_kpis(frame, pd_)
    site = long[long.site_id == pd_.site_id].set_index("kpi_id")
    net = long[long.site_id == "NETWORK"].set_index("kpi_id")
    rows = []
    for kpi in catalog.CATALOG:
        s = site.loc[kpi.id] if kpi.id in site.index else None
        n = net.loc[kpi.id] if kpi.id in net.index else None
        rows.append({"kpi_id": kpi.id, "kpi": kpi.title, "unit": kpi.unit,
                     "site_value": None if s is None else s["value"],
                     "network_value": None if n is None else n["value"],
                     "target": format_target(kpi),
                     "status": _status_text(kpi, None, True) if s is None else s["status"],
                     "n": None if s is None else s["n"],
                     "note": "" if s is None else s["note"]})
    out = _counts(pd.DataFrame(rows), "n")
    return Export(out, filters=_kpi_rows(out, f"every catalogue KPI for {pd_.site_id} beside the network"))


def site_deviations(pd_: PageData) -> Export:
    records = data.site_records(pd_.scope)
    devs = records.deviations
    return Export(devs, figures.deviation_timeline(devs, pd_.timezone, records.programmes),
                  filters={"Rows": f"deviations at {pd_.site_id} detected in the window ({_window_text(pd_)}): "
                                   f"{len(devs)}"})


def _wave_filters(waves: pd.DataFrame, pd_: PageData, groups: str) -> dict[str, str]:
    """Survey exports hold every wave up to the window end (the wave is their time axis): say so, and
    which waves are in the file."""
    names = sorted(waves["wave"].dropna().astype(str).unique())
    held = f"{names[0]} to {names[-1]} ({len(names)} waves)" if names else "none"
    return {"Window": f"not applied: all survey waves submitted before the window end ({utc_label(pd_.scope.end)})",
            "Rows": f"all survey waves in scope: {held}; {groups}; groups under "
                    f"{context.settings().min_survey_respondents} respondents suppressed"}


def site_survey(pd_: PageData) -> Export:
    waves = data.site_records(pd_.scope).survey_waves
    frame = waves.assign(note=waves["suppressed"].map(lambda s: SUPPRESSED_TEXT if s else ""))
    return Export(_counts(frame, "respondents"), figures.survey_waves(waves, catalog.get("psych_safety").target),
                  filters=_wave_filters(waves, pd_, f"one row per wave of {pd_.site_id}"))


def people_survey(pd_: PageData) -> Export:
    """Psychological safety by wave for the network, sites and teams, already protected against small
    groups and subtraction (queries.analyses.people); suppressed rows keep their keys and a note only."""
    from dashboard.components.people_figures import index_by_wave
    from queries.analyses import people

    groups = people.survey_groups(context.warehouse(), pd_.scope,
                                  min_n=context.settings().min_survey_respondents)
    names = dict(zip(pd_.sites["site_id"], pd_.sites["name"], strict=True))
    figure = index_by_wave(groups[groups["level"] != "team"], "site", names,
                           catalog.get("psych_safety").target, "Psychological safety by survey wave")
    return Export(_counts(people.survey_export(groups), "respondents"), figure,
                  filters=_wave_filters(groups, pd_, "network, site and team groups"))


def _table(records: str, rows: Callable[[PageData, pd.DataFrame], dict[str, str]]) -> Callable[[PageData], Export]:
    """A table of the site page (data.SiteRecords field ``records``); ``rows`` states the filter its SQL applies."""
    def build(pd_: PageData) -> Export:
        frame = getattr(data.site_records(pd_.scope), records)
        return Export(frame, filters=rows(pd_, frame))
    return build


def _open_capa_rows(pd_: PageData, frame: pd.DataFrame) -> dict[str, str]:
    return {"Window": f"not applied as a range: CAPAs still open at the window end ({utc_label(pd_.scope.end)}), "
                      "opened at most 365 days before the window start",
            "Rows": f"open CAPAs of {pd_.site_id}: {len(frame)}"}


def _drift_rows(pd_: PageData, frame: pd.DataFrame) -> dict[str, str]:
    return {"Window": f"not applied: documents behind the master version at the window end "
                      f"({utc_label(pd_.scope.end)})",
            "Rows": f"controlled documents of {pd_.site_id} behind master: {len(frame)}"}


def _batch_rows(pd_: PageData, frame: pd.DataFrame) -> dict[str, str]:
    return {"Rows": f"batches of {pd_.site_id} started in the window ({_window_text(pd_)}): {len(frame)}"}


# --- pages whose exports follow the page's selections (/signals, /comparability, /monitoring/<site>) ---
class Choice(NamedTuple):
    """One selection of the page that an item depends on, as validated on the server."""
    key: str  # its name in the export callback (dashboard/components/export.py: register(selections=...))
    label: str  # how the provenance names it ("" when the 'Window' line already states it)
    value: object  # what the builder uses
    text: str  # how the provenance states it


@dataclass(frozen=True)
class Selected(PageData):
    """PageData plus the selections the item depends on. Each was checked on the server against what this
    user may choose: anything else is NotFound, never a fallback to a default, so the provenance states
    the filter actually applied to the rows."""
    choices: tuple[Choice, ...] = ()
    window: str | None = None  # what the rows' window is, when it is not the page's day window

    def filters(self) -> dict[str, str]:
        out = super().filters()
        if self.window:
            out["Window"] = self.window
        out.update((c.label, c.text) for c in self.choices if c.label)
        return out

    def value(self, key: str):
        return next(c.value for c in self.choices if c.key == key)


def _choose(sent: Mapping, key: str, label: str, allowed: Mapping[str, str]) -> Choice:
    """The browser's value for ``key`` if it is one of ``allowed`` (value -> provenance text)."""
    value = sent.get(key)
    if not isinstance(value, str) or value not in allowed:
        raise NotFound(f"{label} {value!r} not found")
    return Choice(key, label, value, allowed[value])


def _product(sent: Mapping) -> Choice:
    return _choose(sent, "product", "Product", {p: p for p in page_items.products()})


def _selected(page: str, scope: Scope, days, choices: tuple[Choice, ...], window: str) -> Selected:
    """On the one-site pages (signals, site monitoring) ``scope`` is already narrowed to the site."""
    sites = data.sites(scope)
    site = None if page == "comparability" else sites.iloc[0]
    return Selected(page=page, scope=scope, days=context.window_days(days),
                    site_id=None if site is None else str(site["site_id"]),
                    site_name=None if site is None else str(site["name"]),
                    timezone=None if site is None else str(site["timezone"]), sites=sites, choices=choices,
                    window=window)


def _signals_data(item: str, days, site_id, sent: Mapping) -> Selected:
    scope = context.scope(days, PAGE_TEMPLATES["signals"]).for_site(site_id)
    n_days = context.window_days(days)
    if item == "imr":
        choices = (_product(sent),
                   _choose(sent, "cqa", "CQA", {c: f"{signals.CQA_LABELS[c]} ({c})" for c in CQA_COLUMNS}),
                   _choose(sent, "rules", "Run rules", page_items.RULE_SET_LABELS))
        return _selected("signals", scope, days, choices, f"batches started in the last {n_days} days; control "
                         f"limits from the first {signals.BASELINE_BATCHES} batches of each process version")
    result = page_items.drift_analysis(scope)
    sensors = {r.sensor_id: page_items.sensor_label(r) for r in result.summary.itertuples(index=False)}
    return _selected("signals", scope, days, (_choose(sent, "sensor", "Sensor", sensors),),
                     f"daily means of the last {n_days} days against the baseline "
                     f"{result.baseline_start:%Y-%m-%d} to {result.baseline_end:%Y-%m-%d} (UTC days)")


def _comparability_data(item: str, days, _site_id, sent: Mapping) -> Selected:
    scope = context.scope(days, PAGE_TEMPLATES["comparability"])
    window = f"batches started in the last {context.window_days(days)} days"
    if item == "funnel":  # every product's batches count; the page's product only picks the cached answer
        product = sent.get("product") if isinstance(sent.get("product"), str) else None
        product = product if product in page_items.products() else None
        return _selected("comparability", scope, days, (Choice("product", "Products", product, "all products"),),
                         window)
    product = _product(sent)
    reference = page_items.comparability(scope, product.value).reference_label
    return _selected("comparability", scope, days,
                     (product, Choice("reference", "Reference", reference, reference)), window)


def _monitoring_data(item: str, _days, site_id, sent: Mapping) -> Selected:
    scope = context.scope(None, PAGE_TEMPLATES["monitoring_site"]).for_site(site_id)
    now = context.now()
    if item == "excursions":
        days = monitoring.EXCURSION_LIST_DAYS
        return _selected("monitoring_site", scope.with_window(now - timedelta(days=days), now), None, (),
                         f"excursions open at any time in the last {days} days, and every open one")
    sensors = page_items.site_sensors(scope)
    sensor = _choose(sent, "sensor", "Sensor", {
        r.sensor_id: f"{r.sensor_id} · {r.room_name} · {monitoring.PARAMETER_LABELS.get(r.parameter, r.parameter)}"
        for r in sensors.itertuples(index=False)})
    window = _choose(sent, "trend_window", "", {w: w for w in monitoring.TREND_WINDOWS})
    since = now - monitoring.TREND_WINDOWS[window.value]
    return _selected("monitoring_site", scope.with_window(since, now), None, (sensor, window),
                     f"last {window.value} (rollup buckets of the sensor: never raw readings)")


def _site_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The network-aggregate row named as in the other exports."""
    return frame.assign(site_id=frame["site_id"].replace({NETWORK: "NETWORK"})) if "site_id" in frame else frame


def signals_imr(pd_: Selected) -> Export:
    """The I-MR chart's points: the one CQA charted (not the batch's other CQAs), limits, run-rule flags."""
    cqa, product = pd_.value("cqa"), pd_.value("product")
    chart, figure = page_items.control_chart(pd_.scope, pd_.site_id, product, cqa, pd_.value("rules"))
    frame = chart.drop(columns=[c for c in CQA_COLUMNS if c in chart]).assign(cqa=cqa).reset_index(drop=True)
    flagged = int(frame["flagged"].astype(bool).sum()) if len(frame) else 0
    return Export(frame, figure, filters={"Rows": f"{len(frame)} completed batches of {product} at {pd_.site_id} "
                                                  f"started in the window, {flagged} flagged by the run rules"})


def signals_drift(pd_: Selected) -> Export:
    """One row per day of the chart; a day is a UTC calendar day (the provenance's window says so), so it is
    written as a date, not as a time shifted into the site's zone."""
    sensor = pd_.value("sensor")
    view = page_items.drift_chart(page_items.drift_analysis(pd_.scope), sensor)
    frame = view.frame.assign(day=pd.to_datetime(view.frame["day"]).dt.date) if len(view.frame) else view.frame
    rows = f"{len(frame)} days of {sensor} in the window" + (" (no baseline: nothing charted)" if frame.empty else "")
    return Export(frame, view.figure, filters={"Rows": rows})


def comparability_tost(pd_: Selected) -> Export:
    frame = _counts(_site_rows(page_items.comparability(pd_.scope, pd_.value("product")).tost), "n", "ref_n")
    return Export(frame, filters={"Rows": f"{len(frame)} (site, CQA) pairs of {pd_.value('product')}, sites in "
                                          "scope only"})


def comparability_ppk(pd_: Selected) -> Export:
    frame = _counts(_site_rows(page_items.comparability(pd_.scope, pd_.value("product")).capability), "n")
    return Export(frame, filters={"Rows": f"{len(frame)} (site, CQA) rows of {pd_.value('product')}: the sites "
                                          "in scope and the pooled network (NETWORK)"})


def comparability_funnel(pd_: Selected) -> Export:
    result = page_items.comparability(pd_.scope, pd_.value("product"))
    frame = _counts(_site_rows(result.funnel), "batches", "deviations")
    rate = "no network rate" if result.network_rate is None else f"network rate {result.network_rate:.3f} per batch"
    return Export(frame, page_items.funnel_chart(result),
                  filters={"Rows": f"{len(frame)} sites in scope with batches in the window ({rate})"})


def monitoring_trend(pd_: Selected) -> Export:
    sensor = pd_.value("sensor")
    view = page_items.sensor_trend(pd_.scope, pd_.timezone, sensor, pd_.value("trend_window"), pd_.scope.end)
    if view is None:  # validated in _monitoring_data; a sensor moved away meanwhile is still not found
        raise NotFound(f"sensor {sensor!r} not found")
    # A minute-grain window is completed with hourly buckets where no minute ones exist: say which.
    grains = view.points["grain"].value_counts() if "grain" in view.points else pd.Series(dtype=int)
    kinds = ", ".join(f"{n} {grain}" for grain, n in grains.items()) or "none"
    return Export(view.points.assign(sensor_id=sensor), view.figure,
                  filters={"Rows": f"{len(view.points)} rollup buckets of {sensor} ({kinds})"})


def monitoring_excursions(pd_: Selected) -> Export:
    """The page's excursion list; the impacted batch ids as one text cell."""
    frame = page_items.excursion_history(pd_.scope, pd_.scope.end)
    return Export(frame.assign(batches=frame["batches"].map("; ".join)),
                  filters={"Rows": f"{len(frame)} excursions at {pd_.site_id}, open ones first"})


SELECTION_PAGES: dict[str, Callable[[str, object, object, Mapping], Selected]] = {
    "signals": _signals_data, "comparability": _comparability_data, "monitoring_site": _monitoring_data}


ALL = tuple(k.id for k in catalog.CATALOG)
HEADLINE = tuple(k.id for k in catalog.HEADLINE)
CHART = IMAGE_FORMATS + DATA_FORMATS
ITEMS: dict[tuple[str, str], ExportItem] = {(i.page, i.item): i for i in (
    ExportItem("overview", REPORT, "Network overview report", ("pdf",), ALL, None),
    ExportItem("overview", "headline", "Headline KPIs by site", CHART, HEADLINE, overview_headline),
    ExportItem("overview", "kpis", "Site × KPI table", DATA_FORMATS, ALL, overview_kpis),
    ExportItem("site", REPORT, "Inspection binder", ("pdf",), ALL, None),
    ExportItem("site", "kpis", "KPIs: this site beside the network", DATA_FORMATS, ALL, site_kpis),
    ExportItem("site", "deviations", "Deviation timeline", CHART, (), site_deviations),
    ExportItem("site", "survey", "Psychological safety by survey wave", CHART, ("psych_safety",), site_survey),
    ExportItem("site", "capas", "Open CAPAs", DATA_FORMATS, ("capa_on_time",), _table("open_capas", _open_capa_rows)),
    ExportItem("site", "drift", "Master-document drift", DATA_FORMATS, (), _table("document_drift", _drift_rows)),
    ExportItem("site", "batches", "Batches started in the window", DATA_FORMATS,
               ("oos_rate", "right_first_time"), _table("batches", _batch_rows)),
    ExportItem("people", "survey", "Psychological safety by site, team and wave", CHART, ("psych_safety",),
               people_survey),
    ExportItem("signals", "imr", "I-MR control chart", CHART, (), signals_imr),
    ExportItem("signals", "drift", "Sensor drift (EWMA and CUSUM)", CHART, (), signals_drift),
    ExportItem("comparability", "tost", "Equivalence to the reference (TOST)", DATA_FORMATS, ("consistency",),
               comparability_tost),
    ExportItem("comparability", "ppk", "Process capability (Ppk)", DATA_FORMATS, (), comparability_ppk),
    ExportItem("comparability", "funnel", "Deviation rate funnel plot", CHART, ("deviation_rate",),
               comparability_funnel),
    ExportItem("monitoring_site", "trend", "Sensor trend", CHART, (), monitoring_trend),
    ExportItem("monitoring_site", "excursions", "Excursion history", DATA_FORMATS, (), monitoring_excursions),
)}


def export_data(page: str, item: str, days, site_id=None, selections: Mapping | None = None) -> PageData:
    """The PageData of one export: page_data() for pages without selections; on the others the item's
    selections are validated as well (NotFound for anything this user may not choose)."""
    resolve = SELECTION_PAGES.get(page)
    return page_data(page, days, site_id) if resolve is None else resolve(item, days, site_id, selections or {})
