"""The sample-network generator: reproducible, plausible, and the five stories are in the data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_SEED, TEST_END
from sqlalchemy import text

from ingest.excursions import detect_series
from queries.analyses.limits import SensorLimits, default_limits, excursion_id
from queries.engine.warehouse import Warehouse
from sample_data.generator import populate
from sample_data.reference import CATEGORY, CODES

END = TEST_END
SEED = SAMPLE_SEED
DAY = timedelta(days=1)
# Tables whose content depends on the seed (the rest is the network's fixed shape).
RANDOM_TABLES = ("readings", "reading_rollups", "batches", "deviations", "capas", "excursions", "near_misses",
                 "survey_responses", "training_records", "inspections", "documents", "ingest_heartbeats")
HASHED_TABLES = ("schema_info", "sites", "rooms", "sensors", "limits", "specifications", "programmes",
                 "sop_executions", *RANDOM_TABLES)


def make_sample_warehouse(path: Path, *, seed: int = SEED, scale: str = "small", end: datetime = END
                          ) -> tuple[Warehouse, dict[str, datetime]]:
    """A DuckDB file with the schema and the generated network (the caller disposes the warehouse)."""
    wh = Warehouse(f"duckdb:///{path}")
    wh.create_schema()
    dates = populate(wh, seed=seed, scale=scale, end=end, progress=False)
    return wh, dates


@pytest.fixture(scope="session")
def wh(sample_network) -> Iterator[Warehouse]:
    """The session's sample network (tests/conftest.py: SAMPLE_SEED, TEST_END) as generated: read only here."""
    wh = Warehouse(f"duckdb:///{sample_network[0]}", read_only=True)  # other workers read it too
    yield wh
    wh.dispose()


@pytest.fixture(scope="session")
def dates(sample_network) -> dict[str, datetime]:
    return sample_network[1]


def sql(wh: Warehouse, statement: str, **params) -> pd.DataFrame:
    with wh.engine.connect() as conn:
        result = conn.execute(text(statement), params)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def one(wh: Warehouse, statement: str, **params):
    return sql(wh, statement, **params).iat[0, 0]


def fingerprints(wh: Warehouse) -> dict[str, tuple]:
    """Order-independent content hash per table: row count, XOR and sum of per-row hashes."""
    out = {}
    for table in HASHED_TABLES:
        # hash(t) hashes the row's fields as they are (35x faster than hashing its text)
        row = sql(wh, f"SELECT COUNT(*), bit_xor(hash(t)), SUM(hash(t) >> 16) FROM {table} t").iloc[0]  # noqa: S608
        out[table] = tuple(int(v) for v in row)
    return out


# --- reproducibility ---------------------------------------------------------------------------------
def test_same_seed_gives_identical_tables_and_another_seed_does_not(wh, dates, tmp_path):
    again, again_dates = make_sample_warehouse(tmp_path / "again.duckdb")
    other, _ = make_sample_warehouse(tmp_path / "other.duckdb", seed=SEED + 1)
    try:
        first, second, third = fingerprints(wh), fingerprints(again), fingerprints(other)
    finally:
        again.dispose()
        other.dispose()
    assert first == second
    assert again_dates == dates
    assert all(first[t][0] > 0 for t in HASHED_TABLES), {t: v[0] for t, v in first.items()}
    differing = {t for t in HASHED_TABLES if first[t] != third[t]}
    assert set(RANDOM_TABLES) <= differing
    assert {"sites", "rooms", "sensors", "limits", "specifications"}.isdisjoint(differing)


