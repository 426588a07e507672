"""Settings changes in the audit trail: settings come from ATMP_* variables at start, so a change shows
as a start whose settings differ from the last recorded snapshot; that start appends one entry with
the changed names, their old values and the new snapshot. Secrets never enter the trail."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict

from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse
from queries.records import audit

logger = logging.getLogger(__name__)

SECRET_SETTINGS = frozenset({"secret_key"})
_CREDENTIALS = re.compile(r"//([^:/@]+):[^@]+@")


def snapshot(settings: Settings) -> dict[str, object]:
    """The settings as recorded: secrets left out, passwords in URLs masked."""
    out = {}
    for name, value in asdict(settings).items():
        if name in SECRET_SETTINGS:
            continue
        out[name] = _CREDENTIALS.sub(r"//\1:***@", value) if isinstance(value, str) else value
    return out


def record_if_changed(wh: Warehouse, settings: Settings, *, by: str = "system") -> list[str]:
    """Append a 'settings_changed' entry when the settings differ from the last snapshot; the changed
    names (empty when nothing changed)."""
    current = snapshot(settings)
    last = wh.scalar("sql/audit_last_settings")
    previous = json.loads(last) if last else {}
    changed = sorted(k for k in current.keys() | previous.keys() if current.get(k) != previous.get(k))
    if not changed:
        return []
    audit.append(wh, user_id=by, action="settings_changed", object_type="settings",
                 object_id=",".join(changed)[:500],
                 reason="first start recorded" if not previous else "settings at start differ from the last record",
                 old_value=json.dumps({k: previous.get(k) for k in changed}, sort_keys=True, default=str),
                 new_value=json.dumps(current, sort_keys=True, default=str))
    return changed
