"""The full training loop on in-memory arrays: :func:`fit`.

:func:`fit` is :func:`imgtune.train.trial.train_trial` -- the same loop, epochs, evaluation, early
stopping, checkpoints and resume, the same augmentation and normalisation -- on numpy arrays instead
of image files: the arrays become a decoded image store held in memory
(:class:`~imgtune.train.data.image_store.ImageStore`), whose rows the trial's iterators read as
they read a sweep's store, and one :class:`~imgtune.train.data.trial_data.TrialData` whose
examples name those rows (``array:training/0``, ``array:validation/3``, ...). Without ``validation``
the validation split is cut off the training arrays as a job's is (seeded by ``seed``,
stratified for multiclass).

**Images**: ``[N, H, W, 3]`` (or ``[N, H, W]`` / ``[N, H, W, 1]`` grey) uint8, or floating point in
``[0, 1]`` (converted to uint8 as ``round(255 x)``). **Labels**: class indices ``[N]`` (ints, into
``classes``; default classes ``"0" .. "C-1"``), class names ``[N]`` (strings; default classes
their sorted set), or a 0/1 multi-hot ``[N, C]`` array -- a multilabel task.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    >>> y = np.arange(40) % 10  # class indices: classes "0" .. "9"
    >>> params = {"training_crop_size": 16, "validation_crop_size": 16, "validation_resize_size": 16,
    ...           "training_batch_size": 8, "validation_batch_size": 16, "number_of_epochs": 1,
    ...           "number_of_workers": 0, "advanced_settings": '{"pretrained": false}'}
    >>> r = fit(x, y, model_name="resnet18", training_parameters=params, model_width=0.25)
    >>> r.status.value, r.steps, len(r.classes), r.checkpoint is None
    ('Completed', 4, 10, True)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from imgtune.compiler.defaults import resolve
from imgtune.errors import Problem, ValidationError
from imgtune.spec.convert import structure
from imgtune.spec.records import TrainingParameters
from imgtune.train.data.image_store import ImageStore
from imgtune.train.data.read import Example
from imgtune.train.data.split import split_examples
from imgtune.train.data.trial_data import TrialData
from imgtune.train.optim import LossFn
from imgtune.train.trial import train_trial
from imgtune.train.trial_types import TrialResult, TrialSettings

__all__ = ["fit"]


def _images(images: Any, where: str, problems: list[Problem]) -> np.ndarray | None:
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or x.shape[0] == 0 or 0 in x.shape[1:3]:
        problems.append(Problem(where, f"must be a non-empty [N, H, W, 3] (or grey [N, H, W]) array, got shape "
                                       f"{tuple(np.shape(images))}"))
        return None
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.floating):
            problems.append(Problem(where, f"must be uint8 or floating point in [0, 1], got {x.dtype}"))
            return None
        if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
            problems.append(Problem(where, f"floating-point images must lie in [0, 1], got values in "
                                           f"[{np.nanmin(x):.4g}, {np.nanmax(x):.4g}]"))
            return None
        x = np.round(x * 255.0).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(x, (*x.shape[:3], 3)))


def _labels(labels: Any, n: int | None, classes: tuple[str, ...] | None, where: str,
            problems: list[Problem]) -> tuple[list[str | tuple[str, ...]], tuple[str, ...], bool] | None:
    """``(names per example, classes, multilabel)``."""
    y = np.asarray(labels)
    if n is not None and (y.ndim == 0 or y.shape[0] != n):
        problems.append(Problem(where, f"must hold one label per image ({n}), got shape {y.shape}"))
        return None
    if y.ndim == 2:  # multi-hot
        if not np.isin(y, (0, 1)).all():
            problems.append(Problem(where, "a 2-D (multilabel) array must hold only 0 and 1"))
            return None
        names = classes or tuple(str(i) for i in range(y.shape[1]))
        if len(names) != y.shape[1]:
            problems.append(Problem("classes", f"has {len(names)} names for {y.shape[1]} label columns"))
            return None
        return [tuple(names[j] for j in np.flatnonzero(row)) for row in y], tuple(names), True
    if y.ndim != 1:
        problems.append(Problem(where, f"must be [N] class indices or names, or an [N, C] 0/1 array, got shape "
                                       f"{y.shape}"))
        return None
    if np.issubdtype(y.dtype, np.integer):
        names = classes or tuple(str(i) for i in range(int(y.max()) + 1 if y.size else 0))
        bad = sorted({int(v) for v in y if not 0 <= v < len(names)})
        if bad:
            problems.append(Problem(where, f"class indices {bad[:5]} are outside the {len(names)} classes"))
            return None
        return [names[int(v)] for v in y], tuple(names), False
    if y.dtype.kind in "US" or y.dtype == object:
        given = [str(v) for v in y]
        names = classes or tuple(sorted(set(given)))
        unknown = sorted(set(given) - set(names))
        if unknown:
            problems.append(Problem(where, f"labels {unknown[:5]} are not among the classes {list(names)}"))
            return None
        return given, tuple(names), False
    problems.append(Problem(where, f"must be integer class indices, class names or a 0/1 array, got {y.dtype}"))
    return None


def _store(parts: Sequence[tuple[str, np.ndarray]]) -> tuple[ImageStore, dict[str, list[str]]]:
    """One in-memory store over every ``(split, images)`` (canvases padded to the largest)."""
    h = max(x.shape[1] for _, x in parts)
    w = max(x.shape[2] for _, x in parts)
    n = sum(len(x) for _, x in parts)
    canvas = np.zeros((n, h, w, 3), np.uint8)
    sizes = np.zeros((n, 2), np.int32)
    paths: dict[str, list[str]] = {}
    row = 0
    for split, x in parts:
        canvas[row:row + len(x), :x.shape[1], :x.shape[2]] = x
        sizes[row:row + len(x)] = x.shape[1:3]
        paths[split] = [f"array:{split}/{i}" for i in range(len(x))]
        row += len(x)
    short = int(min(min(x.shape[1:3]) for _, x in parts))
    return ImageStore(canvas, sizes, [p for ps in paths.values() for p in ps], short, "arrays"), paths


def fit(
    images: Any,
    labels: Any,
    *,
    model_name: str | None = None,
    classes: Sequence[str] | None = None,
    validation: tuple[Any, Any] | None = None,
    validation_size: float = 0.2,
    training_parameters: TrainingParameters | Mapping[str, Any] | None = None,
    primary_metric: str | None = None,
    workdir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    loss_fn: LossFn | None = None,
    max_steps: int | None = None,
    model_width: float = 1.0,
    report: Callable[[Mapping[str, Any]], bool | str | None] | None = None,
    devices: Sequence[Any] | None = None,
) -> TrialResult:
    """Trains a model of the zoo on in-memory arrays with the full training loop (see the module doc).

    Args:
        images: The training images (see the module doc for shapes and types).
        labels: Their labels: class indices, class names or a multi-hot array (multilabel).
        model_name: The architecture (:data:`imgtune.train.models.MODEL_NAMES`); default
            ``training_parameters.model_name``, else the job's default.
        classes: The class names, in order (default from ``labels``, see the module doc).
        validation: ``(images, labels)`` to evaluate on, or ``None`` to split ``validation_size``
            off the training arrays.
        validation_size: The fraction split off when ``validation`` is ``None``.
        training_parameters: As a job's (a record or a mapping of its fields), resolved with
            :func:`imgtune.compiler.defaults.resolve`: unset fields take Azure's defaults --
            including ``training_crop_size`` 224 and ImageNet weights from the Hugging Face cache
            (``imgtune weights download``; ``advanced_settings: '{"pretrained": false}'`` starts
            from random weights and downloads nothing).
        primary_metric: Picks the best checkpoint and drives early stopping (default ``accuracy``,
            ``iou`` for multilabel).
        workdir: The trial's folder: checkpoints and ``result.json``; calling again with the same
            folder returns the stored result or continues an unfinished (``max_steps``) run.
            ``None``: a temporary folder, removed at the end (the result's ``checkpoint`` is then ``None``).
        seed: Orders the data (split and shuffles) and is the default ``random_seed``.
        loss_fn: One's own training loss (:data:`imgtune.train.optim.LossFn`).
        max_steps: Pause after this many training batches (resumable with a ``workdir``).
        model_width: A channel multiplier below 1, for fast tests of the machinery only.
        report: Called after every evaluation with its history entry; may stop the run.
        devices: The devices to train on (default: see :mod:`imgtune.train.devices`).

    Returns:
        The :class:`~imgtune.train.trial_types.TrialResult`.

    Raises:
        ValidationError: Every problem of the arrays and parameters, each with its path.
    """
    problems: list[Problem] = []
    x = _images(images, "images", problems)
    names = tuple(str(c) for c in classes) if classes is not None else None
    y = _labels(labels, None if x is None else len(x), names, "labels", problems)
    vx = vy = None
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            problems.append(Problem("validation", "must be a pair (images, labels) or None"))
        else:
            vx = _images(validation[0], "validation[0]", problems)
            if y is not None:
                vy = _labels(validation[1], None if vx is None else len(vx), y[1], "validation[1]", problems)
                if vy is not None and vy[2] != y[2]:
                    problems.append(Problem("validation[1]", "must be of the same kind (multilabel or not) as labels"))
    if isinstance(training_parameters, Mapping):
        try:
            training_parameters = structure(dict(training_parameters), TrainingParameters)
        except ValidationError as e:
            problems.extend(p.prefixed("training_parameters") for p in e.problems)
            training_parameters = None
    if problems:
        raise ValidationError(problems, "fit")
    assert x is not None and y is not None
    label_names, class_order, multilabel = y
    tp = training_parameters or TrainingParameters()
    if model_name is not None:
        tp = attrs.evolve(tp, model_name=model_name)
    params = resolve(tp, {}, multilabel=multilabel, seed=seed)

    parts = [("training", x)] + ([] if vx is None else [("validation", vx)])
    store, paths = _store(parts)
    train = [Example(p, label, f"images[{i}]") for i, (p, label) in enumerate(zip(paths["training"], label_names))]
    if vx is None:
        split = split_examples(train, seed=seed, validation_size=validation_size, multilabel=multilabel)
        train, valid = list(split.train), list(split.validation)
    else:
        assert vy is not None
        valid = [Example(p, label, f"validation[0][{i}]")
                 for i, (p, label) in enumerate(zip(paths["validation"], vy[0]))]
    settings = TrialSettings(params=params, primary_metric=primary_metric or ("iou" if multilabel else "accuracy"),
                             multilabel=multilabel, seed=seed, max_steps=max_steps, model_width=model_width)
    data = TrialData(train, valid, class_order)
    run: dict[str, Any] = {"report": report, "devices": devices, "images": store, "loss_fn": loss_fn}
    if workdir is not None:
        return train_trial(settings, data, workdir, **run)
    with tempfile.TemporaryDirectory(prefix="imgtune-fit-") as tmp:
        return attrs.evolve(train_trial(settings, data, tmp, **run), checkpoint=None)
