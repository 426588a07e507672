"""`make bench`: every page's callbacks timed on generated networks, beside raw-scan and pandas baselines.

For each scale and engine the same app code serves the callbacks in-process (Flask test client, so
'server time' is Flask + Dash + the query layer + JSON, without network):

- cold: result cache off and the analyses' own caches emptied before every call: the first request
  after new data lands;
- warm: result cache on (per process): what a wall display or a second user sees; back to back, and
  spaced SPACING_S apart as screens ask (the data versions and the user are then read again);
- new data / sensor data: the first call after the data versions (all, or only the sensors') changed.

Payload is the response body of the callback; points the largest trace in it. The questions table
answers the same data questions three ways (queries/ rollups, raw DuckDB scan, pandas over the raw
tables in memory) after checking that the three answers agree. The browser row is login-to-rendered
overview in headless Chromium. Targets are checked at the end and printed with what missed them.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import logging
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from bench import data
from bench.cases import CASES, Case, context_for
from bench.client import BENCH_PASSWORD, DashClient, trace_points
from bench.questions import CALLBACK_QUESTION, QUESTIONS, RawTables, scope_for

logger = logging.getLogger(__name__)

TARGET_P95_MS = 100.0
TARGET_RAW_RATIO = 5.0
TARGET_PAYLOAD_KB = 300.0
TARGET_POINTS = 5000
TARGET_BROWSER_S = 1.5
# A screen's next request comes seconds after its last (a wall display every few seconds, an analyst's
# clicks): by then the data versions (re-read after 0.5 s) and the user (after 2 s) are read again, which
# back-to-back calls never pay.
SPACING_S = 2.5


@dataclass
class CallbackTiming:
    scale: str
    engine: str
    page: str
    callback: str
    warm_ms: list[float] = field(default_factory=list)
    fresh_ms: list[float] = field(default_factory=list)  # first call after new data (versions changed)
    sensor_ms: list[float] = field(default_factory=list)  # first call after sensor data only (refresh behind)
    spaced_ms: list[float] = field(default_factory=list)  # warm, each call SPACING_S after the previous one
    cold_ms: list[float] = field(default_factory=list)
    payload_bytes: int = 0
    gzip_bytes: int = 0
    max_points: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class QuestionTiming:
    scale: str
    question: str
    asks: str
    hub_ms: float
    hub_cached_ms: float | None
    raw_ms: float
    pandas_ms: float
    rows: int


@dataclass
class BrowserTiming:
    scale: str
    engine: str
    first_s: float  # first sign-in after the server process started, from the click on 'Sign in'
    again_s: float  # a second sign-in (cache warm), from the click
    first_after_login_s: float = float("nan")  # the same, from the moment the login was accepted
    again_after_login_s: float = float("nan")
    ready_s: float = float("nan")  # from starting `atmp-hub serve` to its sign-in page answering
    prewarm: str = ""  # what the server said of its prewarm by the first sign-in's end


@dataclass
class Results:
    machine: dict
    started: str
    callbacks: list[CallbackTiming] = field(default_factory=list)
    questions: list[QuestionTiming] = field(default_factory=list)
    browser: list[BrowserTiming] = field(default_factory=list)
    generation_s: dict[str, float | None] = field(default_factory=dict)
    pandas_load: dict[str, dict] = field(default_factory=dict)
    live_state: dict[str, dict] = field(default_factory=dict)  # "engine scale" -> what the live tiles showed


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))
    return ordered[rank - 1]


# --- apps ---------------------------------------------------------------------------------------------
def build_app(url: str, *, cached: bool):
    from dashboard.app import create_app
    from queries.engine.settings import Settings
    from queries.engine.warehouse import Warehouse

    settings = Settings.from_env({}, database_url=url, secret_key="bench-secret-key-not-for-production",
                                 now=data.END.isoformat(), cache_ttl_s=600 if cached else 0,
                                 login_rate_per_address="1000 per minute", login_rate_per_user="1000 per minute",
                                 prewarm=False)  # timed calls find only what earlier timed calls computed
    wh = Warehouse(url)
    app = create_app(settings, wh)
    app._setup_server()  # take this app's page callbacks now (several apps live in one process)
    gc.freeze()  # as app.py does for a gunicorn worker
    return app, wh


def new_data(wh) -> None:
    """What new data does to the caches: both data versions change (the tables are left as they are), so
    every cached answer that read them, the drift and risk analyses among them, is computed again."""
    from queries.engine import data_version

    with wh.transaction() as conn:
        data_version.note_write(conn, "deviations")
        data_version.note_write(conn, "readings")


def sensor_data(wh) -> None:
    """What sensors reporting do to the caches: the live and measurements versions change, quality not
    (the 5-minute wave). Background refreshes of the previous round are finished first."""
    from queries.engine import data_version, result_cache

    cache = result_cache.for_warehouse(wh)
    if cache is not None:
        cache.drain()
    data_version.bump(wh, data_version.LIVE, data_version.MEASUREMENTS)


def time_callbacks(scale: str, engine: str, url: str, *, warm: int, cold: int, cases: tuple[Case, ...],
                   spaced: int = 0, spacing_s: float = SPACING_S) -> list[CallbackTiming]:
    cached_app, cached_wh = build_app(url, cached=True)
    cold_app, cold_wh = build_app(url, cached=False)
    ctx = context_for(cached_wh, data.END)
    clients: dict[tuple[str, bool], DashClient] = {}
    results = []
    for case in cases:
        timing = CallbackTiming(scale, engine, case.page, case.name)
        inputs, state = case.request(ctx)
        after_change = min(cold, 3) if cold else 0
        # kind: (app, timed calls, what happens before each call, where its times go)
        # The cold app has no result cache, and no analysis keeps answers outside it: every call computes.
        kinds = {"cold": (cold_app, cold, None, timing.cold_ms),
                 "warm": (cached_app, warm + 1, None, timing.warm_ms),
                 "fresh": (cached_app, after_change, lambda: new_data(cached_wh), timing.fresh_ms),
                 "sensor": (cached_app, after_change, lambda: sensor_data(cached_wh), timing.sensor_ms),
                 "spaced": (cached_app, spaced, lambda: time.sleep(spacing_s), timing.spaced_ms)}
        for kind, (app, runs, before, times) in kinds.items():
            client = clients.get((case.user, kind == "cold")) or clients.setdefault(
                (case.user, kind == "cold"), DashClient(app, case.user))
            for i in range(runs):
                if before is not None:
                    before()
                result = client.call(case.outputs, inputs, state)
                if result.status != 200:
                    timing.errors.append(f"HTTP {result.status}")
                    break
                if kind != "warm" or i > 0:  # the first warm call fills the cache
                    times.append(result.seconds * 1000)
                if result.payload_bytes > timing.payload_bytes:
                    timing.payload_bytes = result.payload_bytes
                    timing.gzip_bytes = len(gzip.compress(json.dumps(result.body, separators=(",", ":")).encode()))
                timing.max_points = max(timing.max_points, trace_points(result.body))
        logger.info("%s %s %-16s %-28s warm p95 %7.1f ms  cold p50 %8.1f ms  %6.1f KB", scale, engine, case.page,
                    case.name, percentile(timing.warm_ms, 95), percentile(timing.cold_ms, 50),
                    timing.payload_bytes / 1024)
        results.append(timing)
    for wh in (cached_wh, cold_wh):
        wh.dispose()
    return results


# --- questions: hub vs raw scan vs pandas ------------------------------------------------------------------
def time_questions(scale: str, url: str, repeat: int) -> tuple[list[QuestionTiming], dict]:
    from queries.engine import result_cache
    from queries.engine.warehouse import Warehouse

    wh = Warehouse(url, row_cap=10**9)  # the pandas baseline holds whole raw tables
    ctx = context_for(wh, data.END)
    tables = RawTables.load(wh)
    load = {"seconds": round(tables.load_seconds, 1), "readings": len(tables.readings),
            "megabytes": round(tables.megabytes)}
    logger.info("pandas baseline: %s readings in memory (%s MB) after %.1f s", load["readings"], load["megabytes"],
                load["seconds"])
    cache = result_cache.ResultCache(_simple_backend(), result_cache.namespace_for(wh), ttl_s=600, window_s=0)
    out = [_time_question(scale, q, wh, scope_for(q, wh, data.END, ctx.site_id, ctx.sensor_id), tables, cache, repeat)
           for q in QUESTIONS]
    wh.dispose()
    return out, load


def _time_question(scale: str, q, wh, scope, tables: RawTables, cache, repeat: int) -> QuestionTiming:
    hub, raw, pan = q.hub(wh, scope), q.raw(wh, scope), q.pandas(tables, scope)
    q.compare(hub, raw)  # a baseline answering another question would flatter the hub
    q.compare(hub, pan)
    hub_ms, raw_ms, pandas_ms, cached_ms = _alternating([
        lambda: q.hub(wh, scope), lambda: q.raw(wh, scope), lambda: q.pandas(tables, scope),
        lambda: cache.call(wh, q.name, ("quality",), q.hub, scope)], repeat)
    logger.info("%s question %-18s hub %8.1f ms  cached %6.2f ms  raw %8.1f ms  pandas %8.1f ms", scale, q.name,
                hub_ms, cached_ms, raw_ms, pandas_ms)
    return QuestionTiming(scale, q.name, q.asks, hub_ms, cached_ms, raw_ms, pandas_ms, len(hub))


def _simple_backend():
    from cachelib import SimpleCache

    return SimpleCache(threshold=1000, default_timeout=600)


def _alternating(fns: list, repeat: int) -> list[float]:
    """Median of `repeat` timed runs of each function (ms), after one untimed run of each, taking turns
    (a, b, c, a, b, c...) so that the machine's load at any moment falls on all of them alike."""
    for fn in fns:
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, times in zip(fns, samples, strict=True):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
    return [statistics.median(times) for times in samples]


