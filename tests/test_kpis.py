"""Every catalogue KPI checked by hand on a few hand-made rows, on DuckDB and on PostgreSQL."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_END

from queries.engine.scope import NotFound, build_scope
from queries.engine.warehouse import QueryError, Warehouse
from queries.kpi.catalog import CATALOG, NETWORK
from queries.kpi.kpis import kpi_frame

SITES = ["A", "B"]
DAYS = 30
START = TEST_END - timedelta(days=DAYS)  # 2026-05-02 00:00, inclusive; TEST_END exclusive
BEFORE = START - timedelta(seconds=1)  # just outside the window
LONG_AGO = datetime(2024, 1, 1)
FULL_CQAS = {"viability_pct": 85.0, "transduction_pct": 40.0, "cd3_pct": 95.0, "vcn": 2.0,
             "dose": 1.0e8, "endotoxin_eu_ml": 0.1}

# Columns every row needs (NOT NULL in queries/schema.sql) so each test lists only what matters.
DEFAULTS: dict[str, dict] = {
    "sites": {"region": "EU", "timezone": "UTC", "kind": "node", "onboarded_at": LONG_AGO},
    "sensors": {"room_id": "R1", "parameter": "temperature", "unit": "degC", "interval_s": 60,
                "installed_at": LONG_AGO},
    "reading_rollups": {"grain": "hour", "value_mean": 20.0, "value_min": 19.0, "value_max": 21.0},
    "ingest_heartbeats": {"source": "gw"},
    "excursions": {"sensor_id": "S1", "room_id": "R1", "parameter": "temperature", "level": "action",
                   "peak": 30.0},
    "batches": {"room_id": "R1", "product": "P1", "process_version": "v1", "status": "in_process",
                "started_at": START - timedelta(days=20)},
    "deviations": {"severity": "minor", "category": "method", "root_cause_code": "RC-0",
                   "source": "operator"},
    "capas": {"deviation_id": "DV-0", "opened_at": START - timedelta(days=60)},
    "near_misses": {"category": "slip"},
    "survey_responses": {"team": "QC", "wave": "2026-Q2"},
    "training_records": {"module": "M1", "started_at": START - timedelta(days=30), "attempt_no": 1,
                         "score": 80.0, "passed": True},
    "inspections": {"authority": "FDA", "classification": "NAI"},
    "specifications": {"unit": "-"},
}
ID_COLUMNS = {"excursions": "excursion_id", "batches": "batch_id", "deviations": "deviation_id",
              "capas": "capa_id", "near_misses": "near_miss_id", "survey_responses": "response_id",
              "training_records": "record_id", "inspections": "inspection_id"}
_ids = itertools.count(1)


def at(days: float = 0, hours: float = 0) -> datetime:
    """A moment inside the window: START + days + hours."""
    return START + timedelta(days=days, hours=hours)


def insert(wh: Warehouse, **tables: list[dict]) -> None:
    """Insert rows (dicts of the columns that matter; defaults and ids filled in) in one transaction."""
    with wh.transaction() as conn:
        for table, rows in tables.items():
            id_column = ID_COLUMNS.get(table)
            filled = [{**DEFAULTS.get(table, {}),
                       **({id_column: f"{table}-{next(_ids)}"} if id_column else {}), **row}
                      for row in rows]
            wh.bulk_insert(conn, table, pd.DataFrame(filled))


def scope(days: int = DAYS, role: str = "leadership", own_site: str | None = None, sites=SITES):
    return build_scope(user_id="tester", role=role, own_site=own_site, all_sites=list(sites),
                       end=TEST_END, days=days)


def kpi(wh: Warehouse, kpi_id: str, column: str = "value", sc=None, **kwargs) -> dict[str, float]:
    """{site_id: column} for one KPI; the network row is keyed NETWORK; NULL becomes NaN."""
    return kpi_columns(wh, kpi_id, [column], sc, **kwargs)[column]


def kpi_columns(wh: Warehouse, kpi_id: str, columns: list[str], sc=None, **kwargs) -> dict[str, dict[str, float]]:
    """kpi() for several columns of one computation (a model-backed KPI costs a second per call)."""
    frame = kpi_frame(wh, sc or scope(), [kpi_id], **kwargs)
    assert (frame["kpi_id"] == kpi_id).all()
    return {column: {site: math.nan if pd.isna(v) else float(v)
                     for site, v in zip(frame["site_id"], frame[column], strict=True)} for column in columns}


def approx(expected: dict[str, float]):
    return pytest.approx(expected, rel=1e-9, nan_ok=True)


@pytest.mark.requirement("URS-KPI-004")
def test_every_catalogue_kpi_is_tested_here():
    """A KPI added to the catalogue without a hand-computed test here fails this test."""
    tested = {name.removeprefix("test_").split("__")[0] for name in globals() if name.startswith("test_")}
    assert {k.id for k in CATALOG} - tested == set()


# -- deviations ---------------------------------------------------------------------------------
@pytest.mark.requirement("URS-KPI-004", "URS-KPI-003", "URS-KPI-005", "URS-KPI-008")
def test_mttd(warehouse):
    insert(warehouse, excursions=[
        {"excursion_id": "EX-1", "site_id": "B", "started_at": at(10), "detected_at": at(10, 1),
         "deviation_id": "DV-B1"},
    ], deviations=[
        {"site_id": "A", "occurred_at": START - timedelta(hours=2), "detected_at": START},  # 2 h, at start
        {"site_id": "A", "occurred_at": at(3), "detected_at": at(3, 10)},  # 10 h
        # noticed 1 h before detection, but the excursion began 30 h before: counts 30 h
        {"deviation_id": "DV-B1", "site_id": "B", "source": "excursion", "excursion_id": "EX-1",
         "occurred_at": at(10, 29), "detected_at": at(10, 30)},
        # outside the window (detected just before start, and exactly at end): 100 h each
        {"site_id": "A", "occurred_at": BEFORE - timedelta(hours=100), "detected_at": BEFORE},
        {"site_id": "B", "occurred_at": TEST_END - timedelta(hours=100), "detected_at": TEST_END},
    ])
    # A: (2 + 10) / 2 = 6 h; B: 30 / 1 = 30 h
    # network: (2 + 10 + 30) / 3 = 14 h, not the mean of site means (6 + 30) / 2 = 18 h
    assert kpi(warehouse, "mttd") == approx({"A": 6.0, "B": 30.0, NETWORK: 14.0})
    assert kpi(warehouse, "mttd", "n") == approx({"A": 2, "B": 1, NETWORK: 3})
    assert kpi(warehouse, "mttd", "numerator") == approx({"A": 12.0, "B": 30.0, NETWORK: 42.0})
    # median of [2, 10] = 6; p90 = 2 + 0.9 * (10 - 2) = 9.2; network [2, 10, 30]: median 10,
    # p90 at rank 0.9 * 2 = 1.8: 10 + 0.8 * (30 - 10) = 26
    assert kpi(warehouse, "mttd", "median_h") == approx({"A": 6.0, "B": 30.0, NETWORK: 10.0})
    assert kpi(warehouse, "mttd", "p90_h") == approx({"A": 9.2, "B": 30.0, NETWORK: 26.0})


@pytest.mark.requirement("URS-KPI-004", "URS-KPI-005")
def test_mttd_by_detection_date_does_not_read_low_in_the_latest_window(duckdb_warehouse):
    """Issue 18 (6). A deviation has no record until it is detected, so a window by *occurrence* would
    count only the quick detections of its last days and read low. MTTD counts the deviations *detected*
    in the window: in a steady process each deviation is counted once, when found, and the window's delays
    are the process's. Seeded: 200 days of deviations at site A (40 a day, delays exponential with mean
    48 h), only those detected by the window's end on record. The latest 14-day window's MTTD is within 3
    standard errors of 48 h; the same window by occurrence is more than 3 below."""
    rng = np.random.default_rng(6)
    days = 200
    occurred = TEST_END - timedelta(days=days) + pd.to_timedelta(np.sort(rng.uniform(0, days, 40 * days)), unit="D")
    occurred = occurred.floor("s")  # the warehouse keeps whole seconds here
    detected = (occurred + pd.to_timedelta(rng.exponential(48.0, occurred.size), unit="h")).floor("s")
    delay_h = ((detected - occurred).total_seconds() / 3600).to_numpy()
    on_record = detected < pd.Timestamp(TEST_END)
    insert(duckdb_warehouse, deviations=[
        {"site_id": "A", "occurred_at": o.to_pydatetime(), "detected_at": d.to_pydatetime()}
        for o, d in zip(occurred[on_record], detected[on_record], strict=True)])
    sc = scope(days=14, sites=["A"])
    values = kpi_columns(duckdb_warehouse, "mttd", ["value", "n", "found_late"], sc)
    mean, n = values["value"]["A"], values["n"]["A"]
    error = 48.0 / math.sqrt(n)  # an exponential's sd is its mean
    assert abs(mean - 48.0) < 3 * error, (mean, n)
    start = pd.Timestamp(TEST_END - timedelta(days=14))
    by_occurrence = delay_h[on_record & (occurred >= start)].mean()
    assert by_occurrence < 48.0 - 3 * error, (by_occurrence, error)  # an occurrence window reads low
    assert (round(mean, 1), round(by_occurrence, 1), round(error, 1)) == (48.1, 40.4, 2.1)  # as docs/kpis.md
    # Detected in the window, occurred before it: the late finds the tile names.
    found_late = int((on_record & (detected >= start) & (occurred < start)).sum())
    assert values["found_late"]["A"] == found_late > 0


@pytest.mark.requirement("URS-KPI-004", "URS-KPI-003", "URS-KPI-006", "URS-KPI-008")
def test_recurrence(warehouse):
    def dev(site, code, detected):
        return {"site_id": site, "root_cause_code": code, "occurred_at": detected, "detected_at": detected}

    insert(warehouse, deviations=[
        dev("A", "X", at(5)), dev("A", "X", at(5) - timedelta(days=89)),  # same site, 89 d: recurs
        dev("A", "Y", at(6)), dev("A", "Y", at(6) - timedelta(days=91)),  # same site, 91 d: does not
        dev("B", "Y", at(6) - timedelta(days=10)),  # other site, 10 d: cross-site only
        dev("A", "Z", at(7)),  # first of its code anywhere
        dev("B", "W", at(8)), dev("B", "W", at(8) - timedelta(days=30)),  # recurs
        dev("A", "X", TEST_END),  # at the end: outside the window
    ])  # every earlier deviation above lies before START, so only 4 are in the window
    # A: X recurs, Y not, Z not -> 1/3 = 33.3 %; B: W recurs -> 1/1 = 100 %
    # network: (1 + 1) / (3 + 1) = 50 %, not (33.3 + 100) / 2 = 66.7 %
    assert kpi(warehouse, "recurrence") == approx({"A": 100 / 3, "B": 100.0, NETWORK: 50.0})
    assert kpi(warehouse, "recurrence", "numerator") == approx({"A": 1, "B": 1, NETWORK: 2})
    # cross-site: only A's Y (B had Y 10 days earlier): A 1/3, B 0/1, network 1/4
    assert kpi(warehouse, "recurrence", "cross_site_pct") == approx({"A": 100 / 3, "B": 0.0, NETWORK: 25.0})
    # a 120-day lookback catches A's Y (91 d): A 2/3, network 3/4
    assert kpi(warehouse, "recurrence", recurrence_days=120) == approx(
        {"A": 200 / 3, "B": 100.0, NETWORK: 75.0})


@pytest.mark.requirement("URS-KPI-004")
def test_closure_time(warehouse):
    def dev(site, closed, days_open):
        return {"site_id": site, "occurred_at": closed - timedelta(days=days_open),
                "detected_at": closed - timedelta(days=days_open), "closed_at": closed}

    insert(warehouse, deviations=[
        dev("A", START, 10), dev("A", at(5), 2), dev("A", at(6), 4),  # closed at start counts
        dev("B", at(7), 1), dev("B", at(8), 2),
        dev("A", BEFORE, 100), dev("B", TEST_END, 100),  # closed outside the window
        {"site_id": "A", "occurred_at": at(1), "detected_at": at(1)},  # still open
    ])
    # A: median [2, 4, 10] = 4 d; B: median [1, 2] = 1.5 d; network median [1, 2, 2, 4, 10] = 2 d
    # (a median of all deviations, not the mean of site medians (4 + 1.5) / 2 = 2.75)
    assert kpi(warehouse, "closure_time") == approx({"A": 4.0, "B": 1.5, NETWORK: 2.0})
    assert kpi(warehouse, "closure_time", "n") == approx({"A": 3, "B": 2, NETWORK: 5})
    # A p90: rank 0.9 * 2 = 1.8 -> 4 + 0.8 * (10 - 4) = 8.8 d
    assert kpi(warehouse, "closure_time", "p90_days")["A"] == pytest.approx(8.8)


@pytest.mark.requirement("URS-KPI-004")
def test_human_error_share(warehouse):
    insert(warehouse, deviations=[
        {"site_id": s, "category": c, "occurred_at": t, "detected_at": t} for s, c, t in [
            ("A", "people", START), ("A", "people", at(1)), ("A", "method", at(2)), ("B", "machine", at(3)),
            ("A", "people", BEFORE), ("B", "people", TEST_END),  # outside the window
        ]])
    # A: 2/3 = 66.7 %; B: 0/1 = 0 %; network 2/4 = 50 % (mean of site rates would be 33.3 %)
    assert kpi(warehouse, "human_error_share") == approx({"A": 200 / 3, "B": 0.0, NETWORK: 50.0})


@pytest.mark.requirement("URS-KPI-004")
def test_deviation_rate(warehouse):
    insert(warehouse, batches=[
        {"batch_id": b, "site_id": b[0], "started_at": t} for b, t in [
            ("A1", START), ("A2", at(2)), ("B1", at(3)),
            ("A0", BEFORE), ("B9", TEST_END),  # started outside the window
        ]
    ], deviations=[
        {"site_id": b[0] if b else "A", "batch_id": b, "occurred_at": at(4), "detected_at": at(4)}
        for b in ["A1", "A1", "A1", "A0", "A0", "B9", None]  # None: a deviation on no batch
    ])
    # A: 3 deviations on A1 / 2 batches = 1.5; B: 0 / 1 = 0
    # network: 3 / 3 = 1.0 (mean of site rates would be 0.75); A0, B9 and the unlinked one do not count
    assert kpi(warehouse, "deviation_rate") == approx({"A": 1.5, "B": 0.0, NETWORK: 1.0})
    assert kpi(warehouse, "deviation_rate", "denominator") == approx({"A": 2, "B": 1, NETWORK: 3})


# -- CAPA ---------------------------------------------------------------------------------------
@pytest.mark.requirement("URS-KPI-004")
def test_capa_on_time(warehouse):
    insert(warehouse, capas=[
        {"site_id": "A", "due_at": START, "closed_at": START - timedelta(days=1)},  # on time, due at start
        {"site_id": "A", "due_at": at(5), "closed_at": at(5)},  # closed exactly at due: on time
        {"site_id": "A", "due_at": at(6), "closed_at": at(8)},  # late
        {"site_id": "A", "due_at": at(7)},  # still open and overdue: late
        {"site_id": "B", "due_at": at(10), "closed_at": at(9)},  # on time
        {"site_id": "A", "due_at": BEFORE}, {"site_id": "B", "due_at": TEST_END},  # due outside
    ])
    # A: 2/4 = 50 %; B: 1/1 = 100 %; network 3/5 = 60 % (mean of site rates would be 75 %)
    assert kpi(warehouse, "capa_on_time") == approx({"A": 50.0, "B": 100.0, NETWORK: 60.0})
    assert kpi(warehouse, "capa_on_time", "denominator") == approx({"A": 4, "B": 1, NETWORK: 5})


@pytest.mark.requirement("URS-KPI-004")
def test_capa_effectiveness(warehouse):
    insert(warehouse, capas=[
        {"site_id": s, "due_at": at(1), "effective": e, "effectiveness_checked_at": t} for s, e, t in [
            ("A", True, START), ("A", True, at(3)), ("A", False, at(4)), ("B", False, at(2)),
            ("A", None, None),  # not checked yet
            ("A", False, BEFORE), ("B", True, TEST_END),  # checked outside the window
        ]])
    # A: 2/3 = 66.7 %; B: 0/1 = 0 %; network 2/4 = 50 % (mean of site rates would be 33.3 %)
    assert kpi(warehouse, "capa_effectiveness") == approx({"A": 200 / 3, "B": 0.0, NETWORK: 50.0})


# -- culture and training -----------------------------------------------------------------------
# Item answers q1..q7. Items 1, 3, 5 are reverse-scored (8 - x):
BEST = (1, 7, 1, 7, 1, 7, 7)  # (7+7+7+7+7+7+7)/7 = 7
NEUTRAL = (4, 4, 4, 4, 4, 4, 4)  # 4
MIXED = (2, 3, 4, 5, 6, 7, 1)  # (6+3+4+5+2+7+1)/7 = 28/7 = 4 (with items 2, 4, 6 reversed: 22/7)
WORST = (7, 1, 7, 1, 7, 1, 1)  # 1


def survey(site: str, answers: tuple[int, ...], submitted: datetime = START) -> dict:
    return {"site_id": site, "submitted_at": submitted, **{f"q{i}": a for i, a in enumerate(answers, 1)}}


@pytest.mark.requirement("URS-KPI-004")
def test_psych_safety(warehouse):
    insert(warehouse, survey_responses=[
        survey("A", BEST), survey("A", BEST, at(1)), survey("A", NEUTRAL), survey("A", MIXED),
        survey("A", WORST),
        *[survey("B", BEST, at(2))] * 4,  # B's wave: 4 respondents, suppressed
        {**survey("A", WORST, BEFORE), "wave": "2026-Q1"},  # a wave that closed before the window
        {**survey("A", WORST, TEST_END), "wave": "2026-Q3"},  # a wave that closes at the window end
    ])
    # A: mean(7, 7, 4, 4, 1) = 23/5 = 4.6 -> (4.6 - 1) / 6 * 100 = 60
    # B: 4 < 5 respondents -> no value, no count, and its answers enter no aggregate
    # network: A's wave only -> 60 (counting B would let network - A reveal B's 4 answers)
    assert kpi(warehouse, "psych_safety") == approx({"A": 60.0, "B": math.nan, NETWORK: 60.0})
    assert kpi(warehouse, "psych_safety", "n") == approx({"A": 5, "B": math.nan, NETWORK: 5})
    assert kpi(warehouse, "psych_safety", "score_1_7") == approx({"A": 4.6, "B": math.nan, NETWORK: 4.6})
    assert kpi(warehouse, "psych_safety", "suppressed") == {"A": False, "B": True, NETWORK: False}


@pytest.mark.requirement("URS-KPI-004")
def test_psych_safety__whole_waves_only(warehouse):
    # A's 2026-Q2 wave has answers before and inside the window; it closed inside, so all 6 count.
    insert(warehouse, survey_responses=[
        *[survey("A", BEST, BEFORE - timedelta(days=10))] * 3, *[survey("A", WORST, at(3))] * 3,
        *[{**survey("B", NEUTRAL, at(5)), "wave": "2026-Q1"}] * 5,
        {**survey("B", BEST, at(6)), "wave": "2026-Q2"},  # B's Q2 wave so far: 1 answer
    ])
    # A: (3 * 7 + 3 * 1) / 6 = 4 -> 50; B: Q1 wave only (5 * 4) -> 50; the lone Q2 answer counts nowhere
    # network: (24 + 20) / 11 = 4 -> 50
    assert kpi(warehouse, "psych_safety") == approx({"A": 50.0, "B": 50.0, NETWORK: 50.0})
    assert kpi(warehouse, "psych_safety", "n") == approx({"A": 6, "B": 5, NETWORK: 11})
    # A window that ends before A's wave closed holds none of it (no partial wave).
    early = build_scope(user_id="t", role="leadership", own_site=None, all_sites=SITES,
                        end=at(2), days=DAYS)
    assert kpi(warehouse, "psych_safety", sc=early) == approx({NETWORK: math.nan})


@pytest.mark.requirement("URS-KPI-004")
def test_psych_safety__network_suppressed_below_five(warehouse):
    insert(warehouse, survey_responses=[survey("A", BEST), survey("A", BEST), survey("B", WORST)])
    # 3 respondents in the whole network: every row suppressed, no value and no count leaves SQL
    assert kpi(warehouse, "psych_safety") == approx({"A": math.nan, "B": math.nan, NETWORK: math.nan})
    assert kpi(warehouse, "psych_safety", "n") == approx({"A": math.nan, "B": math.nan, NETWORK: math.nan})
    assert kpi(warehouse, "psych_safety", "suppressed") == {"A": True, "B": True, NETWORK: True}


@pytest.mark.requirement("URS-KPI-004")
def test_psych_safety__no_subtraction_reveals_a_small_group(warehouse):
    insert(warehouse, survey_responses=[*[survey("A", NEUTRAL)] * 5, *[survey("B", WORST)] * 3])
    # A is shown (5), B is suppressed (3) and left out of the network: network - A = 0 answers.
    # A: (4 - 1) / 6 * 100 = 50; network = A = 50
    leader, manager = scope(), scope(role="site_manager", own_site="A")
    assert kpi(warehouse, "psych_safety", sc=leader) == approx({"A": 50.0, "B": math.nan, NETWORK: 50.0})
    assert kpi(warehouse, "psych_safety", "suppressed", sc=leader) == {"A": False, "B": True, NETWORK: False}
    assert kpi(warehouse, "psych_safety", sc=manager) == approx({"A": 50.0, NETWORK: 50.0})
    # Any window: the 3 answers of B never change a shown value.
    for days in (7, 30, 60, 365):
        values = kpi(warehouse, "psych_safety", sc=scope(days=days))
        assert values[NETWORK] in (50.0,) or math.isnan(values[NETWORK])


@pytest.mark.requirement("URS-KPI-004")
def test_psych_safety__site_manager_sees_network_of_other_full_waves(warehouse):
    insert(warehouse, survey_responses=[*[survey("A", NEUTRAL)] * 5, *[survey("B", WORST)] * 5])
    # network - A = B's 5 respondents: a group at the threshold may be shown.
    # network: (5 * 4 + 5 * 1) / 10 = 2.5 -> (2.5 - 1) / 6 * 100 = 25
    values = kpi(warehouse, "psych_safety", sc=scope(role="site_manager", own_site="A"))
    assert values == approx({"A": 50.0, NETWORK: 25.0})


@pytest.mark.requirement("URS-KPI-004")
def test_near_miss_rate(warehouse):
    insert(warehouse, near_misses=[{"site_id": s, "reported_at": t} for s, t in [
        ("A", START), ("A", at(1)), ("A", at(2)), ("B", at(3)),
        ("A", BEFORE), ("B", TEST_END),  # reported outside the window
    ]], batches=[{"site_id": s, "started_at": t} for s, t in [
        ("A", START), ("A", at(4)), *[("B", at(5))] * 4,
        ("B", BEFORE), ("A", TEST_END),  # started outside the window
    ]])
    # A: 3 * 100 / 2 = 150; B: 1 * 100 / 4 = 25
    # network: 4 * 100 / 6 = 66.7 per 100 batches (mean of site rates would be 87.5)
    assert kpi(warehouse, "near_miss_rate") == approx({"A": 150.0, "B": 25.0, NETWORK: 400 / 6})
    assert kpi(warehouse, "near_miss_rate", "denominator") == approx({"A": 2, "B": 4, NETWORK: 6})


@pytest.mark.requirement("URS-KPI-004")
def test_cert_pass_rate(warehouse):
    insert(warehouse, training_records=[
        {"site_id": s, "operator_ref": op, "attempt_no": n, "attempt_at": t, "passed": p}
        for s, op, n, t, p in [
            ("A", "op1", 1, START, True), ("A", "op2", 1, at(2), True), ("A", "op3", 1, at(3), False),
            ("A", "op3", 2, at(5), True),  # a second attempt does not count
            ("B", "op6", 1, at(4), False),
            ("A", "op4", 1, BEFORE, False), ("B", "op5", 1, TEST_END, True),  # outside the window
        ]])
    # A: 2/3 = 66.7 %; B: 0/1 = 0 %; network 2/4 = 50 % (mean of site rates would be 33.3 %); with a
    # minimum group of 1 operator (the default minimum of 5 suppresses both: test below)
    assert kpi(warehouse, "cert_pass_rate", min_respondents=1) == approx({"A": 200 / 3, "B": 0.0, NETWORK: 50.0})
    # A has 3 operators, B one: under the minimum of 3, B is suppressed and enters no aggregate
    assert kpi(warehouse, "cert_pass_rate", min_respondents=3) == approx({"A": 200 / 3, "B": math.nan,
                                                                         NETWORK: 200 / 3})
    assert kpi(warehouse, "cert_pass_rate", "suppressed", min_respondents=3) == {"A": 0.0, "B": 1.0, NETWORK: 0.0}
    assert math.isnan(kpi(warehouse, "cert_pass_rate", "n", min_respondents=3)["B"])  # no count of B either
    assert kpi(warehouse, "cert_pass_rate", "suppressed") == {"A": 1.0, "B": 1.0, NETWORK: 1.0}  # minimum 5


@pytest.mark.requirement("URS-KPI-004")
def test_time_to_competency(warehouse):
    def cert(site, op, started, certified, attempt=1):
        return {"site_id": site, "operator_ref": op, "started_at": started, "attempt_no": attempt,
                "attempt_at": certified, "certified_at": certified}

    insert(warehouse, training_records=[
        cert("A", "op1", at(-5), at(5)),  # 10 d
        cert("A", "op2", at(-10), at(10)),  # 20 d
        {"site_id": "A", "operator_ref": "op3", "started_at": at(-20), "attempt_at": at(10), "passed": False},
        cert("A", "op3", at(-20), at(20), attempt=2),  # 40 d, certified at the second attempt
        cert("B", "op6", at(0), at(5)),  # 5 d
        cert("A", "op4", at(-50), BEFORE), cert("B", "op5", at(0), TEST_END),  # certified outside
    ])
    # A: median [10, 20, 40] = 20 d; B: 5 d; network median [5, 10, 20, 40] = 15 d
    assert kpi(warehouse, "time_to_competency", min_respondents=1) == approx({"A": 20.0, "B": 5.0, NETWORK: 15.0})
    assert kpi(warehouse, "time_to_competency", "n", min_respondents=1) == approx({"A": 3, "B": 1, NETWORK: 4})
    # B's single operator is under a minimum of 3: suppressed, and the network is A's alone
    assert kpi(warehouse, "time_to_competency", min_respondents=3) == approx({"A": 20.0, "B": math.nan,
                                                                             NETWORK: 20.0})
    assert kpi(warehouse, "time_to_competency", "suppressed") == {"A": 1.0, "B": 1.0, NETWORK: 1.0}  # minimum 5


@pytest.mark.requirement("URS-KPI-004")
def test_training_performance(warehouse):
    operators = {"A": [("a1", 90, 0), ("a2", 80, 1), ("a3", 70, 2), ("a4", 60, 3)],
                 "B": [("b1", 85, 1), ("b2", 75, 0), ("b3", 65, 3)]}
    records, deviations = [], []
    for site, ops in operators.items():
        for op, score, involved in ops:
            records.append({"site_id": site, "operator_ref": op, "score": float(score), "attempt_at": START})
            deviations += [{"site_id": site, "operator_ref": op, "occurred_at": at(d), "detected_at": at(d)}
                           for d in range(involved)]
    records += [
        {"site_id": "A", "operator_ref": "a1", "attempt_no": 2, "score": 10.0, "attempt_at": at(1)},  # not first
        {"site_id": "A", "operator_ref": "late", "score": 10.0, "started_at": at(1), "attempt_at": at(2)},
    ]
    deviations += [
        {"site_id": "A", "operator_ref": "late", "occurred_at": at(3), "detected_at": at(3)},  # joined in window
        {"site_id": "A", "operator_ref": "a1", "occurred_at": BEFORE, "detected_at": BEFORE},  # outside
        {"site_id": "A", "occurred_at": at(4), "detected_at": at(4)},  # no operator
    ]
    insert(warehouse, training_records=records, deviations=deviations)
    # With the minimum group size (5 operators, as for surveys) A (4) and B (3) are suppressed: no rho,
    # no n, no interval. The network (7) is shown.
    assert kpi(warehouse, "training_performance", "suppressed") == {"A": 1.0, "B": 1.0, NETWORK: 0.0}
    protected = kpi(warehouse, "training_performance")
    assert math.isnan(protected["A"]) and math.isnan(protected["B"])
    assert math.isnan(kpi(warehouse, "training_performance", "n")["A"])
    assert protected[NETWORK] == pytest.approx(-22.5 / 742**0.5)
    # The arithmetic, with groups of 3 allowed:
    # A: scores and involvement in exactly reversed order: rho = -1 (n = 4).
    # B: score ranks 3, 2, 1 vs involvement ranks 2, 1, 3: d = 1, 1, -2, rho = 1 - 6*6/(3*8) = -0.5.
    # Network, by score rank 1..7 the involvement ranks are 6.5, 6.5, 5, 1.5, 3.5, 3.5, 1.5 (ties
    # averaged): sum dx*dy = -22.5, sum dx² = 28, sum dy² = 26.5, rho = -22.5 / sqrt(742) = -0.8260.
    assert kpi(warehouse, "training_performance", min_respondents=3) == approx(
        {"A": -1.0, "B": -0.5, NETWORK: -22.5 / 742**0.5})
    assert kpi(warehouse, "training_performance", "n", min_respondents=3) == approx(
        {"A": 4, "B": 3, NETWORK: 7})
    # Fisher z interval needs n > 3: none for B; for the network z = atanh(-0.826), ± 1.96 / 2.
    low = kpi(warehouse, "training_performance", "ci_low", min_respondents=3)
    assert math.isnan(low["B"]) and low[NETWORK] == pytest.approx(
        math.tanh(math.atanh(-22.5 / 742**0.5) - 1.959963984540054 / 2))


# -- systems and data ---------------------------------------------------------------------------
@pytest.mark.requirement("URS-KPI-004")
def test_uptime(warehouse):
    start = TEST_END - timedelta(days=10)  # 240 hours
    onboard_b = TEST_END - timedelta(hours=48)  # onboarded mid-window
    hour = timedelta(hours=1)
    beats = [{"site_id": "A", "ts": start + i * hour + timedelta(minutes=5)}
             for i in range(240) if not 100 <= i < 124]  # 24 hours missing
    beats += [{"site_id": "A", "ts": start + timedelta(minutes=35)}]  # 2nd beat in hour 0: same hour
    beats += [{"site_id": "A", "ts": start - timedelta(seconds=1)}, {"site_id": "A", "ts": TEST_END}]
    beats += [{"site_id": "B", "ts": onboard_b + i * hour} for i in range(24)]  # first 24 of 48 hours
    insert(warehouse, sites=[
        {"site_id": "A", "name": "Site A"}, {"site_id": "B", "name": "Site B", "onboarded_at": onboard_b},
        {"site_id": "C", "name": "Site C", "onboarded_at": TEST_END},  # not yet onboarded: no row
    ], ingest_heartbeats=beats)
    sc = scope(days=10, sites=["A", "B", "C"])
    # A: 216 / 240 = 90 %; B: 24 / 48 = 50 %
    # network: (216 + 24) / (240 + 48) = 83.33 % (mean of site rates would be 70 %)
    assert kpi(warehouse, "uptime", sc=sc) == approx({"A": 90.0, "B": 50.0, NETWORK: 240 / 288 * 100})
    assert kpi(warehouse, "uptime", "denominator", sc=sc) == approx({"A": 240, "B": 48, NETWORK: 288})


@pytest.mark.requirement("URS-KPI-004")
def test_uptime__partial_first_hour_never_exceeds_100(warehouse):
    onboard = TEST_END - timedelta(hours=47, minutes=30)  # onboarded at half past the hour
    insert(warehouse, sites=[{"site_id": "A", "name": "Site A", "onboarded_at": onboard}],
           ingest_heartbeats=[{"site_id": "A", "ts": onboard + timedelta(minutes=15 + 60 * i)}
                              for i in range(48)])  # a beat in every clock hour since onboarding
    # 47.5 hours since onboarding touch 48 clock hours, and all 48 had a heartbeat: 100 % up.
    value = kpi(warehouse, "uptime", sc=scope(days=10, sites=["A"]))["A"]
    assert value == pytest.approx(100.0), (
        f"uptime {value:.2f} % for a site that never missed an hour: metrics/uptime.sql counts received "
        "clock hours (48) but expects FLOOR(47.5) = 47 hours, so a partial first hour gives > 100 %")


@pytest.mark.requirement("URS-KPI-004")
def test_data_completeness(warehouse):
    start = TEST_END - timedelta(days=1)  # 24 h window
    hour = timedelta(hours=1)
    install_b = TEST_END - timedelta(hours=12)  # sensor of a site onboarded mid-window
    insert(warehouse, sensors=[
        {"sensor_id": "SA1", "site_id": "A", "interval_s": 60},  # expects 86400 / 60 = 1440
        {"sensor_id": "SB1", "site_id": "B", "interval_s": 600, "installed_at": install_b},  # 43200/600 = 72
        {"sensor_id": "SA2", "site_id": "A", "installed_at": TEST_END},  # not installed yet: expects 0
    ], reading_rollups=[
        *[{"sensor_id": "SA1", "bucket": start + i * hour, "n": 60 if i < 20 else 30} for i in range(24)],
        {"sensor_id": "SA1", "bucket": start - hour, "n": 60},  # before the window
        {"sensor_id": "SA1", "bucket": TEST_END, "n": 60},  # at its end
        {"sensor_id": "SA1", "grain": "minute", "bucket": start, "n": 1},  # other grain: ignored
        *[{"sensor_id": "SB1", "bucket": install_b + i * hour, "n": 6} for i in range(6)],
    ])
    # A: (20 * 60 + 4 * 30) / 1440 = 1320 / 1440 = 91.67 %; B: 6 * 6 / 72 = 36 / 72 = 50 %
    # network: (1320 + 36) / (1440 + 72) = 1356 / 1512 = 89.68 % (mean of site rates 70.8 %)
    assert kpi(warehouse, "data_completeness", sc=scope(days=1)) == approx(
        {"A": 1320 / 1440 * 100, "B": 50.0, NETWORK: 1356 / 1512 * 100})
    assert kpi(warehouse, "data_completeness", "denominator", sc=scope(days=1)) == approx(
        {"A": 1440, "B": 72, NETWORK: 1512})


@pytest.mark.requirement("URS-KPI-004")
def test_batch_record_completeness(warehouse):
    def batch(site, completed, **cqas):
        return {"site_id": site, "completed_at": completed, **FULL_CQAS, **cqas}

    insert(warehouse, batches=[
        batch("A", START), batch("A", at(2)), batch("A", at(3), vcn=None), batch("B", at(4), dose=None),
        batch("A", BEFORE, vcn=None), batch("B", TEST_END, vcn=None),  # completed outside the window
        batch("A", None, vcn=None),  # still in process
    ])
    # A: 2/3 = 66.7 %; B: 0/1 = 0 %; network 2/4 = 50 % (mean of site rates would be 33.3 %)
    assert kpi(warehouse, "batch_record_completeness") == approx({"A": 200 / 3, "B": 0.0, NETWORK: 50.0})


@pytest.mark.requirement("URS-KPI-004")
def test_inspection_findings(warehouse):
    def insp(site, day: date, critical=0, major=0, minor=0, classification="NAI"):
        return {"site_id": site, "inspected_on": day, "classification": classification,
                "findings_critical": critical, "findings_major": major, "findings_minor": minor}

    insert(warehouse, inspections=[
        insp("A", START.date(), 1, 2, 3, "OAI"), insp("A", at(10).date(), 0, 1, 2, "VAI"),
        insp("B", at(5).date()),
        insp("A", (START - timedelta(days=1)).date(), 5, 5, 5),  # the day before the window
        insp("B", TEST_END.date(), 5, 5, 5),  # the end day: outside
    ])
    # A: (6 + 3) / 2 = 4.5; B: 0 / 1 = 0; network 9 / 3 = 3.0 (mean of site rates would be 2.25)
    assert kpi(warehouse, "inspection_findings") == approx({"A": 4.5, "B": 0.0, NETWORK: 3.0})
    assert kpi(warehouse, "inspection_findings", "critical") == approx({"A": 1, "B": 0, NETWORK: 1})
    assert kpi(warehouse, "inspection_findings", "major") == approx({"A": 3, "B": 0, NETWORK: 3})
    assert kpi(warehouse, "inspection_findings", "oai") == approx({"A": 1, "B": 0, NETWORK: 1})


# -- batches ------------------------------------------------------------------------------------
@pytest.mark.requirement("URS-KPI-004")
def test_manufacturing_turnaround(warehouse):
    def batch(site, released, days):
        return {"site_id": site, "started_at": released - timedelta(days=days), "released_at": released,
                "completed_at": released, "status": "released"}

    insert(warehouse, batches=[
        batch("A", START, 14), batch("A", at(10), 16), batch("A", at(20), 20), batch("B", at(5), 12),
        batch("A", BEFORE, 99), batch("B", TEST_END, 99),  # released outside the window
    ])
    # A: median [14, 16, 20] = 16 d; B: 12 d; network median [12, 14, 16, 20] = 15 d
    assert kpi(warehouse, "manufacturing_turnaround") == approx({"A": 16.0, "B": 12.0, NETWORK: 15.0})


@pytest.mark.requirement("URS-KPI-004")
def test_vein_to_vein(warehouse):
    def batch(site, infused, days):
        return {"site_id": site, "apheresis_at": None if days is None else infused - timedelta(days=days),
                "infused_at": infused}

    insert(warehouse, batches=[
        batch("A", START, 20), batch("A", at(5), 30), batch("A", at(6), None),  # no apheresis date: skipped
        batch("B", at(1), 22), batch("B", at(2), 24), batch("B", at(3), 40),
        batch("A", BEFORE, 99), batch("B", TEST_END, 99),  # infused outside the window
    ])
    # A: median [20, 30] = 25 d; B: median [22, 24, 40] = 24 d; network median [20, 22, 24, 30, 40] = 24 d
    assert kpi(warehouse, "vein_to_vein") == approx({"A": 25.0, "B": 24.0, NETWORK: 24.0})
    assert kpi(warehouse, "vein_to_vein", "n") == approx({"A": 2, "B": 3, NETWORK: 5})


SPECS = [{"product": "P1", "cqa": "viability_pct", "lower_limit": 70.0, "upper_limit": None},
         {"product": "P1", "cqa": "endotoxin_eu_ml", "lower_limit": None, "upper_limit": 5.0}]


@pytest.mark.requirement("URS-KPI-004")
def test_right_first_time(warehouse):
    def batch(batch_id, site, released, status="released", completed=None, **cqas):
        return {"batch_id": batch_id, "site_id": site, "status": status, "released_at": released,
                "completed_at": completed or released, **FULL_CQAS, **cqas}

    insert(warehouse, specifications=SPECS, batches=[
        batch("A1", "A", START),  # clean: right first time
        batch("A2", "A", at(2)),  # has a deviation
        batch("A3", "A", at(3), viability_pct=60.0),  # OOS (viability < 70)
        batch("A4", "A", None, status="rejected", completed=at(4)),  # rejected
        batch("A5", "A", None, status="in_process"),  # not dispositioned
        batch("B1", "B", at(5)),  # clean
        batch("A0", "A", BEFORE), batch("B9", "B", TEST_END),  # released outside the window
    ], deviations=[{"site_id": "A", "batch_id": "A2", "occurred_at": at(1), "detected_at": at(1)}])
    # A: 1/4 = 25 %; B: 1/1 = 100 %; network 2/5 = 40 % (mean of site rates would be 62.5 %)
    assert kpi(warehouse, "right_first_time") == approx({"A": 25.0, "B": 100.0, NETWORK: 40.0})
    assert kpi(warehouse, "right_first_time", "denominator") == approx({"A": 4, "B": 1, NETWORK: 5})


def _completed(site, completed, **cqas):
    return {"site_id": site, "completed_at": completed, **FULL_CQAS, **cqas}


@pytest.mark.requirement("URS-KPI-004")
def test_oos_rate(warehouse):
    insert(warehouse, specifications=SPECS, batches=[
        _completed("A", START), _completed("A", at(1), viability_pct=60.0),  # below the lower limit: OOS
        _completed("A", at(2), endotoxin_eu_ml=6.0),  # above the upper limit: OOS
        _completed("A", at(3), vcn=None),  # a CQA missing, the rest in spec: not OOS
        _completed("B", at(4)), _completed("B", at(5), endotoxin_eu_ml=5.0),  # exactly at the limit: in spec
        _completed("A", BEFORE, viability_pct=10.0), _completed("B", TEST_END, viability_pct=10.0),  # outside
    ])
    # A: 2/4 = 50 %; B: 0/2 = 0 %; network 2/6 = 33.3 % (mean of site rates would be 25 %)
    assert kpi(warehouse, "oos_rate") == approx({"A": 50.0, "B": 0.0, NETWORK: 100 / 3})


@pytest.mark.requirement("URS-KPI-004")
def test_oos_rate__denominator_is_batches_with_results(warehouse):
    no_results = dict.fromkeys(FULL_CQAS)
    insert(warehouse, specifications=SPECS, batches=[
        _completed("A", at(1), viability_pct=60.0), _completed("A", at(2)),
        _completed("A", at(3), **no_results),  # completed, no CQA result entered yet: not tested
    ])
    # catalogue: "batches with any CQA outside specification / batches with results": 1 / 2 = 50 %
    sc = scope(sites=["A"])
    value = kpi(warehouse, "oos_rate", sc=sc)["A"]
    denominator = kpi(warehouse, "oos_rate", "denominator", sc=sc)["A"]
    assert (value, denominator) == (pytest.approx(50.0), 2), (
        f"oos_rate {value:.1f} % over {denominator:.0f} batches, expected 50 % over 2: metrics/oos_rate.sql "
        "counts every completed batch, including one with no CQA result entered, but the catalogue "
        "defines the rate over tested batches ('batches with results')")


# -- consistency (TOST, queries/stats/equivalence.py) --------------------------------------------
@pytest.mark.requirement("URS-KPI-004", "URS-KPI-007")
def test_consistency(warehouse):
    wiggle = [-1.0, 1.0] * 4  # 8 batches, sd 1.07
    base = {"viability_pct": 85.0, "transduction_pct": 40.0, "cd3_pct": 95.0, "vcn": 2.0, "dose": 5.0,
            "endotoxin_eu_ml": 1.0}

    def batches(site, n, shift=0.0, started=None):
        return [{"site_id": site, "started_at": started or at(1), "completed_at": at(2), **{
            cqa: mean + w * (0.1 if cqa in ("vcn", "endotoxin_eu_ml") else 1.0) + (shift if cqa == "viability_pct" else 0.0)
            for cqa, mean in base.items()}} for w in wiggle[:n]]

    insert(warehouse, batches=[
        *batches("A", 8), *batches("B", 8),
        *batches("C", 8, shift=10.0),  # viability 10 points (~9 sd) above A and B; the other CQAs equal
        *batches("D", 3),  # fewer than 5 batches: insufficient data
        *batches("A", 4, shift=-50.0, started=BEFORE),  # outside the window: ignored
    ])
    sc = scope(sites=["A", "B", "C", "D"])
    # Reference = the other sites' batches. C's viability: reference A+B+D (sd 1.03), margin 1.54,
    # difference 10.05, 90 % CI [9.3, 10.8] -> not equivalent. A's viability: reference B+C+D (sd 5.2),
    # margin 7.8, difference -4.16, 90 % CI [-6.3, -2.0] inside +-7.8 -> equivalent (B likewise).
    # Every other (site, CQA) pair compares identical patterns: difference 0 -> equivalent (vcn, dose and
    # endotoxin on the ln scale, all positive here).
    # A: 6/6 = 100; B: 6/6 = 100; C: 5/6 = 83.3; D: no evaluable pair -> no number
    # network: (6 + 6 + 5) / 18 = 94.4 (D's 6 insufficient pairs excluded)
    assert kpi(warehouse, "consistency", sc=sc) == approx(
        {"A": 100.0, "B": 100.0, "C": 500 / 6, "D": math.nan, NETWORK: 1700 / 18})
    assert kpi(warehouse, "consistency", "denominator", sc=sc) == approx(
        {"A": 6, "B": 6, "C": 6, "D": 0, NETWORK: 18})


# -- signals and risk (queries/analyses/sensor_drift.py, queries/analyses/risk.py) -----------------------------------
def _daily(sensor_id: str, days: pd.DatetimeIndex, shift_from: str, shift_to: str, base: float, shift: float):
    """Daily rollups alternating base / base + 0.2 (baseline mean base + 0.1, sd 0.1008), with the days
    from shift_from to shift_to (inclusive) at base + shift."""
    rows = []
    for i, day in enumerate(days):
        value = base + shift if pd.Timestamp(shift_from) <= day <= pd.Timestamp(shift_to) else base + 0.2 * (i % 2)
        rows.append({"sensor_id": sensor_id, "grain": "day", "bucket": day.to_pydatetime(), "n": 24,
                     "value_mean": value, "value_min": value, "value_max": value})
    return rows


@pytest.mark.requirement("URS-KPI-004")
def test_prevented_failures(warehouse):
    """Window 2026-02-01 to 2026-06-01 (120 days), baseline the 60 days before. Each sensor is alone of its
    parameter at its site (no common-mode adjustment). A shift of 0.9 (about 9 sd of the baseline) lifts
    the EWMA (lambda 0.2) beyond its limit (3 sd x 0.333 = 0.10) on the shift's first day; the warning
    (3 days in a row) is known from the 4th day on, and the episode ends about 9 days after the shift.

    A/S1 (temperature): shift Feb 11-20; an alert excursion on Feb 15 acknowledged the same day (acted);
    no action excursion until 30 days after the episode, which is over before Jun 1: prevented.
    A/S2 (humidity): shift Mar 1-10, nobody acknowledged anything: not acted on.
    B/T1: shift Apr 1-10, alert acknowledged Apr 2, then an action excursion Apr 12: failed.
    A: 1 prevented of 2 warnings; B: 0 of 1; network 1 of 3.
    """
    days = pd.date_range("2025-12-03", "2026-05-31", freq="D")
    insert(warehouse,
           sites=[{"site_id": s, "name": s} for s in SITES],
           rooms=[{"room_id": "RA", "site_id": "A", "name": "A room", "grade": "B"},
                  {"room_id": "RB", "site_id": "B", "name": "B room", "grade": "B"}],
           sensors=[{"sensor_id": "S1", "site_id": "A", "room_id": "RA", "parameter": "temperature"},
                    {"sensor_id": "S2", "site_id": "A", "room_id": "RA", "parameter": "humidity", "unit": "pct_rh"},
                    {"sensor_id": "T1", "site_id": "B", "room_id": "RB", "parameter": "temperature"}],
           reading_rollups=[*_daily("S1", days, "2026-02-11", "2026-02-20", 20.0, 0.9),
                            *_daily("S2", days, "2026-03-01", "2026-03-10", 45.0, 0.9),
                            *_daily("T1", days, "2026-04-01", "2026-04-10", 20.0, 0.9)],
           excursions=[
               {"sensor_id": "S1", "site_id": "A", "room_id": "RA", "level": "alert", "started_at": datetime(2026, 2, 15, 10),
                "detected_at": datetime(2026, 2, 15, 10, 5), "acknowledged_at": datetime(2026, 2, 15, 11)},
               {"sensor_id": "T1", "site_id": "B", "room_id": "RB", "level": "alert", "started_at": datetime(2026, 4, 2, 10),
                "detected_at": datetime(2026, 4, 2, 10, 5), "acknowledged_at": datetime(2026, 4, 2, 11)},
               {"sensor_id": "T1", "site_id": "B", "room_id": "RB", "level": "action", "started_at": datetime(2026, 4, 12, 10),
                "detected_at": datetime(2026, 4, 12, 10, 1)},
           ])
    sc = scope(days=120)
    assert kpi(warehouse, "prevented_failures", sc=sc) == approx({"A": 1.0, "B": 0.0, NETWORK: 1.0})
    assert kpi(warehouse, "prevented_failures", "denominator", sc=sc) == approx({"A": 2.0, "B": 1.0, NETWORK: 3.0})


@pytest.mark.requirement("URS-KPI-004")
def test_prediction_accuracy(warehouse):
    """Sites A and B have a major deviation on the 10th of every month from Jan 2024, C and D never.
    Site-months start 180 days after the first data (Aug 2024); the backtest scores the last 12 months
    whose 30-day outcome is known (Jun 2025 - May 2026), 4 sites each: 48 predictions, 24 with an event
    (base rate 0.5). Three majors in the previous 90 days separate A/B from C/D perfectly, so the
    ranking is perfect (ROC AUC 1.0) and flagging the top third (2 of 4 sites) each month is right every
    time: precision 24/24 = 1.0, recall 24/24 = 1.0. A site's value is the AUC over its own months."""
    months = pd.date_range("2024-01-01", "2026-05-01", freq="MS") + pd.Timedelta(days=9)
    insert(warehouse,
           sites=[{"site_id": s, "name": s} for s in "ABCD"],
           deviations=[{"site_id": s, "occurred_at": t.to_pydatetime(), "detected_at": (t + pd.Timedelta(hours=2)).to_pydatetime(),
                        "severity": "major"} for s in "AB" for t in months])
    sc = scope(sites=list("ABCD"))
    expected = {"precision": 1.0, "recall": 1.0, "base_rate": 0.5, "n": 48.0, "numerator": 24.0, "denominator": 24.0}
    got = kpi_columns(warehouse, "prediction_accuracy", ["value", *expected], sc=sc)
    assert got["value"] == approx({NETWORK: 1.0, "A": math.nan, "B": math.nan, "C": math.nan, "D": math.nan})
    for column, value in expected.items():
        assert got[column][NETWORK] == pytest.approx(value), column
    # Per site over its own 12 months: A always had an event (no AUC: one outcome only) and was flagged
    # every month; C never had one and never was.
    assert got["n"] == approx({NETWORK: 48.0, "A": 12.0, "B": 12.0, "C": 12.0, "D": 12.0})
    assert got["numerator"] == approx({NETWORK: 24.0, "A": 12.0, "B": 12.0, "C": 0.0, "D": 0.0})
    assert got["denominator"] == approx({NETWORK: 24.0, "A": 12.0, "B": 12.0, "C": 0.0, "D": 0.0})


