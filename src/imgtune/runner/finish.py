"""Finishing a sweep, on disk: ``best/``, the test scores, and pruning checkpoints.

The sweep's core (:mod:`imgtune.runner.sweep`) decides; this module carries out what it decides
at a trial's end (:class:`~imgtune.runner.sweep.PruneCheckpoints`: :func:`delete_checkpoints`)
and once the trials are over (:class:`~imgtune.runner.sweep.Finish`: :func:`assemble_best`, then
:func:`score_test`, which scores ``best/`` on the job's test data in a process of its own,
``python -m imgtune.runner.scoring``, so the sweep's process never imports JAX).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping

import attrs

from imgtune.atomic import write_atomic
from imgtune.compiler import Plan
from imgtune.runner.results import RunResult, TrialRecord, best_trial_of
from imgtune.runner.store import BestLayout, RunStore
from imgtune.spec.enums import PrimaryMetric

__all__ = ["assemble_best", "delete_checkpoints", "score_test"]


def assemble_best(store: RunStore, trials: Iterable[TrialRecord], metric: PrimaryMetric) -> TrialRecord | None:
    """Copies the best trial's checkpoint and artifacts into ``best/`` (replaced whole, atomically).

    Args:
        store: The run's folder.
        trials: Every trial (the best one is picked by :func:`~imgtune.runner.results.best_trial_of`).
        metric: The primary metric.

    Returns:
        The trial copied, or ``None`` when no trial scored or the best one left neither a
        checkpoint nor artifacts (``best/`` is then left as it is).
    """
    best = best_trial_of(trials, metric)
    if best is None or not (best.checkpoint or best.artifacts):
        return None
    layout = store.layout
    tmp = layout.best_tmp
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    staged = BestLayout(tmp)
    if best.checkpoint and os.path.isdir(best.checkpoint):
        shutil.copytree(best.checkpoint, staged.checkpoint)
    for name, path in best.artifacts.items():
        if os.path.isfile(path):
            shutil.copy2(path, tmp / name)
    write_atomic(staged.trial, json.dumps({"trial": best.id, "best_metric": best.best_metric,
                                           "best_epoch": best.best_epoch, "primary_metric": metric.value}, indent=1))
    old = layout.best_old
    shutil.rmtree(old, ignore_errors=True)
    if store.best_dir.exists():
        os.replace(store.best_dir, old)
    os.replace(tmp, store.best_dir)
    shutil.rmtree(old, ignore_errors=True)
    store.log(f"best model: trial {best.id} -> {store.best_dir}")
    return best


def score_test(store: RunStore, plan: Plan, result: RunResult, *, path_map: Mapping[str, str]) -> RunResult:
    """Scores ``best/`` on the test data (``test_data`` or ``test_data_size``), kept apart.

    Args:
        store: The run's folder (``best/`` assembled).
        plan: The plan (its job names the test data; its seed splits ``test_data_size`` off).
        result: The result so far.
        path_map: URL prefix -> local folder for remote image URLs.

    Returns:
        ``result`` with ``test_metrics`` (and ``outputs["test_metrics"]``); with a ``message``
        when the scoring failed (its output is in ``run.log``); as it is when the job has no
        test data or ``best/`` no checkpoint.
    """
    job = plan.job
    best = best_trial_of(result.trials, result.primary_metric)
    if (job.test_data is None and not job.test_data_size) or best is None \
            or not (store.layout.best.checkpoint).is_dir():
        return result
    spec = {"base_path": job.base_path, "seed": plan.seed, "path_map": dict(path_map),
            "batch_size": best.parameters.validation_batch_size}
    with open(store.log_path, "a", encoding="utf-8") as log:
        code = subprocess.run([sys.executable, "-m", "imgtune.runner.scoring", str(store.root), json.dumps(spec)],
                              stdout=log, stderr=log, stdin=subprocess.DEVNULL, check=False).returncode
    path = store.layout.best.test_metrics
    metric = result.primary_metric
    if code == 0 and path.exists():
        metrics = json.loads(path.read_text(encoding="utf-8"))
        store.log(f"test data: {metric} {metrics.get(metric.value)} on {metrics.get('examples')} images")
        return attrs.evolve(result, test_metrics=metrics, outputs={**result.outputs, "test_metrics": str(path)})
    store.log(f"scoring the best model on the test data failed (exit {code}); see above")
    return attrs.evolve(result, message="scoring on the test data failed: see run.log")


def delete_checkpoints(store: RunStore, paths: Iterable[str]) -> None:
    """Deletes these checkpoint folders; only those inside the run's folder (a trial function may
    name a checkpoint elsewhere, which is not the sweep's to delete)."""
    for path in paths:
        if path and os.path.isdir(path) and str(store.root) in os.path.realpath(path):
            shutil.rmtree(path, ignore_errors=True)
