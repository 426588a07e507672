"""Small-group protection for figures about operators: which training groups (site x module) and which
network per-module totals may be shown, with complementary suppression against subtraction.

The groups form a two-way table. Rows are the sites in scope and, when the network aggregate is visible,
one row for every other site together ("others"); columns are training modules. What one role can see:

- every row's total over all modules: the certification KPIs per site and for the network (overview, site
  page); the others' total is the network minus the sites in scope. These are fixed points here;
- the cells (site x module) on /people;
- the network per-module totals (column totals) beside them.

Group sizes are distinct operators, per measure (first attempts in the window, certifications in the
window): one operator in three modules is one person, not three. A cell is suppressed when a measure has
1 to min_n - 1 operators. Then, until nothing changes:

1. Row rule: a site's total minus its shown cells must leave 0 or at least min_n operators; otherwise
   its smallest shown cell is suppressed too (the survey's site-minus-teams rule).
2. Cuts: any union of hidden cells that adding and subtracting known totals yields is a sum of
   elementary cuts (the table's incidence matrix is totally unimodular, so integer combinations suffice,
   and a combination that yields a union splits level by level into cuts):
     (a) rows R minus columns C: the hidden cells of R outside C, where every hidden cell of C is in R;
     (b) columns D minus rows: the hidden cells of D in the rows that also have hidden cells outside D.
   Every cut over the shown column totals is checked; one that leaves 1 to min_n - 1 operators makes its
   smallest column total suppressed. A single row is rule 1; a single column is (b) with one column
   ("network minus the shown sites").

Known zeros (a group with no operator) count as known, so an attacker is never assumed to know less than
the page shows. Pure functions: frames and sets in, sets out; no database, no Dash.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

logger = logging.getLogger(__name__)

OTHERS = "__others__"  # row of every site outside the scope (its total is network minus the scope)
MEASURES = ("first_attempt", "certified")
MAX_AUDITED_COLUMNS = 12  # 2**12 subsets per measure; beyond that, totals touching hidden groups are hidden


@dataclass(frozen=True)
class Protection:
    hidden_cells: frozenset[tuple[str, str]]  # (site_id, module) of sites in scope
    shown_totals: frozenset[str]  # modules whose network total may be shown


@dataclass
class _Grid:
    rows: list[str]
    modules: list[str]
    masks: dict[tuple[str, str], dict[str, int]]  # (row, module) -> measure -> bit set of operators

    def size(self, cell: tuple[str, str], measure: str) -> int:
        return self.masks.get(cell, {}).get(measure, 0).bit_count()

    def column(self, module: str, measure: str) -> int:
        out = 0
        for row in self.rows:
            out |= self.masks.get((row, module), {}).get(measure, 0)
        return out


def _small(mask: int, min_n: int) -> bool:
    return 0 < mask.bit_count() < min_n


def build_grid(members: pd.DataFrame, site_ids: Iterable[str], network: bool) -> _Grid:
    """members: site_id, module, operator_ref, first_attempt, certified (one row per operator and module)."""
    in_scope = list(site_ids)
    rows = in_scope + ([OTHERS] if network else [])
    scope_set = set(in_scope)
    bits: dict[tuple[str, str], int] = {}
    masks: dict[tuple[str, str], dict[str, int]] = {}
    for site, module, ref, *flags in members[["site_id", "module", "operator_ref", *MEASURES]].itertuples(
            index=False):
        row = site if site in scope_set else OTHERS
        if row == OTHERS and not network:
            continue
        bit = bits.setdefault((site, ref), 1 << len(bits))  # operators are per site: distinct people
        cell = masks.setdefault((row, module), dict.fromkeys(MEASURES, 0))
        for measure, flag in zip(MEASURES, flags, strict=True):
            if bool(flag):
                cell[measure] |= bit
    modules = sorted({module for _, module in masks})
    return _Grid(rows, modules, masks)


def protect_training_grid(members: pd.DataFrame, site_ids: Iterable[str], network: bool, min_n: int
                          ) -> Protection:
    """Which cells to suppress and which network per-module totals to show (see the module doc)."""
    grid = build_grid(members, site_ids, network)
    hidden = {cell for cell, by_measure in grid.masks.items()
              if cell[0] == OTHERS or any(_small(mask, min_n) for mask in by_measure.values())}
    totals = set()
    if network:
        totals = {m for m in grid.modules if not any(_small(grid.column(m, ms), min_n) for ms in MEASURES)}
    while True:
        _row_rule(grid, hidden, min_n)
        audited = [m for m in grid.modules if m in totals and any(mm == m for _, mm in hidden)]
        if len(audited) > MAX_AUDITED_COLUMNS:
            logger.info("%d modules: too many to audit; their network totals are hidden", len(audited))
            totals -= set(audited)
            continue
        cut = _disclosing_cut(grid, hidden, audited, min_n)
        if cut is None:
            break
        totals.discard(min(cut, key=lambda m: (max(grid.column(m, ms).bit_count() for ms in MEASURES), m)))
    return Protection(frozenset(c for c in hidden if c[0] != OTHERS), frozenset(totals))


def _row_rule(grid: _Grid, hidden: set[tuple[str, str]], min_n: int) -> None:
    for row in grid.rows:
        if row == OTHERS:
            continue  # all hidden: its total is the network KPI minus the sites in scope, fixed
        cells = [(row, m) for m in grid.modules if (row, m) in grid.masks]
        while True:
            rest = {ms: 0 for ms in MEASURES}
            for cell in cells:
                if cell in hidden:
                    for ms in MEASURES:
                        rest[ms] |= grid.masks[cell][ms]
            shown = [c for c in cells if c not in hidden]
            if not shown or not any(_small(mask, min_n) for mask in rest.values()):
                break
            hidden.add(min(shown, key=lambda c: (sum(grid.size(c, ms) for ms in MEASURES), c[1])))


def _disclosing_cut(grid: _Grid, hidden: set[tuple[str, str]], audited: list[str], min_n: int
                    ) -> list[str] | None:
    """The columns of the first cut (a) or (b) that leaves 1 to min_n - 1 operators, or None."""
    k = len(audited)
    if k == 0:
        return None
    for measure in MEASURES:
        inside, outside = [], []  # per row: hidden operators per audited column, and in the other columns
        for row in grid.rows:
            masks = {m: grid.masks[(row, m)][measure] if (row, m) in hidden else 0 for m in grid.modules}
            inside.append([masks[m] for m in audited])
            rest = 0
            for m in grid.modules:
                if m not in audited:
                    rest |= masks[m]
            outside.append(rest)
        # in_s[r][subset]: the row's hidden operators in the subset's columns, built up bit by bit.
        in_s = []
        for cols in inside:
            table = [0] * (1 << k)
            for subset in range(1, 1 << k):
                low = subset & -subset
                table[subset] = table[subset ^ low] | cols[low.bit_length() - 1]
            in_s.append(table)
        for subset in range(1, 1 << k):
            rows_minus_columns = 0  # (a): rows with a hidden cell in the subset, outside it
            columns_minus_rows = 0  # (b): rows with a hidden cell outside the subset, inside it
            complement = ((1 << k) - 1) ^ subset
            for r in range(len(grid.rows)):
                here = in_s[r][subset]
                elsewhere = outside[r] | in_s[r][complement]
                if here:
                    rows_minus_columns |= elsewhere
                if elsewhere:
                    columns_minus_rows |= here
            if _small(rows_minus_columns, min_n) or _small(columns_minus_rows, min_n):
                return [audited[i] for i in range(k) if subset >> i & 1]
    return None
