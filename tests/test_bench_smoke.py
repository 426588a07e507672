"""The benchmark and the load test in miniature, so they cannot rot: they run and produce their tables.

No timing is asserted (this machine's load is not the code's fault); answers are: every callback
returns 200, the three baselines agree (the questions check it), and the load run has no failure.
"""

from __future__ import annotations

import argparse
import contextvars
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import TEST_END, clone_postgres

from bench import cases, data, load, run
from bench.cases import CASES
from bench.client import ensure_users
from queries.warehouse import Warehouse

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
    wh.dispose()
    yield wh.url


@pytest.fixture(scope="module")
def small_postgres(sample_postgres_template) -> Iterator[str]:
    with clone_postgres(sample_postgres_template) as url:
        wh = Warehouse(url)
        ensure_users(wh)
        wh.dispose()
        yield url


TABLE_ROW = re.compile(r"^\| (?P<page>[^|]+) \| (?P<callback>[^|]+) \| (?P<cells>.+) \|$")


@pytest.mark.browser
def test_benchmark_runs_every_callback_and_prints_the_table(small_duckdb):
    results = run.Results(machine=run.machine(), started="test")
    # One call of each kind: cold, warm (after the untimed one that fills the caches), after new data and
    # after sensor data only.
    results.callbacks += run.time_callbacks("small", "duckdb", small_duckdb, warm=1, cold=1, cases=CASES)
    timings, load_info = run.time_questions("small", small_duckdb, repeat=1)
    results.questions += timings
    results.pandas_load["small"] = load_info
    # Playwright's sync API refuses a thread whose asyncio loop pytest-playwright already runs
    # (when browser tests ran before this one): time the browser from a fresh thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        context = contextvars.copy_context()  # Dash's context variables travel with the call
        results.browser.append(pool.submit(context.run, run.time_browser, "small", "duckdb",
                                           small_duckdb).result())
    report = run.render(results)

    assert not [c for c in results.callbacks if c.errors], [(c.page, c.callback, c.errors) for c in results.callbacks]
    rows = {(m["page"], m["callback"]) for m in (TABLE_ROW.match(line) for line in report.splitlines()) if m}
    for case in CASES:
        assert (case.page, case.name) in rows, f"{case.page} · {case.name} missing from the table"
    for timing in results.callbacks:
        assert len(timing.warm_ms) == 1 and timing.payload_bytes > 0
        assert len(timing.cold_ms) == len(timing.fresh_ms) == len(timing.sensor_ms) == 1
    assert {q.question for q in results.questions} == {"kpi_window", "trend_30d", "trend_365d", "site_daily_means",
                                                      "data_as_of"}
    assert "### Same questions three ways, small scale" in report
    assert "### Browser: sign-in to rendered overview" in report and results.browser[0].first_s > 0
    assert "### Targets (small scale)" in report
    assert "every callback p95 <= 100 ms (warm)" in report
    assert "first call after sensor data only" in report and "duckdb sensor data" in report


@pytest.mark.postgres
def test_load_scenario_runs_against_gunicorn_postgres_and_redis(small_postgres, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data, "BENCH_DIR", tmp_path)
    monkeypatch.setattr(data, "pg_url", lambda scale: small_postgres)
    monkeypatch.setattr(data, "ensure", lambda engine, scale, progress=True: (Warehouse(small_postgres), None))
    # The warm-up asks every question once per window; one window exercises it (four took two minutes).
    monkeypatch.setattr(cases, "WINDOWS", (90,))
    args = argparse.Namespace(scale="small", displays=3, users=2, refresh_s=1.0, run_time=6, workers=1, threads=2,
                              redis_url="redis://127.0.0.1:6379/14", warmup=True, new_data_every_s=2.0, wave=True, import_at_s=3.0,
                              out=str(tmp_path / "load.json"))
    assert load.run(args) == 0
    report = capsys.readouterr().out
    assert "### Load: 3 wall displays" in report
    stats = {r["name"]: r for r in load.read_stats(tmp_path / "locust_final_stats.csv")}
    # Behaviour, not throughput (a busy machine serves fewer requests in 6 s): every simulated user
    # signed in, every display fetched its tiles, and nothing failed.
    assert stats["display sign-in"]["requests"] >= 3 and stats["sign-in"]["requests"] >= 2
    assert stats["display: live excursion tiles"]["requests"] >= 3
    assert stats["Aggregated"]["failures"] == 0, [r for r in stats.values() if r["failures"]]
    assert stats["display: overview tiles + grid"]["requests"] >= 3
    assert any(name.startswith("analyst:") for name in stats)
    assert (tmp_path / "load.md").read_text().startswith("### Load")
    assert args.new_data_writes >= 1  # new data landed during the run, and nothing failed
