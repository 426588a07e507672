"""User and role changes are audited with old and new values, need a reason, and end the user's sessions."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from cli_runner import atmp_hub

from queries.records import audit, users


@pytest.fixture
def with_user(warehouse):
    with warehouse.transaction() as conn:
        warehouse.bulk_insert(conn, "sites", pd.DataFrame([{"site_id": "A", "name": "Site A", "region": "EU",
                                                            "timezone": "UTC", "kind": "node",
                                                            "onboarded_at": datetime(2024, 1, 1)}]))
    users.add_user(warehouse, user_id="pat", display_name="Pat", role="auditor", site_id=None,
                   password="long-enough-password")
    return warehouse


def _last(wh) -> dict:
    return wh.query("sql/audit_all").iloc[-1].to_dict()


@pytest.mark.requirement("URS-ACC-007", "URS-ACC-009", "URS-AUD-002")
def test_role_change_is_audited_and_ends_sessions(with_user):
    wh = with_user
    before = users.get_user(wh, "pat")
    after = users.set_role(wh, "pat", role="site_manager", site_id="A", changed_by="ada", reason="moved to site A")
    assert (after.role, after.site_id) == ("site_manager", "A")
    assert after.session_version == before.session_version + 1  # every cookie issued before stops working
    entry = _last(wh)
    assert (entry["action"], entry["user_id"], entry["object_id"], entry["reason"]) == (
        "user_role_changed", "ada", "pat", "moved to site A")
    assert (entry["old_value"], entry["new_value"]) == ("role=auditor site=None", "role=site_manager site=A")
    assert audit.verify(wh).ok


@pytest.mark.parametrize(("role", "site", "reason", "message"), [
    ("site_manager", None, "x", "needs a site"), ("leadership", "A", "x", "not tied to a site"),
    ("site_manager", "ZZZ", "x", "unknown site"), ("root", None, "x", "role must be one of"),
    ("leadership", None, " ", "reason is required"),
])
@pytest.mark.requirement("URS-ACC-009")
def test_bad_role_changes_are_refused_and_not_audited(with_user, role, site, reason, message):
    count = len(with_user.query("sql/audit_all"))
    with pytest.raises(ValueError, match=message):
        users.set_role(with_user, "pat", role=role, site_id=site, changed_by="ada", reason=reason)
    assert len(with_user.query("sql/audit_all")) == count
    assert users.get_user(with_user, "pat").role == "auditor"


@pytest.mark.requirement("URS-ACC-009", "URS-AUD-003")
def test_deactivation_is_audited(with_user):
    wh = with_user
    users.set_active(wh, "pat", active=False, changed_by="ada", reason="left the company")
    assert users.verify_password(wh, "pat", "long-enough-password") is None
    entry = _last(wh)
    assert (entry["action"], entry["old_value"], entry["new_value"]) == ("user_deactivated", "active=True",
                                                                         "active=False")


@pytest.mark.requirement("URS-ACC-009")
def test_cli_role_change(with_user):
    def cli(*args: str):
        with_user.dispose()  # a DuckDB file admits one process: this one lets go while the command runs
        return atmp_hub(*args, env={"ATMP_DATABASE_URL": with_user.url})

    assert cli("users", "set-role", "pat", "--role", "leadership", "--reason", "promotion").returncode == 0
    assert users.get_user(with_user, "pat").role == "leadership"
    assert _last(with_user)["user_id"] == "cli"
    assert cli("users", "deactivate", "pat", "--reason", "left").returncode == 0
    assert not users.get_user(with_user, "pat").active
    refused = cli("users", "set-role", "nobody", "--role", "leadership", "--reason", "x")
    assert refused.returncode == 2 and "nobody" in refused.stderr, refused.stderr
