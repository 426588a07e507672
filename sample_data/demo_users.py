"""Demo logins for the sample network (development only; `atmp-hub users demo` refuses in production)."""

from __future__ import annotations

# (user id, display name, role, site, password). Listed in the README; never used outside demos.
DEMO_USERS = (
    ("leader", "Dana Leader", "leadership", None, "leader-demo-pass"),
    ("manager.chi", "Chris Manager", "site_manager", "CHI", "manager-demo-pass"),
    ("auditor", "Alex Auditor", "auditor", None, "auditor-demo-pass"),
    ("wall", "Wall display", "display", None, "display-demo-pass"),
    ("admin", "Ada Admin", "admin", None, "admin-demo-pass"),
)
