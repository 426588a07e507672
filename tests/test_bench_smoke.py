"""The benchmark in miniature, so it cannot rot: it runs every page's callbacks and produces its tables
(the load test's miniature is tests/test_load_smoke.py, a file of its own so that xdist runs the two side
by side). No timing is asserted (this machine's load is not the code's fault); answers are: every
callback returns 200 and the three baselines agree (the questions check it).
"""

from __future__ import annotations

import contextvars
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import TEST_END
from test_prewarm import queries_run  # noqa: F401 (a fixture)

from bench import data, run
from bench.cases import CASES
from bench.client import ensure_users
from queries.engine.warehouse import Warehouse

pytestmark = pytest.mark.bench

# The bench runs on copies of the session's small sample network (tests/conftest.py: the same generator
# and scale as `bench data`, the test seed; the bench pins 'now' to data.END, which is the test end too),
# with the bench's own users added: no second generation of the same network.
assert data.END == TEST_END


@pytest.fixture(scope="module")
def small_duckdb(sample_warehouse, tmp_path_factory) -> Iterator[str]:
    with sample_warehouse.engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
    path = tmp_path_factory.mktemp("bench") / "small.duckdb"
    shutil.copy(sample_warehouse.url.removeprefix("duckdb:///"), path)
    wh = Warehouse(f"duckdb:///{path}")
    ensure_users(wh)
    live = data.feed_live(wh)  # as `bench run` does: the live tiles are timed on real rows
    assert live["latest"] == len(wh.query("ingest/sensor_limits")) and live["open_excursions"] >= 1, live
    wh.dispose()
    yield wh.url


TABLE_ROW = re.compile(r"^\| (?P<page>[^|]+) \| (?P<callback>[^|]+) \| (?P<cells>.+) \|$")


@pytest.mark.browser
def test_benchmark_runs_every_callback_and_prints_the_table(small_duckdb):
    results = run.Results(machine=run.machine(), started="test")
    # Every callback warm (after the untimed call that fills the caches, which computes it: every page's
    # answer is computed from nothing once); the overview's refresh also cold, after new data and after
    # sensor data only, and 2.5 s after the previous call: every kind of timed call, each once (cold on every
    # page cost 25 s more, 2026-12-08).
    every_kind = (CASES[0],)
    rest = CASES[1:]
    # First, as `bench run` does: its own server process must find the file free. Playwright's sync API
    # refuses a thread whose asyncio loop pytest-playwright already runs
    # (when browser tests ran before this one): time the browser from a fresh thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        context = contextvars.copy_context()  # Dash's context variables travel with the call
        results.browser.append(pool.submit(context.run, run.time_browser, "small", "duckdb",
                                           small_duckdb).result())
    results.callbacks += run.time_callbacks("small", "duckdb", small_duckdb, warm=1, cold=1, cases=every_kind,
                                            spaced=1)
    results.callbacks += run.time_callbacks("small", "duckdb", small_duckdb, warm=1, cold=0, cases=rest)
    timings, load_info = run.time_questions("small", small_duckdb, repeat=1)
    results.questions += timings
    results.pandas_load["small"] = load_info
    report = run.render(results)

    assert not [c for c in results.callbacks if c.errors], [(c.page, c.callback, c.errors) for c in results.callbacks]
    rows = {(m["page"], m["callback"]) for m in (TABLE_ROW.match(line) for line in report.splitlines()) if m}
    for case in CASES:
        assert (case.page, case.name) in rows, f"{case.page} · {case.name} missing from the table"
    assert CASES[0].page == "overview" and CASES[0].user == "bench.leader"
    for timing in results.callbacks:
        assert len(timing.warm_ms) == 1 and timing.payload_bytes > 0
        timed_every_kind = (timing.page, timing.callback) == (CASES[0].page, CASES[0].name)
        assert (len(timing.cold_ms) == len(timing.fresh_ms) == len(timing.sensor_ms) == len(timing.spaced_ms)
                == int(timed_every_kind))
    assert {q.question for q in results.questions} == {"kpi_window", "trend_30d", "trend_365d", "site_daily_means",
                                                      "data_as_of"}
    assert "### Same questions three ways, small scale" in report
    assert "### Browser: sign-in to rendered overview on a freshly started `atmp-hub serve`" in report
    browser = results.browser[0]
    assert browser.ready_s > 0 and browser.first_s > 0 and browser.again_s > 0
    assert "network overview" in browser.prewarm, browser.prewarm  # the server's own line, whatever it said
    assert "### Targets (small scale)" in report
    assert "every callback p95 <= 100 ms (warm)" in report
    assert "first call after sensor data only" in report and "duckdb sensor data" in report
    assert "spaced 2.5 s apart (warm)" in report and "duckdb warm p95 spaced" in report