PORTABLE_CHECKS = {  # the same numbers from DuckDB and PostgreSQL (no engine-specific hash functions)
    "readings": "SELECT COUNT(*), ROUND(CAST(SUM(value) AS NUMERIC), 2) FROM readings",
    "reading_rollups": "SELECT grain, COUNT(*), SUM(n), ROUND(CAST(SUM(value_mean) AS NUMERIC), 3) "
                       "FROM reading_rollups GROUP BY grain ORDER BY grain",
    "excursions": "SELECT excursion_id, level, started_at, detected_at, ended_at, peak, deviation_id "
                  "FROM excursions ORDER BY excursion_id",
    "deviations": "SELECT deviation_id, root_cause_code, occurred_at, detected_at, closed_at, operator_ref "
                  "FROM deviations ORDER BY deviation_id",
    "batches": "SELECT batch_id, status, viability_pct, vcn, released_at FROM batches ORDER BY batch_id",
    "survey_responses": "SELECT response_id, q1, q7 FROM survey_responses ORDER BY response_id",
    "documents": "SELECT doc_id, site_id, site_version, site_effective_at FROM documents ORDER BY doc_id, site_id",
    "sop_executions": "SELECT site_id, sop_id, month, executions FROM sop_executions ORDER BY site_id, sop_id, month",
    "heartbeats": "SELECT site_id, COUNT(*), MAX(ts) FROM ingest_heartbeats GROUP BY site_id ORDER BY site_id",
}


@pytest.mark.postgres
@pytest.mark.postgres
def test_postgres_gets_the_same_network(sample_warehouse, sample_postgres_template):
    """The session's sample network (tests/conftest.py), generated on each engine by the same call, is the
    same network: rows, sums, timestamps, and the story dates in schema_info."""
    pg = Warehouse(sample_postgres_template)
    try:
        checks = {**PORTABLE_CHECKS, "schema_info": "SELECT key, value FROM schema_info "
                                                    "WHERE starts_with(key, 'generator_') ORDER BY key"}
        for name, statement in checks.items():
            duck, post = sql(sample_warehouse, statement), sql(pg, statement)
            assert len(duck) == len(post) > 0, name
            assert duck.astype(str).values.tolist() == post.astype(str).values.tolist(), name
        stories = sql(pg, "SELECT COUNT(*) AS n FROM schema_info WHERE starts_with(key, 'generator_story_')").n[0]
        assert stories >= 3
        # The load set the readings and rollup indexes aside (sample_data/bulk_readings.py): all are back.
        indexes = sql(pg, "SELECT tablename, indexname, indexdef FROM pg_indexes "
                          "WHERE tablename IN ('readings', 'reading_rollups') ORDER BY indexname")
        assert set(indexes.indexname) == {"readings_msg_id_key", "readings_ts", "readings_sensor_ts",
                                          "reading_rollups_pkey", "reading_rollups_grain_bucket"}
        keys = sql(pg, "SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u') "
                       "AND conrelid::regclass::text IN ('readings', 'reading_rollups') ORDER BY 1")
        assert keys.conname.tolist() == ["reading_rollups_pkey", "readings_msg_id_key"]
    finally:
        pg.dispose()


def test_populate_refuses_unknown_scale(tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'x.duckdb'}")
    wh.create_schema()
    try:
        with pytest.raises(ValueError, match="unknown scale"):
            populate(wh, scale="huge", end=END, progress=False)
        assert one(wh, "SELECT COUNT(*) FROM sites") == 0
    finally:
        wh.dispose()


# --- shape and row counts ----------------------------------------------------------------------------
def test_network_shape(wh):
    sites = sql(wh, "SELECT * FROM sites ORDER BY site_id")
    assert list(sites["site_id"]) == ["ATL", "BOS", "CHI", "DEN", "HUB", "NYC", "PHX", "SEA", "SFO"]
    assert list(sites.loc[sites["kind"] == "hub", "site_id"]) == ["HUB"]
    assert set(sites["timezone"]) == {"America/New_York", "America/Chicago", "America/Denver",
                                      "America/Phoenix", "America/Los_Angeles"}
    rooms = sql(wh, "SELECT grade, COUNT(*) AS n FROM rooms GROUP BY grade ORDER BY grade")
    assert dict(zip(rooms["grade"], rooms["n"], strict=True)) == {"A": 9, "B": 9, "C": 9, "D": 9}
    sensors = sql(wh, "SELECT s.*, r.grade FROM sensors s JOIN rooms r USING (room_id)")
    assert len(sensors) == 9 * (5 + 5 + 3 + 3)
    assert set(sensors["interval_s"]) == {3600}
    particles = sensors[sensors["parameter"].str.startswith("particles")]
    assert set(particles["grade"]) == {"A", "B"}
    assert set(sensors.loc[sensors["sensor_id"] == "CHI-B1-T", "unit"]) == {"degC"}
    info = sql(wh, "SELECT key, value FROM schema_info").set_index("key")["value"]
    assert (info["generator_seed"], info["generator_scale"], info["generator_end"]) == (
        str(SEED), "small", END.isoformat())


