"""What every exported file says about itself: title, filters, window, data as of, KPIs, who, when."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata

from dashboard.components.formatting import iso_time
from queries.kpi.catalog import Kpi

APP_NAME = "ATMP Quality Hub"


@cache
def app_version() -> str:
    try:
        return metadata.version("atmp-quality-hub")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _utc(ts: datetime | None) -> str:
    return "no data yet" if ts is None else f"{ts:%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class Provenance:
    title: str
    filters: dict[str, str]  # label -> value, in display order (page, site, window, scope)
    window_start: datetime
    window_end: datetime
    data_as_of: datetime | None
    kpis: tuple[Kpi, ...]
    user_id: str
    user_name: str
    role: str
    timezone: str = "UTC"  # the zone the file's times are written in (each with its UTC offset)
    exported_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None, microsecond=0))
    app_version: str = field(default_factory=app_version)
    export_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def window_text(self) -> str:
        return f"{self.window_start:%Y-%m-%d %H:%M} to {self.window_end:%Y-%m-%d %H:%M} UTC"

    @property
    def times_text(self) -> str:
        """What the times in the file's rows are (files.py writes them; the PDF report prints them)."""
        where = "UTC" if self.timezone == "UTC" else f"local time at the site ({self.timezone})"
        example = iso_time(self.window_end, self.timezone)
        return (f"ISO 8601 with the UTC offset, in {where}" + (f", e.g. {example}" if example else "")
                + "; the provenance's own times (time window, data as of, exported at) are UTC")

    @property
    def kpi_text(self) -> str:
        return "; ".join(f"{k.title} ({k.id})" for k in self.kpis) or "none (record-level data)"

    def fields(self) -> list[tuple[str, str]]:
        """(label, value) pairs in the order every format writes them."""
        return [
            ("Title", self.title),
            *[(label, value) for label, value in self.filters.items()],
            ("Time window", self.window_text),
            ("Times in the data", self.times_text),
            ("Data as of", _utc(self.data_as_of)),
            ("KPI definitions used", self.kpi_text),
            ("Exported by", f"{self.user_name} ({self.user_id}, {self.role})"),
            ("Exported at", _utc(self.exported_at)),
            ("App version", f"{APP_NAME} {self.app_version}"),
            ("Export id", self.export_id),
        ]

    def definitions(self) -> list[dict[str, str]]:
        """The full catalogue entry of each KPI used (the definition travels with the number)."""
        return [{"id": k.id, "title": k.title, "definition": k.definition, "formula": k.formula,
                 "window": k.window, "unit": k.unit, "better": k.better,
                 "target": "" if k.target is None else f"{k.target:g}", "source": k.source}
                for k in self.kpis]

    def footer_lines(self) -> list[str]:
        """Short lines for an image footer (full definitions go into the file's metadata)."""
        filters = " · ".join(f"{label}: {value}" for label, value in self.filters.items())
        return [
            f"{self.title} · {filters}",
            f"Window {self.window_text} · data as of {_utc(self.data_as_of)}",
            f"KPI definitions: {self.kpi_text}",
            f"Exported by {self.user_name} ({self.user_id}) at {_utc(self.exported_at)} · "
            f"{APP_NAME} {self.app_version} · export {self.export_id}",
        ]

    def as_dict(self) -> dict:
        return {label: value for label, value in self.fields()} | {"KPI definitions": self.definitions()}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=False)
