"""Generated warehouses for the benchmark, made once and reused from the bench data directory.

A large network takes minutes to generate (an hour and more into PostgreSQL on two cores), so each
(engine, scale) is generated once with a fixed seed and end and kept: DuckDB as a file under
ATMP_BENCH_DIR (default bench/.data, ignored by git), PostgreSQL as the database atmp_bench_<scale> on
the server of ATMP_BENCH_PG_URL. A warehouse counts as complete only if its generator stamp
(schema_info: seed, scale, end, written in the generation's one transaction) matches; anything else
is regenerated. `python -m bench data --drop` removes them.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.client import ensure_users
from queries.engine import migrate
from queries.engine.warehouse import Warehouse

logger = logging.getLogger(__name__)

SEED = 42
END = datetime(2026, 6, 1)  # fixed, so a kept warehouse stays valid; the bench pins 'now' to it
BENCH_DIR = Path(os.environ.get("ATMP_BENCH_DIR", Path(__file__).resolve().parent / ".data"))
PG_ADMIN_URL = os.environ.get("ATMP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
LOAD_TIMEOUT_MS = 6 * 3600 * 1000


def duckdb_path(scale: str) -> Path:
    return BENCH_DIR / f"hub-{scale}-seed{SEED}-{END:%Y%m%d}.duckdb"


def pg_database(scale: str) -> str:
    return f"atmp_bench_{scale}"


def pg_url(scale: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{pg_database(scale)}"


def url_for(engine: str, scale: str) -> str:
    return f"duckdb:///{duckdb_path(scale)}" if engine == "duckdb" else pg_url(scale)


def is_complete(wh: Warehouse, scale: str) -> bool:
    try:
        info = wh.query("sql/schema_info_all")
    except Exception:
        return False
    stamp = dict(zip(info["key"], info["value"], strict=True))
    return (stamp.get("generator_seed") == str(SEED) and stamp.get("generator_scale") == scale
            and stamp.get("generator_end") == END.isoformat())


def ensure(engine: str, scale: str, *, progress: bool = True) -> tuple[Warehouse, float | None]:
    """The (engine, scale) warehouse, generated if missing; returns it and the generation seconds
    (None when it was reused)."""
    if engine == "duckdb":
        return _ensure_duckdb(scale, progress)
    if engine == "postgres":
        return _ensure_postgres(scale, progress)
    raise ValueError(f"unknown engine {engine!r}")


def _ensure_duckdb(scale: str, progress: bool) -> tuple[Warehouse, float | None]:
    path = duckdb_path(scale)
    if path.exists():
        wh = Warehouse(f"duckdb:///{path}")
        if is_complete(wh, scale):
            migrate.upgrade(wh)
            ensure_users(wh)
            return wh, None
        wh.dispose()
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.duckdb")
    partial.unlink(missing_ok=True)
    wh = Warehouse(f"duckdb:///{partial}")
    seconds = _generate(wh, scale, progress)
    with wh.engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")  # everything in the file itself before it is renamed
    wh.dispose()
    partial.rename(path)  # only a finished file gets the name
    wh = Warehouse(f"duckdb:///{path}")
    ensure_users(wh)
    return wh, seconds


def _ensure_postgres(scale: str, progress: bool) -> tuple[Warehouse, float | None]:
    name = pg_database(scale)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists:
            wh = Warehouse(pg_url(scale), statement_timeout_ms=LOAD_TIMEOUT_MS)
            if is_complete(wh, scale):
                wh.dispose()
                wh = Warehouse(pg_url(scale))
                migrate.upgrade(wh)
                ensure_users(wh)
                return wh, None
            wh.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))  # fixed name pattern
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    wh = Warehouse(pg_url(scale), statement_timeout_ms=LOAD_TIMEOUT_MS)
    seconds = _generate(wh, scale, progress)
    with wh.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")  # statistics and visibility map for index-only scans
    wh.dispose()
    wh = Warehouse(pg_url(scale))
    ensure_users(wh)
    return wh, seconds


def _generate(wh: Warehouse, scale: str, progress: bool) -> float:
    from sample_data.generator import populate

    migrate.upgrade(wh)  # PostgreSQL: through the Alembic history, as a server warehouse is made
    start = time.perf_counter()
    logger.info("generating the %s network into %s (once; kept for later runs)", scale, wh.safe_url())
    populate(wh, seed=SEED, scale=scale, end=END, progress=progress)
    return time.perf_counter() - start


def drop_all() -> None:
    for path in BENCH_DIR.glob("hub-*.duckdb*"):
        path.unlink()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            names = [r[0] for r in conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'atmp_bench_%'"))]
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))  # names from the catalogue
    finally:
        admin.dispose()


LIVE_FEED_S = 180  # the live state the tiles time: the last three minutes before END, as the bridge stores them
LIVE_FEED_EVERY_S = 10


def feed_live(wh: Warehouse) -> dict[str, int]:
    """Give the live tiles something to show: every sensor reporting over the LIVE_FEED_S before END through
    the live ingest's own writer (the simulator's demo scenario: a particle burst that has ended and a
    temperature rise still above its action limit at END, so excursions to list, one of them open).

    Message ids are fixed, so feeding a kept warehouse again stores nothing twice; times sit 5 s off the
    generated history's (a whole minute at the large scale). Returns the live state: sensors with a latest
    value, open excursions, excursions in all."""
    from datetime import timedelta

    from ingest.simulator import SensorSimulator, sensors_from_frame
    from ingest.writer import IngestWriter, Message

    simulator = SensorSimulator(sensors_from_frame(wh.query("ingest/sensor_limits")), interval_s=LIVE_FEED_EVERY_S,
                                scenario="demo", seed=SEED)
    simulator.run_id = "bench-live"  # fixed ids: a re-delivery the writer skips
    start = END - timedelta(seconds=LIVE_FEED_S - 5)
    clock = {"now": start}
    writer = IngestWriter(wh, source="bench-live-feed", clock=lambda: clock["now"])
    for elapsed in range(0, LIVE_FEED_S - 5 + 1, LIVE_FEED_EVERY_S):
        clock["now"] = start + timedelta(seconds=elapsed)
        writer.write([Message(topic, payload, clock["now"]) for topic, payload in
                      simulator.messages(clock["now"], float(elapsed))])
    state = wh.query("bench/live_state").iloc[0]
    return {name: int(state[name]) for name in ("latest", "open_excursions", "excursions")}
