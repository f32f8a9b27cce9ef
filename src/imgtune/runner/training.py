"""The default trial function: train the trial's model on the job's data.

Runs inside a trial process (:mod:`imgtune.runner.worker`); JAX is imported
here, never in the sweep's own process.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from imgtune.atomic import write_atomic
from imgtune.runner.store import TrialLayout
from imgtune.spec.records import TrainingParameters
from imgtune.train import data as d
from imgtune.train.data.augment import IMAGENET_MEAN, IMAGENET_STD
from imgtune.train.data.trial_data import job_data
from imgtune.train.trial_types import TrialResult, TrialSettings

if TYPE_CHECKING:
    from imgtune.runner.worker import TrialContext

__all__ = ["train", "write_artifacts"]


def _path_map(params: TrainingParameters, extra: Mapping[str, str] | None) -> dict[str, str]:
    settings = json.loads(params.advanced_settings or "{}")
    return {**settings.get("path_map", {}), **(extra or {})}


def train(context: TrialContext) -> TrialResult:
    """Trains ``context.trial`` (the executor's default trial function)."""
    # Both load JAX: here, in the trial's own process, after the worker pinned it to its CPUs and GPUs.
    from imgtune.train.devices import worker_count  # loads JAX (see above)
    from imgtune.train.trial import train_trial  # loads JAX (see above)

    _log_to_trial_log()
    params = context.trial.parameters
    data = job_data(context.job, seed=context.seed, path_map=_path_map(params, context.path_map),
                       workers=worker_count(params.number_of_workers))
    d.write_labels(context.workdir / TrialLayout.LABELS, data.classes)
    settings = TrialSettings(params=params, primary_metric=context.primary_metric, multilabel=context.multilabel,
                             seed=context.seed)
    result = train_trial(settings, data, context.workdir / TrialLayout.TRAIN, report=context.report)
    return attrs.evolve(result, artifacts=write_artifacts(context.workdir, params, result,
                                                          multilabel=context.multilabel))


def _log_to_trial_log() -> None:
    """Sends the trainer's log lines (evaluations, where the compiled steps came from) to this
    process's standard output, which the worker writes to the trial's log."""
    logger = logging.getLogger("imgtune.train")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def write_artifacts(workdir: Path, params: TrainingParameters, result: TrialResult, *,
                    multilabel: bool) -> dict[str, str]:
    """Writes what ``best/`` holds besides the checkpoint; returns name -> path.

    * ``labels.json``: the class order (index ``i`` of the model's output is ``labels[i]``).
    * ``preprocessing.json``: how to prepare an image for the model (Azure's
      ``settings.json`` counterpart): resize, centre crop, ImageNet mean and std, and
      whether the exported ONNX graph normalises.
    * ``metrics.json``: the best evaluation's metrics and epoch.
    * ``confusion_matrix.json`` (multiclass) or ``per_label.json`` (multilabel).
    """
    out: dict[str, str] = {TrialLayout.LABELS: str(workdir / TrialLayout.LABELS)}
    pre = {"model_name": params.model_name, "num_classes": len(result.classes), "multilabel": multilabel,
           "valid_resize_size": params.validation_resize_size, "valid_crop_size": params.validation_crop_size,
           "mean": [float(x) for x in IMAGENET_MEAN], "std": [float(x) for x in IMAGENET_STD],
           "enable_onnx_normalization": params.enable_onnx_normalization}
    files = {TrialLayout.PREPROCESSING: pre}
    best = result.best_evaluation or {}
    if best:
        files[TrialLayout.METRICS] = {"epoch": best.get("epoch"), **dict(best.get("metrics") or {})}
        if best.get("confusion_matrix") is not None:
            files[TrialLayout.CONFUSION_MATRIX] = {"labels": list(result.classes), "matrix": best["confusion_matrix"]}
        if best.get("per_label") is not None:
            files[TrialLayout.PER_LABEL] = best["per_label"]
    for name, content in files.items():
        path = workdir / name
        write_atomic(path, json.dumps(content, indent=1, default=float) + "\n")
        out[name] = str(path)
    return out
