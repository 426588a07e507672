"""The load test in miniature, so it cannot rot: gunicorn on a copy of the PostgreSQL sample network,
Redis, a few wall displays and analysts for seconds. No throughput is asserted (a busy machine serves
fewer requests); answers are: every simulated user signed in and fetched its pages, nothing failed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest
from conftest import clone_postgres

from bench import cases, data, load
from bench.client import ensure_users
from queries.engine.warehouse import Warehouse

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def small_postgres(sample_postgres_template) -> Iterator[str]:
    with clone_postgres(sample_postgres_template) as url:
        wh = Warehouse(url)
        ensure_users(wh)
        wh.dispose()
        yield url



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
