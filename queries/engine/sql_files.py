"""The SQL files under queries/: read by name, their declared parameters. Below the warehouse and the
data versions, which both read them."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

QUERY_DIR = Path(__file__).resolve().parent.parent  # queries/: the SQL files live beside the packages
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class QueryError(RuntimeError):
    """A query was called wrongly or returned more than it may."""


@cache
def load_sql(name: str) -> str:
    """SQL text of queries/<name>.sql (name may include a folder, e.g. 'metrics/mttd')."""
    path = (QUERY_DIR / f"{name}.sql").resolve()
    if QUERY_DIR.resolve() not in path.parents or not path.is_file():
        raise QueryError(f"unknown query {name!r}")
    return path.read_text()


def declared_params(sql: str) -> set[str]:
    body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return set(_PARAM.findall(body))
