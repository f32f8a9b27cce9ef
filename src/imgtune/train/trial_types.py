"""What goes into one trial and what comes out: :class:`TrialSettings` and :class:`TrialResult`.

As Flax's ``train_and_evaluate(config, workdir)``: :func:`imgtune.train.trial.train_trial`
takes a :class:`TrialSettings`, the trial's data and its folder (what only the running
process knows, the devices and the report callback, stays an argument), and returns a
:class:`TrialResult`. The result is the one type that crosses the process boundary back to
the sweep, written by the one converter (:mod:`imgtune.spec.convert`); ``result.json``
holds it too. Light to import: no JAX.

Example:
    >>> from imgtune.spec.records import TrainingParameters
    >>> s = TrialSettings(params=TrainingParameters(model_name="resnet18"), primary_metric="Accuracy",
    ...                   multilabel=False, seed=0)
    >>> s.primary_metric
    <PrimaryMetric.ACCURACY: 'accuracy'>
    >>> from imgtune.spec.convert import structure, unstructure
    >>> r = TrialResult(status="Canceled", resumable=True, stop_reason="paused", history=[{"epoch": 1}])
    >>> structure(unstructure(r), TrialResult) == r, r.status
    (True, <JobStatus.CANCELED: 'Canceled'>)
    >>> TrialSettings(params=TrainingParameters(), primary_metric="loss", multilabel=False, seed=0)
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      primary_metric: must be one of accuracy, auc_weighted, norm_macro_recall, average_precision_score_weighted, precision_score_weighted, iou, got 'loss'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from imgtune.errors import Problem, ValidationError
from imgtune.spec.enums import JobStatus, PrimaryMetric
from imgtune.spec.frozen import FrozenMap, freeze
from imgtune.spec.records import TrainingParameters

__all__ = ["TRIAL_END_STATUSES", "TrialResult", "TrialSettings"]

#: How a trial can end.
TRIAL_END_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)


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


def _end_status(value: Any) -> JobStatus:
    status = JobStatus.parse(value)
    if status not in TRIAL_END_STATUSES:
        raise ValidationError([Problem("status", f"must be one of Completed, Failed, Canceled, got {value!r}")])
    return status


@attrs.frozen(kw_only=True)
class TrialResult:
    """How a trial ended.

    Attributes:
        status: ``Completed`` (all epochs, or early stopping), ``Failed`` (e.g. a non-finite
            loss) or ``Canceled`` (stopped by ``report``, or paused by ``max_steps``).
        resumable: Paused rather than finished (``max_steps``): calling again continues it.
        stop_reason: Why it ended early, or ``None``.
        history: One mapping per evaluation: ``epoch``, every metric, ``loss`` (validation)
            and ``train_loss``.
        best_metric: The primary metric of the best checkpoint (``None`` if none).
        best_epoch: Its epoch.
        best_evaluation: ``{"epoch", "metric", "metrics", "loss", "confusion_matrix",
            "per_label"}`` of the best checkpoint.
        checkpoint: The best checkpoint's folder, or ``None``.
        classes: The class order.
        steps: Training batches done.
        artifacts: Name -> file written for the best model besides the checkpoint
            (``labels.json``, ``metrics.json``, ...; see :mod:`imgtune.runner.training`).
    """

    status: JobStatus = attrs.field(converter=_end_status)
    resumable: bool = False
    stop_reason: str | None = None
    history: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=tuple)
    best_metric: float | None = None
    best_epoch: int | None = None
    best_evaluation: Mapping[str, Any] | None = None
    checkpoint: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    classes: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    steps: int = 0
    artifacts: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze)
