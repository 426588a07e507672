"""The rules an imported record must meet beyond its cells' types: code lists, ranges and the order of a
record's times (a deviation detected before it occurred would give a negative MTTD), declared per table
and checked as one pandera schema validated lazily, so every broken rule of every row is named at once
with its row and field before anything is written.

The code lists repeat the schema's CHECK constraints (queries/schema.sql) so that a file is refused with
the row and field instead of the database's one-line refusal; tests/test_record_rules.py holds the two
equal. Every rule skips an empty cell (a missing value is the column's own rule) and a column the file
does not have."""

from __future__ import annotations

import functools
import math
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
import pandera.pandas as pa


@dataclass(frozen=True)
class Order:
    """``earlier`` <= ``later`` on every row that has both."""

    earlier: str
    later: str
    why: str


@dataclass(frozen=True)
class Rules:
    codes: dict[str, tuple[str, ...]]  # field -> the values it may take
    ranges: dict[str, tuple[float | None, float | None]]  # field -> (lowest, highest), None = open
    orders: tuple[Order, ...] = ()
    timezones: tuple[str, ...] = ()  # fields that name an IANA time zone
    # (field, value, field that must then be filled); value None: any value of the field
    required_when: tuple[tuple[str, object, str], ...] = ()


PERCENT = (0.0, 100.0)
NOT_NEGATIVE = (0.0, None)
GRADES = ("A", "B", "C", "D", "CNC")
PARAMETERS = ("temperature", "humidity", "diff_pressure", "particles_0_5", "particles_5_0")

RULES: dict[str, Rules] = {
    "sites": Rules(codes={"kind": ("hub", "node")}, ranges={}, timezones=("timezone",)),
    "rooms": Rules(codes={"grade": GRADES}, ranges={}),
    "sensors": Rules(codes={"parameter": PARAMETERS}, ranges={"interval_s": (1, None)}),
    "limits": Rules(
        codes={"parameter": PARAMETERS, "grade": GRADES},
        ranges={"alert_delay_s": NOT_NEGATIVE, "action_delay_s": NOT_NEGATIVE, "hysteresis": NOT_NEGATIVE},
        orders=(Order("alert_low", "alert_high", "the alert band's low limit is at most its high limit"),
                Order("action_low", "action_high", "the action band's low limit is at most its high limit"),
                Order("action_low", "alert_low", "action limits lie outside the alert limits"),
                Order("alert_high", "action_high", "action limits lie outside the alert limits"))),
    "specifications": Rules(codes={}, ranges={}, orders=(
        Order("lower_limit", "upper_limit", "the lower limit is at most the upper limit"),)),
    "batches": Rules(
        codes={"status": ("in_process", "released", "rejected")},
        ranges={"viability_pct": PERCENT, "transduction_pct": PERCENT, "cd3_pct": PERCENT, "vcn": NOT_NEGATIVE,
                "dose": NOT_NEGATIVE, "endotoxin_eu_ml": NOT_NEGATIVE},
        orders=(Order("apheresis_at", "started_at", "manufacturing starts after apheresis"),
                Order("started_at", "completed_at", "a batch completes after it starts"),
                Order("completed_at", "released_at", "a batch is released after it completes"),
                Order("released_at", "infused_at", "a batch is infused after it is released")),
        required_when=(("status", "released", "released_at"),)),
    "deviations": Rules(
        codes={"severity": ("minor", "major", "critical"),
               "category": ("people", "method", "machine", "material", "environment", "measurement"),
               "source": ("excursion", "operator", "review"),
               "human_factors": ("cognitive_load", "communication", "environment", "none")},
        ranges={},
        orders=(Order("occurred_at", "detected_at", "a deviation is detected when or after it occurs"),
                Order("detected_at", "closed_at", "a deviation is closed after it is detected"))),
    "capas": Rules(codes={}, ranges={}, orders=(
        Order("opened_at", "due_at", "a CAPA falls due after it is opened"),
        Order("opened_at", "closed_at", "a CAPA is closed after it is opened"),
        Order("closed_at", "effectiveness_checked_at", "a CAPA's effectiveness is checked after it is closed")),
        required_when=(("effective", None, "effectiveness_checked_at"),)),
    "training_records": Rules(codes={}, ranges={"attempt_no": (1, None), "score": PERCENT}, orders=(
        Order("started_at", "attempt_at", "an attempt comes after the training starts"),
        Order("attempt_at", "certified_at", "certification comes after the attempt"))),
    "inspections": Rules(codes={"classification": ("NAI", "VAI", "OAI")},
                         ranges={"findings_critical": NOT_NEGATIVE, "findings_major": NOT_NEGATIVE,
                                 "findings_minor": NOT_NEGATIVE}),
    "documents": Rules(codes={}, ranges={"master_version": (1, None), "site_version": (1, None)}, orders=(
        Order("site_version", "master_version", "a site cannot run a later version than the master"),)),
    "sop_executions": Rules(codes={}, ranges={"executions": NOT_NEGATIVE}),
}


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _comparable(series: pd.Series) -> pd.Series:
    """Cells as times or numbers pandas can compare (empty cells become NaT/NaN, which no rule judges)."""
    if any(isinstance(v, (datetime, date)) for v in series.dropna()):
        return pd.to_datetime(series, errors="coerce")
    return pd.to_numeric(series, errors="coerce")


def _one_of(allowed, name: str) -> pa.Check:
    """pandera's Check.isin under a name of ours (its failure cases would name it 'isin([...])')."""
    allowed = frozenset(allowed)
    return pa.Check(lambda s: s.isna() | s.isin(allowed), name=name)


