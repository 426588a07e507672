"""Settings changes reach the audit trail (names, old values, new snapshot), secrets never do."""

from __future__ import annotations

import json

import pytest

from queries.engine.settings import Settings
from queries.records import audit
from queries.records.settings_audit import record_if_changed


@pytest.mark.requirement("URS-AUD-003", "URS-AUD-012")
def test_changed_settings_are_recorded_once_without_secrets(duckdb_warehouse):
    wh = duckdb_warehouse
    base = Settings.from_env({}, database_url="postgresql+psycopg://hub:s3cret@db/hub", secret_key="k" * 32)
    assert "idle_timeout_min" in record_if_changed(wh, base)
    assert record_if_changed(wh, base) == []  # same settings at the next start: nothing new
    changed = Settings.from_env({"ATMP_IDLE_TIMEOUT_MIN": "5"}, database_url=base.database_url,
                                secret_key="other-secret-" * 3)
    assert record_if_changed(wh, changed) == ["idle_timeout_min"]
    entries = wh.query("sql/audit_all")
    last = entries.iloc[-1]
    assert (last.action, last.object_id) == ("settings_changed", "idle_timeout_min")
    assert json.loads(last.old_value) == {"idle_timeout_min": 15}
    assert json.loads(last.new_value)["idle_timeout_min"] == 5
    dumped = " ".join(str(v) for v in entries.to_numpy().ravel())
    assert "s3cret" not in dumped and "k" * 32 not in dumped and "other-secret" not in dumped
    assert "hub:***@db" in dumped
    assert audit.verify(wh).ok
