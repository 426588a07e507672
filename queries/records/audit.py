"""The audit trail: append-only, hash-chained entries (21 CFR Part 11 / Annex 11 spirit).

Each entry stores the hash of its predecessor and its own keyed hash, HMAC-SHA256(key, prev_hash +
canonical entry), with a key kept outside the warehouse (ATMP_AUDIT_KEY_FILE). Whoever can write to the
database but does not hold the key cannot recompute the chain after editing an entry. Signed
checkpoints of (count, last entry, head hash), appended to a file outside the warehouse
(ATMP_AUDIT_CHECKPOINTS) by `atmp-hub audit checkpoint`, show deleted newest entries and a chain
rewritten with the key: verify_anchored() compares the chain with the latest valid checkpoint.

Entries written before the chain was keyed carry plain SHA-256 hashes ("unkeyed"). They are accepted
only as the chain's first entries and only when a keyed entry follows them (its keyed hash covers the
unkeyed head, so they cannot change unseen); an unkeyed entry after a keyed one is a rewrite with the
public formula.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse

GENESIS = "0" * 64
_FIELDS = ("ts", "user_id", "action", "object_type", "object_id", "reason", "old_value", "new_value", "meaning")
MIN_KEY_BYTES = 32
# Development only (ATMP_AUDIT_KEY_FILE unset): a fixed key, public in this source, so a demo's chain
# verifies across restarts. It protects nothing; production refuses to start without a key file.
DEVELOPMENT_KEY = hashlib.sha256(b"atmp-hub development audit key: public, protects nothing").digest()
_CHECKPOINT_FIELDS = ("count", "last_entry_id", "head_hash", "ts")


class AuditKeyError(RuntimeError):
    """No usable audit key (unset in production, unreadable or too short key file)."""


def audit_key(settings: Settings | None = None) -> bytes:
    """The HMAC key of the chain: the contents of ATMP_AUDIT_KEY_FILE (surrounding whitespace stripped),
    or the public development key when that is unset outside production. `settings` default: the
    environment (every process appending to the trail reads the same variables)."""
    if settings is None:
        path = os.environ.get("ATMP_AUDIT_KEY_FILE", Settings.audit_key_file)
        environment = os.environ.get("ATMP_ENVIRONMENT", Settings.environment)
    else:
        path, environment = settings.audit_key_file, settings.environment
    if not path:
        if environment == "production":
            raise AuditKeyError("ATMP_AUDIT_KEY_FILE must be set in production")
        return DEVELOPMENT_KEY
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise AuditKeyError(f"audit key file {path} cannot be read: {exc.strerror or exc}") from None
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(f"audit key file {path} holds {len(key)} bytes, fewer than {MIN_KEY_BYTES} "
                            "(write one with `openssl rand -hex 32`)")
    return key


def uses_development_key(settings: Settings | None = None) -> bool:
    return audit_key(settings) == DEVELOPMENT_KEY


def _canonical(entry: dict) -> str:
    values = {k: (None if entry.get(k) is None or entry.get(k) != entry.get(k) else str(entry[k]))
              for k in _FIELDS}
    values["ts"] = pd.Timestamp(entry["ts"]).isoformat()
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def entry_hash(prev_hash: str, entry: dict, key: bytes | None = None) -> str:
    """The keyed hash of an entry: HMAC-SHA256(key, prev_hash + canonical entry); key default audit_key()."""
    key = audit_key() if key is None else key
    return hmac.new(key, (prev_hash + _canonical(entry)).encode(), hashlib.sha256).hexdigest()


def legacy_entry_hash(prev_hash: str, entry: dict) -> str:
    """The unkeyed hash of entries written before the chain was keyed: SHA-256(prev_hash + canonical entry).
    Anyone can compute it, so verify accepts it only for the chain's first entries (see the module doc)."""
    return hashlib.sha256((prev_hash + _canonical(entry)).encode()).hexdigest()


def append(wh: Warehouse, *, user_id: str | None, action: str, object_type: str | None = None,
           object_id: str | None = None, reason: str | None = None, old_value: str | None = None,
           new_value: str | None = None, meaning: str | None = None, conn=None) -> str:
    """Append one entry (in the caller's transaction if given) and return its hash."""
    key = audit_key()  # before writing anything: no key, no entry (and the caller's action fails)
    entry = {"ts": datetime.now(UTC).replace(tzinfo=None, microsecond=0), "user_id": user_id,
             "action": action, "object_type": object_type, "object_id": object_id, "reason": reason,
             "old_value": old_value, "new_value": new_value, "meaning": meaning}
    if conn is None:
        with wh.transaction() as own:
            return _append_chain(wh, own, [entry], key)[0]
    return _append_chain(wh, conn, [entry], key)[0]


