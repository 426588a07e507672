"""The audit trail: append-only, hash-chained entries (21 CFR Part 11 / Annex 11 spirit)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import text

from queries.warehouse import Warehouse, load_sql

GENESIS = "0" * 64
_FIELDS = ("ts", "user_id", "action", "object_type", "object_id", "reason", "old_value", "new_value", "meaning")


def _canonical(entry: dict) -> str:
    values = {k: (None if entry.get(k) is None or entry.get(k) != entry.get(k) else str(entry[k]))
              for k in _FIELDS}
    values["ts"] = pd.Timestamp(entry["ts"]).isoformat()
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def entry_hash(prev_hash: str, entry: dict) -> str:
    return hashlib.sha256((prev_hash + _canonical(entry)).encode()).hexdigest()


def append(wh: Warehouse, *, user_id: str | None, action: str, object_type: str | None = None,
           object_id: str | None = None, reason: str | None = None, old_value: str | None = None,
           new_value: str | None = None, meaning: str | None = None, conn=None) -> str:
    """Append one entry (in the caller's transaction if given) and return its hash."""
    entry = {"ts": datetime.now(UTC).replace(tzinfo=None, microsecond=0), "user_id": user_id,
             "action": action, "object_type": object_type, "object_id": object_id, "reason": reason,
             "old_value": old_value, "new_value": new_value, "meaning": meaning}
    if conn is None:
        with wh.transaction() as own:
            return _append(wh, own, entry)
    return _append(wh, conn, entry)


def _append(wh: Warehouse, conn, entry: dict) -> str:
    # Reads the chain's tail inside the write transaction, so two appends cannot share a predecessor.
    if wh.dialect == "postgresql":
        conn.execute(text(load_sql("sql/audit_lock_pg")))
    last = conn.execute(text(load_sql("sql/audit_last"))).fetchone()
    prev = last.entry_hash if last else GENESIS
    digest = entry_hash(prev, entry)
    wh.run(conn, "sql/audit_insert", {**entry, "prev_hash": prev, "entry_hash": digest})
    return digest


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    first_bad_entry: int | None
    problem: str | None


def verify(wh: Warehouse) -> ChainCheck:
    """Recompute the chain; name the first entry whose hash or link does not hold, or a gap in ids."""
    rows = wh.query("sql/audit_all")
    prev, prev_id = GENESIS, None
    for row in rows.itertuples(index=False):
        entry = row._asdict()
        if entry["prev_hash"] != prev:
            # Sequence ids may have gaps (rolled-back transactions), so the chain, not the ids,
            # shows a deleted entry: the next entry no longer links to its predecessor.
            return ChainCheck(False, len(rows), entry["entry_id"],
                              f"entry before {entry['entry_id']} (after {prev_id}) is missing or altered")
        if entry_hash(prev, entry) != entry["entry_hash"]:
            return ChainCheck(False, len(rows), entry["entry_id"], "entry content was altered")
        prev, prev_id = entry["entry_hash"], entry["entry_id"]
    return ChainCheck(True, len(rows), None, None)


def search(wh: Warehouse, *, since: datetime, until: datetime, user_id: str = "", action: str = "",
           object_text: str = "", limit: int = 500) -> pd.DataFrame:
    """Entries matching the audit page's filters, newest first (at most `limit`)."""
    return wh.query("sql/audit_search", {
        "since": since, "until": until, "user_id": (user_id or "")[:100], "action": (action or "")[:100],
        "object_text": (object_text or "")[:100], "limit": max(1, min(int(limit), 5000))})


def facets(wh: Warehouse) -> dict[str, list[str]]:
    """Distinct actions and users, for filter menus."""
    df = wh.query("sql/audit_facets")
    return {facet: sorted(map(str, group["value"])) for facet, group in df.groupby("facet")}
