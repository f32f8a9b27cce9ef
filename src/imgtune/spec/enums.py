"""Enumerations of the job schema, accepting every casing Azure accepts.

Azure normalises enum strings with ``camel_to_snake`` and upper-casing, so
``AUC_weighted``, ``AUCWeighted`` and ``auc_weighted`` are one value. imgtune
compares spellings with underscores, dashes and spaces removed and case folded,
and always writes Azure's snake_case value.

Example:
    >>> PrimaryMetric.parse("AUCWeighted")
    <PrimaryMetric.AUC_WEIGHTED: 'auc_weighted'>
    >>> LearningRateScheduler.parse("WarmupCosine").value
    'warmup_cosine'
    >>> Optimizer.parse("rmsprop") is None
    True
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable

from imgtune.values import finite

__all__ = [
    "AzureEnum",
    "InputType",
    "JobStatus",
    "LearningRateScheduler",
    "LogVerbosity",
    "Optimizer",
    "PrimaryMetric",
    "RandomRule",
    "SamplingAlgorithmType",
    "TaskType",
    "CLASSIFICATION_METRICS",
    "MULTILABEL_METRICS",
]


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text).casefold()


class AzureEnum(str, enum.Enum):
    """A string enum whose members parse from any Azure casing."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: object):
        """The member ``value`` names in any casing, or ``None``."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            return None
        member = cls._value2member_map_.get(value)  # the canonical spelling: no folding needed
        if member is not None:
            return member
        folded = _fold(value)
        for member in cls:
            if _fold(member.value) == folded:
                return member
        return None

    @classmethod
    def parse_or_keep(cls, value: object) -> object:
        """The member ``value`` names, else ``value`` as it is, for a record's checks to report (an attrs
        converter).

        >>> TaskType.parse_or_keep("ImageClassification"), TaskType.parse_or_keep("video")
        (<TaskType.IMAGE_CLASSIFICATION: 'image_classification'>, 'video')
        """
        return cls.parse(value) or value

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """The members' canonical (snake_case) values."""
        return tuple(m.value for m in cls)


class TaskType(AzureEnum):
    """The two tasks: multiclass and multilabel image classification.

    Example:
        >>> TaskType.parse("ImageClassificationMultilabel")
        <TaskType.IMAGE_CLASSIFICATION_MULTILABEL: 'image_classification_multilabel'>
    """

    IMAGE_CLASSIFICATION = "image_classification"
    IMAGE_CLASSIFICATION_MULTILABEL = "image_classification_multilabel"


class PrimaryMetric(AzureEnum):
    """A primary metric, and the one owner of its goal: which of two values is better.

    Every Azure primary metric is maximised (``higher_is_better``). Policies, early
    stopping, the best checkpoint, the best trial and the Bayesian sampler all ask the
    metric rather than compare values themselves. Values that are missing or not finite
    (``None``, NaN) are never better than a finite one.

    Example:
        >>> m = PrimaryMetric.ACCURACY
        >>> m.better(0.9, 0.8), m.better(float("nan"), 0.1), m.better(0.1, None)
        (True, False, True)
        >>> m.best([0.5, None, 0.7, float("nan"), 0.7])
        (0.7, 2)
        >>> m.best([None]), m.score(0.25), m.score(None)
        ((None, None), 0.25, -inf)
    """

    ACCURACY = "accuracy"
    AUC_WEIGHTED = "auc_weighted"
    NORM_MACRO_RECALL = "norm_macro_recall"
    AVERAGE_PRECISION_SCORE_WEIGHTED = "average_precision_score_weighted"
    PRECISION_SCORE_WEIGHTED = "precision_score_weighted"
    IOU = "iou"

    @property
    def higher_is_better(self) -> bool:
        """True for every Azure primary metric (``norm_macro_recall`` may be negative, still maximised)."""
        return True

    def score(self, value: object) -> float:
        """``value`` on a scale where higher is better; ``-inf`` when missing or not finite."""
        number = finite(value)
        if number is None:
            return -math.inf
        return number if self.higher_is_better else -number

    def better(self, a: object, b: object) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return finite(a) is not None and self.score(a) > self.score(b)

    def best(self, values: Iterable[object]) -> tuple[float | None, int | None]:
        """The best finite value and its (first) index; ``(None, None)`` when there is none."""
        best, index = None, None
        for i, value in enumerate(values):
            if self.better(value, best):
                best, index = finite(value), i
        return best, index


CLASSIFICATION_METRICS = (
    PrimaryMetric.ACCURACY,
    PrimaryMetric.AUC_WEIGHTED,
    PrimaryMetric.NORM_MACRO_RECALL,
    PrimaryMetric.AVERAGE_PRECISION_SCORE_WEIGHTED,
    PrimaryMetric.PRECISION_SCORE_WEIGHTED,
)
MULTILABEL_METRICS = CLASSIFICATION_METRICS + (PrimaryMetric.IOU,)


class Optimizer(AzureEnum):
    """The optimisers (``none`` means the default, ``sgd``).

    Example:
        >>> Optimizer.parse("AdamW"), Optimizer.values()
        (<Optimizer.ADAMW: 'adamw'>, ('none', 'sgd', 'adam', 'adamw'))
    """

    NONE = "none"
    SGD = "sgd"
    ADAM = "adam"
    ADAMW = "adamw"


class LearningRateScheduler(AzureEnum):
    """The learning-rate schedules (``none``: a constant rate).

    Example:
        >>> LearningRateScheduler.parse("WarmupCosine")
        <LearningRateScheduler.WARMUP_COSINE: 'warmup_cosine'>
    """

    NONE = "none"
    WARMUP_COSINE = "warmup_cosine"
    STEP = "step"


class LogVerbosity(AzureEnum):
    """The job's log verbosity.

    Example:
        >>> LogVerbosity.parse("Debug").value
        'debug'
    """

    NOT_SET = "not_set"
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class SamplingAlgorithmType(AzureEnum):
    """The ``sweep.sampling_algorithm`` types (the records are in :mod:`imgtune.spec.records`).

    Example:
        >>> SamplingAlgorithmType.parse("Bayesian").value
        'bayesian'
    """

    RANDOM = "random"
    GRID = "grid"
    BAYESIAN = "bayesian"


class RandomRule(AzureEnum):
    """The rule of random sampling: plain random draws, or a scrambled Sobol sequence.

    Example:
        >>> RandomRule.parse("Sobol")
        <RandomRule.SOBOL: 'sobol'>
    """

    RANDOM = "random"
    SOBOL = "sobol"


class InputType(AzureEnum):
    """Data input types: ``mltable`` as in Azure; ``uri_file`` (a bare JSONL
    manifest) and ``uri_folder`` (one sub-folder per class) are imgtune's own.

    Example:
        >>> InputType.parse("UriFolder").value
        'uri_folder'
    """

    MLTABLE = "mltable"
    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"


class JobStatus(AzureEnum):
    """Azure's job statuses (REST ``JobStatus``), for jobs and trials alike.

    Example:
        >>> JobStatus.parse("completed"), JobStatus.COMPLETED.value
        (<JobStatus.COMPLETED: 'Completed'>, 'Completed')
    """

    NOT_STARTED = "NotStarted"
    STARTING = "Starting"
    PROVISIONING = "Provisioning"
    PREPARING = "Preparing"
    QUEUED = "Queued"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"
    PAUSED = "Paused"
    UNKNOWN = "Unknown"

    @property
    def is_terminal(self) -> bool:
        """Whether no further change follows (``Completed``, ``Failed``, ``Canceled``)."""
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)
