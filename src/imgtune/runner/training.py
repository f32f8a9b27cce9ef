"""The default trial function: train the trial's model on the job's data.

Runs inside a trial process (:mod:`imgtune.runner.worker`); JAX is imported
here, never in the sweep's own process.

:func:`prepare_images` runs in the sweep's process before the first trial starts (the local
executor calls it when the trials run this module's :func:`train`): it decodes the sweep's
training and validation images once into the run folder's image store
(:mod:`imgtune.train.data.image_store`; ``images.npy`` and ``images.json``), at the plan's largest
training crop or validation resize, within the budget (``IMGTUNE_IMAGE_STORE_BYTES``), after checking
every image of the job once (:func:`~imgtune.train.data.decode.validate_images`). Each trial then opens
it read-only and checks no image again; without one (over the budget, or a bad image) each trial
checks and decodes the files as before, and reports a bad image itself.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from imgtune.atomic import write_atomic
from imgtune.compiler import Plan
from imgtune.runner.store import RunStore, TrialLayout
from imgtune.spec.distributions import Choice, Distribution
from imgtune.spec.records import TrainingParameters
from imgtune.train import data as d
from imgtune.train.data.image_store import build_image_store, open_image_store
from imgtune.train.data.trial_data import job_data
from imgtune.train.pretrained import preprocessing, start_of
from imgtune.train.trial_types import TrialResult, TrialSettings

if TYPE_CHECKING:
    from imgtune.runner.worker import TrialContext
    from imgtune.train.optim import LossFn

__all__ = ["TRIAL_FN", "largest_side", "prepare_images", "train", "write_artifacts"]

#: This module's trial function, as the executors name it.
TRIAL_FN = "imgtune.runner.training:train"
_SIDES = ("training_crop_size", "validation_resize_size")


def _path_map(params: TrainingParameters, extra: Mapping[str, str] | None) -> dict[str, str]:
    settings = json.loads(params.advanced_settings or "{}")
    return {**settings.get("path_map", {}), **(extra or {})}


def train(context: TrialContext, *, loss_fn: LossFn | None = None) -> TrialResult:
    """Trains ``context.trial`` (the executor's default trial function).

    A custom trial function trains with its own loss by calling it with ``loss_fn``
    (:data:`imgtune.train.optim.LossFn`, see :func:`imgtune.train.trial.train_trial`)::

        def my_trial(context):  # trial_fn="my_module:my_trial"
            return imgtune.runner.training.train(context, loss_fn=my_loss)
    """
    # Both load JAX: here, in the trial's own process, after the worker pinned it to its CPUs and GPUs.
    from imgtune.train.devices import worker_count  # loads JAX (see above)
    from imgtune.train.trial import train_trial  # loads JAX (see above)

    _log_to_trial_log()
    params = context.trial.parameters
    workers = worker_count(params.number_of_workers)
    data = job_data(context.job, seed=context.seed, path_map=_path_map(params, context.path_map), validate=False)
    images = None
    if context.image_store is not None:
        images = open_image_store(*context.image_store)
        side = max(int(getattr(params, name)) for name in _SIDES)
        if images is not None and (images.short_side < side  # a crop the store was not made for
                                   or not all(ex.path in images for ex in (*data.train, *data.validation))):
            images = None
        print(f"images: {'the decoded image store' if images else 'decoded from the files'}", flush=True)
    # Every image is checked once: the sweep checked all before it made the store, else each trial does.
    if images is None:
        d.validate_images((*data.train, *data.validation, *data.test), workers=workers)
    d.write_labels(context.workdir / TrialLayout.LABELS, data.classes)
    settings = TrialSettings(params=params, primary_metric=context.primary_metric, multilabel=context.multilabel,
                             seed=context.seed)
    result = train_trial(settings, data, context.workdir / TrialLayout.TRAIN, report=context.report, images=images,
                         on_step=context.progress, loss_fn=loss_fn)
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
      ``settings.json`` counterpart): resize, centre crop, the mean and std its weights
      expect (its checkpoint's ``info.json``; ImageNet's when it has none), how the trial
      started, and whether the exported ONNX graph normalises.
    * ``metrics.json``: the best evaluation's metrics and epoch.
    * ``confusion_matrix.json`` (multiclass) or ``per_label.json`` (multilabel).
    """
    out: dict[str, str] = {TrialLayout.LABELS: str(workdir / TrialLayout.LABELS)}
    info = _checkpoint_info(result.checkpoint if isinstance(result, TrialResult) else None)
    start = info.get("start") or start_of(params)
    mean, std = (info["mean"], info["std"]) if info.get("mean") else preprocessing(params.model_name, start)
    pre = {"model_name": params.model_name, "num_classes": len(result.classes), "multilabel": multilabel,
           "valid_resize_size": params.validation_resize_size, "valid_crop_size": params.validation_crop_size,
           "mean": [float(x) for x in mean], "std": [float(x) for x in std], "start": start,
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


def largest_side(plan: Plan) -> int:
    """The largest training crop or validation resize the plan's trials may use: over its
    trials, and over the values and upper bounds its search space gives those two (256 when
    neither says).

    >>> import imgtune
    >>> plan = imgtune.compile(imgtune.loads('''
    ... type: automl
    ... task: image_classification
    ... target_column_name: label
    ... training_data: {path: data}
    ... limits: {max_trials: 2}
    ... sweep: {sampling_algorithm: random}
    ... search_space:
    ...   - training_crop_size: {type: choice, values: [224, 288]}
    ... '''))
    >>> largest_side(plan)   # a trial may crop 288 px (the validation resize defaults to 256)
    288
    """
    sides = [int(getattr(t.parameters, name)) for t in plan.trials for name in _SIDES
             if getattr(t.parameters, name) is not None]
    for space in plan.job.search_space:
        for name in _SIDES:
            value = getattr(space, name, None)
            if isinstance(value, Choice):
                sides += [int(v) for v in value.values if isinstance(v, (int, float))]
            elif isinstance(value, Distribution):
                sides += [int(v) for k, v in value.numeric_args().items() if k in ("max_value", "upper")]
            elif isinstance(value, (int, float)):
                sides.append(int(value))
    return max(sides, default=256)


def prepare_images(plan: Plan, store: RunStore, path_map: Mapping[str, str] | None = None, *,
                   workers: int | None = None) -> tuple[str, str] | None:
    """Builds (or reuses) the run folder's decoded image store for ``plan`` (see the module doc).

    Returns:
        ``(data file, index file)`` for the trials, or ``None`` when there is no store (the
        reason is in ``run.log``).
    """
    params = plan.trials[0].parameters if plan.trials else None
    workers = (os.cpu_count() or 1) if workers is None else workers
    try:  # the trials' check of every image, done once here (a trial with the store checks none of its images)
        data = job_data(plan.job, seed=plan.seed, validate=True, workers=workers,
                        path_map=_path_map(params, path_map) if params else dict(path_map or {}))
    except Exception as e:  # noqa: BLE001 - the trials report bad data, each with its own log
        store.log(f"image store: not made, the data cannot be read ({type(e).__name__}); the trials decode as they go")
        for stale in (store.layout.images_index, store.layout.images):  # an earlier run's, of other data
            stale.unlink(missing_ok=True)
        return None
    layout = store.layout
    paths = [ex.path for ex in (*data.train, *data.validation)]
    made = build_image_store(layout.images, layout.images_index, paths, short_side=largest_side(plan),
                             workers=workers, log=store.log)
    return None if made is None else (str(layout.images), str(layout.images_index))
def _checkpoint_info(checkpoint: Path | None) -> dict:
    """The ``info.json`` of the trial's best checkpoint (empty when it has none)."""
    try:
        return json.loads((Path(checkpoint) / "info.json").read_text()) if checkpoint else {}
    except (OSError, ValueError):
        return {}