def test_the_raw_baseline_is_plain_duckdb_and_answers_what_the_hub_answers(small_duckdb, monkeypatch):
    """Every question's raw scan runs without the hub's query path (Warehouse.query is never called) and
    agrees with the hub's answer."""
    from bench import questions
    from bench.cases import context_for

    wh = Warehouse(small_duckdb)
    try:
        ctx = context_for(wh, data.END)
        scopes = {q.name: questions.scope_for(q, wh, data.END, ctx.site_id, ctx.sensor_id) for q in questions.QUESTIONS}
        hub = {q.name: q.hub(wh, scopes[q.name]) for q in questions.QUESTIONS}
        through_the_hub = []
        real_query = Warehouse.query
        monkeypatch.setattr(Warehouse, "query", lambda self, name, *a, **k: through_the_hub.append(name) or
                            real_query(self, name, *a, **k))
        raw = {q.name: q.raw(wh, scopes[q.name]) for q in questions.QUESTIONS}
        assert through_the_hub == []
        for q in questions.QUESTIONS:
            assert len(raw[q.name]) > 0
            q.compare(hub[q.name], raw[q.name])
    finally:
        wh.dispose()


# The pages of the analyses that once kept answers of their own, outside the result cache (issue 30): drift
# and risk (which the overview's prediction KPIs and the CAPA proposals read too).
ONCE_CACHED = ("drift early warning", "risk ranking", "CAPA proposals")


def test_the_cold_path_keeps_no_answer_between_calls(small_duckdb, queries_run):  # noqa: F811
    """A cold call is a computation: the bench's cold app (result cache off) reads again on its second call
    everything it read on its first, for the pages whose analyses once cached their answers themselves;
    the warm app, asked the same, reads less the second time (the check can fail)."""
    from bench.cases import context_for
    from bench.client import DashClient

    def reads_of_two_calls(app, case, ctx) -> list[set[str]]:
        client, (inputs, state) = DashClient(app, case.user), case.request(ctx)
        reads = []
        for _ in range(2):
            queries_run.clear()
            assert client.call(case.outputs, inputs, state).status == 200, case.name
            reads.append(queries_run.for_requests())
        return reads

    cold_app, cold_wh = run.build_app(small_duckdb, cached=False)
    warm_app, warm_wh = run.build_app(small_duckdb, cached=True)
    try:
        ctx = context_for(cold_wh, data.END)
        cases = [c for c in CASES if c.name in ONCE_CACHED]
        assert len(cases) == len(ONCE_CACHED)
        for case in cases:
            first, second = reads_of_two_calls(cold_app, case, ctx)
            assert first and second >= first, (case.name, first - second)
        first, second = reads_of_two_calls(warm_app, cases[0], ctx)
        assert not second >= first
    finally:
        cold_wh.dispose()
        warm_wh.dispose()


@pytest.mark.parametrize("table", ["deviations", "readings"])
def test_import_benchmark_runs_its_three_steps(table):
    """bench/import_bench.py on 2,000 deviations or readings: each step is its own `atmp-hub import` process, reports a time
    and a peak memory, and says what it did (the second import finds every row unchanged)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "bench/import_bench.py", "--rows", "2000", "--table", table], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    assert "2,000 to insert" in rows["dry run"]
    assert "2,000 inserted" in rows["import"]
    assert "0 inserted, 0 updated, 2,000 unchanged" in rows["same file again"]
    for step in ("dry run", "import", "same file again"):
        seconds, _rate, peak = (float(cell.replace(",", "")) for cell in rows[step].split("|")[2:5])
        assert seconds > 0 and peak > 50  # a Python process with pandas holds more than 50 MiB


def test_import_benchmark_reports_each_step_s_own_peak_memory(duckdb_warehouse):
    """A child spawned from a process holding 600 MiB starts with that resident set in its ru_maxrss; the
    benchmark's launcher keeps it out (without it, every step after generating a big file reported the
    generator's ~900 MiB)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import import_bench

    held = bytearray(600 * 1024 * 1024)
    held[::4096] = b"\x01" * len(held[::4096])  # touched: resident, not only reserved
    seconds, peak, said = import_bench.timed(duckdb_warehouse.url, "settings")
    assert seconds > 0 and said.startswith("ATMP_DATABASE_URL"), said
    assert 20 < peak < 400, peak  # the CLI with pandas and SQLAlchemy loaded, not this process's 600 MiB
    del held


def test_notification_benchmark_mails_every_excursion_it_publishes(tmp_path):
    """bench/notify_bench.py on 3 excursions: a real broker, bridge, dispatcher and SMTP server; every
    excursion's e-mail accepted, latencies reported in order (p50 <= p95 <= max)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "notify.json"
    done = subprocess.run([sys.executable, "bench/notify_bench.py", "--events", "3", "--every", "1", "--json",
                           str(out)], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["events"] == figures["delivered"] == 3
    assert 0 < figures["p50_s"] <= figures["p95_s"] <= figures["max_s"]
    assert "3 e-mails accepted" in done.stdout
