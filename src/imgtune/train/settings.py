"""One trial's settings: the one record the trainer is configured by.

As Flax's ``train_and_evaluate(config, workdir)``: :func:`imgtune.train.trial.train_trial`
takes a :class:`TrialSettings`, the trial's data and its folder; what only the running
process knows (the devices, the report callback) stays an argument. Light to import (no
JAX), so the runner builds and sends it across the process boundary with the one converter.

Example:
    >>> from imgtune.spec.records import TrainingParameters
    >>> s = TrialSettings(params=TrainingParameters(model_name="resnet18"), primary_metric="Accuracy",
    ...                   multilabel=False, seed=0)
    >>> s.primary_metric
    <PrimaryMetric.ACCURACY: 'accuracy'>
    >>> TrialSettings(params=TrainingParameters(), primary_metric="loss", multilabel=False, seed=0)
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      primary_metric: must be one of accuracy, auc_weighted, norm_macro_recall, average_precision_score_weighted, precision_score_weighted, iou, got 'loss'
"""

from __future__ import annotations

from typing import Any

import attrs

from imgtune.errors import Problem, ValidationError
from imgtune.spec.enums import PrimaryMetric
from imgtune.spec.records import TrainingParameters

__all__ = ["TrialSettings"]


def _metric(value: Any) -> PrimaryMetric:
    metric = PrimaryMetric.parse(value)
    if metric is None:
        raise ValidationError([Problem("primary_metric", f"must be one of {', '.join(PrimaryMetric.values())}, "
                                                         f"got {value!r}")])
    return metric


@attrs.frozen(kw_only=True)
class TrialSettings:
    """What configures one trial.

    Attributes:
        params: The resolved training parameters (no ``None`` but the ``checkpoint_*`` fields;
            see :func:`imgtune.compiler.defaults.resolve`).
        primary_metric: Picks the best checkpoint and drives early stopping (a name is parsed).
        multilabel: The task.
        seed: The plan's seed: the data's split and order.
        max_steps: Pause after this many training batches in total (status ``Canceled``,
            resumable); ``None``: train to the end.
        model_width: A channel multiplier below 1, for fast tests of the machinery only.
    """

    params: TrainingParameters
    primary_metric: PrimaryMetric = attrs.field(converter=_metric)
    multilabel: bool
    seed: int
    max_steps: int | None = None
    model_width: float = 1.0
