"""The audit trail: verify names the first altered or missing entry; PostgreSQL refuses changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from queries.records import audit


def _fill(wh, n: int = 5) -> list[int]:
    for i in range(n):
        audit.append(wh, user_id=f"u{i}", action="login", new_value=f"entry {i}")
    return list(wh.query("sql/audit_all")["entry_id"])


def _tamper(wh, sql: str, **params) -> None:
    """Change the table behind the app's back, as a database administrator could."""
    with wh.engine.begin() as conn:
        if wh.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text(sql), params)
        if wh.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


@pytest.mark.requirement("URS-AUD-004")
def test_intact_chain_verifies(warehouse):
    ids = _fill(warehouse)
    check = audit.verify(warehouse)
    assert check.ok and check.entries == len(ids) and check.first_bad_entry is None


@pytest.mark.requirement("URS-AUD-004")
def test_entries_appended_together_chain_in_their_order_after_the_last(warehouse):
    """append_many (an import's changed records) links each entry to the one before it, the first to the
    chain's tail, in the order given; an entry altered among them is still named."""
    _fill(warehouse, 2)
    with warehouse.transaction() as conn:
        hashes = audit.append_many(warehouse, [{"user_id": "u", "action": "import_update", "object_id": f"R-{i}",
                                                "old_value": f"{i}"} for i in range(3)], conn)
    rows = warehouse.query("sql/audit_all")
    assert list(rows["object_id"].iloc[2:]) == ["R-0", "R-1", "R-2"] and list(rows["entry_hash"].iloc[2:]) == hashes
    assert list(rows["prev_hash"].iloc[2:]) == list(rows["entry_hash"].iloc[1:4])
    assert audit.verify(warehouse).ok
    _tamper(warehouse, "UPDATE audit_log SET old_value = 'x' WHERE object_id = 'R-1'")
    assert audit.verify(warehouse).first_bad_entry == rows["entry_id"].iloc[3]


@pytest.mark.requirement("URS-AUD-004")
def test_altered_entry_is_named(warehouse):
    ids = _fill(warehouse)
    _tamper(warehouse, "UPDATE audit_log SET new_value = 'entry 99' WHERE entry_id = :id", id=ids[2])
    check = audit.verify(warehouse)
    assert not check.ok
    assert check.first_bad_entry == ids[2] and check.problem == "entry content was altered"


@pytest.mark.requirement("URS-AUD-004")
def test_rehashed_entry_breaks_the_next_link(warehouse):
    """A forger who also recomputes the altered entry's own hash still breaks the link after it."""
    ids = _fill(warehouse)
    rows = warehouse.query("sql/audit_all")
    entry = rows.iloc[1].to_dict() | {"user_id": "someone-else"}
    forged = audit.entry_hash(rows.iloc[0].entry_hash, entry)
    _tamper(warehouse, "UPDATE audit_log SET user_id = 'someone-else', entry_hash = :h WHERE entry_id = :id",
            h=forged, id=ids[1])
    check = audit.verify(warehouse)
    assert not check.ok and check.first_bad_entry == ids[2]
    assert check.problem == f"entry before {ids[2]} (after {ids[1]}) is missing or altered"


@pytest.mark.requirement("URS-AUD-004")
def test_deleted_entry_is_named(warehouse):
    ids = _fill(warehouse)
    _tamper(warehouse, "DELETE FROM audit_log WHERE entry_id = :id", id=ids[3])
    check = audit.verify(warehouse)
    assert not check.ok and check.first_bad_entry == ids[4]
    assert check.problem == f"entry before {ids[4]} (after {ids[2]}) is missing or altered"


@pytest.mark.postgres
@pytest.mark.requirement("URS-AUD-001")
def test_postgres_trigger_refuses_update_delete_truncate(tmp_path):
    from conftest import make_warehouse

    with make_warehouse("postgres", tmp_path) as wh:
        ids = _fill(wh, 3)
        for sql in ("UPDATE audit_log SET action = 'nothing' WHERE entry_id = :id",
                    "DELETE FROM audit_log WHERE entry_id = :id",
                    "TRUNCATE audit_log"):
            with pytest.raises(DBAPIError, match="audit_log is append-only"), wh.engine.begin() as conn:
                conn.execute(text(sql), {"id": ids[0]} if ":id" in sql else {})
        assert audit.verify(wh).ok and audit.verify(wh).entries == 3
        wh.create_schema()  # applying the schema again (upgrade path) keeps the triggers
        with pytest.raises(DBAPIError, match="append-only"), wh.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))
        audit.append(wh, user_id="u", action="still appends")
        assert audit.verify(wh).entries == 4


@pytest.mark.requirement("URS-AUD-008")
def test_search_filters(warehouse):
    _fill(warehouse, 4)
    audit.append(warehouse, user_id="u1", action="export", object_type="site", object_id="CHI/report")
    window = dict(since=datetime(2000, 1, 1), until=datetime.now() + timedelta(days=1))
    assert len(audit.search(warehouse, **window)) == 5
    assert list(audit.search(warehouse, **window, user_id="u1").action) == ["export", "login"]
    assert list(audit.search(warehouse, **window, action="export").object_id) == ["CHI/report"]
    assert len(audit.search(warehouse, **window, object_text="chi/REP")) == 1
    assert len(audit.search(warehouse, **window, object_text="%")) == 0  # a character, not a wildcard
