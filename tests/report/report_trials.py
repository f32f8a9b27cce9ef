"""Cheap trial functions for the report tests: the synthetic curve of tests/runner/synthetic.py, plus
the files the real trainer puts in ``best/`` (written by the trainer's own
:func:`imgtune.runner.training.write_artifacts`, so their format is the real one)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import synthetic
from imgtune.atomic import write_atomic
from imgtune.runner.training import write_artifacts

#: Class names, one of them hostile: the report must escape it.
CLASSES = ("cat", "dog", '<b>"bird"</b> & co')
LABELS = ("sky", "sea", "<i>sand</i>", "rock")


def _best(context) -> tuple[float, int]:
    """The best (value, epoch) of the synthetic curve, the first on ties (as the executor picks)."""
    p = context.trial.parameters
    values = [(synthetic.curve(p.learning_rate, k, p.number_of_epochs), k) for k in range(1, p.number_of_epochs + 1)]
    return max(values, key=lambda v: v[0])


def _metrics(value: float, names: tuple[str, ...]) -> dict[str, float]:
    return {name: round(min(1.0, value * (1.0 + 0.01 * k)), 6) for k, name in enumerate(names)}


def _finish(context, out: dict, *, classes, confusion=None, per_label=None, metrics) -> dict:
    value, epoch = _best(context)
    metrics = {**metrics, context.primary_metric: value}
    write_atomic(context.workdir / "labels.json", json.dumps(list(classes)))
    result = SimpleNamespace(classes=classes, best_evaluation={"epoch": epoch, "metrics": metrics,
                                                               "confusion_matrix": confusion, "per_label": per_label})
    artifacts = write_artifacts(context.workdir, context.trial.parameters, result, multilabel=context.multilabel)
    return {**out, "artifacts": artifacts}


def multiclass(context) -> dict:
    out = synthetic.trial(context)
    if out["status"] != "Completed":
        return out
    value, _ = _best(context)
    n = 20
    right = round(n * value)
    matrix = [[right if i == j else (n - right) // 2 + (1 if j == (i + 1) % 3 and (n - right) % 2 else 0)
               for j in range(3)] for i in range(3)]
    metrics = _metrics(value, ("auc_weighted", "average_precision_score_weighted", "norm_macro_recall",
                               "precision_score_weighted"))
    return _finish(context, out, classes=CLASSES, confusion=matrix, metrics=metrics)


def multilabel(context) -> dict:
    out = synthetic.trial(context)
    if out["status"] != "Completed":
        return out
    value, _ = _best(context)
    per_label = {name: {"precision": round(value * (0.9 + 0.05 * k), 6), "recall": round(value * (1 - 0.1 * k), 6),
                        "f1": round(value * 0.95, 6), "average_precision": round(value, 6), "support": float(5 + k)}
                 for k, name in enumerate(LABELS)}
    metrics = _metrics(value, ("accuracy", "auc_weighted", "average_precision_score_weighted", "norm_macro_recall",
                               "precision_score_weighted"))
    return _finish(context, out, classes=LABELS, per_label=per_label, metrics=metrics)
