"""Issue 26.2: the audit chain is keyed (HMAC-SHA256, key in a file outside the warehouse) and anchored by
signed checkpoints in a file outside the warehouse. `atmp-hub audit verify`, run as an operator runs it (a
fresh process on a warehouse an earlier process wrote), detects deleted newest entries, a chain rewritten
with the public SHA-256 formula or with a wrong key, and an altered checkpoint file, on DuckDB and
PostgreSQL; each problem is one line, the exit code is not 0, and there is no traceback."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_runner import atmp_hub
from conftest import throwaway_postgres
from sqlalchemy import text

from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse
from queries.records import audit

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = 6


@dataclass
class Hub:
    kind: str
    url: str
    checkpoints: Path

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        done = atmp_hub(*args, env={"ATMP_DATABASE_URL": self.url, **env})
        assert "Traceback" not in done.stderr, done.stderr
        return done

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        """The warehouse in this process, closed again before the CLI runs (DuckDB admits one process)."""
        wh = Warehouse(self.url)
        try:
            yield wh
        finally:
            wh.dispose()

    def ids(self) -> list[int]:
        with self.warehouse() as wh:
            return [int(i) for i in wh.query("sql/audit_all")["entry_id"]]

    def append(self, n: int) -> None:
        with self.warehouse() as wh:
            for i in range(n):
                audit.append(wh, user_id=f"u{i}", action="login", new_value=f"later {i}")

    def tamper(self, sql: str, params: list[dict] | dict) -> None:
        """Change audit_log behind the app's back, as a database administrator could."""
        with self.warehouse() as wh, wh.engine.begin() as conn:
            if wh.dialect == "postgresql":
                conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text(sql), params)
            if wh.dialect == "postgresql":
                conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))

    def rewrite(self, first: int, hasher, stop: int | None = None) -> None:
        """Edit the entry at position `first` and recompute its hash and every later one (up to position
        `stop`, excluded) with `hasher`."""
        with self.warehouse() as wh:
            rows = wh.query("sql/audit_all")
        prev = audit.GENESIS if first == 0 else rows.iloc[first - 1].entry_hash
        updates = []
        for position in range(first, len(rows) if stop is None else stop):
            entry = rows.iloc[position].to_dict()
            if position == first:
                entry["new_value"] = "entry 99"
            digest = hasher(prev, entry)
            updates.append({"id": int(entry["entry_id"]), "new_value": entry["new_value"], "prev": prev,
                            "h": digest})
            prev = digest
        self.tamper("UPDATE audit_log SET new_value = :new_value, prev_hash = :prev, entry_hash = :h "
                    "WHERE entry_id = :id", updates)


def public_formula(prev: str, entry: dict) -> str:
    """SHA-256 over the predecessor's hash and the canonical entry: what anyone can recompute."""
    digest = hashlib.sha256((prev + audit._canonical(entry)).encode()).hexdigest()
    assert digest == audit.legacy_entry_hash(prev, entry)
    return digest


