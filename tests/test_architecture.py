"""The import graph of the hub's own packages has no circles: a module never needs, directly or through
others, a module that needs it. Imports inside functions count (a late import only hides a circle);
imports only for type checking do not (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("queries", "dashboard", "ingest", "notify", "sample_data", "bench", "validation")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module named by an import statement, outside `if TYPE_CHECKING:` blocks."""
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
               for child in block.body for node in ast.walk(child)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the hub modules it imports."""
    files = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph = {}
    for module, path in files.items():
        targets = runtime_imports(ast.parse(path.read_text()), module, path.name == "__init__.py")
        graph[module] = {t for t in targets if t in files and t != module and not module.startswith(t + ".")}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module."""
    names = sorted(graph)
    position = {name: i for i, name in enumerate(names)}
    edges = [(position[a], position[b]) for a, targets in graph.items() for b in targets]
    rows, cols = zip(*edges, strict=True) if edges else ((), ())
    matrix = csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(names), len(names)))
    _, labels = connected_components(matrix, directed=True, connection="strong")
    groups: dict[int, list[str]] = {}
    for name, label in zip(names, labels, strict=True):
        groups.setdefault(label, []).append(name)
    return [group for group in groups.values() if len(group) > 1]


def test_the_hub_has_no_import_circles():
    graph = import_graph()
    assert sum(len(t) for t in graph.values()) > 100, "the walk found too few imports to be looking at the code"
    found = circles(graph)
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_a_circle_is_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_walk_sees_late_imports_and_skips_type_checking_ones():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import b\n"
                     "def f():\n    from c import d\n")
    assert runtime_imports(tree, "x.y", False) == {"typing", "typing.TYPE_CHECKING", "c", "c.d"}


def test_layers_only_import_downwards():
    """queries (the query layer) imports none of the apps above it; the sample generator shares the live
    engine's rules through queries.analyses.limits, not by importing ingest."""
    graph = import_graph()
    upward = {(a, b) for a, targets in graph.items() for b in targets
              if (a.startswith("queries") and b.split(".")[0] in {"dashboard", "ingest", "notify", "sample_data", "bench"})
              or (a.startswith("sample_data") and b.startswith("ingest"))}
    assert not upward, sorted(upward)


def test_the_query_engine_and_statistics_sit_below_the_rest_of_queries():
    """queries.engine (how a query runs) and queries.stats (pure statistics) are the bottom of the query
    layer: neither reads a KPI, an analysis, a record or an import."""
    graph = import_graph()
    bottom = ("queries.engine", "queries.stats")
    upward = {(a, b) for a, targets in graph.items() for b in targets
              if a.startswith(bottom) and b.startswith("queries.") and not b.startswith(bottom)}
    assert not upward, sorted(upward)