# --- browser -------------------------------------------------------------------------------------------------
def time_browser(scale: str, engine: str, url: str) -> BrowserTiming:
    """Sign-in to a rendered overview on a freshly started `atmp-hub serve` process (its own settings'
    defaults, prewarm on), the first sign-in as soon as the sign-in page answers: nothing this process
    computed earlier can help it. Then a second sign-in on the same server."""
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    from queries.engine.warehouse import Warehouse

    wh = Warehouse(url)
    sites = len(wh.query("sql/site_ids"))
    wh.dispose()  # a DuckDB file is the server's alone
    port = _free_port()
    env = {**os.environ, "ATMP_DATABASE_URL": url, "ATMP_PORT": str(port), "ATMP_HOST": "127.0.0.1",
           "ATMP_NOW": data.END.isoformat(), "ATMP_SIMULATOR": "false", "PYTHONUNBUFFERED": "1"}
    for inherited in ("ATMP_PREWARM", "ATMP_CACHE_TTL_S"):
        env.pop(inherited, None)
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve"], env=env, text=True,
                              cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(server.stderr), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"atmp-hub serve ended ({server.returncode}): {''.join(said[-5:])}")
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        ready = time.perf_counter() - started
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("ATMP_CHROMIUM", "/usr/bin/chromium"),
                                        args=["--disable-dev-shm-usage", "--disable-background-networking",
                                              "--no-first-run", "--disable-sync"])
            try:
                first, first_after = _login_to_overview(browser, base, sites)
                prewarm = next((line.strip() for line in said if "prewarm:" in line), "no prewarm line yet")
                again, again_after = _login_to_overview(browser, base, sites)
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    logger.info("%s %s browser: server ready %.1f s; login to rendered overview %.2f s (first), %.2f s (again); %s",
                scale, engine, ready, first, again, prewarm)
    return BrowserTiming(scale, engine, first, again, first_after, again_after, ready, prewarm)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Notes in the page when the overview is rendered (4 tiles with values, a grid row per site + network).
