"""The excursion engine's edge cases: delay, hysteresis, readings exactly at a limit, out-of-order
and late readings, alert and action together; and a property: delivery order never hides one."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.excursions import ExcursionEngine, ExcursionRecord, History, SensorLimits, detect_series

T0 = datetime(2026, 6, 1, 12, 0, 0)
NOW = datetime(2026, 6, 1, 13, 0, 0)
# The default limits of queries/analyses/limits.py: temperature grade B, particles >= 0.5 um grade A, dP.
TEMP = SensorLimits("CHI-B1-T", "CHI-B1", "CHI", "temperature", alert_low=18.5, alert_high=21.5, action_low=18.0,
                    action_high=22.0, alert_delay_s=300, action_delay_s=60, hysteresis=0.2)
PART = SensorLimits("CHI-A1-P05", "CHI-A1", "CHI", "particles_0_5", alert_high=1760.0, action_high=3520.0)
DP = SensorLimits("CHI-B1-DP", "CHI-B1", "CHI", "diff_pressure", alert_low=12.0, action_low=10.0,
                  alert_delay_s=60, action_delay_s=30, hysteresis=0.5)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def series(values: list[float], step_s: float = 10, start_s: float = 0) -> list[tuple[datetime, float]]:
    return [(at(start_s + i * step_s), v) for i, v in enumerate(values)]


class Store:
    """The writer in miniature: keeps every reading and record, feeds the engine batch by batch."""

    def __init__(self, limits: SensorLimits, reorder_window_s: float = 3600):
        self.limits = limits
        self.engine = ExcursionEngine({limits.sensor_id: limits}, reorder_window_s=reorder_window_s)
        self.points: list[tuple[datetime, float]] = []
        self.records: dict[str, ExcursionRecord] = {}
        self.changes = []

    def feed(self, points, now: datetime = NOW):
        sid = self.limits.sensor_id
        self.points.extend(points)
        batch = {sid: list(points)}
        history = {}
        for sensor_id, since in self.engine.wants_history(batch).items():
            history[sensor_id] = History(
                since=since, points=[p for p in self.points if p[0] >= since],
                records=[replace(r) for r in self.records.values() if r.ended_at is None or r.ended_at >= since])
        changes = self.engine.process(batch, now, history)
        for change in changes:
            self.records[change.record.excursion_id] = replace(change.record)
        self.changes.extend(changes)
        return changes

    def levels(self, level: str) -> list[ExcursionRecord]:
        return sorted((r for r in self.records.values() if r.level == level), key=lambda r: r.started_at)


# --- delay ------------------------------------------------------------------------------------------
@pytest.mark.requirement("URS-MON-003")
def test_shorter_than_the_delay_is_a_transient():
    store = Store(TEMP)
    store.feed(series([21.0, 22.5, 22.5, 22.5, 22.5, 22.5, 21.0]))  # beyond 10..50 s, back at 60: 50 s
    assert store.levels("action") == []


@pytest.mark.requirement("URS-MON-003")
def test_excursion_opens_once_the_delay_has_passed():
    store = Store(TEMP)
    store.feed(series([21.0, 22.5, 22.5, 22.5, 22.5, 22.5, 22.5]))  # beyond 10..60 s: 50 s, not yet
    assert store.levels("action") == []
    changes = store.feed(series([22.6], start_s=70))  # 60 s after the first crossing
    assert [c.kind for c in changes] == ["new"]
    (rec,) = store.levels("action")
    assert (rec.started_at, rec.ended_at, rec.peak) == (at(10), None, 22.6)
    assert rec.detected_at == NOW  # processing time, never before the confirming reading


@pytest.mark.requirement("URS-MON-003")
def test_detected_at_is_never_before_the_confirming_reading():
    store = Store(PART)
    store.feed(series([100.0, 5000.0]), now=at(5))  # sensor clock slightly ahead of ours
    (rec,) = store.levels("action")
    assert rec.detected_at == at(10)


@pytest.mark.requirement("URS-MON-003")
def test_episode_ending_exactly_at_the_delay_counts():
    # Beyond from 10 s; the reading back inside comes at 70 s: it lasted 60 s = the delay.
    store = Store(TEMP)
    store.feed(series([21.0, 22.5, 22.5, 22.5, 22.5, 22.5, 22.5, 21.0]))
    (rec,) = store.levels("action")
    assert (rec.started_at, rec.ended_at) == (at(10), at(70))


@pytest.mark.requirement("URS-MON-003", "URS-MON-004")
def test_zero_delay_opens_at_the_first_reading():
    store = Store(PART)
    store.feed(series([200.0, 4000.0]))
    (rec,) = store.levels("action")
    assert (rec.started_at, rec.ended_at, rec.peak) == (at(10), None, 4000.0)
    (alert,) = store.levels("alert")  # 4000 is beyond the alert level too
    store.feed(series([150.0], start_s=20))
    assert store.records[rec.excursion_id].ended_at == at(20)
    assert store.records[alert.excursion_id].ended_at == at(20)


@pytest.mark.requirement("URS-MON-001")
def test_alert_and_action_are_separate_records_with_their_own_delays():
    store = Store(TEMP)
    store.feed(series([21.0] + [22.4] * 40 + [21.0]))  # 400 s above 22 (and above 21.5)
    (action,) = store.levels("action")
    (alert,) = store.levels("alert")
    assert action.started_at == alert.started_at == at(10)
    assert action.ended_at == alert.ended_at == at(410)
    store2 = Store(TEMP)
    store2.feed(series([21.0] + [21.8] * 20 + [21.0]))  # 200 s above alert only: shorter than 300 s
    assert store2.records == {}


# --- at the limit and hysteresis ------------------------------------------------------------------
@pytest.mark.requirement("URS-MON-001")
def test_a_reading_exactly_at_the_limit_is_within_it():
    store = Store(PART)
    store.feed(series([1760.0, 1000.0, 1760.0]))  # equal to the alert limit: no excursion
    assert store.records == {}
    store.feed(series([3520.0, 1000.0], start_s=30))  # equal to the action limit: alert only
    assert store.levels("action") == [] and len(store.levels("alert")) == 1
    store.feed(series([3520.01], start_s=50))
    assert len(store.levels("action")) == 1


@pytest.mark.requirement("URS-MON-004")
def test_without_hysteresis_a_reading_at_the_limit_ends_the_excursion():
    store = Store(PART)
    store.feed(series([3600.0, 3520.0]))
    (rec,) = store.levels("action")
    assert rec.ended_at == at(10)


@pytest.mark.requirement("URS-MON-004")
def test_hysteresis_keeps_the_excursion_open_until_the_value_is_clearly_back():
    store = Store(TEMP)
    store.feed(series([22.5] * 7))  # confirmed at 60 s
    store.feed(series([21.95, 21.81, 22.0], start_s=70))  # inside 22 but within 0.2: still open
    (rec,) = store.levels("action")
    assert rec.ended_at is None
    store.feed(series([21.8], start_s=100))  # exactly limit - hysteresis: back inside, ends here
    assert store.records[rec.excursion_id].ended_at == at(100)


@pytest.mark.requirement("URS-MON-001", "URS-MON-004")
def test_low_side_limits_and_hysteresis():
    store = Store(DP)
    store.feed(series([15.0, 10.0, 12.0]))  # exactly at the action and alert minima: within
    assert store.records == {}
    store.feed(series([9.5, 9.8, 10.3, 10.4, 10.49], start_s=30))  # below 10, then within 0.5 above it
    (rec,) = store.levels("action")
    assert (rec.started_at, rec.ended_at, rec.peak) == (at(30), None, 9.5)
    store.feed(series([10.5], start_s=80))
    assert store.records[rec.excursion_id].ended_at == at(80)


# --- order ------------------------------------------------------------------------------------------
@pytest.mark.requirement("URS-MON-005")
def test_shuffled_batch_gives_the_same_excursions_as_ordered_delivery():
    values = [21.0, 22.5, 22.6, 22.9, 22.4, 22.3, 22.2, 22.1, 21.9, 21.7, 21.0, 22.3, 21.0]
    ordered, shuffled = Store(TEMP), Store(TEMP)
    ordered.feed(series(values))
    points = series(values)
    random.Random(3).shuffle(points)
    shuffled.feed(points)
    key = [(r.level, r.started_at, r.ended_at, r.peak) for r in ordered.levels("action")]
    assert key and key == [(r.level, r.started_at, r.ended_at, r.peak) for r in shuffled.levels("action")]


@pytest.mark.requirement("URS-MON-005")
def test_late_reading_inside_the_window_moves_the_start_earlier():
    store = Store(TEMP)
    store.feed(series([21.0, 21.0, 21.0, 22.5, 22.5, 22.5, 22.5, 22.5, 22.5, 22.5]))  # beyond from 30 s
    (rec,) = store.levels("action")
    assert rec.started_at == at(30)
    changes = store.feed([(at(25), 22.2)])  # the gateway's delayed reading from 25 s
    assert [c.kind for c in changes] == ["update"]
    assert changes[0].previous.started_at == at(30)
    assert store.records[rec.excursion_id].started_at == at(25)
    assert store.records[rec.excursion_id].detected_at == rec.detected_at


@pytest.mark.requirement("URS-MON-005")
def test_late_reading_completes_a_pending_episode():
    store = Store(TEMP)
    store.feed(series([22.5], start_s=0) + series([21.0], start_s=100))  # 0 s beyond, back at 100 s
    assert len(store.levels("action")) == 1  # lasted 100 s by the reading that ended it
    store2 = Store(TEMP)
    store2.feed(series([22.5, 22.5, 22.5, 22.5], start_s=0))  # 0..30 s: pending
    store2.feed([(at(70), 22.5)])
    assert len(store2.levels("action")) == 1


@pytest.mark.requirement("URS-MON-005")
def test_a_confirmed_excursion_is_never_withdrawn_by_late_data():
    store = Store(TEMP)
    store.feed(series([22.5] * 13))  # 0..120 s beyond: confirmed at 60 s
    (rec,) = store.levels("action")
    store.feed([(at(35), 21.0)])  # a late reading back inside would split it into two short runs
    assert len(store.levels("action")) == 1
    kept = store.records[rec.excursion_id]
    assert (kept.started_at, kept.ended_at) == (at(0), None)


@pytest.mark.requirement("URS-MON-005")
def test_reading_older_than_the_reorder_window_is_replayed_from_history():
    store = Store(PART, reorder_window_s=600)
    store.feed(series([100.0] * 61, step_s=60))  # an hour of calm readings
    assert store.records == {}
    changes = store.feed([(at(30 * 60 + 5), 5000.0)])  # a spike from half an hour ago, delivered now
    assert [c.kind for c in changes] == ["new", "new"]  # alert and action
    (rec,) = store.levels("action")
    assert (rec.started_at, rec.ended_at, rec.detected_at) == (at(1805), at(1860), NOW)


@pytest.mark.requirement("URS-MON-005")
def test_restart_resumes_an_open_excursion_from_its_record():
    store = Store(TEMP, reorder_window_s=300)
    store.feed(series([22.5] * 100))  # 0..990 s beyond
    (rec,) = store.levels("action")
    store.engine = ExcursionEngine({TEMP.sensor_id: TEMP}, reorder_window_s=300)  # a new process
    changes = store.feed(series([22.7, 21.0], start_s=1000))
    assert len(store.levels("action")) == 1, "the open excursion continues, no duplicate"
    kept = store.records[rec.excursion_id]
    assert (kept.started_at, kept.ended_at, kept.peak) == (at(0), at(1010), 22.7)
    assert all(c.kind == "update" for c in changes)


@pytest.mark.requirement("URS-MON-005")
def test_detect_series_matches_the_incremental_engine_for_in_order_data():
    values = [21.0, 22.5, 22.5, 22.5, 22.5, 22.5, 22.5, 22.5, 21.0, 17.5, 17.0, 17.0, 17.0, 17.0, 17.0, 17.0,
              17.0, 17.0, 20.0]
    store = Store(TEMP)
    for chunk in range(0, len(values), 4):
        store.feed(series(values[chunk:chunk + 4], start_s=chunk * 10))
    batch = {(e.threshold.level, e.started_at, e.ended_at, e.peak) for e in detect_series(series(values), TEMP)}
    assert batch == {(r.level, r.started_at, r.ended_at, r.peak) for r in store.records.values()}
    assert {r.started_at for r in store.levels("action")} == {at(10), at(90)}  # high, then low side


# --- property: delivery order never hides an excursion ------------------------------------------------
@pytest.mark.requirement("URS-MON-005")
def test_a_new_episode_at_a_moved_record_s_first_start_gets_an_id_of_its_own():
    """Found by the property test below (seed 4349). An action episode first seen starting at 01:40 gets
    the id of that start; late readings move its start to 00:25 and end it at 01:25; then the episode
    that really starts at 01:40 is confirmed. It took the same id and replaced the first record: one
    excursion lost. Now it gets a distinct id and both are kept."""
    points = {s: v for s, v in [(0, 20.0), (5, 20.0), (10, 20.0), (15, 20.0), (20, 20.0), (25, 22.1), (85, 20.0),
                                (90, 21.9), (95, 20.0), (100, 22.1), (105, 21.9), (160, 21.9), (165, 21.9)]}
    store = Store(TEMP, reorder_window_s=600)
    for batch in ([0, 100, 160, 10], [25, 15, 90, 105], [5, 85, 20, 165], [95]):
        store.feed([(at(s), points[s]) for s in batch])
    action = store.levels("action")
    assert [(r.started_at, r.ended_at) for r in action] == [(at(25), at(85)), (at(100), None)]
    assert len({r.excursion_id for r in action}) == 2


@pytest.mark.requirement("URS-MON-005")
@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.sampled_from([20.0, 21.6, 21.9, 22.0, 22.1, 22.5, 18.3, 17.9]), min_size=1, max_size=40),
       gaps=st.lists(st.integers(min_value=5, max_value=90), min_size=40, max_size=40),
       seed=st.integers(0, 10_000), batches=st.integers(1, 6))
def test_any_delivery_order_finds_every_excursion(values, gaps, seed, batches):
    t, points = 0, []
    for value, gap in zip(values, gaps, strict=False):
        points.append((at(t), value))
        t += gap
    expected = detect_series(points, TEMP)
    shuffled = points[:]
    rng = random.Random(seed)
    rng.shuffle(shuffled)
    store = Store(TEMP, reorder_window_s=rng.choice([60, 600, 3600]))
    size = -(-len(shuffled) // batches)
    for i in range(0, len(shuffled), size):
        store.feed(shuffled[i:i + size])
    for ep in expected:
        matches = [r for r in store.records.values() if r.overlaps(ep)]
        assert matches, f"missed {ep}"
    key = sorted((e.threshold.level, e.started_at, e.ended_at, e.peak) for e in expected)
    if batches == 1:  # one batch, any order: exactly the batch result
        assert key == sorted((r.level, r.started_at, r.ended_at, r.peak) for r in store.records.values())
    in_order = Store(TEMP, reorder_window_s=60)  # in order, any batching: exactly the batch result
    for i in range(0, len(points), size):
        in_order.feed(points[i:i + size])
    assert key == sorted((r.level, r.started_at, r.ended_at, r.peak) for r in in_order.records.values())
