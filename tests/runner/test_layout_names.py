"""One owner of the run folder's file names: src/imgtune/runner/store.py.

Every file and folder name under a run's output folder is spelled in the store's layouts
(:class:`~imgtune.runner.store.RunLayout`, :class:`~imgtune.runner.store.TrialLayout`,
:class:`~imgtune.runner.store.BestLayout`); every other module asks them. The scan below reads
every module's string literals (not its docstrings; comments are not in the syntax tree) and
lists those equal to one of the names. A literal that is another thing with the same name is
allowed in :data:`ALLOWED`, with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from imgtune.runner.store import BestLayout, RunLayout, TrialLayout, default_onnx_path, model_folder

SRC = Path(__file__).resolve().parents[2] / "src" / "imgtune"
OWNER = SRC / "runner" / "store.py"

#: The run folder's layout, as the issue lists it (and the store's module doc shows it).
LAYOUT_NAMES = {
    # the run's folder
    "job.yaml", "job.resolved.yaml", "plan.yaml", "run.json", "run.log", "summary.csv", "report.html",
    "mlflow.json", "trials", "best", ".best.tmp", ".best.old", "images.npy", "images.json", "run.lock",
    "overrides.yaml",
    # a trial's folder
    "parameters.yaml", "metrics.jsonl", "log.txt", "labels.json", "payload.json", "train", ".lock",
    "preprocessing.json", "metrics.json", "confusion_matrix.json", "per_label.json",
    # best/
    "checkpoint", "trial.json", "test_metrics.json", "model.onnx",
}

#: ``(module, literal) -> reason``: literals that are a different thing with a layout name's spelling.
#: An entry whose literal has gone is harmless (the module may have changed).
ALLOWED = {
    ("imgtune.report.html", "trials"): "the report's section id (an HTML anchor), not a folder",
    ("imgtune.report.html", "best"): "the report's section id (an HTML anchor), not a folder",
    ("imgtune.tracking", "trials"): "a key of the MLflow state kept in mlflow.json (trial id -> run id)",
    ("imgtune.tracking", "best"): "RunResult.outputs['best'] and the MLflow model's artifact key, not a path",
    ("imgtune.runner.local", "best"): "the key of RunResult.outputs (its value is the store's best/ path)",
    ("imgtune.train.optim", "train"): "Optax's multi_transform label for the trainable parameters",
    ("imgtune.compiler.plan", "trials"): "a problem's field name (the plan's trials), not a folder",
    ("imgtune.train.checkpoints", "checkpoint"): "the format's name in version messages ('checkpoint format 2')",
    ("imgtune.train.pretrained", "checkpoint"): "a trial's start (from checkpoint_run_id), shown by imgtune plan",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _not_names(tree: ast.AST) -> set[int]:
    """The docstrings, and the strings of ``__all__`` (the module's own names, e.g. a function ``train``)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0].value))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            out.update(id(c) for c in ast.walk(node.value) if isinstance(c, ast.Constant))
    return out


def layout_literals(path: Path) -> list[tuple[int, str]]:
    """``(line, literal)`` for each string literal of the module equal to a layout name (docstrings and
    ``__all__`` left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _not_names(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            and node.value in LAYOUT_NAMES]


def _layout_constants() -> set[str]:
    return {value for cls in (RunLayout, TrialLayout, BestLayout) for name in dir(cls)
            if name.isupper() and isinstance(value := getattr(cls, name), str)}


def test_the_store_names_the_whole_layout():
    assert _layout_constants() == LAYOUT_NAMES


def test_no_module_but_the_store_spells_a_layout_name():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == OWNER:
            continue
        module = _module_name(path)
        found += [f"{module}:{line}: {literal!r}" for line, literal in layout_literals(path)
                  if (module, literal) not in ALLOWED]
    assert not found, ("these modules spell the run folder's file names; ask imgtune.runner.store's layouts "
                       "(RunLayout, TrialLayout, BestLayout) instead:\n" + "\n".join(found))


def test_the_scan_sees_literals_but_not_docstrings_or_all(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('"""Writes run.json."""\n__all__ = ["train"]\n\ndef train(root):\n    """best"""\n'
                      '    return root / "run.json"  # best\n')
    assert layout_literals(source) == [(6, "run.json")]


@pytest.fixture()
def run_folder(tmp_path):
    run = RunLayout(tmp_path / "out")
    run.best.checkpoint.mkdir(parents=True)
    run.best.labels.write_text("[]")
    run.trial("0000").train.mkdir(parents=True)
    (tmp_path / "step").mkdir()
    return run


def test_model_folder_resolves_what_a_user_may_name(run_folder, tmp_path):
    run = run_folder
    assert model_folder(run.root) == run.best.checkpoint
    assert model_folder(run.best.root) == run.best.checkpoint
    assert model_folder(str(run.best.checkpoint)) == run.best.checkpoint
    assert model_folder(run.trial("0000").root) == run.trial("0000").train
    assert model_folder(run.trial("0000").train) == run.trial("0000").train
    assert model_folder(tmp_path / "step") == tmp_path / "step"
    assert model_folder(tmp_path / "missing") == tmp_path / "missing"


def test_the_default_onnx_file(run_folder, tmp_path):
    run = run_folder
    assert default_onnx_path(run.root) == run.best.model_onnx
    assert default_onnx_path(run.best.root) == run.best.model_onnx
    assert default_onnx_path(run.best.checkpoint) == run.best.model_onnx
    assert default_onnx_path(run.trial("0000").root) == run.trial("0000").train / "model.onnx"
    assert default_onnx_path(tmp_path / "step") == tmp_path / "step" / "model.onnx"
