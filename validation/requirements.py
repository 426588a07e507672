"""The user requirements and the regulatory clauses they serve, read from `docs/requirements/` (TOML).

Each area file holds one area's requirements (`prefix = "MON"`, then `[[requirement]]` tables with `id`,
`text`, `risk`, `risk_reason`, `clauses` and, where a test cannot show it, `verification = "procedure"`
with `procedure` saying what the regulated user does). `clauses.toml` holds every clause a requirement may
cite, with how the hub meets it and what the regulated user must do themselves. Anything wrong is refused
with the file, the entry and the field, so a typo never reaches the traceability matrix."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS_DIR = Path(__file__).resolve().parent.parent / "docs" / "requirements"
CLAUSES_FILE = "clauses.toml"
RISKS = ("high", "medium", "low")
# "test": an automated test in the suite shows it; "procedure": the regulated user's own procedure does
# (backups, training), which the report lists as having no automated evidence.
VERIFICATIONS = ("test", "procedure")
ID_PATTERN = re.compile(r"^URS-(?P<prefix>[A-Z]{2,4})-\d{3}$")


class RequirementsError(ValueError):
    """A requirement or clause file that cannot be used, said with where."""


@dataclass(frozen=True)
class Clause:
    id: str            # "Part 11 §11.10(e)"
    framework: str     # "21 CFR Part 11"
    title: str
    how_met: str       # how the hub meets it
    user_must: str     # what the regulated user must do themselves


@dataclass(frozen=True)
class Requirement:
    id: str
    area: str
    text: str
    risk: str
    risk_reason: str
    clauses: tuple[str, ...]
    verification: str
    procedure: str     # for verification = "procedure": what the user does; else ""
    file: str

    @property
    def needs_test(self) -> bool:
        return self.verification == "test"


@dataclass(frozen=True)
class Catalogue:
    requirements: dict[str, Requirement]
    clauses: dict[str, Clause]

    def by_risk(self) -> dict[str, int]:
        return {risk: sum(r.risk == risk for r in self.requirements.values()) for risk in RISKS}

    def citing(self, clause_id: str) -> list[Requirement]:
        return [r for r in self.requirements.values() if clause_id in r.clauses]


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RequirementsError(f"{path.name}: not valid TOML ({exc})") from None


def _text(entry: dict, field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise RequirementsError(f"{where}: field {field!r} must be a non-empty text")
    return " ".join(value.split())


def _clauses(path: Path) -> dict[str, Clause]:
    clauses: dict[str, Clause] = {}
    for n, entry in enumerate(_read(path).get("clause", []), start=1):
        where = f"{path.name}, clause {n}"
        clause = Clause(**{f: _text(entry, f, where) for f in ("id", "framework", "title", "how_met", "user_must")})
        if clause.id in clauses:
            raise RequirementsError(f"{where}: clause {clause.id!r} is listed twice")
        clauses[clause.id] = clause
    if not clauses:
        raise RequirementsError(f"{path.name}: no [[clause]] entries")
    return clauses


def _requirement(entry: dict, path: Path, n: int, doc: dict, clauses: dict[str, Clause]) -> Requirement:
    where = f"{path.name}, requirement {n}"
    rid = _text(entry, "id", where)
    where = f"{path.name}, {rid}"
    match = ID_PATTERN.match(rid)
    if not match or match["prefix"] != doc["prefix"]:
        raise RequirementsError(f"{where}: field 'id' must look like URS-{doc['prefix']}-001 (the file's prefix)")
    risk = _text(entry, "risk", where)
    if risk not in RISKS:
        raise RequirementsError(f"{where}: field 'risk' is {risk!r}; one of {', '.join(RISKS)}")
    cited = entry.get("clauses")
    if not isinstance(cited, list) or not cited:
        raise RequirementsError(f"{where}: field 'clauses' must list at least one clause of {CLAUSES_FILE}")
    unknown = [c for c in cited if c not in clauses]
    if unknown:
        raise RequirementsError(f"{where}: field 'clauses' names {unknown}, not in {CLAUSES_FILE}")
    verification = entry.get("verification", "test")
    if verification not in VERIFICATIONS:
        raise RequirementsError(f"{where}: field 'verification' is {verification!r}; one of {VERIFICATIONS}")
    procedure = _text(entry, "procedure", where) if verification == "procedure" else ""
    extra = set(entry) - {"id", "text", "risk", "risk_reason", "clauses", "verification", "procedure"}
    if extra:
        raise RequirementsError(f"{where}: unknown field(s) {sorted(extra)}")
    return Requirement(id=rid, area=doc["area"], text=_text(entry, "text", where), risk=risk,
                       risk_reason=_text(entry, "risk_reason", where), clauses=tuple(cited),
                       verification=verification, procedure=procedure, file=path.name)


def load(folder: Path = REQUIREMENTS_DIR) -> Catalogue:
    clauses = _clauses(folder / CLAUSES_FILE)
    requirements: dict[str, Requirement] = {}
    for path in sorted(folder.glob("*.toml")):
        if path.name == CLAUSES_FILE:
            continue
        doc = _read(path)
        for field in ("area", "prefix"):
            if not isinstance(doc.get(field), str):
                raise RequirementsError(f"{path.name}: top-level field {field!r} is missing")
        entries = doc.get("requirement", [])
        if not entries:
            raise RequirementsError(f"{path.name}: no [[requirement]] entries")
        for n, entry in enumerate(entries, start=1):
            requirement = _requirement(entry, path, n, doc, clauses)
            if requirement.id in requirements:
                raise RequirementsError(f"{path.name}, {requirement.id}: also in {requirements[requirement.id].file}")
            requirements[requirement.id] = requirement
    return Catalogue(requirements=requirements, clauses=clauses)
