"""One trial: resolved training parameters + data -> trained model, metrics, best checkpoint.

:func:`train_trial` is what the executor calls for each trial of a plan::

    data = job_data(job, seed=plan.seed)             # imgtune.train.data.trial_data
    settings = TrialSettings(params=trial.parameters, primary_metric=job.primary_metric,
                             multilabel=job.multilabel, seed=plan.seed)
    result = train_trial(settings, data, workdir, report=policy_callback)

How each training parameter is honoured (formulas in the modules named):

========================================  ==================================================
parameter                                 where
========================================  ==================================================
optimizer, momentum, nesterov, beta1,     :mod:`imgtune.train.optim` (Optax chains)
beta2, ams_gradient, weight_decay
learning_rate, learning_rate_scheduler,   :func:`imgtune.train.optim.learning_rate_schedule`
warmup_cosine_lr_*, step_lr_*             (counted in optimiser updates)
gradient_accumulation_step                ``optax.MultiSteps``
layers_to_freeze                          ``optax.multi_transform`` + frozen batch statistics
weighted_loss                             :mod:`imgtune.train.optim` (class weights from the
                                          training split)
number_of_epochs, evaluation_frequency,   :mod:`imgtune.train.loop` (cadence, early stopping)
early_stopping*, checkpoint_frequency
training_batch_size, training_crop_size   the training iterator
validation_batch_size, validation_*_size  the validation iterator
number_of_workers                         decoding threads, capped at ``os.cpu_count()``
random_seed                               model initialisation, dropout and augmentation
distributed                               :mod:`imgtune.train.devices` (data parallel)
checkpoint_run_id                         start from that checkpoint's weights (below)
advanced_settings                         ``pretrained``, ``pretrained_weights``, ``compute_dtype``,
                                          ``apply_automl_train_augmentations`` (below);
                                          ``path_map`` is for the data loader
model_name                                :func:`imgtune.train.models.create_model`
enable_onnx_normalization                 recorded in ``info.json`` for the exporter
========================================  ==================================================

**Seeds.** ``settings.seed`` (the plan's) orders the data: the split and each epoch's
shuffle. ``params.random_seed`` initialises the weights and keys dropout and
augmentation (example ``i`` in epoch ``e`` is augmented with
``(random_seed, e, i)``). On CPU two runs with the same seeds are bitwise equal.

**Resume.** ``workdir`` holds ``checkpoints/`` (:mod:`imgtune.train.checkpoints`)
and, once the trial has ended, ``result.json``. Calling :func:`train_trial`
again on the same ``workdir`` returns the stored result of an ended trial, or
continues an unfinished one from its ``LAST`` checkpoint (written after every
epoch and when pausing at ``max_steps``); the continued run ends with bitwise
the same parameters as one that was never interrupted (on CPU). An interrupted
trial (:class:`~imgtune.train.interrupt.TrialInterrupted`, from ``report`` or a
signal in a trial process) keeps ``LAST`` and writes no ``result.json``; only
a finished trial (all epochs, early stopping, a stop by ``report``) does.

**Starting weights** (:mod:`imgtune.train.pretrained`), in order: the trial's
own ``LAST`` checkpoint (resume); else ``checkpoint_run_id``, read as a path to
a checkpoint folder or to an earlier trial's workdir (its best checkpoint;
Azure's run ids are not resolved yet) -- its parameters and batch statistics,
with a fresh optimiser and schedule (incremental training); else
``advanced_settings.pretrained_weights`` (a torchvision/timm state dict, the
classifier head left as initialised); else, unless ``advanced_settings``
says ``"pretrained": false`` or ``model_width`` is below 1, the model table's
ImageNet weights (as Azure starts: :attr:`imgtune.spec.models.ModelSpec.weights`,
read from the Hugging Face cache the driver filled before the sweep, verified,
with a new head for the job's classes); else the random initialisation from
``random_seed``. The images are normalised with the statistics the weights
expect (the table's; a ``checkpoint_run_id`` start: its checkpoint's; else
ImageNet's), recorded in ``info.json`` as ``mean``/``std`` with the ``start``.

``advanced_settings.apply_automl_train_augmentations: false`` trains on the
validation transform (resize to ``training_crop_size * validation_resize_size
/ validation_crop_size``, centre crop ``training_crop_size``).

**Decoded images.** Given ``images`` (the sweep's decoded image store,
:mod:`imgtune.train.data.image_store`) holding every training and validation
image, the iterators read its rows instead of decoding the files. The training
augmentation then runs where ``advanced_settings.augment_on`` says: ``host``
(the decoding threads, :mod:`imgtune.train.data.augment`), ``device`` (jitted
on the trial's devices, :mod:`imgtune.train.data.augment_device`; the threads
only gather uint8 rows), or ``auto`` (default): ``device`` on GPU and TPU,
``host`` on CPU. Without a store every image is decoded as it is read, and
augmented on the host.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import jax
import numpy as np

from imgtune.atomic import write_atomic
from imgtune.errors import Problem, ValidationError
from imgtune.spec.convert import structure, unstructure
from imgtune.spec.records import TrainingParameters
from imgtune.train import data as d
from imgtune.train import devices as dv
from imgtune.train import loop as lp
from imgtune.train import optim, pretrained
from imgtune.train.checkpoints import Checkpoints, read_info
from imgtune.train.data.augment import eval_transform, train_transform
from imgtune.train.data.augment_device import keys_for, train_augment
from imgtune.train.data.image_store import ImageStore
from imgtune.train.data.trial_data import TrialData
from imgtune.train.setup import init_state
from imgtune.train.state import Progress
from imgtune.train.trial_types import TrialResult, TrialSettings

__all__ = ["TrialResult", "TrialSettings", "train_trial"]

def _train_transform(image: Any, key: Sequence[int], *, random_seed: int, augment: bool, crop: int,
                     resize: int, mean: Sequence[float] = d.IMAGENET_MEAN,
                     std: Sequence[float] = d.IMAGENET_STD) -> np.ndarray:
    if not augment:
        return eval_transform(image, resize_size=resize, crop_size=crop, mean=mean, std=std)
    return train_transform(image, (random_seed, key[1], key[2]), crop_size=crop, mean=mean, std=std)


def _raw(image: Any, key: Sequence[int]) -> np.ndarray:
    return image  # a store's uint8 canvas, augmented on the device


def _augment_on(advanced: Mapping[str, Any], platform: str, augment: bool, images: ImageStore | None) -> str:
    """``host`` or ``device`` (see the module doc)."""
    wanted = advanced.get("augment_on", "auto")
    if wanted == "auto":
        wanted = "host" if platform == "cpu" else "device"
    if wanted == "device" and (images is None or not augment):
        if advanced.get("augment_on") == "device":
            lp.log.warning("augment_on device: %s; augmenting on the host",
                           "no decoded image store" if images is None else "the augmentation is off")
        return "host"
    return wanted


class _DeviceAugmented:
    """The training batches of a store's uint8 canvases, augmented on the devices
    (:func:`~imgtune.train.data.augment_device.train_augment`); state as the wrapped iterator's."""

    def __init__(self, it: d.BatchIterator, sizes: np.ndarray, random_seed: int, crop: int, sharding: Any, *,
                 mean: Sequence[float] = d.IMAGENET_MEAN, std: Sequence[float] = d.IMAGENET_STD):
        self.it, self.sizes, self.random_seed, self.crop, self.sharding = it, sizes, random_seed, crop, sharding
        self.mean, self.std = tuple(mean), tuple(std)
        self.steps_per_epoch = it.steps_per_epoch

    def get_state(self) -> dict[str, int]:
        return self.it.get_state()

    def set_state(self, state: Mapping[str, int]) -> None:
        self.it.set_state(state)

    def close(self) -> None:
        self.it.close()

    def __iter__(self) -> _DeviceAugmented:
        return self

    def __next__(self) -> d.Batch:
        b = next(self.it)
        put = functools.partial(dv.put_global, sharding=self.sharding)
        images = train_augment(put(b.images), put(self.sizes[b.index]),
                               put(keys_for(self.random_seed, b.epoch, b.index)), crop_size=self.crop,
                               mean=self.mean, std=self.std)
        return b._replace(images=images)