@pytest.mark.requirement("URS-MON-002")
def test_limits_follow_annex1_and_are_written(wh):
    limits = default_limits().set_index(["parameter", "grade"])
    assert limits.loc[("particles_0_5", "A"), "action_high"] == 3520
    assert limits.loc[("particles_0_5", "B"), "action_high"] == 352_000
    assert limits.loc[("particles_0_5", "C"), "action_high"] == 3_520_000
    assert np.isnan(limits.loc[("particles_0_5", "D"), "action_high"])
    assert [limits.loc[("particles_5_0", g), "action_high"] for g in "ABC"] == [29, 2930, 29_300]
    assert limits.loc[("particles_0_5", "B"), "alert_high"] == 176_000  # 50 % of action
    assert tuple(limits.loc[("diff_pressure", "C"), ["alert_low", "action_low"]]) == (12, 10)
    assert tuple(limits.loc[("temperature", "A"), ["action_low", "alert_low", "alert_high", "action_high"]]) == (
        18, 18.5, 21.5, 22)
    assert tuple(limits.loc[("humidity", "D"), ["action_low", "alert_low", "alert_high", "action_high"]]) == (
        30, 35, 55, 60)
    assert (limits["basis"].str.len() > 10).all()
    stored = sql(wh, "SELECT * FROM limits")
    assert len(stored) == len(limits) == 20 and set(stored["room_id"]) == {"*"}


def test_readings_rollups_and_heartbeats_add_up(wh):
    counts = sql(wh, """
        SELECT s.sensor_id, s.installed_at, COUNT(r.ts) AS n, MIN(r.ts) AS first, MAX(r.ts) AS last
        FROM sensors s LEFT JOIN readings r USING (sensor_id) GROUP BY s.sensor_id, s.installed_at""")
    start = END - 730 * DAY
    expected_hours = (END - counts["installed_at"].clip(lower=pd.Timestamp(start))) / pd.Timedelta(hours=1)
    completeness = counts["n"] / expected_hours.round()
    assert completeness.between(0.985, 1.0).all(), completeness.describe()
    assert counts["last"].max() < END and counts["first"].min() >= start
    total = counts["n"].sum()
    assert 2_300_000 < total < 2_500_000
    assert one(wh, "SELECT COUNT(*) FROM readings WHERE msg_id IS NOT NULL") == 0
    rollups = sql(wh, "SELECT grain, SUM(n) AS n, COUNT(*) AS buckets FROM reading_rollups GROUP BY grain")
    by_grain = rollups.set_index("grain")
    assert by_grain.loc["hour", "n"] == by_grain.loc["day", "n"] == total
    assert by_grain.loc["hour", "buckets"] == total  # one reading per hour at this scale
    day = sql(wh, """
        SELECT u.value_mean, u.value_min, u.value_max, AVG(r.value) AS mean, MIN(r.value) AS lo, MAX(r.value) AS hi
        FROM reading_rollups u JOIN readings r
          ON r.sensor_id = u.sensor_id AND r.ts >= u.bucket AND r.ts < u.bucket + INTERVAL '1 day'
        WHERE u.grain = 'day' AND u.sensor_id = 'CHI-B1-T'
        GROUP BY u.bucket, u.value_mean, u.value_min, u.value_max""")
    assert len(day) > 700
    assert np.allclose(day["value_mean"], day["mean"], atol=1e-6)
    assert (day["value_min"] == day["lo"]).all() and (day["value_max"] == day["hi"]).all()
    beats = sql(wh, "SELECT site_id, MIN(source) AS source, COUNT(*) AS n FROM ingest_heartbeats GROUP BY site_id")
    beats = beats.set_index("site_id")
    assert beats.loc["CHI", "source"] == "gw-chi"
    assert beats.loc["CHI", "n"] > 0.995 * 730 * 24 and beats.loc["CHI", "n"] <= 730 * 24


