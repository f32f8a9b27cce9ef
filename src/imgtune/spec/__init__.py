"""The job specification: frozen, validated records, enums and distributions."""

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
from imgtune.spec.fields import MODEL_NAMES, SEARCHABLE, TRAINING_PARAMETERS, FieldSpec
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
