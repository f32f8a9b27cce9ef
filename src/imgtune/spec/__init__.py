"""The job specification: the job as data, floor 1 (above :mod:`imgtune.errors` only).

Frozen, validated records (:mod:`~imgtune.spec.records`), enums (:mod:`~imgtune.spec.enums`),
the constraint table of every field (:mod:`~imgtune.spec.fields`), search-space
distributions (:mod:`~imgtune.spec.distributions`), the one converter between mappings and
records (:mod:`~imgtune.spec.convert`), the pure transforms (:mod:`~imgtune.spec.transforms`),
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
    SearchSpace,
    Sweep,
    TrainingParameters,
    TruncationSelectionPolicy,
)

__all__ = [name for name in dir() if not name.startswith("_")]
