"""Import of a psychological safety survey export (CSV or XLSX): checked whole, written all or nothing.

One row per anonymous response: site, team, wave and the seven Edmondson items on a 1-7 scale (as
answered; the reverse scoring of items 1, 3 and 5 happens when scoring, never on import). A file with
a column that could identify a person (a name, an e-mail address, an employee or user id...) or a cell
that holds an e-mail address is refused as a whole: the hub never stores who answered. Every problem
names the file, the data row (1-based, header excluded, as queries/imports/importer.py counts) and the field.
The rows and their audit entry are written in one transaction, so a refused or failed import leaves
the tables as they were.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from queries.engine.warehouse import Warehouse
from queries.imports.importer import ImportError_, convert, open_file, refusal
from queries.records import audit

logger = logging.getLogger(__name__)

TABLE = "survey_responses"
ITEM_COLUMNS = tuple(f"q{i}" for i in range(1, 8))
WAVE_PATTERN = re.compile(r"^\d{4}-Q[1-4]$")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    name: str  # the warehouse column
    required: bool
    aliases: tuple[str, ...] = ()  # other headers survey tools use for it (normalised)


# The declared schema of a survey file: nothing else may be in it.
SCHEMA: tuple[Column, ...] = (
    Column("response_id", False, ("responseid", "response")),
    Column("site_id", True, ("site", "sitecode")),
    Column("team", True, ("teamname", "group")),
    Column("wave", True, ("surveywave", "period")),
    Column("submitted_at", False, ("submitted", "timestamp", "completedat", "enddate")),
    *(Column(q, True, (f"item{q[1]}", f"question{q[1]}")) for q in ITEM_COLUMNS),
)

# Headers (normalised: lower case, letters and digits only) that could identify a person.
IDENTIFYING_EXACT = frozenset({
    "name", "firstname", "lastname", "surname", "fullname", "givenname", "familyname", "respondent",
    "respondentname", "email", "emailaddress", "mail", "username", "userid", "user", "login", "loginid",
    "employeeid", "employeeno", "employeenumber", "empid", "staffid", "staffnumber", "personnelnumber",
    "personid", "badge", "badgeid", "badgenumber", "phone", "phonenumber", "mobile", "ipaddress", "ip",
    "operatorref", "operatorid", "initials", "dateofbirth", "dob", "address",
})
IDENTIFYING_PARTS = ("email", "mail", "employee", "staff", "personnel", "phone", "firstname", "lastname",
                     "surname", "fullname", "badge", "login", "username", "userid", "ipaddress")


def normalise(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(header).strip().lower())


def identifying(header: str) -> bool:
    key = normalise(header)
    return key in IDENTIFYING_EXACT or any(part in key for part in IDENTIFYING_PARTS)


def import_survey(wh: Warehouse, path: str | Path, *, user_id: str | None = None) -> int:
    """Validate the whole file, then write it and its audit entry in one transaction; returns rows."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".xlsx", ".xlsm"):
        raise ImportError_([f"{path.name}: a survey must be a .csv or .xlsx file"])
    raw = open_file(path)
    known_sites = set(wh.query("sql/site_ids")["site_id"])
    frame = validate_survey(raw, path.name, known_sites=known_sites)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        with wh.transaction() as conn:
            wh.bulk_insert(conn, TABLE, frame)
            audit.append(wh, user_id=user_id, action="import_survey", object_type=TABLE, object_id=path.name,
                         new_value=f"{len(frame)} responses; waves {', '.join(sorted(frame['wave'].unique()))}; "
                                   f"sha256 {digest}", conn=conn)
    except Exception as exc:  # e.g. a response_id already in the warehouse: nothing was written
        raise refusal(wh, TABLE, frame, path.name, exc) from exc
    logger.info("imported %s survey responses from %s", len(frame), path.name)
    return len(frame)


