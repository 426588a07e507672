"""Mapping profiles: how another system's export becomes rows of a hub table (issue 14).

A profile is a TOML file (read with the standard library's tomllib), declarative and checked when loaded:

    [profile]
    name = "Generic eQMS deviation export"
    target = "deviations"                 # the hub table the rows go to

    [columns]                             # hub field = the export's column header
    deviation_id = "Record ID"

    [constants]                           # hub field = a value for every row
    source = "operator"

    [codes.severity]                      # the export's value (case and spaces ignored) = the hub's code
    "Minor" = "minor"

    [times]                               # fields holding a date and time
    fields = ["occurred_at", "detected_at", "closed_at"]
    format = "%m/%d/%Y %H:%M"             # strptime format; ISO 8601 when absent
    timezone = "site"                     # times without an offset are in the row's site's zone
                                          # ("site", or an IANA zone such as "Europe/Berlin")

Applying a profile gives a frame in the hub's column names with every cell as text (times as UTC ISO
8601), which the importer then checks against the table like any file in the hub's own format. Every
problem names the file, the row (1-based, header excluded) and the column of the export.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

SHIPPED = Path(__file__).resolve().parent / "profiles"  # the profiles that come with the hub
SECTIONS = {"profile", "columns", "constants", "codes", "times"}


class ProfileError(ValueError):
    """The profile file itself is wrong: the message names the file and the key."""


@dataclass(frozen=True)
class Profile:
    name: str
    target: str
    path: Path
    columns: dict[str, str]  # hub field -> export column
    constants: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # hub field -> {normalised export value: code}
    time_fields: tuple[str, ...] = ()
    time_format: str | None = None
    timezone: str = "UTC"  # "site" or an IANA zone

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys([*self.columns, *self.constants]))


def shipped_profiles() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SHIPPED.glob("*.toml"))}


def find_profile(name_or_path: str) -> Path:
    """A shipped profile by name, else a path to a profile file."""
    shipped = shipped_profiles()
    if name_or_path in shipped:
        return shipped[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise ProfileError(f"{name_or_path}: no such profile (shipped: {', '.join(shipped) or 'none'})")
    return path


def _normal(value: str) -> str:
    return " ".join(str(value).split()).casefold()


def load_profile(name_or_path: str, table_fields: list[str] | None = None) -> Profile:
    """Read and check a profile; ``table_fields`` (the target table's columns) checks the field names."""
    path = find_profile(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path.name}: not a valid TOML file ({exc})") from exc
    unknown = set(data) - SECTIONS
    if unknown:
        raise ProfileError(f"{path.name}: unknown section(s) {', '.join(sorted(unknown))} "
                           f"(allowed: {', '.join(sorted(SECTIONS))})")
    head = data.get("profile", {})
    for key in ("name", "target"):
        if not isinstance(head.get(key), str) or not head[key]:
            raise ProfileError(f"{path.name}: [profile] needs {key} = \"...\"")
    columns, constants = data.get("columns", {}), data.get("constants", {})
    for section, mapping in (("columns", columns), ("constants", constants)):
        bad = [k for k, v in mapping.items() if not isinstance(v, str)]
        if bad:
            raise ProfileError(f"{path.name}: [{section}] {', '.join(bad)} must be text")
    if not columns:
        raise ProfileError(f"{path.name}: [columns] maps no field")
    codes = {}
    for name, mapping in data.get("codes", {}).items():
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ProfileError(f"{path.name}: [codes.{name}] must map export values to text codes")
        codes[name] = {_normal(k): v for k, v in mapping.items()}
    times = data.get("times", {})
    time_fields = tuple(times.get("fields", ()))
    timezone = times.get("timezone", "UTC")
    if timezone != "site":
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ProfileError(f"{path.name}: [times] timezone {timezone!r} is not \"site\" or an IANA zone") from exc
    profile = Profile(head["name"], head["target"], path, dict(columns), dict(constants), codes, time_fields,
                      times.get("format"), timezone)
    named = set(profile.fields)
    strays = sorted((set(codes) | set(time_fields)) - named)
    if strays:
        raise ProfileError(f"{path.name}: [codes]/[times] name field(s) {', '.join(strays)} that no column or "
                           "constant fills")
    if timezone == "site" and "site_id" not in named:
        raise ProfileError(f"{path.name}: [times] timezone = \"site\" needs a site_id column")
    if table_fields is not None:
        check_fields(profile, table_fields)
    return profile


def check_fields(profile: Profile, table_fields: list[str]) -> None:
    """Every field the profile fills is a column of its target table."""
    foreign = sorted(set(profile.fields) - set(table_fields))
    if foreign:
        raise ProfileError(f"{profile.path.name}: {profile.target} has no field(s) {', '.join(foreign)}")


def apply(profile: Profile, raw: pd.DataFrame, file_name: str, site_zones: dict[str, str],
          first_row: int = 1) -> tuple[pd.DataFrame, list[str]]:
    """The export's rows in the hub's column names (text cells; times as UTC ISO 8601) and every problem
    found (file, row, export column, what). Columns of the export the profile does not name are ignored.
    ``first_row``: the file's row number of raw's first row (a file read in chunks)."""
    header = {str(c).strip().lstrip("\ufeff"): c for c in raw.columns}
    missing = [source for source in profile.columns.values() if source not in header]
    if missing:
        return pd.DataFrame(), [f"{file_name}: the profile {profile.path.name} needs column(s) "
                                f"{', '.join(repr(m) for m in missing)}, which the file does not have"]
    problems: list[str] = []
    out: dict[str, list] = {}
    for target, source in profile.columns.items():
        values = raw[header[source]].tolist()
        if target in profile.codes:
            known = profile.codes[target]
            mapped = []
            for row, value in enumerate(values, start=first_row):
                if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
                    mapped.append(None)
                elif _normal(value) in known:
                    mapped.append(known[_normal(value)])
                else:
                    problems.append(f"{file_name} row {row}, column {source!r}: {str(value)[:60]!r} is not in the "
                                    f"profile's codes for {target} (known: {', '.join(sorted(known))})")
                    mapped.append(None)
            values = mapped
        out[target] = values
    for target, value in profile.constants.items():
        out.setdefault(target, [value] * len(raw))
    frame = pd.DataFrame(out, index=range(len(raw)))
    for target in profile.time_fields:
        source = profile.columns.get(target, target)
        frame[target] = [_utc_text(value, position, first_row, frame, profile, site_zones, file_name, source, problems)
                         for position, value in enumerate(frame[target].tolist())]
    return frame, problems


def _utc_text(value, position: int, first_row: int, frame: pd.DataFrame, profile: Profile,
              site_zones: dict[str, str], file_name: str, source: str, problems: list[str]) -> str | None:
    """One time cell (at ``position`` in frame, the file's row first_row + position) as naive UTC ISO text
    (the warehouse's convention), or None with a problem noted."""
    row = first_row + position
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
        return None
    text = str(value).strip()
    try:
        moment = datetime.strptime(text, profile.time_format) if profile.time_format else datetime.fromisoformat(text)
    except ValueError:
        expected = f"the format {profile.time_format!r}" if profile.time_format else "ISO 8601"
        problems.append(f"{file_name} row {row}, column {source!r}: {text[:40]!r} is not a time in {expected}")
        return None
    if moment.tzinfo is None:
        zone = profile.timezone
        if zone == "site":
            site = frame.at[position, "site_id"]
            zone = site_zones.get(site)
            if zone is None:
                problems.append(f"{file_name} row {row}, column {source!r}: no time zone: site {site!r} is not a "
                                "site of the hub")
                return None
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(ZoneInfo("UTC")).replace(tzinfo=None).isoformat()