def append_many(wh: Warehouse, entries: list[dict], conn) -> list[str]:
    """Append several entries in the caller's transaction, chained in the given order, with one read of
    the chain's tail and one multi-row insert (an import that updates thousands of records). Each entry
    has ``append``'s fields; missing ones are empty. Returns their hashes."""
    key = audit_key()
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return _append_chain(wh, conn, [{f: e.get(f) for f in _FIELDS} | {"ts": now} for e in entries], key)


def _append_chain(wh: Warehouse, conn, entries: list[dict], key: bytes) -> list[str]:
    # Reads the chain's tail inside the write transaction, so two appends cannot share a predecessor.
    if not entries:
        return []
    if wh.dialect == "postgresql":
        wh.run(conn, "sql/audit_lock_pg")
    last = wh.execute(conn, "sql/audit_last").fetchone()
    prev = last.entry_hash if last else GENESIS
    rows = []
    for entry in entries:
        digest = entry_hash(prev, entry, key)
        rows.append({**entry, "prev_hash": prev, "entry_hash": digest})
        prev = digest
    wh.run(conn, "sql/audit_insert", rows)
    return [r["entry_hash"] for r in rows]


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    first_bad_entry: int | None
    problem: str | None
    unkeyed: tuple[int, int] | None = None  # first and last id of the unkeyed entries the chain starts with
    head_hash: str = GENESIS
    last_entry_id: int | None = None


def verify(wh: Warehouse, key: bytes | None = None) -> ChainCheck:
    """Recompute the keyed chain; name the first entry whose hash or link does not hold."""
    return _check_chain(wh.query("sql/audit_all"), audit_key() if key is None else key)


def _check_chain(rows: pd.DataFrame, key: bytes) -> ChainCheck:
    prev, prev_id, unkeyed, keyed_seen = GENESIS, None, [], False
    for row in rows.itertuples(index=False):
        entry = row._asdict()
        entry_id = entry["entry_id"]
        if entry["prev_hash"] != prev:
            # Sequence ids may have gaps (rolled-back transactions), so the chain, not the ids,
            # shows a deleted entry: the next entry no longer links to its predecessor.
            return ChainCheck(False, len(rows), entry_id,
                              f"entry before {entry_id} (after {prev_id}) is missing or altered")
        if hmac.compare_digest(entry_hash(prev, entry, key), entry["entry_hash"]):
            keyed_seen = True
        elif hmac.compare_digest(legacy_entry_hash(prev, entry), entry["entry_hash"]):
            if keyed_seen:
                return ChainCheck(False, len(rows), entry_id,
                                  "entry carries an unkeyed SHA-256 hash after keyed entries: rewritten "
                                  "with the public formula")
            unkeyed.append(int(entry_id))
        else:
            # Altered content, or hashed with a key other than this one.
            return ChainCheck(False, len(rows), entry_id, "entry content was altered")
        prev, prev_id = entry["entry_hash"], int(entry_id)
    span = (unkeyed[0], unkeyed[-1]) if unkeyed else None
    if unkeyed and not keyed_seen:
        return ChainCheck(False, len(rows), unkeyed[0],
                          f"entries {unkeyed[0]} to {unkeyed[-1]} carry unkeyed SHA-256 hashes and no keyed entry "
                          "follows them: a rewrite of them cannot be detected (the next audited action "
                          "anchors them)", span, prev, prev_id)
    return ChainCheck(True, len(rows), None, None, span, prev, prev_id)


# -- checkpoints ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    count: int
    last_entry_id: int | None
    head_hash: str
    ts: str
    line: int = 0  # line number in the checkpoint file (1-based)


@dataclass(frozen=True)
class AnchoredCheck:
    chain: ChainCheck
    checkpoints: Path | None
    latest: Checkpoint | None  # the latest valid checkpoint compared with
    problems: tuple[str, ...]  # what is wrong, one line each
    unanchored: str | None = None  # why the chain could not be compared with a checkpoint (none yet)

    @property
    def ok(self) -> bool:
        return not self.problems and self.unanchored is None


def checkpoint_path(settings: Settings) -> Path | None:
    """ATMP_AUDIT_CHECKPOINTS, or <file>.audit-checkpoints.jsonl next to a DuckDB file; None otherwise."""
    if settings.audit_checkpoints:
        return Path(settings.audit_checkpoints)
    return settings.beside_duckdb_file(".audit-checkpoints.jsonl")