def test_background_stays_inside_alert_limits_outside_excursions(wh):
    # Every alert crossing in the readings belongs to a recorded excursion (none is unexplained).
    stray = one(wh, """
        SELECT COUNT(*) FROM readings r
        JOIN sensors s USING (sensor_id) JOIN rooms m ON m.room_id = s.room_id
        JOIN limits l ON l.parameter = s.parameter AND l.grade = m.grade AND l.room_id = '*'
        WHERE (r.value > l.alert_high OR r.value < l.alert_low)
          AND NOT EXISTS (SELECT 1 FROM excursions e WHERE e.sensor_id = r.sensor_id AND e.level = 'alert'
                          AND r.ts >= e.started_at AND r.ts < COALESCE(e.ended_at, TIMESTAMP '2100-01-01'))""")
    assert stray == 0
    assert 30 <= one(wh, "SELECT COUNT(*) FROM excursions") <= 120


def test_excursions_match_a_replay_through_the_live_engine(wh):
    """Every CHI sensor and every sensor with an action excursion, replayed through ingest/excursions.py."""
    sensors = sql(wh, """
        SELECT s.sensor_id, s.room_id, s.site_id, s.parameter, l.alert_low, l.alert_high, l.action_low,
               l.action_high, l.alert_delay_s, l.action_delay_s, l.hysteresis
        FROM sensors s
        JOIN rooms m ON m.room_id = s.room_id
        JOIN limits l ON l.parameter = s.parameter AND l.grade = m.grade AND l.room_id = '*'
        WHERE s.site_id = 'CHI' OR s.sensor_id IN (SELECT sensor_id FROM excursions WHERE level = 'action')""")
    assert len(sensors) >= 18
    replayed, recorded = [], []
    for row in sensors.itertuples(index=False):
        def opt(value):
            return None if pd.isna(value) else float(value)
        limits = SensorLimits(row.sensor_id, row.room_id, row.site_id, row.parameter,
                              alert_low=opt(row.alert_low), alert_high=opt(row.alert_high),
                              action_low=opt(row.action_low), action_high=opt(row.action_high),
                              alert_delay_s=row.alert_delay_s, action_delay_s=row.action_delay_s,
                              hysteresis=row.hysteresis)
        points = sql(wh, "SELECT ts, value FROM readings WHERE sensor_id = :s ORDER BY ts", s=row.sensor_id)
        for ep in detect_series(zip(points["ts"].dt.to_pydatetime(), points["value"], strict=True), limits):
            replayed.append((row.sensor_id, ep.threshold.level, ep.started_at, ep.confirmed_at, ep.ended_at,
                             ep.peak, excursion_id(limits, ep.threshold.level, ep.started_at)))
        rec = sql(wh, "SELECT * FROM excursions WHERE sensor_id = :s", s=row.sensor_id)
        for r in rec.itertuples(index=False):
            ended = None if pd.isna(r.ended_at) else pd.Timestamp(r.ended_at).to_pydatetime()
            recorded.append((r.sensor_id, r.level, pd.Timestamp(r.started_at).to_pydatetime(),
                             pd.Timestamp(r.detected_at).to_pydatetime(), ended, r.peak, r.excursion_id))
    assert len(recorded) >= 15
    assert sorted(replayed, key=str) == sorted(recorded, key=str)


