"""The house has one direction: the layers contract in pyproject.toml holds, and no module of
``src/deeprnn`` is part of an import cycle (function-level imports included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp", reason="grimp (dev extra) is not installed")

ROOT = Path(__file__).resolve().parents[1]


def _graph():
    return grimp.build_graph("deeprnn", cache_dir=None)


def _cycles(graph) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycles():
    graph = _graph()
    cycles = _cycles(graph)
    detail = []
    for comp in cycles:
        a, b = comp[0], comp[1]
        chain = graph.find_shortest_chain(importer=a, imported=b) or ()
        back = graph.find_shortest_chain(importer=b, imported=a) or ()
        detail.append(f"{comp}: {' -> '.join(chain)} / {' -> '.join(back)}")
    assert not cycles, "import cycles in src/deeprnn:\n" + "\n".join(detail)


def test_cycle_finder_finds_a_cycle():
    """The checker itself: a two-module cycle and a three-module cycle are reported."""

    edges = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}}

    class Fake:
        modules = frozenset("abcde")

        def find_modules_directly_imported_by(self, m):
            return edges.get(m, set())

    assert _cycles(Fake()) == [["a", "b"], ["c", "d", "e"]]


def test_layers_contract_kept():
    """``lint-imports`` (import-linter) with the contract in pyproject.toml."""
    pytest.importorskip("importlinter", reason="import-linter (dev extra) is not installed")
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "importlinter.cli"]
    proc = subprocess.run(
        [*cmd, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_lower_layers_do_not_import_training():
    """The specific knot the layering untied: tasks, export and data never reach training."""
    graph = _graph()
    for low in ("deeprnn.tasks", "deeprnn.export", "deeprnn.data", "deeprnn.viz"):
        chain = graph.find_shortest_chain(
            importer=low, imported="deeprnn.training", as_packages=True
        )
        assert chain is None, f"{low} imports training: {' -> '.join(chain)}"


def test_contract_names_only_floors_that_exist():
    """Every layer the import-linter contract names is a module or package of ``deeprnn``."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    src = ROOT / "src" / "deeprnn"
    for contract in config["contracts"]:
        for layer in contract.get("layers", []):
            for name in (part.strip() for part in layer.split("|")):
                exists = (src / name / "__init__.py").is_file() or (src / f"{name}.py").is_file()
                assert exists, f"contract {contract['name']!r} names {name!r}: no such module"
