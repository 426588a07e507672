"""The batch writer on DuckDB and PostgreSQL: exactly-once storage, exact rollups, quarantine,
excursions with proposed deviations and product impact, late data, failures and restarts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from live_support import batch_rows, ramp, reading, seed_network
from sqlalchemy import text

from ingest.writer import IngestWriter, Message
from queries.analyses import monitoring
from queries.analyses.limits import default_limits
from queries.engine.scope import build_scope
from queries.imports import ingest_store

NOW = datetime(2026, 6, 1, 12, 0, 0)
START = NOW - timedelta(minutes=30)


def messages(pairs) -> list[Message]:
    return [Message(topic=t, payload=p, received_at=NOW) for t, p in pairs]


def table(wh, sql: str) -> pd.DataFrame:
    with wh.engine.connect() as conn:
        result = conn.execute(text(sql))
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


@pytest.fixture
def network(warehouse):
    seed_network(warehouse, batches=batch_rows([
        ("CHI-B0001", "CHI", "CHI-B1", NOW - timedelta(days=2), None),  # in process: impacted
        ("CHI-B0002", "CHI", "CHI-B1", NOW - timedelta(days=12), NOW - timedelta(days=1)),  # done before
        ("CHI-B0003", "CHI", "CHI-B1", START + timedelta(minutes=2), None),  # started during it
        ("CHI-B0004", "CHI", "CHI-C1", NOW - timedelta(days=2), None),  # another room
        ("ATL-B0001", "ATL", "ATL-B1", NOW - timedelta(days=2), None),  # another site
    ]))
    return warehouse


def writer_for(wh, **kw) -> IngestWriter:
    return IngestWriter(wh, clock=lambda: NOW, **kw)


@pytest.mark.requirement("URS-ING-002", "URS-ING-008")
def test_batch_is_stored_exactly_once_with_exact_rollups(network):
    wh = network
    pairs = (ramp("CHI-B1-T", "degC", [20.0 + (i % 7) / 10 for i in range(90)], start=START, step_s=2, tag="t")
             + ramp("CHI-B1-RH", "pct_rh", [45.0 + (i % 5) for i in range(90)], start=START, step_s=2, tag="h"))
    writer = writer_for(wh)
    first = writer.write(messages(pairs[:120]) + messages(pairs[:10]))  # 10 duplicates inside the batch
    assert (first.inserted, first.duplicates, first.quarantined) == (120, 10, 0)
    second = writer.write(messages(pairs))  # 120 re-deliveries and 60 new
    assert (second.inserted, second.duplicates) == (60, 120)
    stored = table(wh, "SELECT sensor_id, ts, value FROM readings")
    assert len(stored) == 180 and table(wh, "SELECT COUNT(DISTINCT msg_id) AS n FROM readings").n[0] == 180
    rollups = table(wh, "SELECT * FROM reading_rollups").sort_values(["sensor_id", "grain", "bucket"])
    for grain, freq in (("minute", "min"), ("hour", "h"), ("day", "D")):
        expected = (stored.assign(bucket=pd.to_datetime(stored.ts).dt.floor(freq))
                    .groupby(["sensor_id", "bucket"])["value"].agg(["count", "mean", "min", "max"]).reset_index())
        got = rollups[rollups.grain == grain].reset_index(drop=True)
        assert list(got["n"]) == list(expected["count"])
        assert got["value_mean"].to_numpy() == pytest.approx(expected["mean"].to_numpy())
        assert list(got["value_min"]) == list(expected["min"]) and list(got["value_max"]) == list(expected["max"])
    latest = table(wh, "SELECT sensor_id, ts, value FROM sensor_latest ORDER BY sensor_id")
    assert list(latest.sensor_id) == ["CHI-B1-RH", "CHI-B1-T"]
    assert pd.Timestamp(latest.ts[1]) == pd.Timestamp(START + timedelta(seconds=178))
    beats = table(wh, "SELECT source, site_id, sensor_id FROM ingest_heartbeats")
    assert list(beats.site_id) == ["CHI"] and beats.sensor_id.isna().all()


@pytest.mark.requirement("URS-ING-003")
def test_bad_messages_go_to_quarantine_and_their_neighbours_are_stored(network):
    wh = network
    good = [reading("CHI-B1-T", START + timedelta(seconds=i), 20.0, "degC", f"good-{i}") for i in range(8)]
    bad = [
        ("site/CHI/room/CHI-B1/sensor/CHI-B1-T", b"{oops", "malformed_json"),
        ("site/CHI/room/CHI-B1/sensor/CHI-B9-X", good[0][1].replace(b"good-0", b"x1"), "unknown_sensor"),
        ("site/CHI/room/CHI-B1/sensor/CHI-B1-T", b'{"msg_id":"x2","ts":"2026-06-01T11:50:00Z","value":NaN,'
                                                  b'"unit":"degC"}', "not_finite"),
        ("site/CHI/room/CHI-B1/sensor/CHI-B1-T", b'{"msg_id":"x3","ts":"2026-06-01T11:50:00Z","value":20,'
                                                  b'"unit":"degF"}', "unit_mismatch"),
        ("site/CHI/room/CHI-B1/sensor/CHI-B1-T", b'{"msg_id":"x4","ts":"2031-01-01T00:00:00Z","value":20,'
                                                  b'"unit":"degC"}', "future_timestamp"),
        ("site/CHI/room/CHI-B1/sensor/CHI-B1-T", b"{" + b" " * 10_000 + b"}", "oversized_payload"),
    ]
    mixed = []
    for i, (t, p, _) in enumerate(bad):
        mixed += [good[i], (t, p)]
    mixed += good[len(bad):]
    result = writer_for(wh).write(messages(mixed))
    assert (result.inserted, result.quarantined) == (8, 6)
    assert set(table(wh, "SELECT msg_id FROM readings").msg_id) == {f"good-{i}" for i in range(8)}
    rows = table(wh, "SELECT topic, payload, reason FROM quarantine ORDER BY quarantine_id")
    assert [r.split(":")[0] for r in rows.reason] == [code for _, _, code in bad]
    assert bytes(rows.payload[0]) == b"{oops" and len(rows.payload[5]) == 4096  # raw bytes (BYTEA)


@pytest.mark.requirement("URS-MON-003", "URS-MON-009", "URS-MON-010")
def test_action_excursion_proposes_a_deviation_and_names_the_batches(network):
    wh = network
    values = [21.0] * 5 + [22.4] * 12 + [21.0] * 3  # above 22 degC from 10:... for 120 s (delay 60 s)
    result = writer_for(wh).write(messages(ramp("CHI-B1-T", "degC", values, start=START, step_s=10, tag="e")))
    assert [(c.kind, c.record.level) for c in result.changes] == [("new", "action")]
    exc = table(wh, "SELECT * FROM excursions")
    assert len(exc) == 1
    row = exc.iloc[0]
    started = START + timedelta(seconds=50)
    assert (row.level, pd.Timestamp(row.started_at), pd.Timestamp(row.ended_at), row.peak) == (
        "action", pd.Timestamp(started), pd.Timestamp(START + timedelta(seconds=170)), 22.4)
    assert pd.Timestamp(row.detected_at) == pd.Timestamp(NOW)
    assert table(wh, "SELECT COUNT(*) AS n FROM deviations").n[0] == 0  # a proposal is not a deviation
    dev = table(wh, "SELECT * FROM deviation_proposals").iloc[0]
    assert dev.deviation_id == row.deviation_id and dev.excursion_id == row.excursion_id
    assert pd.Timestamp(dev.occurred_at) == pd.Timestamp(started)  # MTTD counts from the real start
    assert (dev.category, dev.batch_id, dev.decision) == ("environment", "CHI-B0001", None)
    assert "CHI-B0001, CHI-B0003" in dev.description
    scope = build_scope(user_id="u", role="leadership", own_site=None, all_sites=["CHI", "ATL"], end=NOW, days=30)
    hits = monitoring.impact(wh, scope, [row.excursion_id], NOW)
    assert list(hits.batch_id) == ["CHI-B0001", "CHI-B0003"]
    other = build_scope(user_id="u", role="site_manager", own_site="ATL", all_sites=["CHI", "ATL"], end=NOW, days=30)
    assert monitoring.impact(wh, other, [row.excursion_id], NOW).empty  # another site's: nothing


@pytest.mark.requirement("URS-MON-001")
def test_a_room_s_own_limits_replace_its_grade_s(network):
    """A limits row for one room (CHI-B1: grade B temperature, action above 21.0 degC) applies to that room's
    sensor; another grade B room (ATL-B1) keeps the grade's 22.0 degC."""
    wh = network
    grade_b = default_limits().query("parameter == 'temperature' and grade == 'B'")
    with wh.transaction() as conn:
        wh.bulk_insert(conn, "limits", grade_b.assign(room_id="CHI-B1", alert_high=20.5, action_high=21.0))
    values = [20.0] * 3 + [21.4] * 12 + [20.0] * 3  # 120 s above 21.0 (delay 60 s), below the grade's 21.5
    writer_for(wh).write(messages(ramp("CHI-B1-T", "degC", values, start=START, step_s=10, tag="room")
                                  + ramp("ATL-B1-T", "degC", values, start=START, step_s=10, tag="grade")))
    exc = table(wh, "SELECT sensor_id, level FROM excursions ORDER BY sensor_id, level")
    assert list(zip(exc.sensor_id, exc.level, strict=True)) == [("CHI-B1-T", "action")]  # alert: 120 s < its 300 s