def validate_survey(raw: pd.DataFrame, file_name: str, *, known_sites: set[str],
                    now: datetime | None = None) -> pd.DataFrame:
    """The rows to write (schema columns, typed) or ImportError_ listing every problem found."""
    headers = [str(c).strip() for c in raw.columns]
    people = [h for h in headers if identifying(h)]
    if people:
        raise ImportError_([f"{file_name}: column {h!r} could identify a person; survey files must be "
                            "anonymous, so the whole file is refused (remove the column and import again)"
                            for h in people])
    by_key = {normalise(c.name): c for c in SCHEMA} | {a: c for c in SCHEMA for a in c.aliases}
    mapping, problems = {}, []
    for header in headers:
        column = by_key.get(normalise(header))
        if column is None:
            problems.append(f"{file_name}: unknown column {header!r} (a survey file has "
                            f"{', '.join(c.name for c in SCHEMA)})")
        elif column.name in mapping.values():
            problems.append(f"{file_name}: column {header!r} repeats {column.name!r}")
        else:
            mapping[header] = column.name
    missing = [c.name for c in SCHEMA if c.required and c.name not in mapping.values()]
    if missing:
        problems.append(f"{file_name}: missing required column(s) {', '.join(missing)}")
    if problems:
        raise ImportError_(problems)
    data = raw.set_axis(headers, axis=1).rename(columns=mapping)
    if data.empty:
        raise ImportError_([f"{file_name}: no data rows"])
    now = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    rows = [_row(record, index, file_name, known_sites, now, problems)
            for index, record in enumerate(data.to_dict("records"), start=1)]
    frame = pd.DataFrame(rows)
    duplicated = frame["response_id"].duplicated(keep="first")
    for index in frame.index[duplicated]:
        problems.append(f"{file_name} row {index + 1}, field 'response_id': "
                        f"{frame.at[index, 'response_id']!r} appears earlier in the file")
    if problems:
        raise ImportError_(problems)
    frame[list(ITEM_COLUMNS)] = frame[list(ITEM_COLUMNS)].astype("int16")
    return frame[[c.name for c in SCHEMA]]


def _row(record: dict, index: int, file_name: str, known_sites: set[str], now: datetime,
         problems: list[str]) -> dict:
    def problem(field: str, what: str) -> None:
        problems.append(f"{file_name} row {index}, field {field!r}: {what}")

    for field, cell in record.items():
        if isinstance(cell, str) and EMAIL_PATTERN.search(cell):
            problem(field, "holds an e-mail address; survey files must be anonymous, so the whole file is "
                           "refused")
    out: dict = {}
    for field in ("site_id", "team", "wave"):
        text = _text(record.get(field))
        if text is None:
            problem(field, "is empty but required")
        out[field] = text
    if out["site_id"] is not None and out["site_id"] not in known_sites:
        problem("site_id", f"{out['site_id']!r} is not a site of the network")
    if out["wave"] is not None and not WAVE_PATTERN.match(out["wave"]):
        problem("wave", f"{out['wave']!r} is not a wave of the form YYYY-Qn (e.g. 2026-Q2)")
    for item in ITEM_COLUMNS:
        cell = _text(record.get(item))
        value, error = convert(cell, "integer")
        if cell is None:
            problem(item, "is empty but required (an answer from 1 to 7)")
        elif error or not 1 <= value <= 7:
            problem(item, f"{cell!r} is not a whole number from 1 to 7")
        out[item] = value
    submitted = _text(record.get("submitted_at"))
    if submitted is None:
        out["submitted_at"] = now
    else:
        value, error = convert(submitted, "timestamp")
        if error:
            problem("submitted_at", error)
        elif value > now:
            problem("submitted_at", f"{submitted!r} is in the future")
        out["submitted_at"] = value
    out["response_id"] = _text(record.get("response_id")) or f"SR-{uuid.uuid4().hex[:16]}"
    return out


def _text(cell) -> str | None:
    if cell is None or (isinstance(cell, float) and cell != cell):
        return None
    text = str(cell).strip()
    return text or None
