"""The job records: frozen, keyword-only attrs classes that validate on construction.

Every record collects *all* of its problems and raises one
:class:`~imgtune.ValidationError` whose paths use the YAML keys. Nested values
may be given as records or as mappings in the YAML shape (as Azure's setters
accept dicts); a nested value that is invalid is reported under its field's
path together with everything else.

Example:
    >>> Limits(max_trials=0, max_concurrent_trials=200)
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 2 problems in Limits:
      max_trials: must be in [1, 1000], got 0
      max_concurrent_trials: must be in [1, 100], got 200
    >>> TrainingParameters(optimizer="Adam").optimizer
    <Optimizer.ADAM: 'adam'>
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Union

import attrs

from imgtune.errors import Problem, ValidationError
from imgtune.spec.checks import Checker, Invalid, Validated, fmt, is_int, is_number, lenient
from imgtune.spec.convert import record_converter, register_union, register_unstructure, structure, unstructure_fields
from imgtune.spec.distributions import (
    DISTRIBUTIONS,
    Choice,
    Distribution,
    LogUniform,
    QLogUniform,
    QUniform,
    Randint,
    Uniform,
)
from imgtune.spec.enums import (
    CLASSIFICATION_METRICS,
    MULTILABEL_METRICS,
    InputType,
    LogVerbosity,
    PrimaryMetric,
    RandomRule,
    SamplingAlgorithmType,
    TaskType,
)
from imgtune.spec.fields import (
    JOB_FIELDS,
    LIMITS,
    POLICY_FIELDS,
    SEARCHABLE,
    TRAINING_PARAMETERS,
    FieldSpec,
    Kind,
)
from imgtune.spec.frozen import FrozenMap, freeze
from imgtune.spec.models import VIT_MODELS
from imgtune.spec.rules import CROSS_FIELD_KEYS, cross_field_problems

__all__ = [
    "BanditPolicy",
    "BayesianSampling",
    "EarlyTerminationPolicy",
    "GridSampling",
    "ImageClassificationJob",
    "ImageClassificationJobBase",
    "ImageClassificationMultilabelJob",
    "Input",
    "Limits",
    "MedianStoppingPolicy",
    "Output",
    "RandomSampling",
    "SamplingAlgorithm",
    "SearchSpace",
    "Sweep",
    "TrainingParameters",
    "TruncationSelectionPolicy",
]


# --------------------------------------------------------------------------- helpers
def _spec_field(spec: FieldSpec, **kw: Any) -> Any:
    return attrs.field(default=None, converter=spec.convert, metadata={"spec": spec}, **kw)


def _check_specs(checker: Checker, record: Any) -> None:
    for a in attrs.fields(type(record)):
        spec = a.metadata.get("spec")
        value = getattr(record, a.name)
        if spec is not None and not isinstance(value, Invalid):
            message = spec.check(value)
            if message:
                checker.add(a.name, message)


def _opt_str(checker: Checker, record: Any, *names: str) -> None:
    for name in names:
        value = getattr(record, name)
        if value is not None and not isinstance(value, str):
            checker.add(name, f"must be a string, got {fmt(value)}")


# --------------------------------------------------------------------------- data
@attrs.frozen(kw_only=True)
class Input(Validated):
    """A data input: ``path`` and ``type``.

    ``mltable`` (an ``MLTable`` file beside a JSONL manifest) is Azure's type;
    ``uri_file`` (a bare JSONL manifest) and ``uri_folder`` (an image folder with
    one sub-folder per class) are imgtune's local extensions. The path is kept
    exactly as written (Azure's SDK adds an ``azureml:`` prefix on dump; imgtune
    does not), and a relative path resolves against the job's ``base_path``.
    """

    path: str = None
    type: InputType = attrs.field(default=InputType.MLTABLE,
                                  converter=InputType.parse_or_keep)
    mode: str | None = None
    description: str | None = None

    def _check(self, checker: Checker) -> None:
        if self.path is None:
            checker.add("path", "is required")
        elif not isinstance(self.path, str) or not self.path.strip():
            checker.add("path", f"must be a non-empty string, got {fmt(self.path)}")
        if not isinstance(self.type, InputType):
            checker.add("type", f"must be one of {', '.join(InputType.values())}, got {fmt(self.type)}")
        _opt_str(checker, self, "mode", "description")


@attrs.frozen(kw_only=True)
class Output(Validated):
    """A job output, e.g. ``best_model: {type: mlflow_model}`` (kept, written back)."""

    type: str = "mlflow_model"
    path: str | None = None
    storage_uri: str | None = None
    mode: str | None = None
    description: str | None = None

    def _check(self, checker: Checker) -> None:
        _opt_str(checker, self, "type", "path", "storage_uri", "mode", "description")


# --------------------------------------------------------------------------- limits
@attrs.frozen(kw_only=True)
class Limits(Validated):
    """Sweep limits. ``None`` means the default (1 trial, 1 at a time, 7 days).

    The record keeps the values given. A ``max_concurrent_trials`` above
    ``max_trials`` is capped to it by ``compile`` (with one warning), as Azure's
    service does; a job file that asks for more is read capped (see
    :mod:`imgtune.serialization.azure_quirks`).
    """

    max_trials: int | None = _spec_field(LIMITS["max_trials"])
    max_concurrent_trials: int | None = _spec_field(LIMITS["max_concurrent_trials"])
    timeout_minutes: int | None = _spec_field(LIMITS["timeout_minutes"])

    def _check(self, checker: Checker) -> None:
        _check_specs(checker, self)


# --------------------------------------------------------------------------- sweep
@attrs.frozen(kw_only=True)
class RandomSampling(Validated):
    """Random sampling; ``rule: sobol`` uses a scrambled Sobol sequence."""

    type: ClassVar[str] = "random"
    seed: int | None = None
    rule: RandomRule | None = attrs.field(default=None, converter=RandomRule.parse_or_keep)
    logbase: float | str | None = None

    def _check(self, checker: Checker) -> None:
        if self.seed is not None and not (is_int(self.seed) and 0 <= self.seed < 2**32):
            checker.add("seed", f"must be an integer in [0, 4294967295], got {fmt(self.seed)}")
        if self.rule is not None and not isinstance(self.rule, RandomRule):
            checker.add("rule", f"must be one of random, sobol, got {fmt(self.rule)}")
        if self.logbase is not None and not (self.logbase == "e" or (is_number(self.logbase) and self.logbase > 0)):
            checker.add("logbase", f"must be a positive number or 'e', got {fmt(self.logbase)}")


@attrs.frozen(kw_only=True)
class GridSampling(Validated):
    """Grid sampling over the ``choice`` values."""

    type: ClassVar[str] = "grid"


@attrs.frozen(kw_only=True)
class BayesianSampling(Validated):
    """Bayesian optimisation (Azure documents no seed; imgtune's comes from ``compile``)."""

    type: ClassVar[str] = "bayesian"


SamplingAlgorithm = Union[RandomSampling, GridSampling, BayesianSampling]
SAMPLING_ALGORITHMS: dict[str, type] = {c.type: c for c in (RandomSampling, GridSampling, BayesianSampling)}
register_union(SamplingAlgorithm, SAMPLING_ALGORITHMS)


def _unstructure_sampling(sampling: Any) -> Any:
    """Azure's short form, ``sampling_algorithm: random``, when nothing else is set."""
    if type(sampling) in (GridSampling, BayesianSampling) or sampling == RandomSampling():
        return sampling.type
    return unstructure_fields(sampling)


for _cls in SAMPLING_ALGORITHMS.values():
    register_unstructure(_cls, _unstructure_sampling)


def _policy_field(name: str, default: Any = None) -> Any:
    spec = POLICY_FIELDS[name]
    return attrs.field(default=default, converter=spec.convert, metadata={"spec": spec})


@attrs.frozen(kw_only=True)
class BanditPolicy(Validated):
    """Stop trials that fall behind the best one by more than a slack.

    Exactly one of ``slack_factor`` and ``slack_amount``: the record takes exactly what
    it is given. Azure's SDK writes both, with ``0.0`` for the unused one; YAML read by
    :mod:`imgtune.serialization` drops that zero (:mod:`imgtune.serialization.azure_quirks`).
    ``evaluation_interval: 0`` (the SDK's default) acts as 1.
    """

    type: ClassVar[str] = "bandit"
    slack_factor: float | None = _policy_field("slack_factor")
    slack_amount: float | None = _policy_field("slack_amount")
    evaluation_interval: int = _policy_field("evaluation_interval", 1)
    delay_evaluation: int = _policy_field("delay_evaluation", 0)

    def _check(self, checker: Checker) -> None:
        _check_specs(checker, self)
        if self.slack_factor is None and self.slack_amount is None:
            checker.add("slack_factor", "exactly one of slack_factor and slack_amount is required, got neither")
        elif self.slack_factor is not None and self.slack_amount is not None:
            checker.add("slack_amount", "exactly one of slack_factor and slack_amount is allowed, got both")


@attrs.frozen(kw_only=True)
class MedianStoppingPolicy(Validated):
    """Stop trials whose best value is below the median of running averages."""

    type: ClassVar[str] = "median_stopping"
    evaluation_interval: int = _policy_field("evaluation_interval", 1)
    delay_evaluation: int = _policy_field("delay_evaluation", 0)

    def _check(self, checker: Checker) -> None:
        _check_specs(checker, self)


@attrs.frozen(kw_only=True)
class TruncationSelectionPolicy(Validated):
    """Stop the lowest ``truncation_percentage`` percent of trials at each interval."""

    type: ClassVar[str] = "truncation_selection"
    truncation_percentage: int = _policy_field("truncation_percentage")
    evaluation_interval: int = _policy_field("evaluation_interval", 1)
    delay_evaluation: int = _policy_field("delay_evaluation", 0)

    def _check(self, checker: Checker) -> None:
        _check_specs(checker, self)
        if self.truncation_percentage is None:
            checker.add("truncation_percentage", "is required")


EarlyTerminationPolicy = Union[BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy]
POLICIES: dict[str, type] = {c.type: c for c in (BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy)}
register_union(EarlyTerminationPolicy, POLICIES)


def _to_sampling(value: Any) -> Any:
    if isinstance(value, str):
        kind = SamplingAlgorithmType.parse(value)
        cls = SAMPLING_ALGORITHMS[kind.value] if kind is not None else None
        if cls is None:
            hint = " (use {type: random, rule: sobol})" if value.strip().lower() == "sobol" else ""
            raise ValidationError([Problem("", f"must be one of random, grid, bayesian, got {value!r}{hint}")])
        return cls()
    if isinstance(value, Mapping):
        return structure(value, SamplingAlgorithm)
    if value is None or attrs.has(type(value)) and type(value) in SAMPLING_ALGORITHMS.values():
        return value
    raise ValidationError([Problem("", f"must be random, grid, bayesian or a mapping with a type, got {fmt(value)}")])


def to_policy(value: Any) -> Any:
    """The converter of ``early_termination`` fields: a policy record, or one built from a mapping."""
    if value is None or type(value) in POLICIES.values():
        return value
    if isinstance(value, Mapping):
        return structure(value, EarlyTerminationPolicy)
    raise ValidationError([Problem("", f"must be an early-termination policy or a mapping, got {fmt(value)}")])


@attrs.frozen(kw_only=True)
class Sweep(Validated):
    """How trials are chosen (``sampling_algorithm``) and stopped early (``early_termination``).

    The job checks the rules that involve the search space, and that Bayesian
    sampling takes no early-termination policy.
    """

    sampling_algorithm: SamplingAlgorithm = attrs.field(default=None, converter=lenient(_to_sampling))
    early_termination: EarlyTerminationPolicy | None = attrs.field(default=None, converter=lenient(to_policy))

    def _check(self, checker: Checker) -> None:
        if self.sampling_algorithm is None:
            checker.add("sampling_algorithm", "is required: random, grid or bayesian")


# --------------------------------------------------------------------------- training parameters
def _tp_fields() -> dict[str, Any]:
    return {name: _spec_field(spec) for name, spec in TRAINING_PARAMETERS.items()}


def _check_crops(checker: Checker, path: str, model: Any, train_crop: Any, val_crop: Any, resize: Any,
                 freeze: Any = None) -> None:
    values = dict(zip(CROSS_FIELD_KEYS, (model, train_crop, val_crop, resize, freeze)))
    for field, message in cross_field_problems(values):
        checker.add(path + field, message)


@attrs.frozen(kw_only=True)
class _TrainingParametersBase(Validated):
    def _check(self, checker: Checker) -> None:
        _check_specs(checker, self)
        _check_crops(checker, "", self.model_name, self.training_crop_size, self.validation_crop_size,
                     self.validation_resize_size, self.layers_to_freeze)

    def set_fields(self) -> dict[str, Any]:
        """The fields that are not ``None``, by name."""
        return {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}


TrainingParameters = attrs.make_class(
    "TrainingParameters", _tp_fields(), bases=(_TrainingParametersBase,), frozen=True, kw_only=True)
TrainingParameters.__module__ = __name__
TrainingParameters.__doc__ = """The 34 training parameters (Azure's ``ImageModelSettingsClassification``).

Every field defaults to ``None``, meaning "the default", which ``compile``
resolves per model and task; the record keeps what the user wrote. Types and
ranges are in :data:`imgtune.spec.fields.TRAINING_PARAMETERS` and the generated
table in ``docs/training-parameters.md``. Enum fields accept any Azure casing.
``model_name`` is one of Azure's twelve built-in names.
"""


# --------------------------------------------------------------------------- search space
_RANGED = (Uniform, LogUniform, QUniform, QLogUniform)
_INT_OK = (Randint, QUniform, QLogUniform) + tuple(DISTRIBUTIONS[t] for t in ("qnormal", "qlognormal"))


def _search_value(spec: FieldSpec):
    def build(value: Any) -> Any:
        if value is None or isinstance(value, Invalid):
            return value
        if isinstance(value, Choice):
            converted = tuple(spec.convert(v) for v in value.values)
            return value if converted == value.values and all(
                type(a) is type(b) for a, b in zip(converted, value.values)) else Choice(values=converted)
        if isinstance(value, Distribution):
            return value
        if isinstance(value, Mapping):
            return build(structure(value, Distribution))
        return spec.convert(value)

    return lenient(build)


def _check_search_value(checker: Checker, name: str, spec: FieldSpec, value: Any) -> None:
    if not isinstance(value, Distribution):
        message = spec.check(value)
        if message:
            checker.add(name, message)
        return
    if isinstance(value, Choice):
        for i, v in enumerate(value.values):
            message = spec.check(v)
            if message:
                checker.add(f"{name}.values[{i}]", message)
        return
    kind = spec.kind
    if kind in (Kind.BOOL, Kind.STR, Kind.ENUM):
        checker.add(name, f"takes a {spec.type_text()} value or a choice, got {value.type}")
        return
    if kind is Kind.INT:
        if not isinstance(value, _INT_OK):
            checker.add(name, f"is an integer field: takes randint, quniform, qloguniform, qnormal or "
                              f"qlognormal with integer arguments, or a choice; got {value.type}")
            return
        for arg, v in value.numeric_args().items():
            if not is_int(v):
                checker.add(f"{name}.{arg}", f"must be an integer on the integer field {name}, got {fmt(v)}")
    _check_support(checker, name, spec, value)


def _check_support(checker: Checker, name: str, spec: FieldSpec, value: Distribution) -> None:
    """Bounded distributions must stay within the field's range (the normal family
    is unbounded: out-of-range draws are drawn again by ``compile``)."""
    import math

    if isinstance(value, Randint):
        ends = {"upper": value.upper - 1} if is_int(value.upper) else {}
    elif isinstance(value, _RANGED):
        ends = {"min_value": value.min_value, "max_value": value.max_value}
    else:
        return
    for arg, end in ends.items():
        if not is_number(end):
            continue
        shown = end
        if isinstance(value, (LogUniform, QLogUniform)):
            if end > 700:
                checker.add(f"{name}.{arg}", f"is an exponent: exp({end}) overflows")
                continue
            shown = math.exp(end)
        if spec.kind in (Kind.FLOAT, Kind.INT) and spec.allowed is None and not spec.in_range(shown):
            where = f"exp({end}) = {shown:.6g}" if shown is not end else f"{end}"
            extra = " (loguniform bounds are exponents)" if shown is not end else ""
            checker.add(f"{name}.{arg}", f"must lie {spec.range_text()}: {where}{extra}")


def _ss_fields() -> dict[str, Any]:
    return {name: attrs.field(default=None, converter=_search_value(spec), metadata={"spec": spec})
            for name, spec in SEARCHABLE.items()}


@attrs.frozen(kw_only=True)
class _SearchSpaceBase(Validated):
    def _check(self, checker: Checker) -> None:
        for name, spec in SEARCHABLE.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, Invalid):
                _check_search_value(checker, name, spec, value)
        _check_crops(checker, "", _fixed(self.model_name), _fixed(self.training_crop_size),
                     _fixed(self.validation_crop_size), _fixed(self.validation_resize_size),
                     _fixed(self.layers_to_freeze))

    def set_fields(self) -> dict[str, Any]:
        """The fields that are not ``None``, by name."""
        return {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}

    def distributions(self) -> dict[str, Distribution]:
        """The fields that are searched (given as a distribution), by name."""
        return {k: v for k, v in self.set_fields().items() if isinstance(v, Distribution)}