@pytest.mark.requirement("URS-MON-005")
def test_late_reading_moves_the_start_and_the_deviation(network):
    wh = network
    writer = writer_for(wh)
    writer.write(messages(ramp("CHI-B1-T", "degC", [21.0] + [22.5] * 8, start=START, step_s=10, tag="a")))
    (exc_id,) = table(wh, "SELECT excursion_id FROM excursions").excursion_id
    late = [reading("CHI-B1-T", START + timedelta(seconds=5), 22.3, "degC", "late-1")]
    result = writer.write(messages(late))
    assert [c.kind for c in result.changes] == ["update"]
    exc = table(wh, "SELECT excursion_id, started_at, ended_at FROM excursions").iloc[0]
    assert exc.excursion_id == exc_id and pd.Timestamp(exc.started_at) == pd.Timestamp(START + timedelta(seconds=5))
    dev = table(wh, "SELECT occurred_at FROM deviation_proposals").iloc[0]
    assert pd.Timestamp(dev.occurred_at) == pd.Timestamp(START + timedelta(seconds=5))


@pytest.mark.requirement("URS-ING-007")
def test_failed_transaction_leaves_nothing_and_the_retry_is_exact(network, monkeypatch):
    wh = network
    writer = writer_for(wh)
    batch = messages(ramp("CHI-A1-P05", "count_m3", [100, 5000, 5200, 90], start=START, step_s=10, tag="p"))
    real = ingest_store.add_new_to_rollups_and_latest
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk hiccup")
        return real(*args, **kwargs)
    monkeypatch.setattr(ingest_store, "add_new_to_rollups_and_latest", flaky)
    with pytest.raises(RuntimeError):
        writer.write(batch)
    for name in ("readings", "reading_rollups", "excursions", "deviation_proposals", "sensor_latest"):
        assert table(wh, f"SELECT COUNT(*) AS n FROM {name}").n[0] == 0, name  # noqa: S608 - fixed names
    result = writer.write(batch)
    assert result.inserted == 4 and sorted(c.record.level for c in result.changes) == ["action", "alert"]
    assert table(wh, "SELECT SUM(n) AS n FROM reading_rollups WHERE grain = 'minute'").n[0] == 4


@pytest.mark.requirement("URS-MON-005")
def test_a_new_process_continues_an_open_excursion(network):
    wh = network
    writer_for(wh).write(messages(ramp("CHI-A1-P05", "count_m3", [100, 5000, 5200], start=START, step_s=10,
                                       tag="p")))
    assert table(wh, "SELECT COUNT(*) AS n FROM excursions WHERE ended_at IS NULL").n[0] == 2
    restarted = writer_for(wh)  # fresh engine, state rebuilt from the warehouse
    result = restarted.write(messages(ramp("CHI-A1-P05", "count_m3", [6000, 80], start=START + timedelta(seconds=30),
                                           step_s=10, tag="q")))
    assert {c.kind for c in result.changes} == {"update"}
    exc = table(wh, "SELECT level, started_at, ended_at, peak FROM excursions ORDER BY level")
    assert list(exc.level) == ["action", "alert"]
    assert (exc.peak == 6000).all() and (pd.to_datetime(exc.ended_at) == pd.Timestamp(START + timedelta(seconds=40))).all()
    assert table(wh, "SELECT COUNT(*) AS n FROM deviation_proposals").n[0] == 1
