"""The package's import graph, read from its sources: no cycles, imports flow one way, none lazily.

The layout (README, "Layout"): `nn` -> `models` -> `deploy` -> `training` ->
`tasks` -> `cli`/`demo`, with the leaves `checks`, `spectra`, `io`,
`synthetic`, `metrics`, `viz` below everything and `complexity` just above
`nn`. A module may import only from its own layer or below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "larq_hsi"

#: Layers from the bottom up; a module may import from its own layer or a lower one.
LAYERS = [
    {"checks", "spectra"},
    {"io", "pth", "synthetic", "metrics", "viz"},
    {"nn"},
    {"complexity", "quantizers", "layers"},  # the stable re-export paths of nn sit here too
    {"models"},
    {"deploy"},
    {"training"},
    {"tasks"},
    {"cli", "demo"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve(importer: str, node) -> list[str]:
    """The larq_hsi modules one import statement names (submodules of `from pkg import sub` included)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "larq_hsi"]
    base = node.module or ""
    if node.level:  # relative import
        anchor = importer.split(".")
        if not _is_package(importer):
            anchor = anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    if base.split(".")[0] != "larq_hsi":
        return []
    found = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        found.append(candidate if candidate in MODULES else base)
    return found


def _imports(name: str) -> list[tuple[str, int, bool]]:
    """`(imported module, line, inside a function)` for every larq_hsi import of module `name`."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.extend((target, child.lineno, in_function) for target in _resolve(name, child))
            visit(child, nested)

    visit(tree, False)
    return found


def _executed(importer: str, target: str) -> list[str]:
    """What importing `target` from `importer` runs: `target` and the packages above it that
    `importer` is not already inside (the root package's `__init__` is the entry point)."""
    chain = [target]
    parts = target.split(".")
    for depth in range(len(parts) - 1, 1, -1):
        package = ".".join(parts[:depth])
        if not (importer == package or importer.startswith(package + ".")):
            chain.append(package)
    return chain


def _graph() -> dict[str, set[str]]:
    graph = {name: set() for name in MODULES}
    for name in MODULES:
        for target, _, _ in _imports(name):
            graph[name].update(t for t in _executed(name, target) if t in MODULES and t != name)
    return graph


def _part(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_is_read_from_every_module():
    assert {"larq_hsi.nn.quantizers", "larq_hsi.models.bisrnet", "larq_hsi.tasks.cassi.physics",
            "larq_hsi.training.runs", "larq_hsi.deploy.tflite", "larq_hsi.cli"} <= set(MODULES)
    graph = _graph()
    assert "larq_hsi.nn.quantizers" in graph["larq_hsi.nn.layers"]
    assert "larq_hsi.models.bisrnet" in graph["larq_hsi.models.baselines"]
    assert "larq_hsi.training.runs" in graph["larq_hsi.tasks.cassi.recipe"]
    assert "larq_hsi.training" in graph["larq_hsi.tasks.cassi.recipe"]  # the package it sits in runs too


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first search meets (each as the path that closes it)."""
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state and node != "larq_hsi":
            visit(node)
    return cycles


def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_imports_flow_one_way():
    wrong = []
    for name in MODULES:
        if name == "larq_hsi":
            continue
        for target, line, _ in _imports(name):
            if target == "larq_hsi":
                continue
            source_rank, target_rank = RANK[_part(name)], RANK[_part(target)]
            if target_rank > source_rank:
                wrong.append(f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_nn_imports_nothing_above_it():
    """The rule the issue names: nothing from nn/ into models/, tasks/ or training/ (nor deploy, cli)."""
    above = {"models", "tasks", "training", "deploy", "cli", "demo"}
    wrong = [(name, target) for name in MODULES if _part(name) == "nn"
             for target, _, _ in _imports(name) if _part(target) in above]
    assert not wrong, wrong


def test_no_lazy_imports_of_the_package():
    lazy = [f"{MODULES[name].relative_to(PACKAGE.parent)}:{line} imports {target} inside a function"
            for name in MODULES for target, line, in_function in _imports(name) if in_function]
    assert not lazy, "\n".join(lazy)


@pytest.mark.parametrize("source, expected", [
    ("from larq_hsi.nn import blocks as B", ["larq_hsi.nn.blocks"]),
    ("from larq_hsi.nn.units import bisr_conv", ["larq_hsi.nn.units"]),
    ("import larq_hsi.tasks.cassi.physics", ["larq_hsi.tasks.cassi.physics"]),
    ("from . import units", ["larq_hsi.nn.units"]),
    ("import numpy as np", []),
])
def test_import_resolution(source, expected):
    """The checker itself: what a statement in `larq_hsi.nn.blocks` is read as importing."""
    node = ast.parse(source).body[0]
    assert _resolve("larq_hsi.nn.blocks", node) == expected


def test_a_cycle_would_be_found():
    """The cycle search reports a planted cycle (so an empty result means something)."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
