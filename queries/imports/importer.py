"""Reading, mapping and checking a CSV, XLSX or Parquet file for one warehouse table (queries/imports/plan.py
decides what it inserts and updates, and writes it all or nothing).

The whole file is checked against the table's declared columns before anything is written; every
problem names the file, the row (1-based data row, header excluded) and the field. A key (the table's
PRIMARY KEY or a UNIQUE constraint, read from the warehouse) that repeats one earlier in the file is
refused. An empty cell in a NOT NULL column with a default takes the default."""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
from sqlalchemy import column as sql_column
from sqlalchemy import select, tuple_
from sqlalchemy import table as sql_table

from queries.engine.sql_files import QueryError
from queries.engine.warehouse import Warehouse, WarehouseUnavailable

logger = logging.getLogger(__name__)

# Tables an import may fill; users, audit_log and the ingest tables have their own paths.
IMPORTABLE = frozenset({
    "sites", "rooms", "sensors", "limits", "specifications", "batches", "deviations", "capas",
    "near_misses", "programmes", "survey_responses", "training_records", "inspections", "documents",
    "sop_executions",
})
MAX_ERRORS_SHOWN = 50
PARQUET_VECTORS = 50  # DuckDB vectors (2,048 rows each) per frame when a whole Parquet file is read
KEY_LOOKUP_CHUNK = 2_000  # file keys per query when naming the ones already in the warehouse
ROW = re.compile(r" row (\d+),")  # where a problem names its row: '<file> row 12, field ...'


class _DatabaseDefault:
    """An empty cell whose default the database computes (not a constant): the column is left out of
    the INSERT for that row, so the database fills it."""

    def __repr__(self) -> str:
        return "DEFAULT"


DATABASE_DEFAULT = _DatabaseDefault()


class ImportError_(ValueError):
    """The file was refused; str() lists every problem found (file, row, field, what)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:MAX_ERRORS_SHOWN]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__("\n".join(shown) + more)


def row_of(problem: str) -> int:
    """The file row a problem names (0 for a problem of the whole file: its header, its profile)."""
    match = ROW.search(problem)
    return int(match.group(1)) if match else 0


def read_file(path: Path) -> pd.DataFrame:
    """Every cell as text (or None): types are decided by the validation, not guessed by pandas."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        except UnicodeDecodeError as exc:  # its position counts from a buffer of pandas', not the file
            raise ImportError_([not_utf8(path)]) from exc
    if suffix in (".xlsx", ".xlsm"):
        return pd.read_excel(path, dtype=str, keep_default_na=False, na_values=[""])
    if suffix == ".parquet":
        return pd.concat(list(parquet_chunks(path, PARQUET_VECTORS * 2048)), ignore_index=True)
    raise ImportError_([f"{path.name}: unsupported file type {suffix!r} (use .csv, .xlsx or .parquet)"])


def parquet_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """A Parquet file's rows as pandas frames of about ``rows`` rows (whole DuckDB vectors of 2,048), values
    as Python objects; read by DuckDB, which the hub has already, instead of a second Parquet library. The
    first frame may be empty (a file without rows)."""
    vectors = max(1, rows // 2048)
    with duckdb.connect() as reader:
        reader.execute("SET TimeZone = 'UTC'")
        reader.execute("SELECT * FROM read_parquet($path)", {"path": str(path)})
        chunk = reader.fetch_df_chunk(vectors)
        yield chunk.astype(object)
        while True:
            chunk = reader.fetch_df_chunk(vectors)
            if chunk.empty:
                return
            yield chunk.astype(object)


def read_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The file's cells as text, ``rows`` rows at a time (each chunk indexed from 0), read as read_file
    reads them; the first chunk may be empty (a header without rows). An unreadable part is an ImportError_
    naming the file, however far into it."""
    if not path.is_file():
        raise ImportError_([f"{path}: no such file"])
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8",
                             chunksize=rows) as reader:
                yielded = False
                for chunk in reader:
                    yielded = True
                    yield chunk.reset_index(drop=True)
                if not yielded:  # a header and no rows
                    yield pd.read_csv(path, dtype=str, nrows=0, encoding="utf-8")
        elif suffix == ".parquet":
            yield from parquet_chunks(path, rows)
        else:  # a spreadsheet holds at most 1,048,576 rows: read whole, handed on in chunks
            frame = read_file(path)
            for offset in range(0, max(len(frame), 1), rows):
                yield frame.iloc[offset:offset + rows].reset_index(drop=True)
    except ImportError_:
        raise
    except Exception as exc:
        raise unreadable(path, exc) from exc


def count_rows(path: Path) -> int | None:
    """About how many data rows a file holds, read cheaply before the import reads it (a progress bar's
    100 %): a CSV's lines less its header (a cell with a line break in it counts twice), a Parquet
    file's row count from its metadata; None for a spreadsheet or a file that cannot be read."""
    try:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            with path.open("rb") as stream:
                lines = sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b""))
            return max(lines - 1, 0)
        if suffix == ".parquet":
            with duckdb.connect() as reader:
                return int(reader.execute("SELECT COUNT(*) FROM read_parquet($path)", {"path": str(path)}).fetchone()[0])
    except Exception:  # the import itself names what is wrong with the file
        return None
    return None


