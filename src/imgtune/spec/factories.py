"""Azure's factories, ``automl.image_classification(...)`` and ``automl.image_classification_multilabel(...)``,
with Azure's keywords, returning imgtune's job records.

Unlike azure-ai-ml's, they take imgtune's values (records or mappings, enums or their names), not
azure-ai-ml's objects: those are converted by :func:`imgtune.from_azure`. The rest of the docs'
flow is a pipe of transforms (:func:`~imgtune.spec.transforms.with_limits`,
:func:`~imgtune.spec.transforms.with_training_parameters`,
:func:`~imgtune.spec.transforms.extend_search_space`, :func:`~imgtune.spec.transforms.with_sweep`).

Example:
    >>> from imgtune import Input
    >>> job = image_classification(training_data=Input(path="data/train", type="mltable"),
    ...                            target_column_name="label", primary_metric="accuracy",
    ...                            validation_data_size=0.2, experiment_name="dogs")
    >>> job.experiment_name, job.validation_data_size, job.task_type.value
    ('dogs', 0.2, 'image_classification')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from imgtune.errors import Problem, ValidationError
from imgtune.spec.enums import PrimaryMetric
from imgtune.spec.records import ImageClassificationJob, ImageClassificationMultilabelJob, Input

__all__ = ["image_classification", "image_classification_multilabel"]


def _build(cls: type, training_data: Any, target_column_name: Any, primary_metric: Any, validation_data: Any,
           validation_data_size: Any, kwargs: dict[str, Any]) -> Any:
    fields = {a.name for a in attrs.fields(cls) if a.init}
    fixed = {"training_data", "target_column_name", "primary_metric", "validation_data", "validation_data_size"}
    unknown = sorted(k for k in kwargs if k not in fields or k in fixed)
    if unknown:
        allowed = ", ".join(sorted(fields - fixed - {"base_path"}))
        raise ValidationError([Problem(k, f"is not a keyword of this job (the others: {allowed})") for k in unknown],
                              cls.__name__)
    given = {"training_data": training_data, "target_column_name": target_column_name,
             "validation_data": validation_data, "validation_data_size": validation_data_size, **kwargs}
    if primary_metric is not None:  # Azure's None: the task's default
        given["primary_metric"] = primary_metric
    return cls(**given)


def image_classification(*, training_data: Input | Mapping[str, Any], target_column_name: str,
                         primary_metric: PrimaryMetric | str | None = None,
                         validation_data: Input | Mapping[str, Any] | None = None,
                         validation_data_size: float | None = None, **kwargs: Any) -> ImageClassificationJob:
    """A multiclass job, as azure-ai-ml's ``automl.image_classification(...)`` builds it.

    Args:
        training_data: The training data (an :class:`~imgtune.spec.records.Input` or a mapping).
        target_column_name: The label column.
        primary_metric: The metric to maximise; ``None``: ``accuracy``.
        validation_data: The validation data, if any.
        validation_data_size: The fraction of the training data held out for validation, if any.
        **kwargs: Any other field of :class:`~imgtune.spec.records.ImageClassificationJob` (``compute``,
            ``experiment_name``, ``tags``, ``limits``, ...).

    Raises:
        ValidationError: Every problem of the job, or a keyword the job does not have.

    Example:
        >>> job = image_classification(training_data={"path": "data"}, target_column_name="label",
        ...                            tags={"team": "vision"})
        >>> job.primary_metric.value, dict(job.tags)
        ('accuracy', {'team': 'vision'})
        >>> image_classification(training_data={"path": "data"}, target_column_name="label", computer="gpu")
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem in ImageClassificationJob:
          computer: is not a keyword of this job (the others: ...)
    """
    return _build(ImageClassificationJob, training_data, target_column_name, primary_metric, validation_data,
                  validation_data_size, kwargs)


def image_classification_multilabel(*, training_data: Input | Mapping[str, Any], target_column_name: str,
                                    primary_metric: PrimaryMetric | str | None = None,
                                    validation_data: Input | Mapping[str, Any] | None = None,
                                    validation_data_size: float | None = None,
                                    **kwargs: Any) -> ImageClassificationMultilabelJob:
    """A multilabel job, as azure-ai-ml's ``automl.image_classification_multilabel(...)`` builds it.

    Takes the keywords of :func:`image_classification`; ``primary_metric`` ``None`` means ``iou``.

    Example:
        >>> job = image_classification_multilabel(training_data={"path": "data"}, target_column_name="labels",
        ...                                       primary_metric="IOU")
        >>> job.primary_metric.value, job.multilabel
        ('iou', True)
    """
    return _build(ImageClassificationMultilabelJob, training_data, target_column_name, primary_metric,
                  validation_data, validation_data_size, kwargs)
