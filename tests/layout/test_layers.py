"""The house rules: every module's imports go down the floors, never up, and never in a circle.

The floors, from the ground up (a module may import its own floor and those below)::

    0  errors, atomic, values, version,      what everything may use (formats: the check of a file
       formats                               format's version)
    1  spec                                  the job as data: records, enums, fields, distributions, the
                                             converter (mappings <-> records), transforms; no I/O
    2  serialization                         text <-> records: YAML with marks, legacy migration, jobs
    3  compiler                              job -> plan: defaults, samplers, policies (the Bayesian
                                             sampler loads JAX on first use, in compiler.gp)
    4  train                                 one trial on JAX: models, data, optimisers, the loop,
                                             checkpoints, inference (forward pass and scores)
    5  runner                                the sweep: executors, store, results, console progress
    6  prediction, export, tracking, report  using a trained model, and watching a run
       datasets, strategies, docs            example data, Hypothesis strategies, generated docs
    7  launch                                the public ``run``: the runner with its observers
    8  cli, __main__, imgtune (the facade)   the command line and the package's public names

Imports are read from the source, function-level ones included, so a late import
cannot hide a reach-up or a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

FLOORS = {
    "imgtune.errors": 0, "imgtune.atomic": 0, "imgtune.version": 0, "imgtune.values": 0, "imgtune.formats": 0,
    "imgtune.spec": 1,
    "imgtune.serialization": 2,
    "imgtune.compiler": 3,
    "imgtune.train": 4,
    "imgtune.runner": 5,
    "imgtune.prediction": 6, "imgtune.export": 6, "imgtune.tracking": 6, "imgtune.report": 6,
    "imgtune.datasets": 6, "imgtune.strategies": 6, "imgtune.testing": 6, "imgtune.docs": 6,
    "imgtune.launch": 7,
    "imgtune.cli": 8, "imgtune.__main__": 8, "imgtune": 8,
}

#: The only imgtune modules that may be imported inside a function: importing them loads a
#: heavy or optional dependency that the importing module must not load when it is imported.
#: Such an import carries a comment saying why, on its line or the line above.
HEAVY = {
    "imgtune.compiler.gp": "JAX: the Bayesian sampler's Gaussian process, only when a Bayesian sweep proposes",
    "imgtune.train.trial": "JAX: one trial's training, only in the trial's own process",
    "imgtune.train.inference": "JAX: a trained model's forward pass and scores",
    "imgtune.train.models": "JAX: the Flax models",
    "imgtune.train.loop": "JAX: the training loop",
    "imgtune.train.checkpoints": "JAX and Orbax: checkpoints",
    "imgtune.train.devices": "JAX: devices and sharding",
    "imgtune.train.optim": "JAX and Optax: optimisers",
    "imgtune.train.state": "JAX: the train state",
    "imgtune.export": "JAX (and jax2onnx when exporting): the ONNX export",
    "imgtune.prediction": "JAX: prediction with a trained model",
}

#: What loading a HEAVY module pulls in (checked below, so the list cannot go stale).
HEAVY_DEPENDENCIES = ("jax", "mlflow", "jax2onnx", "onnxruntime")


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in sorted((SRC / "imgtune").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


MODULES = _modules()


def floor_of(module: str) -> int:
    """The floor of a module: its own entry, else its nearest package's."""
    probe = module
    while probe not in FLOORS:
        probe = probe.rpartition(".")[0]
    return FLOORS[probe]


def _resolve(module: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]


def imports_of(module: str) -> list[tuple[str, bool, int, list[str]]]:
    """``(target, at_function_level, line, names)`` for each import of an imgtune module."""
    path, is_package = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, bool, int, list[str]]] = []

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if type_checking:
                    continue  # types only: never executed
                names = [a.name for a in child.names]
                for target in _resolve(module, is_package, child):
                    if target == "imgtune" or target.startswith("imgtune."):
                        out.append((target, in_function, child.lineno, names))
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(child, in_function, True)
            else:
                visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)),
                      type_checking)

    visit(tree, False, False)
    return out


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_floor():
    assert all(floor_of(m) >= 0 for m in MODULES)


def test_no_module_imports_a_higher_floor():
    bad = [f"{m} (floor {floor_of(m)}) imports {t} (floor {floor_of(t)}) at line {line}"
           for m, edges in GRAPH.items() for t, _, line, _ in edges if floor_of(t) > floor_of(m)]
    assert not bad, "\n".join(bad)


def test_no_import_circle():
    edges = {m: {t for t, _, _, _ in GRAPH[m] if t in MODULES and t != m} for m in MODULES}
    # A package's __init__ runs before any of its modules: `import imgtune.x` depends on `imgtune`.
    # That implicit edge is left out; the facade's own imports are checked like any other.
    seen: dict[str, int] = {}
    stack: list[str] = []
    circles: list[str] = []

    def walk(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if seen.get(nxt) == 1:
                circles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in seen:
                walk(nxt)
        stack.pop()
        seen[node] = 2

    for m in sorted(MODULES):
        if m not in seen:
            walk(m)
    assert not circles, "\n".join(circles)


def _heavy(target: str) -> bool:
    return any(target == h or target.startswith(h + ".") for h in HEAVY)


def test_function_level_imports_only_for_heavy_or_optional_modules():
    bad = []
    for m, edges in GRAPH.items():
        lines = MODULES[m][0].read_text(encoding="utf-8").splitlines()
        for t, in_function, line, _ in edges:
            if not in_function:
                continue
            if not _heavy(t):
                bad.append(f"{m}:{line} imports {t} inside a function (import it at the top)")
            elif _heavy(m):
                bad.append(f"{m}:{line} imports {t} inside a function, but {m} loads JAX anyway (import it at the top)")
            elif "#" not in lines[line - 1] and not lines[line - 2].strip().startswith("#"):
                bad.append(f"{m}:{line} imports {t} inside a function without a comment saying why")
    assert not bad, "\n".join(bad)


def test_heavy_modules_are_heavy():
    code = ("import importlib, sys\n"
            f"for name in {sorted(HEAVY)!r}:\n"
            "    before = set(sys.modules)\n"
            "    importlib.import_module(name)\n"
            f"    new = {{m.split('.')[0] for m in set(sys.modules) - before}} & set({HEAVY_DEPENDENCIES!r})\n"
            "    print(name, bool(new) or name in sys.modules and any(m in sys.modules for m in "
            f"{HEAVY_DEPENDENCIES!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    light = [line.split()[0] for line in out.splitlines() if line.endswith("False")]
    assert not light, f"these load none of {HEAVY_DEPENDENCIES}: {light}"


def test_no_private_name_crosses_a_module_boundary():
    bad = sorted({f"{m}:{line} imports {', '.join(n for n in names if n.startswith('_'))} from {t}"
                  for m, edges in GRAPH.items() for t, _, line, names in edges
                  if any(n.startswith("_") and not n.startswith("__") for n in names)})
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", ["imgtune", "imgtune.runner"])
def test_importing_loads_no_jax_report_or_cli(module):
    code = (f"import sys, {module}\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'flax', 'optax', 'orbax', "
            "'hypothesis', 'sklearn', 'mlflow', 'ray', 'grain', 'torch', 'pandas') or m.startswith(('imgtune.report', "
            "'imgtune.cli', 'imgtune.tracking', 'imgtune.export', 'imgtune.prediction', 'imgtune.launch')))\n"
            "print(' '.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import {module} loaded: {out}"