def open_file(path: Path) -> pd.DataFrame:
    """The file's cells as text; a missing or unreadable file is an ImportError_ naming it."""
    if not path.is_file():
        raise ImportError_([f"{path}: no such file"])
    try:
        return read_file(path)
    except ImportError_:
        raise
    except Exception as exc:
        raise unreadable(path, exc) from exc


def unreadable(path: Path, exc: Exception) -> ImportError_:
    """The refusal of a file the reader failed on (not UTF-8, not a spreadsheet, a broken Parquet file...)."""
    if isinstance(exc, UnicodeDecodeError):
        return ImportError_([not_utf8(path)])
    return ImportError_([f"{path.name}: cannot be read ({type(exc).__name__}: {exc})"])


class WarningNotes:
    """What an import may write but a person should look at (shown in the dry run and the import, never
    refusing it): a site the hub does not have, a time in the future, a root-cause code no deviation has
    used yet. Gathered chunk by chunk (``add``); ``lines()`` gives one line per field and value, with
    its rows, however many chunks they span."""

    def __init__(self, wh: Warehouse, table: str, file_name: str):
        self.wh, self.table, self.file_name = wh, table, file_name
        self.found: dict[tuple[str, str, str], list[int]] = {}
        self._known: dict[str, set] = {}

    def _known_values(self, column: str) -> set:
        if column not in self._known:
            self._known[column] = set(self.wh.query("sql/imports/known_sites")["site_id"]) if column == "site_id" \
                else set(self.wh.query("sql/imports/known_root_causes")["root_cause_code"])
        return self._known[column]

    def add(self, frame: pd.DataFrame, first_row: int = 1) -> None:
        """Note the chunk's rows (frame's first is the file's ``first_row``)."""
        checks = []
        if "site_id" in frame and self.table != "sites":
            checks.append(("site_id", "is not a site of the hub"))
        if "root_cause_code" in frame:
            checks.append(("root_cause_code", "is a root-cause code no deviation of the hub uses yet"))
        for column, why in checks:
            known = self._known_values(column)
            for row, value in enumerate(frame[column].tolist(), start=first_row):
                if value is not None and value not in known:
                    self.found.setdefault((column, str(value), why), []).append(row)
        now = pd.Timestamp.now(tz="UTC").tz_localize(None)
        for column in frame.columns:  # one vector comparison per column, not a check per cell
            times = pd.to_datetime(frame[column], errors="coerce") if frame[column].map(
                lambda v: isinstance(v, datetime)).any() else None
            if times is None:
                continue
            for row in (times > now).to_numpy().nonzero()[0]:
                self.found.setdefault((column, times.iat[row].isoformat(), "is in the future"), []).append(
                    int(row) + first_row)

    def lines(self) -> list[str]:
        lines = []
        for (column, value, why), rows in self.found.items():
            where = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
            lines.append(f"{self.file_name}: warning: field {column!r}: {value[:60]!r} {why} "
                         f"(row{'s' if len(rows) > 1 else ''} {where})")
        return lines