def _schema(rules: Rules, columns: set[str]) -> pa.DataFrameSchema:
    checks: dict[str, list[pa.Check]] = {}
    for field, allowed in rules.codes.items():
        checks.setdefault(field, []).append(_one_of(allowed, f"code:{field}"))
    for field, (low, high) in rules.ranges.items():
        checks.setdefault(field, []).append(pa.Check(
            lambda s, low=low, high=high: s.isna() | (s >= (-math.inf if low is None else low))
            & (s <= (math.inf if high is None else high)), name=f"range:{field}"))
    for field in rules.timezones:
        checks.setdefault(field, []).append(_one_of(_zones(), f"zone:{field}"))
    frame_checks = [
        pa.Check(lambda d, o=o: d[o.earlier].isna() | d[o.later].isna() | (d[o.earlier] <= d[o.later]),
                 name=f"order:{number}")
        for number, o in enumerate(rules.orders) if {o.earlier, o.later} <= columns]
    frame_checks += [
        pa.Check(lambda d, f=f, v=v, n=n: d[f].isna() | (False if v is None else d[f] != v) | d[n].notna(),
                 name=f"needs:{number}")
        for number, (f, v, n) in enumerate(rules.required_when) if {f, n} <= columns]
    return pa.DataFrameSchema(
        {field: pa.Column(None, field_checks, nullable=True, required=False)
         for field, field_checks in checks.items()},
        checks=frame_checks)


def problems(table: str, frame: pd.DataFrame, file_name: str, first_row: int = 1) -> list[str]:
    """One line per broken rule and row ('<file> row N, field X: ...'), in row order; [] when all hold.
    ``frame``: the checked cells (importer.validate), its first row the file's ``first_row``."""
    rules = RULES.get(table)
    if rules is None or frame.empty:
        return []
    as_read = {*rules.codes, *rules.timezones, *(f for f, _, _ in rules.required_when)}
    compared = {*rules.ranges, *(n for o in rules.orders for n in (o.earlier, o.later)),
                *(n for _, _, n in rules.required_when)}
    fields = (as_read | compared) & set(frame.columns)
    if not fields:
        return []
    checked = pd.DataFrame({name: frame[name] if name in as_read else _comparable(frame[name]) for name in fields},
                           index=frame.index)
    for field, _, needed in rules.required_when:  # a file without the column leaves it empty on every row
        if field in fields and needed not in fields:
            checked[needed] = None
            fields.add(needed)
    try:
        _schema(rules, fields).validate(checked, lazy=True)
    except pa.errors.SchemaErrors as failed:
        cases = failed.failure_cases
    else:
        return []
    found: dict[tuple[int, str], str] = {}
    for check, index in zip(cases["check"], cases["index"], strict=True):
        if index is None or pd.isna(index):
            continue
        row = int(index)
        kind, _, name = str(check).partition(":")
        found.setdefault((row, str(check)), _line(rules, kind, name, frame.loc[row], file_name, row + first_row))
    return [line for _, line in sorted(found.items())]


def _text(value) -> str:
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar: shown as the number it is
        value = value.item()
    shown = value.isoformat() if hasattr(value, "isoformat") else value
    return repr(shown)[:60]


def _line(rules: Rules, kind: str, name: str, record: pd.Series, file_name: str, row: int) -> str:
    where = f"{file_name} row {row}, field"
    if kind == "code":
        return (f"{where} {name!r}: {_text(record[name])} is not one of {', '.join(rules.codes[name])} "
                "(map the export's words in the profile)")
    if kind == "range":
        low, high = rules.ranges[name]
        bounds = f"from {low:g} to {high:g}" if low is not None and high is not None else \
            f"at least {low:g}" if low is not None else f"at most {high:g}"
        return f"{where} {name!r}: {_text(record[name])} is outside the allowed range ({bounds})"
    if kind == "zone":
        return f"{where} {name!r}: {_text(record[name])} is not an IANA time zone (e.g. America/Chicago)"
    if kind == "order":
        o = rules.orders[int(name)]
        before = "before" if isinstance(record[o.later], (datetime, date)) else "below"
        return (f"{where} {o.later!r}: {_text(record[o.later])} is {before} {o.earlier} "
                f"({_text(record[o.earlier])}); {o.why}")
    field, value, needed = rules.required_when[int(name)]
    return (f"{where} {needed!r}: is empty, but {field} is {_text(record[field])}; "
            f"fill in {needed}")


def allowed_text(table: str, field: str) -> str:
    """What the rules allow in a field, in words (docs/data-model.md); '' when no rule names it."""
    rules = RULES.get(table)
    if rules is None:
        return ""
    if field in rules.codes:
        return ", ".join(rules.codes[field])
    if field in rules.timezones:
        return "an IANA time zone"
    if field in rules.ranges:
        low, high = rules.ranges[field]
        return f"{low:g} to {high:g}" if low is not None and high is not None else \
            f"at least {low:g}" if low is not None else f"at most {high:g}"
    return ""


def record_text(table: str) -> list[str]:
    """The rules between a record's fields, one sentence each (docs/data-model.md)."""
    rules = RULES.get(table)
    if rules is None:
        return []
    lines = [f"`{o.later}` is not {'before' if o.later.endswith(('_at', '_on')) else 'below'} `{o.earlier}`: "
             f"{o.why}" for o in rules.orders]
    lines += [f"`{needed}` is filled when `{field}` is " + ("filled" if value is None else f"`{value}`")
              for field, value, needed in rules.required_when]
    return lines
