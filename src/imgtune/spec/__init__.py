"""The job specification: the job as data, floor 1 (above :mod:`imgtune.errors` only).

Frozen, validated records (:mod:`~imgtune.spec.records`), enums (:mod:`~imgtune.spec.enums`),
the constraint table of every field (:mod:`~imgtune.spec.fields`), search-space
distributions (:mod:`~imgtune.spec.distributions`), the one converter between mappings and
records (:mod:`~imgtune.spec.convert`), the pure transforms (:mod:`~imgtune.spec.transforms`), Azure's job factories
(:mod:`~imgtune.spec.factories`), edits and differences by dotted path (:mod:`~imgtune.spec.paths`),
and the small validation helpers they share (:mod:`~imgtune.spec.checks`,
:mod:`~imgtune.spec.frozen`). No I/O and no text formats here: YAML is
:mod:`imgtune.serialization`'s.
"""

from imgtune.spec.distributions import (
    DISTRIBUTIONS,
    Choice,
    Distribution,
    LogNormal,
    LogUniform,
    Normal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    Randint,
    Uniform,
)
from imgtune.spec.enums import (
    InputType,
    JobStatus,
    LearningRateScheduler,
    LogVerbosity,
    Optimizer,
    PrimaryMetric,
    RandomRule,
    SamplingAlgorithmType,
    TaskType,
)
from imgtune.spec.factories import image_classification, image_classification_multilabel
from imgtune.spec.fields import SEARCHABLE, TRAINING_PARAMETERS, FieldSpec
from imgtune.spec.models import MODEL_NAMES, MODELS, ModelSpec
from imgtune.spec.records import (
    BanditPolicy,
    BayesianSampling,
    GridSampling,
    ImageClassificationJob,
    ImageClassificationJobBase,
    ImageClassificationMultilabelJob,
    Input,
    Limits,
    MedianStoppingPolicy,
    Output,
    RandomSampling,
    ResolvedTrainingParameters,
    SearchSpace,
    Sweep,
    TrainingParameters,
    TrainingParameterValues,
    TruncationSelectionPolicy,
)

# Written out (not computed) so that type checkers see what ``from imgtune.spec import *`` brings.
__all__ = [
    "DISTRIBUTIONS",
    "MODELS",
    "MODEL_NAMES",
    "SEARCHABLE",
    "TRAINING_PARAMETERS",
    "BanditPolicy",
    "BayesianSampling",
    "Choice",
    "Distribution",
    "FieldSpec",
    "GridSampling",
    "ImageClassificationJob",
    "ImageClassificationJobBase",
    "ImageClassificationMultilabelJob",
    "Input",
    "InputType",
    "JobStatus",
    "LearningRateScheduler",
    "Limits",
    "LogNormal",
    "LogUniform",
    "LogVerbosity",
    "MedianStoppingPolicy",
    "ModelSpec",
    "Normal",
    "Optimizer",
    "Output",
    "PrimaryMetric",
    "QLogNormal",
    "QLogUniform",
    "QNormal",
    "QUniform",
    "Randint",
    "RandomRule",
    "RandomSampling",
    "ResolvedTrainingParameters",
    "SamplingAlgorithmType",
    "SearchSpace",
    "Sweep",
    "TaskType",
    "TrainingParameterValues",
    "TrainingParameters",
    "TruncationSelectionPolicy",
    "Uniform",
    "image_classification",
    "image_classification_multilabel",
]