def _signature(key: bytes, fields: dict) -> str:
    payload = json.dumps({k: fields[k] for k in _CHECKPOINT_FIELDS}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, b"atmp-hub audit checkpoint:" + payload.encode(), hashlib.sha256).hexdigest()


def read_checkpoints(path: Path, key: bytes) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints whose signature holds, and one problem line per line that is not one."""
    valid, problems = [], []
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            sig = fields["signature"]
            point = Checkpoint(int(fields["count"]), fields["last_entry_id"], str(fields["head_hash"]),
                               str(fields["ts"]), number)
            good = isinstance(sig, str) and hmac.compare_digest(_signature(key, fields), sig)
        except (ValueError, TypeError, KeyError, AttributeError):
            good = False
        if good:
            valid.append(point)
        else:
            problems.append(f"checkpoint file {path} was altered: line {number} is not a checkpoint signed with "
                            "this key")
    return valid, problems


def _compare(rows: pd.DataFrame, point: Checkpoint) -> str | None:
    """What differs between the chain and a checkpoint of it, or None."""
    of = f"checkpoint of {point.ts}: {point.count} entries up to entry {point.last_entry_id}"
    ids = [int(i) for i in rows["entry_id"]] if len(rows) else []
    upto = [i for i in ids if point.last_entry_id is not None and i <= point.last_entry_id]
    if len(upto) < point.count:
        missing = point.count - len(upto)
        where = f"after entry {upto[-1]}" if upto else "from the start"
        return f"{missing} {'entry' if missing == 1 else 'entries'} missing {where} ({of})"
    if point.count == 0:
        return None
    head = rows.iloc[point.count - 1]
    if len(upto) > point.count or int(head.entry_id) != point.last_entry_id or head.entry_hash != point.head_hash:
        return f"entries up to entry {point.last_entry_id} rewritten ({of}; the chain's hash there differs)"
    return None


def verify_anchored(wh: Warehouse, checkpoints: Path | None, key: bytes | None = None) -> AnchoredCheck:
    """verify() plus the checkpoints: every line must be signed with the key, and the chain must hold the
    latest valid checkpoint's entries with its head hash at its position. Without a valid checkpoint the
    chain is unanchored (`unanchored` says why; not ok): deleted newest entries could not be seen."""
    key = audit_key() if key is None else key
    rows = wh.query("sql/audit_all")
    chain = _check_chain(rows, key)
    problems = [f"entry {chain.first_bad_entry}: {chain.problem}"] if not chain.ok else []
    if checkpoints is None:
        return AnchoredCheck(chain, None, None, tuple(problems),
                             "no checkpoint file (set ATMP_AUDIT_CHECKPOINTS): deleted newest entries could "
                             "not be seen")
    valid, bad_lines = read_checkpoints(checkpoints, key)
    problems += bad_lines
    latest = valid[-1] if valid else None
    if latest is None:
        return AnchoredCheck(chain, checkpoints, None, tuple(problems),
                             f"no valid checkpoint in {checkpoints}: deleted newest entries could not be seen "
                             "(write one with `atmp-hub audit checkpoint`)")
    differs = _compare(rows, latest)
    return AnchoredCheck(chain, checkpoints, latest, tuple(problems + ([differs] if differs else [])))


def write_checkpoint(wh: Warehouse, checkpoints: Path,
                     key: bytes | None = None) -> tuple[AnchoredCheck, Checkpoint | None]:
    """Verify the chain against the existing checkpoints and, when it holds, append a signed checkpoint
    of it (the file locked meanwhile, so concurrent writers append in order). Returns the check and the
    new checkpoint, or None when the check found a problem (nothing written)."""
    key = audit_key() if key is None else key
    checkpoints.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(checkpoints, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        check = verify_anchored(wh, checkpoints, key)
        if check.problems:  # a first checkpoint needs no earlier one; anything else refuses
            return check, None
        fields = {"count": check.chain.entries, "last_entry_id": check.chain.last_entry_id,
                  "head_hash": check.chain.head_hash,
                  "ts": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")}
        line = json.dumps({**fields, "signature": _signature(key, fields)}, separators=(",", ":")) + "\n"
        os.write(fd, line.encode())
        os.fsync(fd)
        point = Checkpoint(fields["count"], fields["last_entry_id"], fields["head_hash"], fields["ts"],
                           len(checkpoints.read_text().splitlines()))
        return AnchoredCheck(check.chain, checkpoints, point, ()), point
    finally:
        os.close(fd)  # releases the lock


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
