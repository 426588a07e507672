"""EM history from an environmental-monitoring system's export: readings of the hub's sensors.

A file holds sensor_id, ts, value and, optionally, unit (an EM export states each reading's unit; it must
be the sensor's, so a Fahrenheit export never lands in a Celsius trend). Every row is checked: a sensor
the hub has (of the importing site manager's own site), an ISO 8601 time (UTC unless it carries an
offset), a finite value, and no sensor and time twice. An EM history runs to millions of rows, so the
file is read CHUNK_ROWS rows at a time: a dry run checks every chunk, and an import checks and writes
chunk after chunk inside one transaction that any problem rolls back. Each reading gets the id
``import:<sensor>@<time>``, so importing the same export twice stores nothing new; a stored reading whose
value the file contradicts refuses the file (an import never rewrites measurements).

The readings and the minute/hour/day rollups the trends read are written in one transaction, through the
live ingest's statements (queries/imports/ingest_store.py). Excursions are detected on live data only:
imported history fills trends and completeness, and raises no excursion or deviation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from queries.engine import data_version
from queries.engine.warehouse import Warehouse
from queries.imports import importer, ingest_store
from queries.imports.importer import ImportError_, check_columns, convert

TABLE = "readings"
# What a file (or a profile) may fill: (field, type, required, meaning), for docs/data-model.md too.
FIELD_TABLE = (
    ("sensor_id", "text", True, "a sensor of the hub (sensors.sensor_id); a site manager's own site's only"),
    ("ts", "timestamp", True, "when it was measured; ISO 8601, UTC unless an offset is given; once per sensor"),
    ("value", "double", True, "the measurement, a finite number"),
    ("unit", "text", False, "if given, the sensor's own unit (sensors.unit); a file in another unit is refused"),
)
FIELDS = tuple(name for name, *_ in FIELD_TABLE)
REQUIRED = tuple(name for name, _, required, _ in FIELD_TABLE if required)
ID_PREFIX = "import:"
CHUNK_ROWS = 100_000  # rows read, checked and written at a time (bench/import_bench.py measures the memory)
MAX_PROBLEMS = 10_000  # a file this wrong is the wrong file: the pass stops reading
PREVIEW_ROWS = 20


def reading_id(sensor_id: str, ts) -> str:
    return f"{ID_PREFIX}{sensor_id}@{pd.Timestamp(ts).isoformat()}"


@dataclass
class Outcome:
    """What a pass over a readings file found (and, when writing, wrote)."""
    insert: int = 0
    unchanged: int = 0
    preview: pd.DataFrame = field(default_factory=pd.DataFrame)  # the first rows as they would be stored
    warnings: list[str] = field(default_factory=list)


def run(wh: Warehouse, path: Path, *, profile: str | None, site: str | None, outside_site: str,
        conn=None, progress=None) -> Outcome:
    """Check every reading of the file, CHUNK_ROWS rows at a time, and (with ``conn``) write each chunk's
    new readings in conn's transaction as it goes: this process's memory does not grow with the file, but
    a warehouse may hold the transaction's rows in memory until the commit (DuckDB does). Any problem
    raises ImportError_ naming each (file, row, field) at the end of the pass, so a writing pass's
    transaction is rolled back: all or nothing. After MAX_PROBLEMS problems the pass stops reading."""
    sensors = wh.query("sql/imports/sensor_units").set_index("sensor_id")
    seen, problems = SeenReadings(), []
    if conn is None:  # a dry run: a transaction per chunk for its staging table, rolled back after it
        with wh.engine.connect() as dry:
            outcome = _check_chunks(wh, path, profile, site, outside_site, sensors, dry, write_new=False,
                                    seen=seen, problems=problems, progress=progress)
    else:
        outcome = _check_chunks(wh, path, profile, site, outside_site, sensors, conn, write_new=True,
                                seen=seen, problems=problems, progress=progress)
    problems += seen.repeats(path.name)
    if problems:
        raise ImportError_(sorted(problems, key=importer.row_of))
    return outcome


def _check_chunks(wh: Warehouse, path: Path, profile: str | None, site: str | None, outside_site: str,
                  sensors: pd.DataFrame, conn, *, write_new: bool, seen: SeenReadings,
                  problems: list[str], progress=None) -> Outcome:
    outcome = Outcome()
    notes = importer.WarningNotes(wh, TABLE, path.name)
    first_row = 1
    for raw in importer.read_chunks(path, CHUNK_ROWS):
        rows = len(raw)
        if profile is not None:
            try:
                raw = importer.mapped(wh, TABLE, raw, path.name, profile, list(FIELDS), first_row)
            except ImportError_ as refused:
                if not any(importer.row_of(p) for p in refused.problems):  # the profile or the header: the whole file
                    raise
                problems += refused.problems
                raw = None
        if raw is not None:
            frame, found = readings_frame(raw, path.name, first_row, sensors, site, outside_site)
            seen.add(frame, first_row)
            problems += found
            if not found:
                insert, same, contradicted = classify(wh, conn, frame, path.name, first_row)
                problems += contradicted
                outcome.insert += len(insert)
                outcome.unchanged += same
                if write_new and not problems:
                    write(wh, conn)
                elif not write_new:  # (one transaction over all chunks kept each replaced stage: 1.5 GB at 10 M)
                    conn.rollback()
            if first_row == 1:
                outcome.preview = frame.head(PREVIEW_ROWS)
            notes.add(frame, first_row)
        first_row += rows
        if progress is not None:  # (rows read so far)
            progress(first_row - 1)
        if len(problems) >= MAX_PROBLEMS:
            problems.append(f"{path.name}: stopped checking at row {first_row - 1:,} after {len(problems):,} "
                            "problems; mend these and import again")
            break
    outcome.warnings = notes.lines()
    return outcome


def readings_frame(raw: pd.DataFrame, file_name: str, first_row: int, sensors: pd.DataFrame, site: str | None,
                   outside_site: str) -> tuple[pd.DataFrame, list[str]]:
    """sensor_id, ts, value, msg_id of every row of a chunk (raw's first row is the file's ``first_row``),
    and every problem by row and field.

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
                                                            raw["value"].tolist(), units, strict=True),
                                                        start=first_row):
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
    problems += rule_problems(frame, file_name, first_row, sensors, site, outside_site)
    frame["msg_id"] = [None if s is None or pd.isna(t) else reading_id(s, t)
                       for s, t in zip(frame["sensor_id"], frame["ts"], strict=True)]
    return frame.drop(columns=["unit"]), problems


