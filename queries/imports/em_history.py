"""EM history from an environmental-monitoring system's export: readings of the hub's sensors.

A file holds sensor_id, ts, value and, optionally, unit (an EM export states each reading's unit; it must
be the sensor's, so a Fahrenheit export never lands in a Celsius trend). Every row is checked first:
a sensor the hub has (of the importing site manager's own site), an ISO 8601 time (UTC unless it carries
an offset), a finite value, and no sensor and time twice. Each reading gets the id
``import:<sensor>@<time>``, so importing the same export twice stores nothing new; a stored reading whose
value the file contradicts refuses the file (an import never rewrites measurements).

The readings and the minute/hour/day rollups the trends read are written in one transaction, through the
live ingest's statements (queries/imports/ingest_store.py). Excursions are detected on live data only:
imported history fills trends and completeness, and raises no excursion or deviation."""

from __future__ import annotations

import math

import pandas as pd

from queries.engine import data_version
from queries.engine.warehouse import Warehouse
from queries.imports import ingest_store
from queries.imports.importer import KEY_LOOKUP_CHUNK, ImportError_, convert

TABLE = "readings"
FIELDS = ("sensor_id", "ts", "value", "unit")  # what a file (or a profile) may fill
REQUIRED = ("sensor_id", "ts", "value")
ID_PREFIX = "import:"


def reading_id(sensor_id: str, ts) -> str:
    return f"{ID_PREFIX}{sensor_id}@{pd.Timestamp(ts).isoformat()}"


def readings_frame(wh: Warehouse, raw: pd.DataFrame, file_name: str, site: str | None,
                   outside_site: str) -> pd.DataFrame:
    """sensor_id, ts, value, msg_id of every row, or ImportError_ naming every problem by row and field."""
    present = [str(c).strip().lstrip("\ufeff") for c in raw.columns]
    raw = raw.set_axis(present, axis=1)
    problems = [f"{file_name}: unknown column(s) {', '.join(c for c in present if c not in FIELDS)} (a reading "
                f"file has {', '.join(FIELDS)})"] if set(present) - set(FIELDS) else []
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        problems.append(f"{file_name}: missing required column(s) {', '.join(missing)}")
    if problems:
        raise ImportError_(problems)
    if raw.empty:
        raise ImportError_([f"{file_name}: no data rows"])
    sensors = {r.sensor_id: (r.unit, r.site_id) for r in wh.query("sql/imports/sensor_units").itertuples()}
    units = raw["unit"].tolist() if "unit" in raw else [None] * len(raw)
    out: dict[str, list] = {"sensor_id": [], "ts": [], "value": [], "msg_id": []}
    first: dict[tuple, int] = {}
    for row, (sensor, when, number, unit) in enumerate(zip(raw["sensor_id"].tolist(), raw["ts"].tolist(),
                                                            raw["value"].tolist(), units, strict=True), start=1):
        def problem(field: str, why: str, row=row) -> None:
            problems.append(f"{file_name} row {row}, field {field!r}: {why}")

        sensor = str(sensor).strip() if isinstance(sensor, str) else None
        known = sensors.get(sensor) if sensor else None
        if not sensor:
            problem("sensor_id", "is empty but required")
        elif known is None:
            problem("sensor_id", f"{sensor[:60]!r} is not a sensor of the hub")
        elif site is not None and known[1] != site:
            problem("sensor_id", f"{sensor!r} is a sensor of {known[1]}, not of your site ({site}); {outside_site} "
                                 "the readings of their own site's sensors only")
        ts, error = convert(when, "timestamp")
        if error or ts is None:
            problem("ts", error or "is empty but required")
        value, error = convert(number, "double")
        if error or value is None or not math.isfinite(value):
            problem("value", error or "is empty but required")
        unit = str(unit).strip() if isinstance(unit, str) and unit.strip() else None
        if known is not None and unit is not None and unit != known[0]:
            problem("unit", f"{unit[:20]!r}, but {sensor} measures in {known[0]!r} (convert the export, or map the "
                            "unit in the profile)")
        if sensor and ts is not None:
            seen = first.setdefault((sensor, ts), row)
            if seen != row:
                problem("ts", f"{sensor} at {ts.isoformat()} repeats row {seen} of the file")
            out["msg_id"].append(reading_id(sensor, ts))
        else:
            out["msg_id"].append(None)
        out["sensor_id"].append(sensor)
        out["ts"].append(ts)
        out["value"].append(value)
    if problems:
        raise ImportError_(problems)
    return pd.DataFrame(out)


def classify(wh: Warehouse, frame: pd.DataFrame, file_name: str) -> tuple[list[int], int, list[str]]:
    """(positions to insert, how many are stored already with the same value, problems: stored readings
    the file contradicts)."""
    ids = frame["msg_id"].tolist()
    stored: dict[str, float] = {}
    for offset in range(0, len(ids), KEY_LOOKUP_CHUNK):
        found = wh.query("sql/imports/stored_readings", {"ids": ids[offset:offset + KEY_LOOKUP_CHUNK]})
        stored.update(zip(found["msg_id"], found["value"], strict=True))
    insert, same, problems = [], 0, []
    for position, (msg_id, value) in enumerate(zip(ids, frame["value"].tolist(), strict=True)):
        if msg_id not in stored:
            insert.append(position)
        elif math.isclose(stored[msg_id], value, rel_tol=1e-12, abs_tol=0.0):
            same += 1
        else:
            problems.append(f"{file_name} row {position + 1}, field 'value': {value!r}, but the reading of "
                            f"{frame.at[position, 'sensor_id']} at {frame.at[position, 'ts'].isoformat()} is stored "
                            f"as {stored[msg_id]!r}; an import does not change stored readings")
    return insert, same, problems


def write(wh: Warehouse, conn, frame: pd.DataFrame) -> None:
    """The readings and their rollups, in the caller's transaction (not the live tiles' newest values:
    history is never shown as live)."""
    if frame.empty:
        return
    ts = [pd.Timestamp(t).to_pydatetime() for t in frame["ts"]]
    new = ingest_store.insert_readings(wh, conn, {"sensor_id": frame["sensor_id"].tolist(), "ts": ts,
                                                  "value": [float(v) for v in frame["value"]],
                                                  "msg_id": frame["msg_id"].tolist()})
    if new:  # staged as ingest_stage_new by insert_readings
        wh.execute(conn, "ingest/upsert_rollups")
    for table in ("readings", "reading_rollups"):  # a history load: trends and drift change at once
        data_version.note_write(conn, table)