def test_batches_are_plausible(wh):
    b = sql(wh, "SELECT * FROM batches")
    weeks = 730 / 7
    per_site_week = b.groupby("site_id").size() / weeks
    assert per_site_week.drop("SEA").between(1.0, 3.0).all(), per_site_week
    assert set(b["product"]) == {"CD19 CAR-T", "BCMA CAR-T"}
    assert b["process_version"].str.match(r"^(CD19|BCMA)-PV\d\.\d$").all()
    done = b[b["status"] != "in_process"]
    to_start = (done["started_at"] - done["apheresis_at"]) / DAY
    to_complete = (done["completed_at"] - done["started_at"]) / DAY
    assert to_start.between(1, 3).all() and to_complete.between(8, 12).all()
    rel = b[b["status"] == "released"]
    assert ((rel["released_at"] - rel["completed_at"]) / DAY).between(2, 6).all()
    infused = rel.dropna(subset=["infused_at"])
    assert ((infused["infused_at"] - infused["released_at"]) / DAY).between(1, 4).all()
    assert b.loc[b["status"] == "in_process", "viability_pct"].isna().all()
    assert b.loc[b["status"] == "rejected", "released_at"].isna().all()
    assert abs(done["viability_pct"].median() - 88) < 1.5
    assert abs(done["transduction_pct"].median() - 40) < 2.5
    assert abs(done["vcn"].median() - 1.8) < 0.2
    rejected_share = (b["status"] == "rejected").sum() / len(done)
    assert 0.02 < rejected_share < 0.08
    spec = sql(wh, "SELECT * FROM specifications")
    assert len(spec) == 12
    oos = sql(wh, "SELECT DISTINCT batch_id FROM batch_cqa_results WHERE oos")["batch_id"]
    assert set(oos) == set(b.loc[b["status"] == "rejected", "batch_id"])
    recent = b[b["started_at"] >= END - 10 * DAY]
    assert len(recent) > 0 and (recent["status"] == "in_process").all()


def test_deviations_capas_and_near_misses_are_plausible(wh):
    d = sql(wh, "SELECT * FROM deviations")
    n_batches = one(wh, "SELECT COUNT(*) FROM batches")
    assert 0.2 <= d["batch_id"].notna().sum() / n_batches <= 0.45
    assert set(d["root_cause_code"]) <= set(CODES)
    assert (d["category"] == d["root_cause_code"].map(CATEGORY)).all()
    assert d["sop_id"].str.match(r"^SOP-0\d\d$").all()
    assert set(d["source"]) == {"operator", "review", "excursion"}
    lag_h = (d["detected_at"] - d["occurred_at"]) / pd.Timedelta(hours=1)
    assert (lag_h >= 0).all() and 3 < lag_h.median() < 12 and lag_h.quantile(0.95) > 48
    closed = d.dropna(subset=["closed_at"])
    assert 15 < ((closed["closed_at"] - closed["detected_at"]) / DAY).median() < 28
    assert d.loc[d["detected_at"] >= END - 5 * DAY, "closed_at"].isna().all()
    assert d["detected_at"].max() < END
    c = sql(wh, "SELECT c.*, d.severity FROM capas c JOIN deviations d USING (deviation_id)")
    serious = set(d.loc[(d["severity"] != "minor") & (d["detected_at"] < END - 14 * DAY), "deviation_id"])
    assert serious <= set(c["deviation_id"])
    due_days = (c["due_at"] - c["opened_at"]) / DAY
    assert due_days.between(29, 61).all()
    late = c.dropna(subset=["closed_at"])
    late_share = (late["closed_at"] > late["due_at"]).mean()
    assert 0.05 < late_share < 0.4
    assert c["closed_at"].isna().any() and c["effective"].isna().any() and c["effective"].eq(False).any()
    assert c.loc[c["effectiveness_checked_at"].isna(), "effective"].isna().all()
    assert one(wh, "SELECT COUNT(*) FROM near_misses") > 200


