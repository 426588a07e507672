"""Complementary suppression of operator groups (queries/analyses/operator_groups.py), checked by brute force: after
protection, no union of hidden training groups that adding and subtracting the totals a role can see
yields (linear algebra over every subset) has 1 to min_n - 1 distinct operators."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queries.analyses.operator_groups import MEASURES, OTHERS, build_grid, protect_training_grid


def members_frame(rows: list[tuple[str, str, str, bool, bool]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["site_id", "module", "operator_ref", *MEASURES])


def small_derivable_unions(members: pd.DataFrame, site_ids: list[str], network: bool, protection, min_n: int
                           ) -> list[tuple[str, list]]:
    """Every union of hidden groups with 1..min_n-1 operators that the known totals determine.

    Known: every row's total (per-site KPIs; the others' total is network minus the scope), the shown
    network per-module totals and the shown cells. A union made only of whole rows with nothing shown is
    the KPI itself, not something the people page revealed, and is left out."""
    grid = build_grid(members, site_ids, network)
    hidden = {cell for cell in grid.masks if cell[0] == OTHERS or cell in protection.hidden_cells}
    found = []
    for measure in MEASURES:
        variables = sorted(c for c in hidden if grid.masks[c][measure])
        if not variables:
            continue
        equations = [[1.0 if v[0] == row else 0.0 for v in variables] for row in grid.rows]
        equations += [[1.0 if v[1] == module else 0.0 for v in variables]
                      for module in protection.shown_totals]
        _, sv, vt = np.linalg.svd(np.array(equations))
        rank = int((sv > 1e-9).sum())
        null = vt[rank:].T  # v is determined by the equations iff it is orthogonal to their null space
        fully_hidden = {row for row in grid.rows
                        if all(c in hidden for c in grid.masks if c[0] == row and grid.masks[c][measure])}
        for k in range(1, len(variables) + 1):
            for subset in itertools.combinations(range(len(variables)), k):
                vector = np.zeros(len(variables))
                vector[list(subset)] = 1.0
                if null.size and np.abs(vector @ null).max() > 1e-9:
                    continue
                operators = 0
                for i in subset:
                    operators |= grid.masks[variables[i]][measure]
                if not 0 < operators.bit_count() < min_n:
                    continue
                rows = {variables[i][0] for i in subset}
                whole_rows = all(sum(v[0] == row for v in variables)
                                 == sum(variables[i][0] == row for i in subset) for row in rows)
                if whole_rows and rows <= fully_hidden:
                    continue
                found.append((measure, [variables[i] for i in subset]))
    return found


@pytest.mark.requirement("URS-PPL-008")
def test_the_one_operator_module_and_what_reveals_it():
    """A: M1 by six operators, M2 by one (who also did M1). B and C: six in each module."""
    rows = [("A", "M1", f"a{i}", True, True) for i in range(1, 7)] + [("A", "M2", "a1", True, False)]
    for site in ("B", "C"):
        rows += [(site, m, f"{site}{i}", True, True) for m in ("M1", "M2") for i in range(6)]
    members = members_frame(rows)
    leader = protect_training_grid(members, ["A", "B", "C"], True, 5)
    # A's total minus M1 would be the one operator: M1 goes too. Either network total minus B and C
    # is an A cell, and A's total minus it the other: both network totals go.
    assert leader.hidden_cells == {("A", "M1"), ("A", "M2")}
    assert leader.shown_totals == frozenset()
    assert not small_derivable_unions(members, ["A", "B", "C"], True, leader, 5)
    manager = protect_training_grid(members, ["A"], True, 5)
    assert manager.hidden_cells == {("A", "M1"), ("A", "M2")}
    # For A's manager B and C are one "others" row: M1 = 6 + 12, M2 = 1 + 12 cannot be split.
    assert manager.shown_totals == {"M1", "M2"}
    assert not small_derivable_unions(members, ["A"], True, manager, 5)


@pytest.mark.requirement("URS-PPL-008")
def test_one_operator_in_several_modules_counts_once():
    rows = [("A", m, "a1", True, True) for m in ("M1", "M2", "M3", "M4", "M5")]
    rows += [("A", "M6", f"a{i}", True, True) for i in range(2, 8)]
    protection = protect_training_grid(members_frame(rows), ["A"], False, 5)
    # The five small modules hold one person, not five: A's M6 must go as well.
    assert ("A", "M6") in protection.hidden_cells


@st.composite
def grids(draw):
    n_sites, n_modules = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    rows = []
    for s in range(n_sites):
        pool = [f"S{s}-op{i}" for i in range(draw(st.integers(1, 9)))]
        for m in range(n_modules):
            for ref in draw(st.lists(st.sampled_from(pool), unique=True, max_size=len(pool))):
                first, certified = draw(st.sampled_from([(True, True), (True, False), (False, True)]))
                rows.append((f"S{s}", f"M{m}", ref, first, certified))
    sites = [f"S{s}" for s in range(n_sites)]
    manager = draw(st.booleans()) and n_sites > 1
    scope_sites = [draw(st.sampled_from(sites))] if manager else sites
    return members_frame(rows), scope_sites, draw(st.sampled_from([3, 5]))


@pytest.mark.requirement("URS-PPL-008")
@settings(max_examples=250, deadline=None)
@given(grids())
def test_no_small_group_is_derivable_from_what_a_role_sees(grid):
    members, site_ids, min_n = grid
    protection = protect_training_grid(members, site_ids, True, min_n)
    assert not small_derivable_unions(members, site_ids, True, protection, min_n)
    built = build_grid(members, site_ids, True)
    for cell, by_measure in built.masks.items():
        if cell[0] != OTHERS and cell not in protection.hidden_cells:
            assert all(m.bit_count() == 0 or m.bit_count() >= min_n for m in by_measure.values())
    for module in protection.shown_totals:
        assert all(built.column(module, ms).bit_count() == 0 or built.column(module, ms).bit_count() >= min_n
                   for ms in MEASURES)