def problems(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def hub(request, tmp_path, monkeypatch) -> Iterator[Hub]:
    """A warehouse with six keyed entries written by this process, a key file and a checkpoint file
    location: the DuckDB default (next to the file) or ATMP_AUDIT_CHECKPOINTS for PostgreSQL."""
    key_file = tmp_path / "audit.key"
    key_file.write_text(secrets.token_hex(32) + "\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("ATMP_AUDIT_KEY_FILE", str(key_file))  # read by appends here and by the CLI
    monkeypatch.delenv("ATMP_AUDIT_CHECKPOINTS", raising=False)
    monkeypatch.delenv("ATMP_ENVIRONMENT", raising=False)

    def made(url: str, checkpoints: Path) -> Hub:
        made_hub = Hub(request.param, url, checkpoints)
        with made_hub.warehouse() as wh:
            wh.create_schema()
        made_hub.append(ENTRIES)
        return made_hub

    if request.param == "duckdb":
        yield made(f"duckdb:///{tmp_path / 'hub.duckdb'}", tmp_path / "hub.duckdb.audit-checkpoints.jsonl")
    else:
        with throwaway_postgres() as url:
            monkeypatch.setenv("ATMP_AUDIT_CHECKPOINTS", str(tmp_path / "elsewhere" / "checkpoints.jsonl"))
            yield made(url, tmp_path / "elsewhere" / "checkpoints.jsonl")


@pytest.mark.requirement("URS-AUD-005", "URS-AUD-006", "URS-BAK-006")
def test_intact_chain_passes_once_a_checkpoint_anchors_it(hub):
    if hub.kind == "postgres":  # no default location next to a file: the setting is needed
        unset = {"ATMP_AUDIT_CHECKPOINTS": ""}
        done = hub.cli("audit", "checkpoint", **unset)
        assert done.returncode == 2 and problems(done) == [
            "error: no checkpoint file: set ATMP_AUDIT_CHECKPOINTS (or pass --checkpoints FILE)"]
        done = hub.cli("audit", "verify", **unset)
        assert done.returncode == 1 and problems(done) == [
            "audit trail NOT ANCHORED: no checkpoint file (set ATMP_AUDIT_CHECKPOINTS): deleted newest entries "
            "could not be seen"]

    done = hub.cli("audit", "verify")  # no checkpoint yet: the chain holds, but truncation could not be seen
    assert done.returncode == 1
    assert problems(done) == [f"audit trail NOT ANCHORED: no valid checkpoint in {hub.checkpoints}: deleted "
                              "newest entries could not be seen (write one with `atmp-hub audit checkpoint`)"]

    done = hub.cli("audit", "checkpoint")
    assert done.returncode == 0, done.stderr
    ids = hub.ids()
    assert f"checkpoint written to {hub.checkpoints}: {ENTRIES} entries up to entry {ids[-1]}" in done.stdout
    [line] = hub.checkpoints.read_text().splitlines()
    assert json.loads(line).keys() == {"count", "last_entry_id", "head_hash", "ts", "signature"}

    done = hub.cli("audit", "verify")
    assert done.returncode == 0, done.stderr
    assert f"audit trail intact: {ENTRIES} entries, keyed; holds the checkpoint of" in done.stdout
    assert "development audit key" not in done.stdout

    hub.append(2)  # the trail grows after the checkpoint: still intact
    done = hub.cli("audit", "verify")
    assert done.returncode == 0 and f"intact: {ENTRIES + 2} entries" in done.stdout, done.stderr
    assert hub.cli("audit", "checkpoint").returncode == 0
    assert len(hub.checkpoints.read_text().splitlines()) == 2


@pytest.mark.requirement("URS-AUD-005", "URS-AUD-006", "URS-BAK-006")
def test_deleted_newest_entries_are_named(hub):
    assert hub.cli("audit", "checkpoint").returncode == 0
    ids = hub.ids()
    hub.tamper("DELETE FROM audit_log WHERE entry_id >= :id", {"id": ids[-2]})
    with hub.warehouse() as wh:
        assert audit.verify(wh).ok  # the chain alone cannot see a cut tail: what the sweep found

    done = hub.cli("audit", "verify")
    assert done.returncode == 1
    [line] = problems(done)
    assert line.startswith(f"audit trail BROKEN: 2 entries missing after entry {ids[-3]} (checkpoint of ")
    assert line.endswith(f": {ENTRIES} entries up to entry {ids[-1]})")

    hub.append(3)  # the app goes on appending after the cut: the missing entries are still named
    done = hub.cli("audit", "verify")
    assert done.returncode == 1
    assert [p.split(" (checkpoint")[0] for p in problems(done)] == [
        f"audit trail BROKEN: 2 entries missing after entry {ids[-3]}"]

    done = hub.cli("audit", "checkpoint")  # no checkpoint of a cut chain
    assert done.returncode == 1 and problems(done)[-1] == "no checkpoint written"
    assert len(hub.checkpoints.read_text().splitlines()) == 1


@pytest.mark.requirement("URS-AUD-004", "URS-AUD-006", "URS-BAK-006")
def test_rewrite_with_the_public_formula_is_detected(hub):
    assert hub.cli("audit", "checkpoint").returncode == 0
    ids = hub.ids()

    hub.rewrite(2, public_formula)  # edit the third entry, recompute it and every later one
    done = hub.cli("audit", "verify")
    assert done.returncode == 1
    first, second = problems(done)
    assert first == (f"audit trail BROKEN: entry {ids[2]}: entry carries an unkeyed SHA-256 hash after keyed "
                     "entries: rewritten with the public formula")
    assert second.startswith(f"audit trail BROKEN: entries up to entry {ids[-1]} rewritten (checkpoint of ")

    hub.rewrite(0, public_formula)  # the whole chain, from the first entry
    done = hub.cli("audit", "verify")
    assert done.returncode == 1
    first, second = problems(done)
    assert first == (f"audit trail BROKEN: entry {ids[0]}: entries {ids[0]} to {ids[-1]} carry unkeyed SHA-256 "
                     "hashes and no keyed entry follows them: a rewrite of them cannot be detected (the next "
                     "audited action anchors them)")
    assert second.startswith(f"audit trail BROKEN: entries up to entry {ids[-1]} rewritten (checkpoint of ")
    assert hub.cli("audit", "checkpoint").returncode == 1


@pytest.mark.requirement("URS-AUD-004", "URS-AUD-006", "URS-BAK-006")
def test_rewrite_with_a_wrong_key_is_detected(hub):
    assert hub.cli("audit", "checkpoint").returncode == 0
    ids = hub.ids()
    wrong = secrets.token_hex(32).encode()
    hub.rewrite(2, lambda prev, entry: audit.entry_hash(prev, entry, key=wrong))
    done = hub.cli("audit", "verify")
    assert done.returncode == 1
    first, second = problems(done)
    assert first == f"audit trail BROKEN: entry {ids[2]}: entry content was altered"
    assert second.startswith(f"audit trail BROKEN: entries up to entry {ids[-1]} rewritten (checkpoint of ")


@pytest.mark.requirement("URS-AUD-005", "URS-AUD-006")
def test_altered_checkpoint_file_is_detected(hub):
    assert hub.cli("audit", "checkpoint").returncode == 0
    hub.append(2)
    assert hub.cli("audit", "checkpoint").returncode == 0
    ids = hub.ids()

    # The forger cuts the two newest entries and moves the latest checkpoint back to match the cut chain.
    hub.tamper("DELETE FROM audit_log WHERE entry_id >= :id", {"id": ids[-2]})
    lines = hub.checkpoints.read_text().splitlines()
    with hub.warehouse() as wh:
        head = wh.query("sql/audit_all").iloc[-1]
    forged = json.loads(lines[1]) | {"count": ENTRIES, "last_entry_id": int(head.entry_id),
                                      "head_hash": head.entry_hash}
    hub.checkpoints.write_text("\n".join([lines[0], json.dumps(forged)]) + "\n")
    done = hub.cli("audit", "verify")
    assert done.returncode == 1
    assert problems(done) == [f"audit trail BROKEN: checkpoint file {hub.checkpoints} was altered: line 2 is not "
                              "a checkpoint signed with this key"]  # line 1 still holds: compared, matches

    hub.checkpoints.write_text(lines[0].replace('"count":6', '"count":5') + "\n")  # the only line, altered
    done = hub.cli("audit", "verify")
    assert done.returncode == 1
    assert problems(done) == [
        f"audit trail BROKEN: checkpoint file {hub.checkpoints} was altered: line 1 is not a checkpoint signed "
        "with this key",
        f"audit trail NOT ANCHORED: no valid checkpoint in {hub.checkpoints}: deleted newest entries could not "
        "be seen (write one with `atmp-hub audit checkpoint`)"]
    assert hub.cli("audit", "checkpoint").returncode == 1  # an altered file is not extended


@pytest.mark.requirement("URS-AUD-004", "URS-AUD-007")
def test_unkeyed_entries_from_before_the_keyed_chain(tmp_path, monkeypatch):
    """A warehouse written before the chain was keyed: its plain SHA-256 entries fail verify until a keyed
    entry follows them (which covers them); then a rewrite of them breaks the keyed entry's link."""
    monkeypatch.delenv("ATMP_AUDIT_KEY_FILE", raising=False)  # development: the public development key
    monkeypatch.delenv("ATMP_AUDIT_CHECKPOINTS", raising=False)
    monkeypatch.delenv("ATMP_ENVIRONMENT", raising=False)
    hub = Hub("duckdb", f"duckdb:///{tmp_path / 'old.duckdb'}", tmp_path / "old.duckdb.audit-checkpoints.jsonl")
    with hub.warehouse() as wh:
        wh.create_schema()
        with wh.transaction() as conn:  # what the code before issue 26.2 wrote
            prev = audit.GENESIS
            for i in range(3):
                entry = {"ts": f"2026-01-0{i + 1}T08:00:00", "user_id": f"u{i}", "action": "login",
                         "object_type": None, "object_id": None, "reason": None, "old_value": None,
                         "new_value": f"old {i}", "meaning": None}
                digest = audit.legacy_entry_hash(prev, entry)
                conn.execute(text(
                    "INSERT INTO audit_log (ts, user_id, action, object_type, object_id, reason, old_value, "
                    "new_value, meaning, prev_hash, entry_hash) VALUES (:ts, :user_id, :action, :object_type, "
                    ":object_id, :reason, :old_value, :new_value, :meaning, :prev_hash, :entry_hash)"),
                    {**entry, "prev_hash": prev, "entry_hash": digest})
                prev = digest
    ids = hub.ids()
    done = hub.cli("audit", "checkpoint")
    assert done.returncode == 1
    assert problems(done)[0] == (
        f"audit trail BROKEN: entry {ids[0]}: entries {ids[0]} to {ids[2]} carry unkeyed SHA-256 hashes and no "
        "keyed entry follows them: a rewrite of them cannot be detected (the next audited action anchors them)")

    hub.append(1)
    assert hub.cli("audit", "checkpoint").returncode == 0
    done = hub.cli("audit", "verify")
    assert done.returncode == 0, done.stderr
    assert (f"note: entries {ids[0]} to {ids[2]} predate the keyed chain (unkeyed SHA-256); the keyed entries "
            "after them cover them") in done.stdout
    assert "note: development audit key (ATMP_AUDIT_KEY_FILE unset)" in done.stdout

    keyed = hub.ids()[3]
    hub.rewrite(1, public_formula, stop=3)  # rewrite the old entries only: the keyed entry no longer links
    done = hub.cli("audit", "verify")
    assert done.returncode == 1
    assert problems(done) == [
        f"audit trail BROKEN: entry {keyed}: entry before {keyed} (after {ids[2]}) is missing or altered"]


@pytest.mark.requirement("URS-AUD-007", "URS-BAK-007", "URS-ACC-011")
def test_key_problems_are_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("ATMP_AUDIT_CHECKPOINTS", raising=False)
    hub = Hub("duckdb", f"duckdb:///{tmp_path / 'hub.duckdb'}", tmp_path / "hub.duckdb.audit-checkpoints.jsonl")
    with hub.warehouse() as wh:
        wh.create_schema()
    missing = tmp_path / "no-such.key"
    done = hub.cli("audit", "verify", ATMP_AUDIT_KEY_FILE=str(missing))
    assert done.returncode == 2
    assert problems(done) == [f"error: audit key file {missing} cannot be read: No such file or directory"]
    short = tmp_path / "short.key"
    short.write_text("too short\n")
    done = hub.cli("audit", "checkpoint", ATMP_AUDIT_KEY_FILE=str(short))
    assert done.returncode == 2 and "holds 9 bytes, fewer than 32" in done.stderr
    assert not hub.checkpoints.exists()

    with pytest.raises(RuntimeError, match="ATMP_AUDIT_KEY_FILE must be set in production"):
        Settings.from_env({"ATMP_ENVIRONMENT": "production", "ATMP_SECRET_KEY": "s" * 64})
    with pytest.raises(audit.AuditKeyError, match="ATMP_AUDIT_KEY_FILE must be set in production"):
        audit.audit_key(Settings(environment="production", secret_key="s" * 64))