def test_people_and_document_tables(wh):
    t = sql(wh, "SELECT * FROM training_records")
    assert t["operator_ref"].str.match(r"^OP-[0-9A-F]{4}$").all()
    assert (t["passed"] == (t["score"] >= 80)).all()
    assert (t["certified_at"].notna() == t["passed"]).all()
    first = t[t["attempt_no"] == 1]
    assert 0.5 < first["passed"].mean() < 0.65  # strain episodes pull it down (sample_data/README.md)
    assert t["attempt_no"].max() == 3
    ins = sql(wh, "SELECT * FROM inspections")
    per_site = ins.groupby("site_id").size()
    assert len(per_site) == 9 and per_site.between(1, 3).all()
    assert set(ins["classification"]) <= {"NAI", "VAI", "OAI"}
    assert (ins.loc[ins["classification"] == "NAI", ["findings_critical", "findings_major",
                                                     "findings_minor"]] == 0).all().all()
    docs = sql(wh, "SELECT * FROM documents")
    assert docs["doc_id"].nunique() == 30 and len(docs) == 30 * 9
    assert (docs["site_version"] <= docs["master_version"]).all()
    assert ((docs["master_version"] - docs["site_version"]) <= 1).all()
    ex = sql(wh, "SELECT * FROM sop_executions")
    assert (ex["executions"] >= 0).all() and ex["sop_id"].nunique() == 30
    hub_batches = one(wh, "SELECT COUNT(*) FROM batches WHERE site_id = 'HUB'")
    assert ex.loc[(ex["site_id"] == "HUB") & (ex["sop_id"] == "SOP-014"), "executions"].sum() == hub_batches


# --- the five stories ------------------------------------------------------------------------------
def test_story_dates_returned(dates):
    assert dates["onboarding"] == END - 300 * DAY
    assert dates["coaching_start"] == END - 365 * DAY
    assert dates["silence_end"] - dates["silence_start"] == timedelta(hours=7)
    assert abs(dates["silence_start"] - (END - 20 * DAY)) < DAY
    assert abs(dates["drift_excursion_start"] - (END - 60 * DAY)) < DAY
    assert abs(dates["systemic_cluster_first"] - (END - 45 * DAY)) < 3 * DAY


def test_story_a_chi_temperature_drift_ends_in_action_excursion(wh, dates):
    exc = sql(wh, "SELECT * FROM excursions WHERE sensor_id = 'CHI-B1-T' ORDER BY started_at")
    action = exc[exc["level"] == "action"]
    story = action[action["started_at"] == dates["drift_excursion_start"]]
    assert len(story) == 1
    story = story.iloc[0]
    assert story["peak"] > 22.5
    assert (story["ended_at"] - story["started_at"]) >= pd.Timedelta(hours=3)
    assert story["ended_at"] == dates["drift_excursion_end"]
    drift_window = action[(action["started_at"] >= dates["drift_start"])
                          & (action["started_at"] < story["started_at"])]
    assert drift_window.empty  # the first action crossing is the event itself
    alerts_before = exc[(exc["level"] == "alert") & (exc["started_at"] < story["started_at"])
                        & (exc["started_at"] >= story["started_at"] - 14 * DAY)]
    assert len(alerts_before) >= 3
    daily = sql(wh, """
        SELECT bucket, value_mean FROM reading_rollups
        WHERE sensor_id = 'CHI-B1-T' AND grain = 'day' AND bucket >= :t0 AND bucket < :t1 ORDER BY bucket""",
                t0=pd.Timestamp(story["started_at"]).normalize() - 42 * DAY,
                t1=pd.Timestamp(story["started_at"]).normalize())
    assert len(daily) == 42
    rise = daily["value_mean"].tail(3).mean() - daily["value_mean"].head(3).mean()
    assert rise > 1.5
    slope = np.polyfit(np.arange(42), daily["value_mean"], 1)[0]
    assert 0.035 < slope < 0.065  # ~0.05 degC/day
    peak = one(wh, "SELECT MAX(value) FROM readings WHERE sensor_id = 'CHI-B1-T' AND ts >= :t0 AND ts < :t1",
               t0=story["started_at"], t1=story["ended_at"])
    assert peak == story["peak"]
    dev = sql(wh, "SELECT * FROM deviations WHERE excursion_id = :e", e=story["excursion_id"])
    assert len(dev) == 1
    dev = dev.iloc[0]
    assert (dev["source"], dev["category"], dev["site_id"]) == ("excursion", "environment", "CHI")
    assert dev["occurred_at"] == story["started_at"] and dev["detected_at"] == story["detected_at"]
    assert story["deviation_id"] == dev["deviation_id"]
    after = one(wh, "SELECT AVG(value) FROM readings WHERE sensor_id = 'CHI-B1-T' AND ts >= :t0 AND ts < :t1",
                t0=story["ended_at"] + 2 * DAY, t1=story["ended_at"] + 9 * DAY)
    assert after < 20.5  # fixed after the event