def _fixed(value: Any) -> Any:
    """A scalar, or the single value of a one-value choice; else ``None``."""
    if isinstance(value, Choice) and len(value.values) == 1:
        return value.values[0]
    return None if isinstance(value, Distribution) else value


SearchSpace = attrs.make_class("SearchSpace", _ss_fields(), bases=(_SearchSpaceBase,), frozen=True, kw_only=True)
SearchSpace.__module__ = __name__
SearchSpace.__doc__ = """One subspace of a search space (the 31 searchable training parameters).

Each field is ``None`` (not searched), a fixed value, or a distribution, with
the fact sheet's per-type rules: float fields take every distribution; integer
fields take an int, a choice of ints, ``randint`` or a ``q*`` distribution with
integer arguments; bool, string and enum fields take a value or a ``choice``.
A job's ``search_space`` is a tuple of these (conditional subspaces).
"""


# --------------------------------------------------------------------------- the job
def _to_search_space(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, (SearchSpace, Mapping)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return (Invalid(value, (Problem("", f"must be a list of subspaces, got {fmt(value)}"),)),)
    build = record_converter(SearchSpace)
    return tuple(build(v) for v in value)


def _to_outputs(value: Any) -> Any:
    if value is None:
        return FrozenMap()
    if not isinstance(value, Mapping):
        raise ValidationError([Problem("", f"must be a mapping of output names, got {fmt(value)}")])
    build = record_converter(Output)
    built = {k: build(v) for k, v in value.items()}
    problems = [p.prefixed(str(k)) for k, v in built.items() if isinstance(v, Invalid) for p in v.problems]
    if problems:
        raise ValidationError(problems)
    return FrozenMap(built)


def _to_map(value: Any) -> Any:
    if value is None:
        return FrozenMap()
    if not isinstance(value, Mapping):
        raise ValidationError([Problem("", f"must be a mapping, got {fmt(value)}")])
    return freeze(value)


def _free(value: Any) -> Any:
    """Azure-only values are kept as written (frozen)."""
    return freeze(value)


def _default_metric(self: Any) -> PrimaryMetric:
    return type(self).DEFAULT_METRIC


def _job_field(spec: FieldSpec) -> Any:
    return attrs.field(default=None, converter=spec.convert, metadata={"spec": spec})


@attrs.frozen(kw_only=True)
class ImageClassificationJobBase(Validated):
    """What both image-classification jobs share. Use a subclass.

    Every top-level key of Azure's ``type: automl`` image-classification YAML is
    a field (``$schema`` is ``schema``); Azure-only keys (``resources``,
    ``identity``, ``environment_id``, ``environment_variables``,
    ``queue_settings``, ``services``) are kept and written back, unused locally.
    ``base_path`` is where the YAML was loaded from; it is not part of equality.
    """

    TASK: ClassVar[TaskType]
    DEFAULT_METRIC: ClassVar[PrimaryMetric]
    METRICS: ClassVar[tuple[PrimaryMetric, ...]]

    schema: str | None = attrs.field(default=None, metadata={"key": "$schema"})
    name: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None
    description: str | None = None
    tags: FrozenMap = attrs.field(factory=FrozenMap, converter=lenient(_to_map))
    properties: FrozenMap = attrs.field(factory=FrozenMap, converter=lenient(_to_map))
    compute: str | None = None
    log_verbosity: LogVerbosity = attrs.field(default=LogVerbosity.INFO,
                                              converter=LogVerbosity.parse_or_keep)
    primary_metric: PrimaryMetric = attrs.field(default=attrs.Factory(_default_metric, takes_self=True),
                                                converter=PrimaryMetric.parse_or_keep)
    target_column_name: str = None
    training_data: Input = attrs.field(default=None, converter=record_converter(Input))
    validation_data: Input | None = attrs.field(default=None, converter=record_converter(Input))
    validation_data_size: float | None = _job_field(JOB_FIELDS["validation_data_size"])
    test_data: Input | None = attrs.field(default=None, converter=record_converter(Input))
    test_data_size: float | None = _job_field(JOB_FIELDS["test_data_size"])
    limits: Limits = attrs.field(factory=Limits, converter=record_converter(Limits))
    training_parameters: TrainingParameters = attrs.field(factory=TrainingParameters,
                                                          converter=record_converter(TrainingParameters))
    sweep: Sweep | None = attrs.field(default=None, converter=record_converter(Sweep))
    search_space: tuple[SearchSpace, ...] = attrs.field(default=(), converter=_to_search_space)
    outputs: FrozenMap = attrs.field(factory=FrozenMap, converter=lenient(_to_outputs))
    resources: Any = attrs.field(default=None, converter=_free)
    identity: Any = attrs.field(default=None, converter=_free)
    environment_id: Any = None
    environment_variables: Any = attrs.field(default=None, converter=_free)
    queue_settings: Any = attrs.field(default=None, converter=_free)
    services: Any = attrs.field(default=None, converter=_free)
    base_path: str | None = attrs.field(default=None, eq=False, repr=False, metadata={"dump": False},
                                        converter=lambda v: None if v is None else str(v))

    # -- read-only views ---------------------------------------------------
    @property
    def type(self) -> str:
        """Always ``"automl"``."""
        return "automl"

    @property
    def task_type(self) -> TaskType:
        """``image_classification`` or ``image_classification_multilabel``."""
        return self.TASK

    @property
    def multilabel(self) -> bool:
        """Whether each image may have several labels."""
        return self.TASK is TaskType.IMAGE_CLASSIFICATION_MULTILABEL

    @property
    def inputs(self) -> dict[str, Input]:
        """The data inputs that are set, by field name."""
        return {k: v for k in ("training_data", "validation_data", "test_data")
                if (v := getattr(self, k)) is not None}

    # -- validation ----------------------------------------------------------
    def _check(self, checker: Checker) -> None:
        _opt_str(checker, self, "schema", "name", "display_name", "experiment_name", "description", "compute",
                 "environment_id")
        if not isinstance(self.log_verbosity, LogVerbosity):
            checker.add("log_verbosity", f"must be one of {', '.join(LogVerbosity.values())}, "
                                         f"got {fmt(self.log_verbosity)}")
        for name in ("tags", "properties"):
            for key, value in getattr(self, name).items() if isinstance(getattr(self, name), Mapping) else ():
                if not isinstance(key, str):
                    checker.add(name, f"keys must be strings (as in Azure), got {fmt(key)}")
                elif value is not None and not isinstance(value, str):
                    checker.add(f"{name}.{key}", f"must be a string (as in Azure; quote it), got {fmt(value)}")
        self._check_metric(checker)
        if self.target_column_name is None:
            checker.add("target_column_name", "is required (usually 'label')")
        elif not isinstance(self.target_column_name, str) or not self.target_column_name:
            checker.add("target_column_name", f"must be a non-empty string, got {fmt(self.target_column_name)}")
        if self.training_data is None:
            checker.add("training_data", "is required: {path: ..., type: mltable}")
        for name in ("validation_data_size", "test_data_size"):
            message = JOB_FIELDS[name].check(getattr(self, name))
            if message:
                checker.add(name, message)
        for data, size in (("validation_data", "validation_data_size"), ("test_data", "test_data_size")):
            if getattr(self, data) is not None and getattr(self, size) is not None:
                checker.add(size, f"cannot be set together with {data}; give one of them")
        v, t = self.validation_data_size, self.test_data_size
        if is_number(v) and is_number(t) and 0 < v < 1 and 0 < t < 1 and v + t >= 1:
            checker.add("test_data_size", f"plus validation_data_size must be < 1, got {t} + {v}")
        if not any(isinstance(getattr(self, k), Invalid) for k in ("sweep", "training_parameters")):
            self._check_sweep(checker)

    def _check_metric(self, checker: Checker) -> None:
        metric = self.primary_metric
        if not isinstance(metric, PrimaryMetric):
            allowed = ", ".join(m.value for m in self.METRICS)
            checker.add("primary_metric", f"must be one of {allowed}, got {fmt(metric)}")
        elif metric not in self.METRICS:
            checker.add("primary_metric", f"{metric.value} is only for multilabel jobs "
                                          f"(task image_classification_multilabel)")

    def _check_sweep(self, checker: Checker) -> None:
        spaces = [s for s in self.search_space if not isinstance(s, Invalid)]
        sampling = self.sweep.sampling_algorithm if self.sweep is not None else None
        if self.search_space and sampling is None and not isinstance(self.sweep, Invalid):
            checker.add("sweep.sampling_algorithm", "is required when search_space is given")
        if isinstance(sampling, BayesianSampling) and self.sweep.early_termination is not None:
            checker.add("sweep.early_termination",
                        "is not supported with bayesian sampling (as in Azure); remove it")
        for i, space in enumerate(self.search_space):
            if isinstance(space, Invalid):
                continue
            for name, dist in space.distributions().items():
                path = f"search_space[{i}].{name}"
                if isinstance(sampling, GridSampling) and not isinstance(dist, Choice):
                    checker.add(path, f"grid sampling takes only choice, got {dist.type}")
                if isinstance(sampling, BayesianSampling) and not isinstance(dist, (Choice, Uniform, QUniform)):
                    checker.add(path, f"bayesian sampling takes only choice, uniform and quniform, got {dist.type}")
        if isinstance(sampling, BayesianSampling) and len(self.search_space) > 1:
            checker.add("search_space", f"bayesian sampling takes one subspace (conditional spaces need random "
                                        f"or grid), got {len(self.search_space)}")
        tp = self.training_parameters
        for i, space in enumerate(spaces):
            model = _fixed(space.model_name) if space.model_name is not None else tp.model_name
            if isinstance(space.model_name, Choice) and all(m in VIT_MODELS for m in space.model_name.values):
                model = space.model_name.values[0]

            def pick(name: str) -> Any:
                value = getattr(space, name)
                return _fixed(value) if value is not None else getattr(tp, name)

            if any(getattr(space, n) is not None for n in
                   ("model_name", "training_crop_size", "validation_crop_size", "validation_resize_size",
                    "layers_to_freeze")):
                _check_crops(checker, f"search_space[{i}].", model, pick("training_crop_size"),
                             pick("validation_crop_size"), pick("validation_resize_size"), pick("layers_to_freeze"))


def _job_class(name: str, task: TaskType, default: PrimaryMetric, metrics: tuple, doc: str) -> type:
    cls = attrs.make_class(name, {}, bases=(ImageClassificationJobBase,), frozen=True, kw_only=True)
    cls.TASK, cls.DEFAULT_METRIC, cls.METRICS = task, default, metrics
    cls.__module__ = __name__
    cls.__doc__ = doc
    return cls


ImageClassificationJob = _job_class(
    "ImageClassificationJob", TaskType.IMAGE_CLASSIFICATION, PrimaryMetric.ACCURACY, CLASSIFICATION_METRICS,
    """A multiclass image-classification job (``task: image_classification``).

    Example:
        >>> job = ImageClassificationJob(
        ...     training_data={"path": "data/train", "type": "mltable"},
        ...     target_column_name="label",
        ...     limits={"max_trials": 4},
        ... )
        >>> job.primary_metric.value, job.limits.max_trials, job.task_type.value
        ('accuracy', 4, 'image_classification')
    """,
)
ImageClassificationMultilabelJob = _job_class(
    "ImageClassificationMultilabelJob", TaskType.IMAGE_CLASSIFICATION_MULTILABEL, PrimaryMetric.IOU,
    MULTILABEL_METRICS,
    """A multilabel image-classification job (``task: image_classification_multilabel``); the default
    primary metric is ``iou``.""",
)

JOB_CLASSES: dict[TaskType, type] = {c.TASK: c for c in (ImageClassificationJob, ImageClassificationMultilabelJob)}


def _unstructure_job(job: ImageClassificationJobBase) -> dict[str, Any]:
    """A job in Azure's shape: ``$schema``, ``type: automl`` and ``task`` first, then its fields."""
    head: dict[str, Any] = {} if job.schema is None else {"$schema": job.schema}
    head |= {"type": "automl", "task": job.TASK.value}
    return head | {k: v for k, v in unstructure_fields(job).items() if k != "$schema"}


register_unstructure(ImageClassificationJobBase, _unstructure_job)