# -- scope --------------------------------------------------------------------------------------
@pytest.mark.requirement("URS-ACC-003")
def test_site_manager_sees_own_site_and_network_only(warehouse):
    insert(warehouse, deviations=[
        {"site_id": s, "occurred_at": at(1), "detected_at": at(1, h)}
        for s, h in [("A", 4), ("B", 8), ("C", 12)]
    ])
    manager = scope(role="site_manager", own_site="A", sites=["A", "B", "C"])
    # A: 4 h; network (anonymised aggregate of every site): (4 + 8 + 12) / 3 = 8 h
    assert kpi(warehouse, "mttd", sc=manager) == approx({"A": 4.0, NETWORK: 8.0})
    frame = kpi_frame(warehouse, manager)  # every KPI at once: never a row of another site
    assert set(frame["site_id"]) <= {"A", NETWORK}
    # narrowing to the own site drops the network row
    assert kpi(warehouse, "mttd", sc=manager.for_site("A")) == approx({"A": 4.0})


@pytest.mark.requirement("URS-ACC-002")
def test_admin_scope_gets_no_rows(warehouse):
    insert(warehouse, deviations=[{"site_id": "A", "occurred_at": at(1), "detected_at": at(1, 4)}])
    admin = scope(role="admin")
    assert admin.site_ids == () and admin.network is False
    try:
        frame = kpi_frame(warehouse, admin, ["mttd", "recurrence", "psych_safety"])
    except Exception as exc:  # the engine refusing the query is the finding: report it plainly
        pytest.fail(f"a scope with no sites must give no rows, not an error: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0]} (queries/engine/warehouse.py binds an empty 'sites' list as an "
                    "untyped expanding parameter, rendered IN (SELECT CAST(NULL AS INTEGER) WHERE 1!=1), "
                    "which both engines refuse against the TEXT site_id)", pytrace=False)
    assert frame.empty, frame


@pytest.mark.requirement("URS-ACC-003")
def test_for_site_outside_scope_is_not_found():
    manager = scope(role="site_manager", own_site="A")
    with pytest.raises(NotFound):
        manager.for_site("B")
    with pytest.raises(NotFound):
        manager.for_site(None)


@pytest.mark.parametrize("forged", [{"sites": ["B"]}, {"start": datetime(2000, 1, 1)},
                                    {"end": TEST_END}, {"network": True}])
@pytest.mark.requirement("URS-ACC-003")
def test_query_refuses_scope_params_from_caller(duckdb_warehouse, forged):
    manager = scope(role="site_manager", own_site="A")
    with pytest.raises(QueryError, match="come from the scope"):
        duckdb_warehouse.query("metrics/mttd", forged, scope=manager)