def test_every_action_excursion_has_its_deviation(wh):
    rows = sql(wh, """
        SELECT e.excursion_id, e.deviation_id, d.deviation_id AS dev, d.source, d.occurred_at, e.started_at
        FROM excursions e LEFT JOIN deviations d ON d.excursion_id = e.excursion_id WHERE e.level = 'action'""")
    assert len(rows) >= 3
    assert (rows["deviation_id"] == rows["dev"]).all() and (rows["source"] == "excursion").all()
    assert (rows["occurred_at"] == rows["started_at"]).all()
    assert one(wh, "SELECT COUNT(*) FROM excursions WHERE level = 'alert' AND deviation_id IS NOT NULL") == 0


def test_story_b_same_root_cause_at_two_sites_within_a_week(wh, dates):
    doc = sql(wh, "SELECT * FROM deviations WHERE root_cause_code = 'DOC-ENTRY' AND occurred_at >= :t0",
              t0=END - 105 * DAY)
    assert sorted(doc["site_id"]) == ["ATL", "DEN"]  # and nowhere else in the last 15 weeks
    assert set(doc["sop_id"]) == {"SOP-014"}
    assert abs(doc["occurred_at"].max() - doc["occurred_at"].min()) <= pd.Timedelta(days=7)
    assert doc["occurred_at"].min() == dates["systemic_cluster_first"]
    all_doc = one(wh, "SELECT COUNT(*) FROM deviations WHERE root_cause_code = 'DOC-ENTRY'")
    assert all_doc / one(wh, "SELECT COUNT(*) FROM deviations") < 0.04
    drift = sql(wh, "SELECT site_id FROM documents WHERE doc_id = 'SOP-014' AND site_version < master_version")
    assert sorted(drift["site_id"]) == ["ATL", "DEN"]


def _recurrence(d: pd.DataFrame, t0, t1) -> float:
    d = d.sort_values("detected_at")
    flags = []
    for row in d[(d["detected_at"] >= t0) & (d["detected_at"] < t1)].itertuples():
        prior = d[(d["root_cause_code"] == row.root_cause_code) & (d["detected_at"] < row.detected_at)
                  & (d["detected_at"] >= row.detected_at - 90 * DAY)]
        flags.append(len(prior) > 0)
    return float(np.mean(flags))


def test_story_c_phx_coaching_raises_safety_and_cuts_recurrence(wh, dates):
    coaching = pd.Timestamp(dates["coaching_start"])
    prog = sql(wh, "SELECT * FROM programmes WHERE site_id = 'PHX'")
    assert list(prog["kind"]) == ["coaching_review"] and prog["started_at"].iloc[0] == coaching
    s = sql(wh, "SELECT site_id, team, wave, submitted_at, "
                "((8 - q1) + q2 + (8 - q3) + q4 + (8 - q5) + q6 + q7) / 7.0 AS score FROM survey_responses")
    phx = s[s["site_id"] == "PHX"]
    before = phx.loc[phx["submitted_at"] < coaching, "score"].mean()
    after = phx.loc[phx["submitted_at"] >= coaching + 180 * DAY, "score"].mean()
    others = s.loc[s["site_id"] != "PHX", "score"].mean()
    assert 3.0 < before < 4.0 and after > 5.0 and 4.6 < others < 5.4
    raw_q1 = sql(wh, "SELECT AVG(q1) AS q1, AVG(q2) AS q2 FROM survey_responses WHERE site_id <> 'PHX'").iloc[0]
    assert raw_q1["q1"] < 3.5 < raw_q1["q2"]  # negatively worded items are answered low when safety is high
    groups = s.groupby(["wave", "site_id", "team"]).size()
    assert groups.max() <= 15
    assert (groups.groupby(level="wave").min() < 5).all()  # a suppressed group in every wave
    assert s["wave"].str.match(r"^\d{4}-Q[1-4]$").all() and s["wave"].nunique() == 8
    d = sql(wh, "SELECT site_id, root_cause_code, detected_at FROM deviations")
    phx_d = d[d["site_id"] == "PHX"]
    rec_before = _recurrence(phx_d, pd.Timestamp(END - 640 * DAY), coaching)  # after 90 days of history
    rec_after = _recurrence(phx_d, coaching + 90 * DAY, pd.Timestamp(END))
    assert rec_before > 0.5 and rec_after < 0.3
    nm = sql(wh, "SELECT reported_at FROM near_misses WHERE site_id = 'PHX'")["reported_at"]
    per_month_before = (nm < coaching).sum() / 12
    per_month_after = (nm >= coaching + 120 * DAY).sum() / ((365 - 120) / 30.4)
    assert per_month_after > 3 * per_month_before


