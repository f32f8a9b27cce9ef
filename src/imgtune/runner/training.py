"""The default trial function: train the trial's model on the job's data.

Runs inside a trial process (:mod:`imgtune.runner.worker`); JAX is imported
here, never in the sweep's own process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imgtune.atomic import write_atomic
from imgtune.spec.records import ImageClassificationJobBase, TrainingParameters
from imgtune.train import data as d
from imgtune.train.data.augment import IMAGENET_MEAN, IMAGENET_STD

if TYPE_CHECKING:
    from imgtune.runner.worker import TrialContext
    from imgtune.train.trial import TrialData, TrialResult

__all__ = ["job_data", "train"]


def _path_map(params: TrainingParameters, extra: Mapping[str, str] | None) -> dict[str, str]:
    settings = json.loads(params.advanced_settings or "{}")
    return {**settings.get("path_map", {}), **(extra or {})}


def job_data(job: ImageClassificationJobBase, *, seed: int, path_map: Mapping[str, str] | None = None,
             workers: int = 0, validate: bool = True) -> tuple[TrialData, tuple]:
    """The examples every trial of a job sees, and the test examples.

    The splits are keyed by the plan's ``seed`` (never the searchable
    ``random_seed``), so all trials see the same images: the test split first
    (``test_data_size``), then the validation split (``validation_data_size``,
    default 0.2), stratified for multiclass.

    Returns:
        ``(TrialData, test_examples)``.
    """
    from imgtune.train.trial import TrialData  # loads JAX: only in a trial's (or the test scoring's) process

    common = dict(base_path=job.base_path, target_column_name=job.target_column_name, multilabel=job.multilabel,
                  path_map=dict(path_map or {}))
    train = d.read_examples(job.training_data.path, job.training_data.type, **common)
    classes = d.class_names(train)
    split = d.split_examples(train, seed=seed, multilabel=job.multilabel,
                             validation_size=0.0 if job.validation_data else (job.validation_data_size or 0.2),
                             test_size=0.0 if job.test_data else (job.test_data_size or 0.0))
    train, valid, test = split.train, split.validation, split.test
    if job.validation_data is not None:
        valid = d.read_examples(job.validation_data.path, job.validation_data.type, field="validation_data", **common)
        d.check_labels(valid, classes, "validation_data")
    if job.test_data is not None:
        test = d.read_examples(job.test_data.path, job.test_data.type, field="test_data", **common)
        d.check_labels(test, classes, "test_data")
    if validate:
        d.validate_images(tuple(train) + tuple(valid) + tuple(test), workers=workers)
    return TrialData(train, valid, classes), tuple(test)


def train(context: TrialContext) -> dict[str, Any]:
    """Trains ``context.trial`` (the executor's default trial function)."""
    # Both load JAX: here, in the trial's own process, after the worker pinned it to its CPUs and GPUs.
    from imgtune.train.devices import worker_count  # loads JAX (see above)
    from imgtune.train.trial import TrialSettings, train_trial  # loads JAX (see above)

    params = context.trial.parameters
    data, _ = job_data(context.job, seed=context.seed, path_map=_path_map(params, context.path_map),
                       workers=worker_count(params.number_of_workers))
    d.write_labels(context.workdir / "labels.json", data.classes)
    settings = TrialSettings(params=params, primary_metric=context.primary_metric, multilabel=context.multilabel,
                             seed=context.seed)
    result = train_trial(settings, data, context.workdir / "train", report=context.report)
    return {"status": result.status, "stop_reason": result.stop_reason, "best_metric": result.best_metric,
            "best_epoch": result.best_epoch, "history": [dict(h) for h in result.history],
            "checkpoint": None if result.checkpoint is None else str(result.checkpoint),
            "artifacts": write_artifacts(context.workdir, params, result, multilabel=context.multilabel)}


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
    out: dict[str, str] = {"labels.json": str(workdir / "labels.json")}
    pre = {"model_name": params.model_name, "num_classes": len(result.classes), "multilabel": multilabel,
           "valid_resize_size": params.validation_resize_size, "valid_crop_size": params.validation_crop_size,
           "mean": [float(x) for x in IMAGENET_MEAN], "std": [float(x) for x in IMAGENET_STD],
           "enable_onnx_normalization": params.enable_onnx_normalization}
    files = {"preprocessing.json": pre}
    best = result.best_evaluation or {}
    if best:
        files["metrics.json"] = {"epoch": best.get("epoch"), **dict(best.get("metrics") or {})}
        if best.get("confusion_matrix") is not None:
            files["confusion_matrix.json"] = {"labels": list(result.classes), "matrix": best["confusion_matrix"]}
        if best.get("per_label") is not None:
            files["per_label.json"] = best["per_label"]
    for name, content in files.items():
        path = workdir / name
        write_atomic(path, json.dumps(content, indent=1, default=float) + "\n")
        out[name] = str(path)
    return out
