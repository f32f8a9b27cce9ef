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
import re

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
        folded = _fold(value)
        for member in cls:
            if _fold(member.value) == folded:
                return member
        return None

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """The members' canonical (snake_case) values."""
        return tuple(m.value for m in cls)


class TaskType(AzureEnum):
    IMAGE_CLASSIFICATION = "image_classification"
    IMAGE_CLASSIFICATION_MULTILABEL = "image_classification_multilabel"


class PrimaryMetric(AzureEnum):
    """Primary metrics; every one is maximised."""

    ACCURACY = "accuracy"
    AUC_WEIGHTED = "auc_weighted"
    NORM_MACRO_RECALL = "norm_macro_recall"
    AVERAGE_PRECISION_SCORE_WEIGHTED = "average_precision_score_weighted"
    PRECISION_SCORE_WEIGHTED = "precision_score_weighted"
    IOU = "iou"


CLASSIFICATION_METRICS = (
    PrimaryMetric.ACCURACY,
    PrimaryMetric.AUC_WEIGHTED,
    PrimaryMetric.NORM_MACRO_RECALL,
    PrimaryMetric.AVERAGE_PRECISION_SCORE_WEIGHTED,
    PrimaryMetric.PRECISION_SCORE_WEIGHTED,
)
MULTILABEL_METRICS = CLASSIFICATION_METRICS + (PrimaryMetric.IOU,)


class Optimizer(AzureEnum):
    NONE = "none"
    SGD = "sgd"
    ADAM = "adam"
    ADAMW = "adamw"


class LearningRateScheduler(AzureEnum):
    NONE = "none"
    WARMUP_COSINE = "warmup_cosine"
    STEP = "step"


class LogVerbosity(AzureEnum):
    NOT_SET = "not_set"
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class SamplingAlgorithmType(AzureEnum):
    """The ``sweep.sampling_algorithm`` types (the records are in :mod:`imgtune.spec.records`)."""

    RANDOM = "random"
    GRID = "grid"
    BAYESIAN = "bayesian"


class RandomRule(AzureEnum):
    RANDOM = "random"
    SOBOL = "sobol"


class InputType(AzureEnum):
    """Data input types: ``mltable`` as in Azure; ``uri_file`` (a bare JSONL
    manifest) and ``uri_folder`` (one sub-folder per class) are imgtune's own."""

    MLTABLE = "mltable"
    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"


class JobStatus(AzureEnum):
    """Azure's job statuses (REST ``JobStatus``), for jobs and trials alike."""

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