def test_story_d_sea_onboarded_off_centre_then_converges(wh, dates):
    onboarded = pd.Timestamp(dates["onboarding"])
    assert one(wh, "SELECT onboarded_at FROM sites WHERE site_id = 'SEA'") == onboarded
    for table, column in (("readings r JOIN sensors s USING (sensor_id)", "r.ts"), ("batches", "apheresis_at"),
                          ("deviations", "occurred_at"), ("ingest_heartbeats", "ts"),
                          ("survey_responses", "submitted_at"), ("training_records", "started_at"),
                          ("near_misses", "reported_at"), ("inspections", "inspected_on")):
        first = one(wh, f"SELECT MIN({column}) FROM {table} WHERE site_id = 'SEA'")  # noqa: S608 - fixed
        assert pd.Timestamp(first) >= onboarded, table
    b = sql(wh, "SELECT site_id, started_at, viability_pct, transduction_pct FROM batches "
                "WHERE status <> 'in_process'")

    def gap(cqa: str, t0, t1) -> float:
        window = b[(b["started_at"] >= t0) & (b["started_at"] < t1)]
        return window.loc[window["site_id"] == "SEA", cqa].mean() - window.loc[window["site_id"] != "SEA", cqa].mean()

    early = (onboarded, onboarded + 60 * DAY)
    late = (onboarded + 150 * DAY, pd.Timestamp(END))
    # Starts ~7 points low / ~10 high (60-day mean of a linear fade: about -5 / +7.5), then converges.
    assert gap("viability_pct", *early) < -2.5 and gap("transduction_pct", *early) > 2.0
    assert abs(gap("viability_pct", *late)) < 2.5 and abs(gap("transduction_pct", *late)) < 5


def test_story_e_nyc_silent_for_seven_hours(wh, dates):
    t0, t1 = dates["silence_start"], dates["silence_end"]
    assert one(wh, "SELECT COUNT(*) FROM readings r JOIN sensors s USING (sensor_id) "
                   "WHERE s.site_id = 'NYC' AND r.ts >= :t0 AND r.ts < :t1", t0=t0, t1=t1) == 0
    assert one(wh, "SELECT COUNT(*) FROM ingest_heartbeats WHERE site_id = 'NYC' AND ts >= :t0 AND ts < :t1",
               t0=t0, t1=t1) == 0
    day0 = pd.Timestamp(t0).normalize()
    hours = sql(wh, """
        SELECT s.sensor_id, COUNT(DISTINCT date_trunc('hour', r.ts)) AS hours
        FROM sensors s LEFT JOIN readings r ON r.sensor_id = s.sensor_id AND r.ts >= :d0 AND r.ts < :d1
        WHERE s.site_id = 'NYC' GROUP BY s.sensor_id""", d0=day0, d1=day0 + DAY)
    assert len(hours) == 16 and hours["hours"].between(16, 17).all()  # 24 - 7 (one isolated dropout allowed)
    assert one(wh, "SELECT COUNT(*) FROM ingest_heartbeats WHERE site_id = 'NYC' AND ts >= :d0 AND ts < :d1",
               d0=day0, d1=day0 + DAY) == 17
    others = sql(wh, """
        SELECT s.site_id, COUNT(*) AS n FROM readings r JOIN sensors s USING (sensor_id)
        WHERE r.ts >= :t0 AND r.ts < :t1 GROUP BY s.site_id""", t0=t0, t1=t1)
    assert len(others) == 8 and (others["n"] >= 16 * 7 - 2).all()
