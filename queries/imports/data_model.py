"""The open data model as Markdown (docs/data-model.md): every importable table and field, its type, whether
it is required, the values a CHECK or the import's rules (record_rules.py) allow, the rules between a
record's fields, and the comment queries/schema.sql gives it, so another system
can produce files the hub imports. Built from the schema itself (`atmp-hub data-model`); a test holds the
committed document to it."""

from __future__ import annotations

import re
from pathlib import Path

from queries.imports import record_rules

SCHEMA = Path(__file__).resolve().parent.parent / "schema.sql"
TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.S)
COLUMN_COMMENT = re.compile(r"^\s+(\w+)\s+[A-Z][^\n]*?--\s*(.+)$", re.M)
ALLOWED = re.compile(r"CHECK \((\w+) IN\s*\(([^)]*)\)\)", re.S)


def schema_notes() -> dict[tuple[str, str], tuple[str, str]]:
    """(table, column) -> (allowed values, comment) from queries/schema.sql."""
    notes: dict[tuple[str, str], tuple[str, str]] = {}
    for table, body in TABLE.findall(SCHEMA.read_text(encoding="utf-8")):
        comments = {name: text.strip() for name, text in COLUMN_COMMENT.findall(body)}
        allowed = {name: ", ".join(v.strip().strip("'") for v in values.split(","))
                   for name, values in ALLOWED.findall(body)}
        for name in set(comments) | set(allowed):
            notes[(table, name)] = (allowed.get(name, ""), comments.get(name, ""))
    return notes


def markdown(tables: dict[str, list[tuple[str, str, bool]]]) -> str:
    """``tables``: {table: [(column, type, required)]} as the importer reads them."""
    notes = schema_notes()
    lines = [
        "# The open data model",
        "",
        "Every table `atmp-hub import TABLE FILE` fills, with its fields as the importer checks them. Generated",
        "from `queries/schema.sql` by `atmp-hub data-model` (tests/test_import_profiles.py fails when this file",
        "and the schema disagree). Files in these column names import as they are; another system's export",
        "imports through a mapping profile (`--profile`, README). Times are ISO 8601, UTC unless an offset is",
        "given. *Required*: no empty cell and no default.",
        "",
    ]
    for table, columns in tables.items():
        lines += [f"## {table}", "", "| field | type | required | allowed values | meaning |", "|---|---|---|---|---|"]
        for name, kind, required in columns:
            allowed, comment = notes.get((table, name), ("", ""))
            allowed = record_rules.allowed_text(table, name) or allowed
            lines.append(f"| `{name}` | {kind} | {'yes' if required else ''} | {allowed} | {comment} |")
        lines.append("")
        between = record_rules.record_text(table)
        if between:
            lines += ["Each row also meets:", "", *(f"- {rule}" for rule in between), ""]
    from queries.imports import em_history

    lines += [f"## {em_history.TABLE} (EM history)", "",
              "Readings of the hub's sensors from an environmental-monitoring system's export, stored under the id",
              f"`{em_history.ID_PREFIX}<sensor_id>@<UTC time>` (the same export again stores nothing new; a stored",
              "value the file contradicts refuses it) with the trends' rollups. They raise no excursion.", "",
              "| field | type | required | allowed values | meaning |", "|---|---|---|---|---|"]
    lines += [f"| `{name}` | {kind} | {'yes' if required else ''} |  | {meaning} |"
              for name, kind, required, meaning in em_history.FIELD_TABLE]
    lines.append("")
    return "\n".join(lines)