def train_trial(
    settings: TrialSettings,
    data: TrialData,
    workdir: str | os.PathLike[str],
    *,
    report: Callable[[Mapping[str, Any]], bool | str | None] | None = None,
    devices: Sequence[Any] | None = None,
    images: ImageStore | None = None,
    on_step: Callable[[], Any] | None = None,
    loss_fn: optim.LossFn | None = None,
) -> TrialResult:
    """Trains one trial (see the module doc); resumes it when ``workdir`` holds one.

    Args:
        settings: What configures the trial: its resolved training parameters, primary
            metric, task, the plan's seed, and optionally ``max_steps`` and ``model_width``.
        data: The trial's examples (:func:`imgtune.train.data.trial_data.load_trial_data`).
        workdir: The trial's folder (checkpoints and ``result.json``).
        report: Called after every evaluation with its history entry; may stop
            the trial (see :mod:`imgtune.train.loop`).
        devices: The devices to use (default: see :mod:`imgtune.train.devices`).
        images: The sweep's decoded image store (see the module doc); ``None``, or one missing
            an image of ``data``, decodes the files.
        on_step: Called after every training step (the sweep's sign of life).
        loss_fn: One's own training loss ``(logits, labels, weights) -> scalar``
            (:data:`imgtune.train.optim.LossFn`) instead of the default (the class weights of
            ``weighted_loss`` apply to the default only); the validation loss stays the default.
            A custom trial function (``trial_fn``) passes it on.

    Raises:
        TrialInterrupted: From ``report`` or a signal (:mod:`imgtune.train.interrupt`): the trial
            stops keeping its ``LAST`` checkpoint and writes no ``result.json``; calling again continues it.

    Returns:
        The :class:`TrialResult`.
    """
    params, multilabel, model_width = settings.params, settings.multilabel, settings.model_width
    workdir = Path(workdir)
    result_file = workdir / "result.json"
    if result_file.is_file():
        return structure(json.loads(result_file.read_text()), TrialResult)
    missing = [f.name for f in attrs.fields(TrainingParameters)
               if getattr(params, f.name) is None
               and f.name not in ("checkpoint_frequency", "checkpoint_run_id", "extra_parameters")]
    if missing:
        raise ValueError(f"unresolved training parameters: {', '.join(missing)} (use imgtune.compiler.defaults.resolve)")
    advanced = json.loads(params.advanced_settings or "{}")
    classes = tuple(data.classes)

    # -- devices and precision
    devs = dv.select_devices(devices, distributed=bool(params.distributed))
    mesh = dv.data_mesh(devs)
    rep, bsh = dv.replicated(mesh), dv.batch_sharding(mesh)
    dtype = dv.compute_dtype(devs[0].platform, advanced.get("compute_dtype"))
    n_dev = len(devs)
    if params.training_batch_size % n_dev:
        raise ValidationError([Problem("training_parameters.training_batch_size",
                                       f"is {params.training_batch_size}, not a multiple of the {n_dev} devices")])
    eval_batch = -(-int(params.validation_batch_size) // n_dev) * n_dev

    # -- starting weights and the normalisation they expect (see the module doc)
    ckpts = Checkpoints(workdir / "checkpoints")
    ckpts.clean()
    resume_from = ckpts.last()
    start = pretrained.start_of(params, model_width=model_width)
    mean, std = pretrained.preprocessing(params.model_name, start)
    if start == pretrained.CHECKPOINT:
        source_info = read_info(params.checkpoint_run_id)
        mean, std = source_info.get("mean", mean), source_info.get("std", std)

    # -- data
    workers = dv.worker_count(params.number_of_workers)
    augment = advanced.get("apply_automl_train_augmentations", True) is not False
    crop = int(params.training_crop_size)
    resize = int(round(crop * params.validation_resize_size / params.validation_crop_size))
    if images is not None and not all(ex.path in images for ex in (*data.train, *data.validation)):
        lp.log.warning("the decoded image store does not hold every image of this trial; decoding the files")
        images = None
    where = _augment_on(advanced, devs[0].platform, augment, images)
    load = None if images is None else (lambda ex: images.image(ex.path))
    transform = functools.partial(_train_transform, random_seed=int(params.random_seed), augment=augment,
                                  crop=crop, resize=resize, mean=mean, std=std)
    train_it: Any = d.BatchIterator(
        data.train, classes, multilabel=multilabel,
        transform=_raw if where == "device" else transform,
        batch_size=int(params.training_batch_size), seed=int(settings.seed), shuffle=True, drop_remainder=True,
        num_epochs=int(params.number_of_epochs), workers=workers,
        load=(lambda ex: images.canvas(ex.path)) if where == "device" else load)
    if where == "device":
        sizes = np.array([images.size(ex.path) for ex in data.train], np.int32)
        train_it = _DeviceAugmented(train_it, sizes, int(params.random_seed), crop, bsh, mean=mean, std=std)
    lp.log.info("images: %s; training augmentation on the %s", "decoded store" if images else "decoded per read",
                where)

    def eval_batches():
        return d.eval_iterator(data.validation, classes, multilabel=multilabel, batch_size=eval_batch,
                               resize_size=int(params.validation_resize_size),
                               crop_size=int(params.validation_crop_size), workers=workers, load=load,
                               mean=mean, std=std)

    # -- model, optimiser and train state (imgtune.train.setup.init_state, the library's code path)
    setup = init_state(params.model_name, len(classes), params, steps_per_epoch=train_it.steps_per_epoch,
                       model_width=model_width, dtype=dtype, start=pretrained.SCRATCH if resume_from else start)
    labels = d.encode_labels(data.train, classes, multilabel)
    weights = optim.loss_weights(int(params.weighted_loss),
                                 optim.class_weights(labels, len(classes), multilabel=multilabel))
    if loss_fn is not None:
        if weights is not None:
            lp.log.warning("weighted_loss %s: applies to the default loss only, not to loss_fn", params.weighted_loss)
        weights = None
    state = jax.device_put(setup.state, rep)
    progress = Progress()
    if resume_from is not None:
        state, progress = ckpts.restore(resume_from, state)

    info = {"model_name": params.model_name, "model_width": model_width, "classes": list(classes),
            "multilabel": multilabel, "primary_metric": settings.primary_metric.value, "training_crop_size": crop,
            "validation_crop_size": int(params.validation_crop_size),
            "validation_resize_size": int(params.validation_resize_size),
            "compute_dtype": str(np.dtype(dtype)), "start": start,
            "mean": [float(x) for x in mean], "std": [float(x) for x in std],
            "enable_onnx_normalization": bool(params.enable_onnx_normalization)}
    loop = lp.Loop(
        train_step=setup.train_step(multilabel=multilabel, weights=weights, loss_fn=loss_fn, state_sharding=rep),
        eval_step=setup.eval_step(multilabel=multilabel, out_sharding=rep),
        train_batches=train_it, eval_batches=eval_batches, batch_sharding=bsh, checkpoints=ckpts, info=info,
        classes=classes, settings=settings, report=report, on_step=on_step)
    try:
        outcome = lp.run(loop, state, progress)
    finally:
        train_it.close()
    steps = int(dv.to_host(outcome.state.step))
    best = outcome.progress.best
    if outcome.paused:
        return _result(outcome, ckpts.best(), classes, steps)
    result = _result(outcome, ckpts.best() if best else None, classes, steps)
    if ckpts.primary:  # the result first: a trial killed before finish() keeps its LAST, or its result.json
        write_atomic(result_file, json.dumps(unstructure(result), indent=1))
    ckpts.finish()
    return result


def _result(outcome: lp.Outcome, checkpoint: Path | None, classes: tuple[str, ...], steps: int) -> TrialResult:
    status, reason, progress = outcome.status, outcome.reason, outcome.progress
    best = progress.best
    return TrialResult(status=status, resumable=outcome.paused, stop_reason=reason, history=progress.history,
                       best_metric=None if best is None else best["metric"],
                       best_epoch=None if best is None else best["epoch"], best_evaluation=best,
                       checkpoint=checkpoint, classes=classes, steps=steps)