def rule_problems(frame: pd.DataFrame, file_name: str, first_row: int, sensors: pd.DataFrame, site: str | None,
                  outside_site: str) -> list[str]:
    """The rules between a chunk's cells and the hub's sensors (sensor_units.sql, by sensor_id), as a pandera
    schema validated lazily (every failure at once): a sensor of the hub, of the manager's own site; the
    sensor's unit. Cells the reading already refused (None, NaT, NaN) are not judged again. (A sensor and
    time read twice is found across the whole file by SeenReadings.)"""
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
    }, checks=frame_checks)
    try:
        schema.validate(checked, lazy=True)
    except pa.errors.SchemaErrors as failed:
        cases = failed.failure_cases
    else:
        return []
    problems = []
    for check, index in dict.fromkeys(zip(cases["check"], cases["index"], strict=True)):
        if index is None or pd.isna(index):
            continue
        r = checked.loc[int(index)]
        where = f"{file_name} row {int(index) + first_row}, field"
        if check == "sensor":
            problems.append(f"{where} 'sensor_id': {str(r.sensor_id)[:60]!r} is not a sensor of the hub")
        elif check == "site":
            problems.append(f"{where} 'sensor_id': {r.sensor_id!r} is a sensor of {r.sensor_site}, not of your site "
                            f"({site}); {outside_site} the readings of their own site's sensors only")
        elif check == "unit":
            problems.append(f"{where} 'unit': {str(r.unit)[:20]!r}, but {r.sensor_id} measures in "
                            f"{r.sensor_unit!r} (convert the export, or map the unit in the profile)")
    return problems


