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


# Tools outside the runtime package (the benchmark) keep their SQL beside them: "prefix/name" reads
# <directory>/name.sql once the tool has added its folder here.
TOOL_SQL_DIRS: dict[str, Path] = {}


def add_tool_sql_dir(prefix: str, directory: Path) -> None:
    if prefix in {p.name for p in QUERY_DIR.iterdir() if p.is_dir()}:
        raise ValueError(f"{prefix!r} is a folder of queries/; a tool's queries need a prefix of their own")
    TOOL_SQL_DIRS[prefix] = directory.resolve()


@cache
def load_sql(name: str) -> str:
    """SQL text of queries/<name>.sql (name may include a folder, e.g. 'metrics/mttd'), or of a tool's
    folder when the name starts with its prefix."""
    prefix, _, rest = name.partition("/")
    base, relative = (TOOL_SQL_DIRS[prefix], rest) if rest and prefix in TOOL_SQL_DIRS else (QUERY_DIR.resolve(), name)
    path = (base / f"{relative}.sql").resolve()
    if base not in path.parents or not path.is_file():
        raise QueryError(f"unknown query {name!r}")
    return path.read_text()


def declared_params(sql: str) -> set[str]:
    body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return set(_PARAM.findall(body))
