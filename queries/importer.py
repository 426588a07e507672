"""All-or-nothing import of a CSV, XLSX or Parquet file into one warehouse table.

The whole file is checked against the table's declared columns before anything is written; every
problem names the file, the row (1-based data row, header excluded) and the field. The write is a
single transaction, so a refused or failed import leaves the tables as they were."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import pandas as pd

from queries.warehouse import Warehouse, WarehouseUnavailable

logger = logging.getLogger(__name__)

# Tables an import may fill; users, audit_log and the ingest tables have their own paths.
IMPORTABLE = frozenset({
    "sites", "rooms", "sensors", "limits", "specifications", "batches", "deviations", "capas",
    "near_misses", "programmes", "survey_responses", "training_records", "inspections", "documents",
    "sop_executions",
})
MAX_ERRORS_SHOWN = 50


class ImportError_(ValueError):
    """The file was refused; str() lists every problem found (file, row, field, what)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:MAX_ERRORS_SHOWN]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__("\n".join(shown) + more)


def read_file(path: Path) -> pd.DataFrame:
    """Every cell as text (or None): types are decided by the validation, not guessed by pandas."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    if suffix in (".xlsx", ".xlsm"):
        return pd.read_excel(path, dtype=str, keep_default_na=False, na_values=[""])
    if suffix == ".parquet":
        return pd.read_parquet(path).astype(object)
    raise ImportError_([f"{path.name}: unsupported file type {suffix!r} (use .csv, .xlsx or .parquet)"])


def open_file(path: Path) -> pd.DataFrame:
    """The file's cells as text; a missing or unreadable file is an ImportError_ naming it."""
    if not path.is_file():
        raise ImportError_([f"{path}: no such file"])
    try:
        return read_file(path)
    except ImportError_:
        raise
    except Exception as exc:
        raise ImportError_([f"{path.name}: cannot be read ({type(exc).__name__}: {exc})"]) from exc


def import_file(wh: Warehouse, table: str, path: str | Path) -> int:
    path = Path(path)
    if table not in IMPORTABLE:
        raise ImportError_([f"{path.name}: table {table!r} cannot be imported "
                            f"(importable: {', '.join(sorted(IMPORTABLE))})"])
    frame = validate(open_file(path), table_columns(wh, table), path.name)
    logger.info("%s: %s rows valid; writing to %s in one transaction", path.name, len(frame), table)
    try:
        with wh.transaction() as conn:
            wh.bulk_insert(conn, table, frame)
    except WarehouseUnavailable as exc:  # disk full, read-only file, server gone: nothing written
        raise ImportError_([f"{path.name}: nothing was written: {exc}"]) from exc
    except Exception as exc:  # a constraint the database checks (duplicate key, CHECK): nothing written
        first_line = str(exc).splitlines()[0]
        raise ImportError_([f"{path.name}: the warehouse refused the rows ({first_line}); nothing was "
                            "written"]) from exc
    logger.info("imported %s rows into %s from %s", len(frame), table, path.name)
    return len(frame)


def table_columns(wh: Warehouse, table: str) -> pd.DataFrame:
    """column_name, data_type, is_nullable, has_default of a table, from the warehouse itself."""
    return wh.query("sql/import_columns", {"table_name": table})


def validate(raw: pd.DataFrame, columns: pd.DataFrame, file_name: str) -> pd.DataFrame:
    problems: list[str] = []
    declared = {r.column_name: r for r in columns.itertuples()}
    present = [str(c).strip() for c in raw.columns]
    raw.columns = present
    unknown = [c for c in present if c not in declared]
    if unknown:
        problems.append(f"{file_name}: unknown column(s) {', '.join(unknown)}")
    required = [name for name, r in declared.items() if r.is_nullable == "NO" and not r.has_default]
    missing = [c for c in required if c not in present]
    if missing:
        problems.append(f"{file_name}: missing required column(s) {', '.join(missing)}")
    if problems:
        raise ImportError_(problems)
    if raw.empty:
        raise ImportError_([f"{file_name}: no data rows"])
    out = {}
    for name in present:
        spec = declared[name]
        converted = []
        for index, cell in enumerate(raw[name].tolist(), start=1):
            value, error = convert(cell, spec.data_type)
            if error is None and value is None and spec.is_nullable == "NO" and not spec.has_default:
                error = "is empty but required"
            if error:
                problems.append(f"{file_name} row {index}, field {name!r}: {error}")
            converted.append(value)
        out[name] = converted
    if problems:
        raise ImportError_(problems)
    return pd.DataFrame(out)


# ISO 8601 only: a date, or a date and time (T or space), optional seconds and fraction, optional Z or
# offset. pd.Timestamp alone also accepts 'now' and 'today', which would stamp the moment of the import
# into quality data, and ambiguous forms such as '12/06/26'.
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")


def convert(cell, data_type: str):
    """(value, None) or (None, 'why'). Empty cells are None; non-finite numbers are refused."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or (isinstance(cell, str) and not cell.strip()):
        return None, None
    text = str(cell).strip()
    kind = data_type.lower()
    numeric = any(t in kind for t in ("int", "serial", "double", "real", "float", "numeric", "decimal"))
    if numeric and not text.isascii():  # float() would read other scripts' digits ('٣' -> 3)
        return None, f"{text!r} is not a number written with ASCII digits"
    try:
        if any(t in kind for t in ("int", "serial")):
            number = float(text)
            if not number.is_integer():
                return None, f"{text!r} is not a whole number"
            bits = 16 if "small" in kind else 64 if "big" in kind else 32
            if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
                return None, f"{text!r} is outside the {bits}-bit integer range"
            return int(number), None
        if any(t in kind for t in ("double", "real", "float", "numeric", "decimal")):
            number = float(text)
            if not math.isfinite(number):
                return None, f"{text!r} is not a finite number"
            return number, None
        if "bool" in kind:
            lowered = text.lower()
            if lowered in ("true", "t", "1", "yes", "y"):
                return True, None
            if lowered in ("false", "f", "0", "no", "n"):
                return False, None
            return None, f"{text!r} is not true/false"
        if "timestamp" in kind:
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
        expected = "an ISO 8601 time (UTC unless an offset is given)" if "time" in kind or kind == "date" \
            else f"a {kind} value"
        return None, f"{text!r} is not {expected}"
    return text, None
