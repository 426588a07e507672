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
import re

import pandas as pd
import pandera.pandas as pa

from queries.engine import data_version
from queries.engine.warehouse import Warehouse
from queries.imports import ingest_store
from queries.imports.importer import KEY_LOOKUP_CHUNK, ImportError_, check_columns, convert

TABLE = "readings"
FIELDS = ("sensor_id", "ts", "value", "unit")  # what a file (or a profile) may fill
REQUIRED = ("sensor_id", "ts", "value")
ID_PREFIX = "import:"


def reading_id(sensor_id: str, ts) -> str:
    return f"{ID_PREFIX}{sensor_id}@{pd.Timestamp(ts).isoformat()}"


def readings_frame(wh: Warehouse, raw: pd.DataFrame, file_name: str, site: str | None,
                   outside_site: str) -> pd.DataFrame:
    """sensor_id, ts, value, msg_id of every row, or ImportError_ naming every problem by row and field.

    Each cell is read by the importer's own rules (strict ISO 8601 times, ASCII numbers: pandas' parsing
    would take 'now' or '12/06/26'); the rules between cells and the hub's sensors are a pandera schema."""
    present = [str(c).strip().lstrip("\ufeff") for c in raw.columns]
    raw = raw.set_axis(present, axis=1)
    check_columns(raw, file_name, allowed=list(FIELDS), required=list(REQUIRED),
                  listed=f"a reading file has {', '.join(FIELDS)}")
    problems: list[str] = []
    read: dict[str, list] = {"sensor_id": [], "ts": [], "value": [], "unit": []}
    units = raw["unit"].tolist() if "unit" in raw else [None] * len(raw)
    for row, (sensor, when, number, unit) in enumerate(zip(raw["sensor_id"].tolist(), raw["ts"].tolist(),
                                                            raw["value"].tolist(), units, strict=True), start=1):
        sensor = sensor.strip() if isinstance(sensor, str) and sensor.strip() else None
        if sensor is None:
            problems.append(f"{file_name} row {row}, field 'sensor_id': is empty but required")
        ts, error = convert(when, "timestamp")
        if error or ts is None:
            problems.append(f"{file_name} row {row}, field 'ts': {error or 'is empty but required'}")
        value, error = convert(number, "double")
        if error or value is None:
            problems.append(f"{file_name} row {row}, field 'value': {error or 'is empty but required'}")
        read["sensor_id"].append(sensor)
        read["ts"].append(ts)
        read["value"].append(value)
        read["unit"].append(unit.strip() if isinstance(unit, str) and unit.strip() else None)
    frame = pd.DataFrame(read)
    frame["ts"] = pd.to_datetime(frame["ts"])
    frame["value"] = frame["value"].astype(float)
    problems += rule_problems(wh, frame, file_name, site, outside_site)
    if problems:
        raise ImportError_(sorted(problems, key=_row_of))
    frame["msg_id"] = [reading_id(s, t) for s, t in zip(frame["sensor_id"], frame["ts"], strict=True)]
    return frame.drop(columns=["unit"])


def _row_of(problem: str) -> int:
    match = re.search(r" row (\d+),", problem)
    return int(match.group(1)) if match else 0


def rule_problems(wh: Warehouse, frame: pd.DataFrame, file_name: str, site: str | None,
                  outside_site: str) -> list[str]:
    """The rules between a file's cells and the hub's sensors, as a pandera schema validated lazily (every
    failure at once): a sensor of the hub, of the manager's own site; the sensor's unit; one reading per
    sensor and time. Cells the reading already refused (None, NaT, NaN) are not judged again."""
    sensors = wh.query("sql/imports/sensor_units").set_index("sensor_id")
    checked = frame.assign(sensor_unit=frame["sensor_id"].map(sensors["unit"]),
                           sensor_site=frame["sensor_id"].map(sensors["site_id"]))
    frame_checks = [pa.Check(lambda d: d["unit"].isna() | d["sensor_unit"].isna() | (d["unit"] == d["sensor_unit"]),
                             name="unit")]
    if site is not None:
        frame_checks.append(pa.Check(lambda d: d["sensor_site"].isna() | (d["sensor_site"] == site), name="site"))
    schema = pa.DataFrameSchema({
        # Any dtype: pandas 3 may hold the text as str or as object.
        "sensor_id": pa.Column(None, pa.Check(lambda s: s.isin(sensors.index) | s.isna(), name="sensor"),
                               nullable=True),
        "value": pa.Column(float, nullable=True),  # finite: the reading refused inf and NaN already
    }, checks=frame_checks, unique=["sensor_id", "ts"], report_duplicates="exclude_first")
    try:
        schema.validate(checked, lazy=True)
    except pa.errors.SchemaErrors as failed:
        cases = failed.failure_cases
    else:
        return []
    keys = list(zip(frame["sensor_id"], frame["ts"], strict=True))
    first_row = {key: row for row, key in reversed(list(enumerate(keys, start=1)))}
    problems = []
    for check, index in dict.fromkeys(zip(cases["check"], cases["index"], strict=True)):
        if index is None or pd.isna(index):
            continue
        r = checked.loc[int(index)]
        row = int(index) + 1
        where = f"{file_name} row {row}, field"
        if check == "sensor":
            problems.append(f"{where} 'sensor_id': {str(r.sensor_id)[:60]!r} is not a sensor of the hub")
        elif check == "site":
            problems.append(f"{where} 'sensor_id': {r.sensor_id!r} is a sensor of {r.sensor_site}, not of your site "
                            f"({site}); {outside_site} the readings of their own site's sensors only")
        elif check == "unit":
            problems.append(f"{where} 'unit': {str(r.unit)[:20]!r}, but {r.sensor_id} measures in "
                            f"{r.sensor_unit!r} (convert the export, or map the unit in the profile)")
        elif check == "multiple_fields_uniqueness" and r.sensor_id is not None and not pd.isna(r.ts):
            problems.append(f"{where} 'ts': {r.sensor_id} at {r.ts.isoformat()} repeats row "
                            f"{first_row[(r.sensor_id, r.ts)]} of the file")
    return problems


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
