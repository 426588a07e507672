"""The server-built scope every query runs under: which sites, which time window."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

ROLES = ("leadership", "site_manager", "auditor", "display", "admin")
# Roles that see every site in detail. site_manager sees its own; admin sees no quality data.
ALL_SITE_ROLES = frozenset({"leadership", "auditor", "display"})


class NotFound(LookupError):
    """The thing asked for does not exist, or is outside the user's scope (indistinguishable)."""


@dataclass(frozen=True)
class Scope:
    user_id: str
    role: str
    site_ids: tuple[str, ...]  # sites the user may see in detail
    network: bool  # may see network-wide aggregates (anonymised for site managers)
    start: datetime
    end: datetime

    def as_params(self) -> dict:
        return {"sites": list(self.site_ids), "network": self.network, "start": self.start, "end": self.end}

    def for_site(self, site_id: str | None, *, with_network: bool = False) -> Scope:
        """Narrow to one site; a site outside the scope is 'not found', never widened.
        with_network keeps the network aggregate row (only if the scope already allowed it)."""
        if not isinstance(site_id, str) or site_id not in self.site_ids:
            raise NotFound(f"site {site_id!r} not found")
        return replace(self, site_ids=(site_id,), network=self.network and with_network)

    def with_window(self, start: datetime, end: datetime) -> Scope:
        return replace(self, start=start, end=end)

    def previous_window(self) -> Scope:
        """The window of the same length just before this one (for trends)."""
        length = self.end - self.start
        return replace(self, start=self.start - length, end=self.start)


def build_scope(
    *, user_id: str, role: str, own_site: str | None, all_sites: list[str], end: datetime, days: int
) -> Scope:
    """The only constructor used by the app: everything comes from the server-side user record."""
    if role not in ROLES:
        raise PermissionError(f"unknown role {role!r}")
    if role in ALL_SITE_ROLES:
        sites = tuple(sorted(all_sites))
    elif role == "site_manager":
        sites = (own_site,) if own_site in all_sites else ()
    else:
        sites = ()
    network = role != "admin"
    return Scope(user_id, role, sites, network, end - timedelta(days=days), end)