def mapped(wh: Warehouse, table: str, raw: pd.DataFrame, file_name: str, profile_name: str,
           table_fields: list[str], first_row: int = 1) -> pd.DataFrame:
    """The export mapped to the table's columns by the profile; a wrong profile or any row it cannot map is
    an ImportError_ (nothing written). ``first_row``: the file's row number of raw's first row."""
    from queries.imports import profiles

    try:
        profile = profiles.load_profile(profile_name)
        if profile.target != table:
            raise profiles.ProfileError(f"{file_name}: the profile {profile.path.name} fills {profile.target}, "
                                        f"not {table}")
        profiles.check_fields(profile, table_fields)
    except profiles.ProfileError as exc:
        raise ImportError_([str(exc)]) from exc
    zones = dict(wh.query("sql/imports/site_zones").itertuples(index=False, name=None))
    frame, problems = profiles.apply(profile, raw, file_name, zones, first_row=first_row)
    if problems:
        raise ImportError_(problems)
    return frame


def refusal(wh: Warehouse, table: str, frame: pd.DataFrame, file_name: str, exc: Exception,
            columns: pd.DataFrame | None = None, rows: list[int] | None = None) -> ImportError_:
    """The ImportError_ for a write the database refused (the transaction is rolled back): the rows
    whose key is already in the warehouse, by row (``rows``: each frame row's file row; else 1, 2, ...),
    field and value; else the database's own message."""
    problems = [] if isinstance(exc, WarehouseUnavailable) else already_in_warehouse(wh, table, frame, file_name,
                                                                                     columns, rows)
    if problems:
        return ImportError_(problems)
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ImportError_([f"{file_name}: the warehouse refused the rows ({first_line}); nothing was written"])


def table_columns(wh: Warehouse, table: str) -> pd.DataFrame:
    """column_name, data_type, is_nullable, has_default, column_default of a table, from the warehouse."""
    return wh.query("sql/import_columns", {"table_name": table})


def table_constraints(wh: Warehouse, table: str) -> list[tuple[str, tuple[str, ...]]]:
    """('PRIMARY KEY' or 'UNIQUE', its columns) of each key of the table, from the warehouse."""
    keys: dict[str, tuple[str, list[str]]] = {}
    for row in wh.query("sql/import_keys", {"table_name": table}).itertuples():
        keys.setdefault(row.constraint_name, (str(row.constraint_type), []))[1].append(str(row.column_name))
    return [(kind, tuple(key)) for kind, key in keys.values()]


def table_keys(wh: Warehouse, table: str) -> list[tuple[str, ...]]:
    """The columns of the table's PRIMARY KEY and of each UNIQUE constraint, from the warehouse."""
    return [key for _, key in table_constraints(wh, table)]


def write_rows(wh: Warehouse, conn, table: str, frame: pd.DataFrame) -> None:
    """Insert the rows in the caller's transaction. Rows with a cell the database fills itself
    (DATABASE_DEFAULT) go in groups that leave those columns out."""
    pending = [name for name in frame.columns  # only a column of mixed (object) cells can hold the marker
               if frame[name].dtype == object and any(v is DATABASE_DEFAULT for v in frame[name])]
    if not pending:
        wh.bulk_insert(conn, table, frame)
        return
    groups: dict[tuple[bool, ...], list[int]] = {}
    for position, cells in enumerate(frame[pending].itertuples(index=False, name=None)):
        groups.setdefault(tuple(v is DATABASE_DEFAULT for v in cells), []).append(position)
    for flags, positions in groups.items():
        left_out = [name for name, flag in zip(pending, flags, strict=True) if flag]
        wh.bulk_insert(conn, table, frame.iloc[positions].drop(columns=left_out))


# A constant default as information_schema shows it: ''::text, 'none'::text, '*', 0, '-1'::integer, true.
CONSTANT_DEFAULT = re.compile(
    r"^\(*(?:'(?P<text>(?:[^']|'')*)'|(?P<bare>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false))\)*"
    r"(?:::[a-z ]+)?$", re.IGNORECASE)


