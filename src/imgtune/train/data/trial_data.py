"""A trial's examples: the one loader, used by every trial, the test scoring and the tests.

The splits are keyed by the plan's ``seed`` (never the searchable ``random_seed``), so every
trial of a job sees the same images: the test split first (``test_data_size``), then the
validation split (``validation_data_size``, default 0.2), stratified for multiclass. Given
``validation_data`` or ``test_data`` are read instead of split off, and their labels must be
among the training data's classes. No JAX here.

Example:
    >>> import tempfile
    >>> from imgtune.datasets import make_digits
    >>> folder = make_digits(tempfile.mkdtemp(), size=8, n=40)
    >>> data = load_trial_data(folder, multilabel=False, seed=0, test_data_size=0.25)
    >>> len(data.train), len(data.validation), len(data.test), len(data.classes)
    (24, 6, 10, 10)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from imgtune.spec.records import ImageClassificationJobBase, Input
from imgtune.train.data.decode import validate_images
from imgtune.train.data.read import Example, check_labels, class_names, read_examples
from imgtune.train.data.split import split_examples

__all__ = ["TrialData", "job_data", "load_trial_data"]


@attrs.frozen
class TrialData:
    """The examples of one trial.

    Attributes:
        train: Training examples.
        validation: Validation examples.
        classes: The class order (from the training data).
        test: Test examples (held out from the training data, or read from ``test_data``); never trained on.
    """

    train: tuple[Example, ...] = attrs.field(converter=tuple)
    validation: tuple[Example, ...] = attrs.field(converter=tuple)
    classes: tuple[str, ...] = attrs.field(converter=tuple)
    test: tuple[Example, ...] = attrs.field(default=(), converter=tuple)


def _input(value: Input | str | os.PathLike[str] | None) -> Input | None:
    if value is None or isinstance(value, Input):
        return value
    return Input(path=os.fspath(value), type="mltable")


def load_trial_data(
    training_data: Input | str | os.PathLike[str],
    *,
    multilabel: bool,
    seed: int,
    target_column_name: str = "label",
    validation_data: Input | str | os.PathLike[str] | None = None,
    validation_data_size: float | None = None,
    test_data: Input | str | os.PathLike[str] | None = None,
    test_data_size: float | None = None,
    base_path: str | os.PathLike[str] | None = None,
    path_map: Mapping[str, str] | None = None,
    workers: int = 0,
    validate: bool = True,
) -> TrialData:
    """Reads, splits and checks a trial's images (see the module doc).

    Args:
        training_data: The training input (a path is an MLTable folder).
        multilabel: The task.
        seed: The plan's seed (keys the splits).
        target_column_name: The label column.
        validation_data: The validation input, or ``None`` to split it off.
        validation_data_size: The fraction split off for validation (default 0.2).
        test_data: The test input, or ``None`` to split ``test_data_size`` off (default none).
        test_data_size: The fraction split off for testing.
        base_path: Relative paths resolve against it.
        path_map: Remote-URL prefixes to local folders.
        workers: Threads for the image check.
        validate: Open every image once (raises one error listing all the bad ones).

    Raises:
        ValidationError: Unreadable inputs, unknown labels, bad images; each with its field.
    """
    training, validation, testing = _input(training_data), _input(validation_data), _input(test_data)
    common: dict[str, Any] = dict(base_path=base_path, target_column_name=target_column_name, multilabel=multilabel,
                                  path_map=dict(path_map or {}))
    train = read_examples(training.path, training.type, **common)
    classes = class_names(train)
    split = split_examples(train, seed=seed, multilabel=multilabel,
                           validation_size=0.0 if validation else (validation_data_size or 0.2),
                           test_size=0.0 if testing else (test_data_size or 0.0))
    train, valid, test = split.train, split.validation, split.test
    if validation is not None:
        valid = read_examples(validation.path, validation.type, field="validation_data", **common)
        check_labels(valid, classes, "validation_data")
    if testing is not None:
        test = read_examples(testing.path, testing.type, field="test_data", **common)
        check_labels(test, classes, "test_data")
    if validate:
        validate_images(tuple(train) + tuple(valid) + tuple(test), workers=workers)
    return TrialData(train, valid, classes, test)


def job_data(job: ImageClassificationJobBase, *, seed: int, path_map: Mapping[str, str] | None = None,
             workers: int = 0, validate: bool = True) -> TrialData:
    """:func:`load_trial_data` with the job's inputs, sizes, label column and folder."""
    return load_trial_data(job.training_data, multilabel=job.multilabel, seed=seed,
                           target_column_name=job.target_column_name, validation_data=job.validation_data,
                           validation_data_size=job.validation_data_size, test_data=job.test_data,
                           test_data_size=job.test_data_size, base_path=job.base_path, path_map=path_map,
                           workers=workers, validate=validate)