RENDERED = """
window.__atmpRendered = null;
new MutationObserver(() => {
  if (window.__atmpRendered === null
      && document.querySelectorAll('#overview-tiles .kpi-tile .tile-value').length >= 4
      && document.querySelectorAll('.site-grid tbody tr').length >= window.__atmpRows) {
    window.__atmpRendered = performance.now();
  }
}).observe(document, {subtree: true, childList: true});
"""


def _login_to_overview(browser, base: str, sites: int) -> tuple[float, float]:
    """(seconds from the click on 'Sign in', seconds from the login accepted (the redirect to the
    overview starts loading)) to the overview rendered."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.add_init_script(f"window.__atmpRows = {sites + 1};" + RENDERED)
    page = context.new_page()
    try:
        page.goto(f"{base}/login")
        page.get_by_label("User name").fill("bench.leader")
        page.get_by_label("Password").fill(BENCH_PASSWORD)
        start = time.perf_counter()
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_function("() => window.__atmpRendered !== null", timeout=60_000, polling=20)
        from_click = time.perf_counter() - start
        # fetchStart of the overview's navigation comes after the login POST and its redirect.
        after_login = page.evaluate("""() => (window.__atmpRendered
            - performance.getEntriesByType('navigation')[0].fetchStart) / 1000""")
        return from_click, float(after_login)
    finally:
        context.close()


# --- report ----------------------------------------------------------------------------------------------
def machine() -> dict:
    import platform

    import duckdb

    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "duckdb": duckdb.__version__,
            "platform": platform.platform()}
    try:
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu"] = names[0] if names else "unknown"
    except OSError:
        pass
    try:
        from sqlalchemy import create_engine

        engine = create_engine(data.PG_ADMIN_URL)
        with engine.connect() as conn:
            info["postgresql"] = conn.exec_driver_sql("SHOW server_version").scalar()
        engine.dispose()
    except Exception:
        info["postgresql"] = "unreachable"
    info["load_average_at_start"] = os.getloadavg()[0]
    return info


def render(results: Results) -> str:
    lines = []
    m = results.machine
    lines.append(f"Machine: {m.get('cpus')} CPUs ({m.get('cpu', '?')}), {m.get('memory_gib', '?')} GiB RAM, "
                 f"Python {m.get('python')}, DuckDB {m.get('duckdb')}, PostgreSQL {m.get('postgresql')}; "
                 f"load average at start {m.get('load_average_at_start', 0):.1f}")
    lines.append("")
    engines = sorted({c.engine for c in results.callbacks})
    for scale in dict.fromkeys(c.scale for c in results.callbacks):
        rows = [c for c in results.callbacks if c.scale == scale]
        questions = {q.question: q for q in results.questions if q.scale == scale}
        lines.append(f"### Callbacks, {scale} scale (server time in ms. warm: answered from the caches; new data: "
                     "first call after the data versions changed; sensor data: first call after only the sensors' "
                     "versions changed (refresh behind); cold: every cache off, the analyses' own too)")
        lines.append("")
        head = ["page", "callback"]
        for engine in engines:
            head += [f"{engine} warm p50", f"{engine} warm p95", f"{engine} warm p95 spaced", f"{engine} new data",
                     f"{engine} sensor data", f"{engine} cold"]
        head += ["KB (gzip)", "points", "raw scan ÷ warm p95"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for page, name in dict.fromkeys((c.page, c.callback) for c in rows):
            cells = [page, name]
            payload, points, p95s, colds, gz = 0, 0, [], [], 0
            for engine in engines:
                found = [c for c in rows if c.engine == engine and c.page == page and c.callback == name]
                if not found:
                    cells += ["–"] * 6
                    continue
                c = found[0]
                if c.errors:
                    cells += [f"error: {c.errors[0]}"] + ["–"] * 5
                    continue
                cells += [_ms(percentile(c.warm_ms, 50)), _ms(percentile(c.warm_ms, 95)),
                          _ms(percentile(c.spaced_ms, 95)), _ms(percentile(c.fresh_ms, 50)), _ms(percentile(c.sensor_ms, 50)),
                          _ms(percentile(c.cold_ms, 50))]
                if c.payload_bytes >= payload:
                    gz = c.gzip_bytes
                payload, points = max(payload, c.payload_bytes), max(points, c.max_points)
                p95s.append(percentile(c.warm_ms, 95))
                colds.append(percentile(c.cold_ms, 50))
            question = questions.get(CALLBACK_QUESTION.get((page, name), ""))
            # The raw-scan baseline: the callback's data question scanned raw (DuckDB, no rollups, no cache);
            # callbacks with no pre-aggregated data behind them: their own uncached run.
            raw_ms = question.raw_ms if question else (min(colds) if colds else float("nan"))
            ratio = raw_ms / max(p95s) if p95s else float("nan")
            cells += [f"{payload / 1024:.1f} ({gz / 1024:.1f})", str(points),
                      "–" if ratio != ratio else f"{ratio:.0f}×" + ("" if question else " ᶜ")]  # NaN: no baseline run
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines.append("ᶜ no rollup stands behind this callback's data: the baseline is its own cold run.")
        lines.append("")
        if questions:
            load = results.pandas_load.get(scale, {})
            lines.append(f"### Same questions three ways, {scale} scale (ms, median; DuckDB file; pandas holds "
                         f"{load.get('readings', 0):,} readings, {load.get('megabytes', 0)} MB, loaded in "
                         f"{load.get('seconds', 0)} s)")
            lines.append("")
            lines.append("| question | hub (rollups) | hub cached | raw DuckDB scan | pandas | raw ÷ hub | "
                         "pandas ÷ hub | raw ÷ cached | pandas ÷ cached |")
            lines.append("|---|---|---|---|---|---|---|---|---|")
            for q in questions.values():
                lines.append(f"| {q.question}: {q.asks} | {_ms(q.hub_ms)} | {q.hub_cached_ms:.2f} | {_ms(q.raw_ms)} | "
                             f"{_ms(q.pandas_ms)} | {q.raw_ms / q.hub_ms:.1f}× | {q.pandas_ms / q.hub_ms:.1f}× | "
                             f"{q.raw_ms / q.hub_cached_ms:.0f}× | {q.pandas_ms / q.hub_cached_ms:.0f}× |")
            lines.append("")
    if results.browser:
        lines.append("### Browser: sign-in to rendered overview on a freshly started `atmp-hub serve` (headless "
                     "Chromium, seconds)")
        lines.append("")
        lines.append("| scale | engine | server start to sign-in page | first sign-in: from the click | from login "
                     "accepted | again: from the click | from login accepted | prewarm by then |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for b in results.browser:
            lines.append(f"| {b.scale} | {b.engine} | {b.ready_s:.1f} | {b.first_s:.2f} | {b.first_after_login_s:.2f} | "
                         f"{b.again_s:.2f} | {b.again_after_login_s:.2f} | {b.prewarm.split('prewarm:')[-1].strip()} |")
        lines.append("")
    if results.live_state:
        lines.append("Live state timed (fed through the live ingest before timing): " + "; ".join(
            f"{k}: {v['latest']} sensors with a latest value, {v['open_excursions']} excursion(s) open of "
            f"{v['excursions']}" for k, v in results.live_state.items()))
        lines.append("")
    if results.generation_s:
        lines.append("Generation (seconds; '–' = reused from the bench data directory): " + ", ".join(
            f"{k} {'–' if v is None else f'{v:.0f}'}" for k, v in results.generation_s.items()))
        lines.append("")
    lines += targets(results)
    return "\n".join(lines)


def targets(results: Results) -> list[str]:
    measured = [*results.callbacks, *results.browser]
    largest = "large" if any(m.scale == "large" for m in measured) else (measured[-1].scale if measured else "")
    at_scale = [c for c in results.callbacks if c.scale == largest and not c.errors]
    errors = [c for c in results.callbacks if c.errors]
    questions = {q.question: q for q in results.questions if q.scale == largest}
    out = [f"### Targets ({largest} scale)", ""]

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    worst_warm = max(at_scale, key=lambda c: percentile(c.warm_ms, 95), default=None)
    # A partial run (cold or after-data calls for some callbacks only) judges what it measured.
    worst_cold = max((c for c in at_scale if c.cold_ms), key=lambda c: percentile(c.cold_ms, 95), default=None)
    if worst_warm:
        p95 = percentile(worst_warm.warm_ms, 95)
        out.append(f"- every callback p95 <= {TARGET_P95_MS:.0f} ms (warm): {verdict(p95 <= TARGET_P95_MS)}; worst "
                   f"{p95:.0f} ms ({worst_warm.engine}, {worst_warm.page} · {worst_warm.callback})")
        for after, times in ((f"spaced {SPACING_S:g} s apart (warm)", lambda c: c.spaced_ms),
                             ("first call after new data", lambda c: c.fresh_ms),
                             ("first call after sensor data only", lambda c: c.sensor_ms)):
            measured = [c for c in at_scale if times(c)]
            if measured:
                worst = max(measured, key=lambda c, t=times: percentile(t(c), 95))
                ms = percentile(times(worst), 95)
                slow_after = sorted({f"{c.page} · {c.callback}" for c in measured
                                     if percentile(times(c), 95) > TARGET_P95_MS})
                out.append(f"- the same, {after}: {verdict(not slow_after)}; worst {ms:.0f} ms "
                           f"({worst.engine}, {worst.page} · {worst.callback}); over target: "
                           f"{len(slow_after)} of {len({(c.page, c.callback) for c in measured})}")
        if worst_cold:
            cold_measured = [c for c in at_scale if c.cold_ms]
            cold = percentile(worst_cold.cold_ms, 95)
            slow = sorted({f"{c.page} · {c.callback}" for c in cold_measured if percentile(c.cold_ms, 95) > TARGET_P95_MS})
            out.append(f"- the same, cold (every cache off, the analyses' own too): {verdict(not slow)}; worst "
                       f"{cold:.0f} ms ({worst_cold.engine}, {worst_cold.page} · {worst_cold.callback}); over target: "
                       f"{len(slow)} of {len({(c.page, c.callback) for c in cold_measured})}")
        ratios = []
        for c in at_scale:
            q = questions.get(CALLBACK_QUESTION.get((c.page, c.callback), ""))
            raw = q.raw_ms if q else percentile(c.cold_ms, 50)
            if raw == raw:  # a baseline was measured (NaN otherwise)
                ratios.append((raw / percentile(c.warm_ms, 95), c))
        low = min(ratios, key=lambda r: r[0], default=None)
        if low:
            out.append(f"- >= {TARGET_RAW_RATIO:.0f}x faster than the raw-scan baseline (warm p95): "
                       f"{verdict(low[0] >= TARGET_RAW_RATIO)}; lowest {low[0]:.1f}x ({low[1].engine}, "
                       f"{low[1].page} · {low[1].callback})")
    payload = max(results.callbacks, key=lambda c: c.payload_bytes, default=None)
    if payload:
        out.append(f"- no response over {TARGET_PAYLOAD_KB:.0f} KB: {verdict(payload.payload_bytes / 1024 <= TARGET_PAYLOAD_KB)}"
                   f"; largest {payload.payload_bytes / 1024:.0f} KB of JSON, {payload.gzip_bytes / 1024:.0f} KB gzipped "
                   f"on the wire ({payload.page} · {payload.callback})")
        points = max(results.callbacks, key=lambda c: c.max_points)
        out.append(f"- no trace over {TARGET_POINTS} points: {verdict(points.max_points <= TARGET_POINTS)}; largest "
                   f"{points.max_points} ({points.page} · {points.callback})")
    browser = [b for b in results.browser if b.scale == largest]
    if browser:
        worst = max(browser, key=lambda b: b.first_after_login_s)
        again = max(b.again_after_login_s for b in browser)
        out.append(f"- overview rendered <= {TARGET_BROWSER_S} s after login (from the login accepted): first sign-in "
                   f"after start {verdict(worst.first_after_login_s <= TARGET_BROWSER_S)} "
                   f"({worst.first_after_login_s:.2f} s, {worst.engine}); again "
                   f"{verdict(again <= TARGET_BROWSER_S)} ({again:.2f} s; from the click on 'Sign in': "
                   f"{max(b.again_s for b in browser):.2f} s)")
    if errors:
        out.append(f"- errors: {len(errors)} callback(s): " + "; ".join(
            f"{c.scale} {c.engine} {c.page} · {c.callback}: {c.errors[0]}" for c in errors))
    out.append("")
    return out


def _ms(value: float) -> str:
    if value != value:  # NaN
        return "–"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


# --- command line ---------------------------------------------------------------------------------------------
def run(args) -> int:
    scales = [s for s in args.scales.split(",") if s]
    engines = [e for e in args.engines.split(",") if e]
    results = Results(machine=machine(), started=datetime.now().isoformat(timespec="seconds"))
    cases = tuple(c for c in CASES if not args.only or args.only in f"{c.page} {c.name}")
    try:
        for scale in scales:
            for engine in engines:
                wh, seconds = data.ensure(engine, scale, progress=not args.quiet)
                results.live_state[f"{engine} {scale}"] = data.feed_live(wh)  # the live tiles time real rows
                url = wh.url
                wh.dispose()
                results.generation_s[f"{engine} {scale}"] = seconds
                if args.browser:  # first: its server process must find the DuckDB file free (the in-process
                    results.browser.append(time_browser(scale, engine, url))  # apps below keep it open)
                if cases:
                    results.callbacks += time_callbacks(scale, engine, url, warm=args.warm, cold=args.cold,
                                                        cases=cases, spaced=args.spaced)
            if args.questions and "duckdb" in engines:
                timings, load = time_questions(scale, data.url_for("duckdb", scale), args.repeat)
                results.questions += timings
                results.pandas_load[scale] = load
    finally:  # whatever was measured is reported, even when a later step fails
        report = render(results)
        _save(report, results, Path(args.out))
    print(report)
    print(f"\n(results: {args.out} and {Path(args.out).with_suffix('.md')})")
    return 0


def _save(report: str, results: Results, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(results), indent=1, default=str))
    out.with_suffix(".md").write_text(report + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("run", help="the benchmark (default)")
    bench.add_argument("--scales", default=os.environ.get("BENCH_SCALES", "medium,large"))
    bench.add_argument("--engines", default=os.environ.get("BENCH_ENGINES", "duckdb,postgres"))
    bench.add_argument("--warm", type=int, default=20, help="timed warm calls per callback")
    bench.add_argument("--cold", type=int, default=5, help="timed cold calls per callback")
    bench.add_argument("--spaced", type=int, default=5,
                       help=f"timed warm calls per callback {SPACING_S:g} s after the previous one, as screens ask")
    bench.add_argument("--repeat", type=int, default=3, help="timed runs per question and implementation")
    bench.add_argument("--no-browser", dest="browser", action="store_false")
    bench.add_argument("--no-questions", dest="questions", action="store_false")
    bench.add_argument("--only", help="only callbacks whose 'page name' contains this")
    bench.add_argument("--out", default=str(data.BENCH_DIR / "results.json"))
    bench.add_argument("--quiet", action="store_true", help="no progress bars")
    bench.set_defaults(func=run)
    gen = sub.add_parser("data", help="generate (or reuse) the bench warehouses; --drop removes them")
    gen.add_argument("--scales", default="medium,large")
    gen.add_argument("--engines", default="duckdb,postgres")
    gen.add_argument("--drop", action="store_true")
    gen.set_defaults(func=cmd_data)
    load = sub.add_parser("load", help="the wall-display load test (gunicorn + PostgreSQL + locust, loopback)")
    from bench import load as load_module

    load_module.add_arguments(load)
    load.set_defaults(func=load_module.run)
    args = parser.parse_args(argv if argv is not None else (sys.argv[1:] or ["run"]))
    if args.command is None:
        args = parser.parse_args(["run", *(argv or [])])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "flask_limiter", "werkzeug", "dashboard", "ingest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return args.func(args)


def cmd_data(args) -> int:
    if args.drop:
        data.drop_all()
        print("bench warehouses dropped")
        return 0
    for scale in args.scales.split(","):
        for engine in args.engines.split(","):
            wh, seconds = data.ensure(engine, scale)
            print(f"{engine} {scale}: {'reused' if seconds is None else f'generated in {seconds:.0f} s'} ({wh.safe_url()})")
            wh.dispose()
    return 0