class SeenReadings:
    """The sensor and time of every row read so far, in numpy arrays (20 bytes a row, so ten million rows
    take 200 MB), to find a reading the file repeats however far apart its chunks are."""

    def __init__(self):
        self._codes: dict[str, int] = {}
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, frame: pd.DataFrame, first_row: int) -> None:
        known = (frame["sensor_id"].notna() & frame["ts"].notna()).to_numpy()
        codes = np.fromiter((self._codes.setdefault(s, len(self._codes)) for s in frame["sensor_id"][known]),
                            dtype=np.int32, count=int(known.sum()))
        ts = frame["ts"][known].to_numpy(dtype="datetime64[ns]").view("int64")
        self._parts.append((codes, ts, np.flatnonzero(known).astype(np.int64) + first_row))

    def repeats(self, file_name: str) -> list[str]:
        """A problem for each row whose sensor and time an earlier row has, naming that row."""
        if not self._parts:
            return []
        codes, ts, rows = (np.concatenate(p) for p in zip(*self._parts, strict=True))
        self._parts = []  # (freed: the sort below copies each array once more)
        order = np.lexsort((rows, ts, codes))  # by sensor, then time, then row
        codes, ts, rows = codes[order], ts[order], rows[order]
        again = np.zeros(len(rows), dtype=bool)
        again[1:] = (codes[1:] == codes[:-1]) & (ts[1:] == ts[:-1])
        first = rows[np.maximum.accumulate(np.where(again, 0, np.arange(len(rows))))]  # each run's first row
        names = list(self._codes)
        return [f"{file_name} row {rows[i]}, field 'ts': {names[codes[i]]} at {pd.Timestamp(ts[i]).isoformat()} "
                f"repeats row {first[i]} of the file" for i in np.flatnonzero(again)]


def classify(wh: Warehouse, conn, frame: pd.DataFrame, file_name: str,
             first_row: int = 1) -> tuple[list[int], int, list[str]]:
    """(positions to insert, how many are stored already with the same value, problems: stored readings
    the file contradicts). The chunk is staged as ingest_stage_readings in conn's transaction and looked up
    with one join (write() inserts it from there)."""
    ids = frame["msg_id"].tolist()
    ingest_store.stage(wh, conn, "ingest_stage_readings", {
        "sensor_id": frame["sensor_id"].tolist(), "ts": list(frame["ts"].dt.to_pydatetime()),
        "value": frame["value"].tolist(), "msg_id": ids})
    stored = dict(wh.execute(conn, "sql/imports/staged_readings_stored").fetchall())
    insert, same, problems = [], 0, []
    for position, (msg_id, value) in enumerate(zip(ids, frame["value"].tolist(), strict=True)):
        if msg_id not in stored:
            insert.append(position)
        elif math.isclose(stored[msg_id], value, rel_tol=1e-12, abs_tol=0.0):
            same += 1
        else:
            problems.append(f"{file_name} row {position + first_row}, field 'value': {value!r}, but the reading of "
                            f"{frame.at[position, 'sensor_id']} at {frame.at[position, 'ts'].isoformat()} is stored "
                            f"as {stored[msg_id]!r}; an import does not change stored readings")
    return insert, same, problems


def write(wh: Warehouse, conn) -> None:
    """The chunk classify() staged, its new readings and their rollups, in the caller's transaction (not
    the live tiles' newest values: history is never shown as live)."""
    if ingest_store.insert_staged_readings(wh, conn):  # the new ones staged as ingest_stage_new
        wh.execute(conn, "ingest/upsert_rollups")
    for table in ("readings", "reading_rollups"):  # a history load: trends and drift change at once
        data_version.note_write(conn, table)