def default_value(spec):
    """The value an empty cell of this column takes: its constant default, converted to the column's
    type, or DATABASE_DEFAULT when the default is an expression only the database can evaluate."""
    match = CONSTANT_DEFAULT.match(str(spec.column_default or "").strip())
    if not match:
        return DATABASE_DEFAULT
    literal = match["text"].replace("''", "'") if match["text"] is not None else match["bare"]
    value, error = convert(literal, spec.data_type)
    textual = column_kind(spec.data_type)[0] == "text"
    if error or (value is None and not textual):
        return DATABASE_DEFAULT
    return literal if textual else value


def validate(raw: pd.DataFrame, columns: pd.DataFrame, file_name: str,
             keys: list[tuple[str, ...]] = ()) -> pd.DataFrame:
    """The file's cells in the table's types, or ImportError_ naming every problem (file, row, field)."""
    frame, problems = read_rows(raw, columns, file_name, keys)
    if problems:
        raise ImportError_(problems)
    return frame


def read_rows(raw: pd.DataFrame, columns: pd.DataFrame, file_name: str, keys: list[tuple[str, ...]] = (),
              first_row: int = 1, seen: dict[tuple[str, ...], dict] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """A chunk's cells in the table's types (raw's first row is the file's ``first_row``) and every cell
    problem and repeated key by row and field; ``seen`` (key -> {value: file row}) carries the keys of
    earlier chunks, so a key repeated chunks apart is found. A header the table cannot take raises."""
    problems: list[str] = []
    declared = {r.column_name: r for r in columns.itertuples()}
    present = [str(c).strip() for c in raw.columns]
    raw.columns = present
    check_columns(raw, file_name, allowed=list(declared),
                  required=[name for name, r in declared.items() if r.is_nullable == "NO" and not r.has_default],
                  rows_expected=first_row == 1)
    out = {}
    for name in present:
        spec = declared[name]
        converted = []
        for index, cell in enumerate(raw[name].tolist(), start=first_row):
            value, error = convert(cell, spec.data_type)
            if error is None and value is None and spec.is_nullable == "NO":
                if spec.has_default:  # an empty cell (or a formula with no saved value) takes the default
                    value = default_value(spec)
                else:
                    error = "is empty but required"
            if error:
                problems.append(f"{file_name} row {index}, field {name!r}: {error}")
            converted.append(value)
        out[name] = converted
    frame = pd.DataFrame(out)
    seen = seen if seen is not None else {}
    for key in keys:
        problems += repeated_in_file(frame, key, declared, file_name, first_row, seen.setdefault(key, {}))
    return frame, problems


def check_columns(raw: pd.DataFrame, file_name: str, *, allowed: list[str], required: list[str],
                  listed: str = "", rows_expected: bool = True) -> None:
    """An ImportError_ for a header with a column the target does not have or without one it requires
    (``listed``, if given, follows the unknown ones: what a file of this kind holds), or for no data rows
    (``rows_expected``: the file's first chunk)."""
    present = list(raw.columns)
    problems = []
    unknown = [c for c in present if c not in allowed]
    if unknown:
        problems.append(f"{file_name}: unknown column(s) {', '.join(unknown)}" + (f" ({listed})" if listed else ""))
    missing = [c for c in required if c not in present]
    if missing:
        problems.append(f"{file_name}: missing required column(s) {', '.join(missing)}")
    if problems:
        raise ImportError_(problems)
    if raw.empty and rows_expected:
        raise ImportError_([f"{file_name}: no data rows"])


def key_values(frame: pd.DataFrame, key: tuple[str, ...], declared: dict) -> list[tuple | None] | None:
    """Each row's value of the key (None where it is not known before writing: an empty cell of a
    UNIQUE column, a default the database computes, a cell refused above), or None when the file says
    nothing about it (a key column left out that has no constant default)."""
    parts = []
    for name in key:
        if name in frame.columns:
            parts.append(frame[name].tolist())
            continue
        spec = declared.get(name)
        value = default_value(spec) if spec is not None and spec.has_default else DATABASE_DEFAULT
        if value is DATABASE_DEFAULT:
            return None
        parts.append([value] * len(frame))
    return [None if any(v is None or v is DATABASE_DEFAULT or v != v for v in values) else tuple(values)
            for values in zip(*parts, strict=True)]


def key_fields_text(key: tuple[str, ...]) -> str:
    return f"field {key[0]!r}" if len(key) == 1 else "fields " + ", ".join(repr(name) for name in key)


def key_value_text(value: tuple) -> str:
    parts = [repr(v.isoformat() if hasattr(v, "isoformat") else v) for v in value]
    return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"


def _must_be_unique(key: tuple[str, ...]) -> str:
    return f"{key[0]} must be unique" if len(key) == 1 else \
        f"{', '.join(key[:-1])} and {key[-1]} must be unique together"


def repeated_in_file(frame: pd.DataFrame, key: tuple[str, ...], declared: dict, file_name: str, first_row: int = 1,
                     seen: dict | None = None) -> list[str]:
    """A problem for every row whose key repeats an earlier row's (``seen``: {value: file row} of earlier
    chunks, extended with this one's)."""
    values = key_values(frame, key, declared)
    if values is None:
        return []
    problems = []
    seen = seen if seen is not None else {}
    for index, value in enumerate(values, start=first_row):
        if value is None:
            continue
        if value in seen:
            problems.append(f"{file_name} row {index}, {key_fields_text(key)}: {key_value_text(value)} repeats row "
                            f"{seen[value]} of the file ({_must_be_unique(key)})")
        else:
            seen[value] = index
    return problems


def already_in_warehouse(wh: Warehouse, table: str, frame: pd.DataFrame, file_name: str,
                         columns: pd.DataFrame | None = None, rows: list[int] | None = None) -> list[str]:
    """A problem for every row whose key (PRIMARY KEY or UNIQUE, from the warehouse) is already in the
    table (``rows``: each frame row's file row; else 1, 2, ...). Asked after the database refused a
    write, so a good import pays nothing for it; if the question cannot be answered the caller falls
    back to the database's message."""
    try:
        declared = {r.column_name: r for r in (columns if columns is not None else table_columns(wh, table))
                    .itertuples()}
        rows = rows if rows is not None else list(range(1, len(frame) + 1))
        problems = []
        for key in table_keys(wh, table):
            values = key_values(frame, key, declared)
            if values is None:
                continue
            first_row: dict[tuple, int] = {}
            for row, value in zip(rows, values, strict=True):
                if value is not None:
                    first_row.setdefault(value, row)
            for value in sorted(stored_keys(wh, table, key, list(first_row)), key=first_row.__getitem__):
                problems.append(f"{file_name} row {first_row[value]}, {key_fields_text(key)}: {key_value_text(value)} is "
                                f"already in the warehouse ({_must_be_unique(key)})")
        return problems
    except Exception:  # the warehouse cannot say: the database's own message is used instead
        logger.warning("%s: could not look up which keys are already in %s", file_name, table, exc_info=True)
        return []


def stored_keys(wh: Warehouse, table: str, key: tuple[str, ...], values: list[tuple]) -> set[tuple]:
    """The ones of `values` (tuples in key order) that the table already holds. Identifiers come from
    the warehouse's catalogue and are quoted by SQLAlchemy; the values are bound parameters."""
    target = sql_table(table, *(sql_column(name) for name in key))
    cols = [target.c[name] for name in key]
    found: set[tuple] = set()
    with wh.engine.connect() as conn:
        for offset in range(0, len(values), KEY_LOOKUP_CHUNK):
            chunk = values[offset:offset + KEY_LOOKUP_CHUNK]
            where = cols[0].in_([v[0] for v in chunk]) if len(key) == 1 else tuple_(*cols).in_(chunk)
            found.update(tuple(row) for row in conn.execute(select(*cols).where(where)))
    wanted = set(values)
    return {value for value in found if value in wanted}


UNDECODED = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8


def not_utf8(path: Path) -> str:
    """Where a CSV stops being UTF-8: the data row and field (as the importer counts them: 1-based,
    header excluded, blank lines skipped), the line and the byte offset, and what to do."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start, byte = exc.start, data[exc.start]
    else:
        return f"{path.name}: is not UTF-8 text; save it as UTF-8 (Excel: Save As 'CSV UTF-8') and import again"
    line = data.count(b"\n", 0, start) + 1
    where = f"line {line}"
    text = data.decode("utf-8", errors="surrogateescape")  # an undecodable byte becomes a lone surrogate
    records = (r for r in csv.reader(io.StringIO(text, newline="")) if r)  # pandas skips blank lines
    header: list[str] = []
    for number, record in enumerate(records):  # 0 is the header
        bad = next((i for i, cell in enumerate(record) if UNDECODED.search(cell)), None)
        if bad is None:
            header = header or [h.lstrip("\ufeff").strip() for h in record]
            continue
        if number == 0:
            where = f"header, column {bad + 1} (line {line})"
        else:
            field = f"field {header[bad]!r}" if bad < len(header) and header[bad] else f"column {bad + 1}"
            where = f"row {number}, {field} (line {line})"
        break
    return (f"{path.name} {where}: byte 0x{byte:02X} at byte offset {start} is not UTF-8; the file is in "
            "another encoding (e.g. Windows-1252): save it as UTF-8 (Excel: Save As 'CSV UTF-8') and import again")


# ISO 8601 only: a date, or a date and time (T or space), optional seconds and fraction, optional Z or
# offset. pd.Timestamp alone also accepts 'now' and 'today', which would stamp the moment of the import
# into quality data, and ambiguous forms such as '12/06/26'.
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")


# How a cell is read for each column type the warehouse reports, in DuckDB's and PostgreSQL's spellings
# (a precision such as DECIMAL(18,6) is dropped first): (kind, bits for an integer).
COLUMN_KINDS: dict[str, tuple[str, int | None]] = {
    "smallint": ("integer", 16), "integer": ("integer", 32), "bigint": ("integer", 64),
    "double": ("number", None), "double precision": ("number", None), "real": ("number", None),
    "float": ("number", None), "decimal": ("number", None), "numeric": ("number", None),
    "boolean": ("boolean", None),
    "timestamp": ("timestamp", None), "timestamp without time zone": ("timestamp", None),
    "date": ("date", None),
    "varchar": ("text", None), "text": ("text", None), "character varying": ("text", None),
}
TRUE_WORDS, FALSE_WORDS = ("true", "t", "1", "yes", "y"), ("false", "f", "0", "no", "n")


@functools.lru_cache(maxsize=64)  # asked once per cell; a handful of types
def column_kind(data_type: str) -> tuple[str, int | None]:
    """(kind, bits) of a column type; a type the importer does not know is refused, never read as text."""
    name = re.sub(r"\(.*\)$", "", data_type.strip().lower()).strip()
    try:
        return COLUMN_KINDS[name]
    except KeyError:
        raise QueryError(f"column type {data_type!r} cannot be imported") from None


def convert(cell, data_type: str):
    """(value, None) or (None, 'why'). Empty cells are None; non-finite numbers are refused."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or (isinstance(cell, str) and not cell.strip()):
        return None, None
    text = str(cell).strip()
    kind, bits = column_kind(data_type)
    if kind in ("integer", "number") and not text.isascii():  # float() would read other scripts' digits ('٣' -> 3)
        return None, f"{text!r} is not a number written with ASCII digits"
    try:
        if kind == "integer":
            number = float(text)
            if not number.is_integer():
                return None, f"{text!r} is not a whole number"
            if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
                return None, f"{text!r} is outside the {bits}-bit integer range"
            return int(number), None
        if kind == "number":
            number = float(text)
            if not math.isfinite(number):
                return None, f"{text!r} is not a finite number"
            return number, None
        if kind == "boolean":
            if text.lower() in TRUE_WORDS:
                return True, None
            if text.lower() in FALSE_WORDS:
                return False, None
            return None, f"{text!r} is not true/false"
        if kind == "timestamp":
            if not ISO_TIME.match(text):  # pandas also reads 'now', 'today', '12/06/26' ...
                raise ValueError(text)
            moment = pd.Timestamp(text)
            if moment.tzinfo is not None:
                moment = moment.tz_convert("UTC").tz_localize(None)
            return moment.to_pydatetime(), None
        if kind == "date":
            if not ISO_DATE.match(text):
                raise ValueError(text)
            return pd.Timestamp(text).date(), None
    except (ValueError, TypeError, OverflowError):
        expected = "an ISO 8601 time (UTC unless an offset is given)" if kind in ("timestamp", "date") \
            else f"a {data_type.lower()} value"
        return None, f"{text!r} is not {expected}"
    return text, None
