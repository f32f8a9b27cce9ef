"""The text tables the commands print: a plan's trials (``imgtune plan``) and a run's status
(``imgtune run``, ``imgtune status``). Pure functions of their values; no I/O."""

from __future__ import annotations

from typing import Any

from imgtune.compiler import Plan
from imgtune.runner import RunResult
from imgtune.train.pretrained import start_of

__all__ = ["columns", "plan_table", "status_text"]


def columns(rows: list[list[str]]) -> list[str]:
    """Rows of cells as lines with left-aligned columns two spaces apart.

    >>> columns([["a", "bb"], ["ccc", "d"]])
    ['a    bb', 'ccc  d']
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def plan_table(plan: Plan) -> str:
    """The trials as a text table: id, subspace, every searched value, then how each starts
    (``pretrained``: the model's ImageNet weights; ``scratch``, ``file``, ``checkpoint``; see
    :mod:`imgtune.train.pretrained`).

    Example:
        >>> import imgtune
        >>> job = imgtune.loads("type: automl\\ntask: image_classification\\ntarget_column_name: l\\n"
        ...                     "training_data: {path: d}\\nlimits: {max_trials: 2}")
        >>> print(plan_table(imgtune.compile(job)))  # doctest: +ELLIPSIS
        trial          subspace  learning_rate  model_name  start
        0000-...  0         0.01           seresnext   pretrained
        0001-...  1         0.0125         vitb16r224  pretrained
        2 trials (automode, seed 0, up to 1 at a time)
    """
    keys = sorted({k for t in plan.trials for k in t.sampled})
    rows = [["trial", "subspace", *keys, "start"]]
    for t in plan.trials:
        rows.append([t.id, "-" if t.subspace is None else str(t.subspace),
                     *(_cell(t.sampled.get(k, "")) for k in keys), start_of(t.parameters)])
    lines = columns(rows)
    limits = plan.limits
    lines.append(f"{len(plan.trials)} trial{'s' if len(plan.trials) != 1 else ''} ({plan.sampler.type}, seed "
                 f"{plan.seed}, up to {limits.max_concurrent_trials} at a time)")
    lines.extend(f"note: {n}" for n in plan.notes)
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def status_text(result: RunResult, driver: str | None = None) -> str:
    """A run's status as a few lines and a table of trials (``*`` marks a trial a rerun continues);
    ``driver``: whether a run that has not ended goes on (``imgtune status``), a line of its own."""
    metric = result.primary_metric
    lines = [f"{result.output_dir}: {result.status.value}"
             + (f" ({result.message})" if result.message else ""),
             *([f"driver: {driver}"] if driver else []),
             "trials: " + ", ".join(f"{n} {s}" for s, n in sorted(result.counts().items()))]
    best = result.best_trial
    if best is not None:
        lines.append(f"best: trial {best.id}, {metric} {best.best_metric:.4f} at epoch {best.best_epoch} "
                     f"({best.parameters.model_name})")
    rows = [["trial", "status", f"best {metric}", "epochs", "reason"]]
    for t in result.trials:
        rows.append([t.id, t.status.value + ("*" if t.resumable else ""),
                     "" if t.best_metric is None else f"{t.best_metric:.4f}", str(len(t.history)),
                     (t.stop_reason or "")[:70]])
    lines += columns(rows)
    if any(t.resumable for t in result.trials):
        lines.append("* interrupted: running the job again on this folder continues it")
    return "\n".join(lines)
