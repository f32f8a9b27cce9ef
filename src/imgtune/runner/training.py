"""The default trial function: train the trial's model on the job's data.

Runs inside a trial process (:mod:`imgtune.runner.worker`); JAX is imported
here, never in the sweep's own process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["job_data", "train"]


def _path_map(params: Any, extra: Mapping[str, str] | None) -> dict[str, str]:
    settings = json.loads(params.advanced_settings or "{}")
    return {**settings.get("path_map", {}), **(extra or {})}


def job_data(job: Any, *, seed: int, path_map: Mapping[str, str] | None = None, workers: int = 0,
             validate: bool = True) -> tuple[Any, tuple]:
    """The examples every trial of a job sees, and the test examples.

    The splits are keyed by the plan's ``seed`` (never the searchable
    ``random_seed``), so all trials see the same images: the test split first
    (``test_data_size``), then the validation split (``validation_data_size``,
    default 0.2), stratified for multiclass.

    Returns:
        ``(TrialData, test_examples)``.
    """
    from imgtune.train import data as d
    from imgtune.train.trial import TrialData

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


def train(context: Any) -> dict[str, Any]:
    """Trains ``context.trial`` (the executor's default trial function)."""
    from imgtune.train.data import write_labels
    from imgtune.train.devices import worker_count
    from imgtune.train.trial import train_trial

    params = context.trial.parameters
    data, _ = job_data(context.job, seed=context.seed, path_map=_path_map(params, context.path_map),
                       workers=worker_count(params.number_of_workers))
    write_labels(context.workdir / "labels.json", data.classes)
    result = train_trial(params, data, context.workdir / "train", report=context.report,
                         primary_metric=context.primary_metric, multilabel=context.multilabel, seed=context.seed)
    return {"status": result.status, "stop_reason": result.stop_reason, "best_metric": result.best_metric,
            "best_epoch": result.best_epoch,
            "checkpoint": None if result.checkpoint is None else str(result.checkpoint)}
