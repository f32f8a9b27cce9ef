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

import operator
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypedDict, Union

import attrs

from imgtune.errors import Problem, ValidationError, closest, join_path
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
    AzureEnum,
    InputType,
    LearningRateScheduler,
    LogVerbosity,
    Optimizer,
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
from imgtune.spec.models import is_custom_model, is_vit
from imgtune.spec.rules import CROSS_FIELD_KEYS, cross_field_problems

__all__ = [
    "EXTRA_PARAMETERS",
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
    "ResolvedTrainingParameters",
    "SamplingAlgorithm",
    "SearchSpace",
    "Sweep",
    "TrainingParameterValues",
    "TrainingParameters",
    "TruncationSelectionPolicy",
    "extra_parameter_problems",
]


# --------------------------------------------------------------------------- helpers
# Typed converters: type checkers read a field's accepted input from its converter's
# parameter. At run time each does what FieldSpec.convert does for its kind: a value it
# cannot normalise is kept as given, for the record's checks to report.
def _to_float(value: float | None) -> float | None:
    if type(value) is float or value is None:
        return value
    return float(value) if is_number(value) else value


def _to_int(value: int | None) -> int | None:
    if type(value) is int or value is None:
        return value
    return int(value) if is_int(value) else value


def _to_float_resolved(value: float) -> float:
    return _to_float(value)  # type: ignore[return-value]  # never None: the field is required


def _to_int_resolved(value: int) -> int:
    return _to_int(value)  # type: ignore[return-value]  # never None: the field is required


def _spec_field(spec: FieldSpec) -> Any:
    return attrs.field(default=None, converter=_to_int if spec.kind is Kind.INT else _to_float,
                       metadata={"spec": spec})


_SPECS: dict[type, tuple[tuple[tuple[str, Any], ...], Any]] = {}


def _check_specs(checker: Checker, record: Any) -> None:
    cls = type(record)
    cached = _SPECS.get(cls)
    if cached is None:  # once per class: the fields that have a spec, with its check, and their getter
        specs = tuple((a.name, a.metadata["spec"].check) for a in attrs.fields(cls)
                      if a.metadata.get("spec") is not None)
        getter = operator.attrgetter(*(name for name, _ in specs)) if len(specs) > 1 else None
        cached = _SPECS[cls] = (specs, getter)
    specs, getter = cached
    values = getter(record) if getter is not None else tuple(getattr(record, name) for name, _ in specs)
    for (name, check), value in zip(specs, values):
        if value is not None and not isinstance(value, Invalid):
            message = check(value)
            if message:
                checker.add(name, message)


def _opt_str(checker: Checker, record: Any, *names: str) -> None:
    for name in names:
        value = getattr(record, name)
        if value is not None and not isinstance(value, str):
            checker.add(name, f"must be a string, got {fmt(value)}")


# --------------------------------------------------------------------------- data
def _to_input_type(value: InputType | str) -> InputType:
    return InputType.parse_or_keep(value)  # type: ignore[return-value]  # a bad value is reported by the checks


#: azure-ai-ml's ``InputOutputModes`` an input may name (kept, unused locally).
INPUT_MODES = ("ro_mount", "rw_mount", "mount", "download", "direct", "eval_mount", "eval_download", "upload")


@attrs.frozen(kw_only=True)
class Input(Validated):
    """A data input: ``path`` and ``type``.

    ``mltable`` (an ``MLTable`` file beside a JSONL manifest) is Azure's type;
    ``uri_file`` (a bare JSONL manifest) and ``uri_folder`` (an image folder with
    one sub-folder per class) are imgtune's local extensions. The path is kept
    exactly as written (Azure's SDK adds an ``azureml:`` prefix on dump; imgtune
    does not), and a relative path resolves against the job's ``base_path``.

    Example:
        >>> Input(path="data/train", type="UriFolder").type.value
        'uri_folder'
        >>> Input(path="")
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem in Input:
          path: must be a non-empty string, got ''
    """

    path: str = None  # type: ignore[assignment]  # required: reported by the checks
    """The data: a folder or file (local, relative to the job file) or an ``azureml://`` URL."""
    type: InputType = attrs.field(default=InputType.MLTABLE, converter=_to_input_type)
    """``mltable`` (default), ``uri_file`` or ``uri_folder``, in any casing."""
    mode: str | None = None
    """Azure's mount mode, one of :data:`INPUT_MODES` (kept, unused locally)."""
    description: str | None = None
    """Free text."""

    def _check(self, checker: Checker) -> None:
        if self.path is None:
            checker.add("path", "is required")
        elif not isinstance(self.path, str) or not self.path.strip():
            checker.add("path", f"must be a non-empty string, got {fmt(self.path)}")
        if not isinstance(self.type, InputType):
            checker.add("type", f"must be one of {', '.join(InputType.values())}, got {fmt(self.type)}")
        _opt_str(checker, self, "description")
        if self.mode is not None and self.mode not in INPUT_MODES:
            hint = closest(str(self.mode), INPUT_MODES)
            extra = f" (did you mean {hint!r}?)" if hint else ""
            checker.add("mode", f"must be one of {', '.join(INPUT_MODES)}, got {fmt(self.mode)}{extra}")


@attrs.frozen(kw_only=True)
class Output(Validated):
    """A job output, e.g. ``best_model: {type: mlflow_model}`` (kept, written back).

    Example:
        >>> Output(type="mlflow_model", path="azureml://datastores/x/paths/model")
        Output(path='azureml://datastores/x/paths/model')
    """

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

    Example:
        >>> Limits(max_trials=20, max_concurrent_trials=4)
        Limits(max_trials=20, max_concurrent_trials=4)
    """

    max_trials: int | None = _spec_field(LIMITS["max_trials"])
    max_concurrent_trials: int | None = _spec_field(LIMITS["max_concurrent_trials"])
    timeout_minutes: int | None = _spec_field(LIMITS["timeout_minutes"])

    def _check(self, checker: Checker) -> None:
        _check_specs(checker, self)


# --------------------------------------------------------------------------- sweep
def _to_random_rule(value: RandomRule | str | None) -> RandomRule | None:
    return RandomRule.parse_or_keep(value)  # type: ignore[return-value]  # a bad value is reported by the checks


@attrs.frozen(kw_only=True)
class RandomSampling(Validated):
    """Random sampling; ``rule: sobol`` uses a scrambled Sobol sequence.

    Example:
        >>> RandomSampling(rule="sobol", seed=7)
        RandomSampling(seed=7, rule='sobol')
    """

    type: ClassVar[str] = "random"
    seed: int | None = None
    """The seed of the draws; ``None``: the plan's seed (``compile(job, seed=...)``)."""
    rule: RandomRule | None = attrs.field(default=None, converter=_to_random_rule)
    """``random`` (default) or ``sobol``."""
    logbase: float | str | None = None
    """The base of log-scale draws (``loguniform`` draws ``logbase ** U(min, max)``): a positive number other
    than 1, or ``'e'`` (the default)."""

    def _check(self, checker: Checker) -> None:
        if self.seed is not None and not (is_int(self.seed) and 0 <= self.seed < 2**32):
            checker.add("seed", f"must be an integer in [0, 4294967295], got {fmt(self.seed)}")
        if self.rule is not None and not isinstance(self.rule, RandomRule):
            checker.add("rule", f"must be one of random, sobol, got {fmt(self.rule)}")
        if self.logbase is not None and not (self.logbase == "e" or (is_number(self.logbase) and self.logbase > 0
                                                                     and self.logbase != 1)):
            checker.add("logbase", f"must be a positive number other than 1, or 'e', got {fmt(self.logbase)}")


@attrs.frozen(kw_only=True)
class GridSampling(Validated):
    """Grid sampling over the ``choice`` values.

    Example:
        >>> Sweep(sampling_algorithm="grid").sampling_algorithm
        GridSampling()
    """

    type: ClassVar[str] = "grid"


@attrs.frozen(kw_only=True)
class BayesianSampling(Validated):
    """Bayesian optimisation (Azure documents no seed; imgtune's comes from ``compile``).

    Example:
        >>> Sweep(sampling_algorithm={"type": "bayesian"}).sampling_algorithm
        BayesianSampling()
    """

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

    Example:
        >>> BanditPolicy(slack_factor=0.2, evaluation_interval=2, delay_evaluation=6)
        BanditPolicy(slack_factor=0.2, evaluation_interval=2, delay_evaluation=6)
        >>> BanditPolicy(slack_factor=0.2, slack_amount=0.1)
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem in BanditPolicy:
          slack_amount: exactly one of slack_factor and slack_amount is allowed, got both
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
    """Stop trials whose best value is below the median of running averages.

    Example:
        >>> MedianStoppingPolicy(delay_evaluation=5)
        MedianStoppingPolicy(delay_evaluation=5)
    """

    type: ClassVar[str] = "median_stopping"
    evaluation_interval: int = _policy_field("evaluation_interval", 1)
    delay_evaluation: int = _policy_field("delay_evaluation", 0)

    def _check(self, checker: Checker) -> None:
        _check_specs(checker, self)


@attrs.frozen(kw_only=True)
class TruncationSelectionPolicy(Validated):
    """Stop the lowest ``truncation_percentage`` percent of trials at each interval.

    Example:
        >>> TruncationSelectionPolicy(truncation_percentage=20, evaluation_interval=1)
        TruncationSelectionPolicy(truncation_percentage=20)
    """

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


_LENIENT_SAMPLING = lenient(_to_sampling)
_LENIENT_POLICY = lenient(to_policy)


def _sampling_field(value: SamplingAlgorithm | str | Mapping[str, Any] | None) -> SamplingAlgorithm:
    return _LENIENT_SAMPLING(value)  # type: ignore[no-any-return]


def _policy_field_value(value: EarlyTerminationPolicy | Mapping[str, Any] | None) -> EarlyTerminationPolicy | None:
    return _LENIENT_POLICY(value)  # type: ignore[no-any-return]


@attrs.frozen(kw_only=True)
class Sweep(Validated):
    """How trials are chosen (``sampling_algorithm``) and stopped early (``early_termination``).

    The job checks the rules that involve the search space, and that Bayesian
    sampling takes no early-termination policy.

    Example:
        >>> Sweep(sampling_algorithm="random", early_termination={"type": "median_stopping"})
        Sweep(sampling_algorithm=RandomSampling(), early_termination=MedianStoppingPolicy())
    """

    sampling_algorithm: SamplingAlgorithm = attrs.field(default=None, converter=_sampling_field)
    """``random``, ``grid`` or ``bayesian`` (text, a mapping with a ``type``, or a record). Required."""
    early_termination: EarlyTerminationPolicy | None = attrs.field(default=None, converter=_policy_field_value)
    """``None`` (no early termination) or a policy (a record or a mapping with a ``type``)."""

    def _check(self, checker: Checker) -> None:
        if self.sampling_algorithm is None:
            checker.add("sampling_algorithm", "is required: random, grid or bayesian")


# --------------------------------------------------------------------------- training parameters
def _check_crops(checker: Checker, path: str, model: Any, train_crop: Any, val_crop: Any, resize: Any,
                 freeze: Any = None) -> None:
    if model is None and train_crop is None and val_crop is None and resize is None and freeze is None:
        return  # nothing set: no rule to break
    values = dict(zip(CROSS_FIELD_KEYS, (model, train_crop, val_crop, resize, freeze)))
    for field, message in cross_field_problems(values):
        checker.add(path + field, message)


#: The YAML key of one's own hyperparameters (top level of the job, in a trial's parameters and in each
#: search-space entry), beyond Azure's schema: see :func:`extra_parameter_problems`.
EXTRA_PARAMETERS = "extra_parameters"
_SCALARS = (bool, int, float, str)


def _extra_value(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, Distribution):
        return structure(value, Distribution)
    return value  # a scalar, or reported by the checks


@lenient
def _to_extra(value: Mapping[str, Any] | None) -> FrozenMap | None:
    """One's own hyperparameters: ``None`` when there are none (so a record without them is unchanged)."""
    if value is None or (isinstance(value, Mapping) and not value):
        return None
    if not isinstance(value, Mapping):
        return value  # reported by the checks
    out, problems = {}, []
    for k, v in value.items():
        try:
            out[k] = _extra_value(v)
        except ValidationError as err:  # a bad distribution: every problem, under its name
            problems += [Problem(join_path(str(k), p.path), p.message, line=p.line, column=p.column)
                         for p in err.problems]
    if problems:
        raise ValidationError(problems)
    return FrozenMap(out)


def extra_parameter_problems(value: Any, *, searched: bool = False) -> list[tuple[str, str]]:
    """``(key, message)`` for each rule one's own hyperparameters break.

    Names are Python identifiers that are not Azure's training parameters; values are scalars
    (bool, int, float, str), or, in a search space (``searched``), distributions of them.

    Example:
        >>> extra_parameter_problems({"mixup_alpha": 0.2, "learning_rate": 0.1, "2x": [1]})
        [('learning_rate', "is one of Azure's training parameters: set it in training_parameters"), \
('2x', 'is not a valid name (a Python identifier)'), ('2x', 'must be a scalar (bool, int, float or str), got list')]
    """
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [("", f"must be a mapping of names to values, got {fmt(value)}")]
    out = []
    for name, v in value.items():
        key = str(name)
        if not isinstance(name, str) or not name.isidentifier():
            out.append((key, "is not a valid name (a Python identifier)"))
        elif name in TRAINING_PARAMETERS:
            out.append((key, "is one of Azure's training parameters: set it in training_parameters"))
        if searched and isinstance(v, Choice):
            for i, c in enumerate(v.values):
                if not isinstance(c, _SCALARS):
                    message = f"must be a scalar (bool, int, float or str), got {type(c).__name__}"
                    out.append((f"{key}.values[{i}]", message))
        elif searched and isinstance(v, Distribution):
            pass
        elif not isinstance(v, _SCALARS):
            what = "a scalar (bool, int, float or str)" + (" or a distribution" if searched else "")
            out.append((key, f"must be {what}, got {type(v).__name__}"))
    return out


def _check_extra(checker: Checker, path: str, value: Any, *, searched: bool = False) -> None:
    if isinstance(value, Invalid):
        return
    for key, message in extra_parameter_problems(value, searched=searched):
        checker.add(join_path(path, key) if key else path, message)


@attrs.frozen(kw_only=True)
class _TrainingParametersBase(Validated):
    extra_parameters: FrozenMap | None = attrs.field(default=None, converter=_to_extra)
    """One's own hyperparameters beyond Azure's schema, by name (``None``: none). A job sets them at its
    top level (``extra_parameters:``) and in search-space entries; each trial's resolved parameters carry
    their values, for a custom trial function (``context.trial.parameters.extra_parameters``)."""

    def _check(self, checker: Checker) -> None:
        _check_specs(checker, self)
        _check_extra(checker, EXTRA_PARAMETERS, self.extra_parameters)
        _check_crops(checker, "", self.model_name, self.training_crop_size, self.validation_crop_size,
                     self.validation_resize_size, self.layers_to_freeze)

    def set_fields(self) -> dict[str, Any]:
        """The fields that are not ``None``, by name.

        >>> TrainingParameters(learning_rate=0.01).set_fields()
        {'learning_rate': 0.01}
        """
        return {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}

    def flat_fields(self) -> dict[str, Any]:
        """Every Azure field by name (``None`` where unset), then one's own hyperparameters as
        ``extra_parameters.<name>``: one column each in the data frames.

        >>> p = TrainingParameters(learning_rate=0.01, extra_parameters={"alpha": 0.2})
        >>> flat = p.flat_fields()
        >>> flat["learning_rate"], flat["extra_parameters.alpha"], "extra_parameters" in flat
        (0.01, 0.2, False)
        """
        out = {a.name: getattr(self, a.name) for a in attrs.fields(type(self)) if a.name != EXTRA_PARAMETERS}
        if isinstance(self.extra_parameters, Mapping):
            out.update((f"{EXTRA_PARAMETERS}.{k}", v) for k, v in self.extra_parameters.items())
        return out

    # Resolved and unresolved parameters with the same values are equal (and hash alike).
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _TrainingParametersBase):
            return NotImplemented
        return attrs.astuple(self, recurse=False) == attrs.astuple(other, recurse=False)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(attrs.astuple(self, recurse=False))


# --------------------------------------------------------------------------- search space
_RANGED = (Uniform, LogUniform, QUniform, QLogUniform)
_INT_OK = (Randint, QUniform, QLogUniform) + tuple(DISTRIBUTIONS[t] for t in ("qnormal", "qlognormal"))


#: Per kind, the one type its values keep through ``FieldSpec.convert``: a choice of these is already converted.
_KEPT = {Kind.INT: int, Kind.FLOAT: float}


def _search_value(spec: FieldSpec):
    kept = _KEPT.get(spec.kind)
    unchanged = spec.kind in (Kind.BOOL, Kind.STR, Kind.JSON)  # FieldSpec.convert keeps these as given

    def build(value: Any) -> Any:
        if value is None or isinstance(value, Invalid):
            return value
        if isinstance(value, Choice):
            if unchanged or kept is not None and all(type(v) is kept for v in value.values):
                return value
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


_SEARCHABLE_VALUES = operator.attrgetter(*SEARCHABLE)  # a subspace's values, in SEARCHABLE's order, in one call


@attrs.frozen(kw_only=True)
class _SearchSpaceBase(Validated):
    extra_parameters: FrozenMap | None = attrs.field(default=None, converter=_to_extra)
    """One's own hyperparameters to search (or fix) in this subspace, by name: scalars or distributions
    (see :func:`extra_parameter_problems`). The samplers see them as ``extra_parameters.<name>``."""

    def _check(self, checker: Checker) -> None:
        for (name, spec), value in zip(SEARCHABLE.items(), _SEARCHABLE_VALUES(self)):
            if value is not None and not isinstance(value, Invalid):
                _check_search_value(checker, name, spec, value)
        _check_extra(checker, EXTRA_PARAMETERS, self.extra_parameters, searched=True)
        _check_crops(checker, "", _fixed(self.model_name), _fixed(self.training_crop_size),
                     _fixed(self.validation_crop_size), _fixed(self.validation_resize_size),
                     _fixed(self.layers_to_freeze))

    def set_fields(self) -> dict[str, Any]:
        """The fields that are not ``None``, by name; one's own hyperparameters as ``extra_parameters.<name>``."""
        out = {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}
        extra = out.pop(EXTRA_PARAMETERS, None)
        if isinstance(extra, Mapping):
            out.update((f"{EXTRA_PARAMETERS}.{k}", v) for k, v in extra.items())
        return out

    def distributions(self) -> dict[str, Distribution]:
        """The fields that are searched (given as a distribution), by name."""
        return {k: v for k, v in self.set_fields().items() if isinstance(v, Distribution)}


def _fixed(value: Any) -> Any:
    """A scalar, or the single value of a one-value choice; else ``None``."""
    if isinstance(value, Choice) and len(value.values) == 1:
        return value.values[0]
    return None if isinstance(value, Distribution) else value


_SEARCH_CONVERTERS = {name: _search_value(spec) for name, spec in SEARCHABLE.items()}


# BEGIN GENERATED by `python -m imgtune.spec.codegen` from imgtune.spec.fields: do not edit by hand
_TP = TRAINING_PARAMETERS


def _to_learning_rate_scheduler(value: LearningRateScheduler | str | None) -> LearningRateScheduler | None:
    if value is None:
        return None
    member = LearningRateScheduler.parse(value)
    return value if member is None else member  # type: ignore[return-value]  # reported by the checks


def _to_learning_rate_scheduler_resolved(value: LearningRateScheduler | str) -> LearningRateScheduler:
    return _to_learning_rate_scheduler(value)  # type: ignore[return-value]  # never None: the field is required


def _to_optimizer(value: Optimizer | str | None) -> Optimizer | None:
    if value is None:
        return None
    member = Optimizer.parse(value)
    return value if member is None else member  # type: ignore[return-value]  # reported by the checks


def _to_optimizer_resolved(value: Optimizer | str) -> Optimizer:
    return _to_optimizer(value)  # type: ignore[return-value]  # never None: the field is required


class TrainingParameterValues(TypedDict, total=False):
    """The keyword arguments of :func:`~imgtune.with_training_parameters`: any of the 34 parameters.

    Example:
        >>> values: TrainingParameterValues = {"learning_rate": 0.01, "optimizer": "adamw"}
        >>> TrainingParameters(**values).optimizer
        <Optimizer.ADAMW: 'adamw'>
    """

    advanced_settings: str | None
    ams_gradient: bool | None
    beta1: float | None
    beta2: float | None
    checkpoint_frequency: int | None
    checkpoint_run_id: str | None
    distributed: bool | None
    early_stopping: bool | None
    early_stopping_delay: int | None
    early_stopping_patience: int | None
    enable_onnx_normalization: bool | None
    evaluation_frequency: int | None
    gradient_accumulation_step: int | None
    layers_to_freeze: int | None
    learning_rate: float | None
    learning_rate_scheduler: LearningRateScheduler | str | None
    model_name: str | None
    momentum: float | None
    nesterov: bool | None
    number_of_epochs: int | None
    number_of_workers: int | None
    optimizer: Optimizer | str | None
    random_seed: int | None
    step_lr_gamma: float | None
    step_lr_step_size: int | None
    training_batch_size: int | None
    validation_batch_size: int | None
    warmup_cosine_lr_cycles: float | None
    warmup_cosine_lr_warmup_epochs: int | None
    weight_decay: float | None
    training_crop_size: int | None
    validation_crop_size: int | None
    validation_resize_size: int | None
    weighted_loss: int | None


@attrs.frozen(kw_only=True, eq=False, repr=False, slots=False)  # no slots: a faster __init__
class TrainingParameters(_TrainingParametersBase):
    """The 34 training parameters (Azure's ``ImageModelSettingsClassification``).

    Every field defaults to ``None``, meaning "the default", which ``compile``
    resolves per model and task (:class:`ResolvedTrainingParameters`); the record
    keeps what the user wrote. Types and ranges come from
    :data:`imgtune.spec.fields.TRAINING_PARAMETERS` (the table in
    ``docs/training-parameters.md``). Enum fields accept any Azure casing;
    ``model_name`` is one of Azure's twelve built-in names (checked when built).

    Example:
        >>> TrainingParameters(model_name="resnet18", optimizer="AdamW", learning_rate=0.01)
        TrainingParameters(learning_rate=0.01, model_name='resnet18', optimizer='adamw')
        >>> TrainingParameters(learning_rate=5.0)
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem in TrainingParameters:
          learning_rate: must be in [0, 1], got 5.0
    """

    advanced_settings: str | None = attrs.field(default=None, metadata={"spec": _TP["advanced_settings"]})
    """Extra settings as a JSON object (see below). Valid: a JSON object as text. Default: none (``None`` means the
    default)."""
    ams_gradient: bool | None = attrs.field(default=None, metadata={"spec": _TP["ams_gradient"]})
    """Use AMSGrad with adam or adamw. Default: false (``None`` means the default)."""
    beta1: float | None = attrs.field(default=None, converter=_to_float, metadata={"spec": _TP["beta1"]})
    """Adam/AdamW first-moment decay. Valid: in [0, 1]. Default: 0.9 (``None`` means the default)."""
    beta2: float | None = attrs.field(default=None, converter=_to_float, metadata={"spec": _TP["beta2"]})
    """Adam/AdamW second-moment decay. Valid: in [0, 1]. Default: 0.999 (``None`` means the default)."""
    checkpoint_frequency: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["checkpoint_frequency"]})
    """Checkpoint every N epochs (none: keep the best epoch by the primary metric). Valid: in [1, 10000]. Default:
    none (``None`` means the default)."""
    checkpoint_run_id: str | None = attrs.field(default=None, metadata={"spec": _TP["checkpoint_run_id"]})
    """A finished run whose best checkpoint to start from (incremental training). Default: none (``None`` means the
    default)."""
    distributed: bool | None = attrs.field(default=None, metadata={"spec": _TP["distributed"]})
    """Data-parallel training over all devices the trial is given. Default: false (``None`` means the default)."""
    early_stopping: bool | None = attrs.field(default=None, metadata={"spec": _TP["early_stopping"]})
    """Stop when the primary metric stops improving. Default: true (``None`` means the default)."""
    early_stopping_delay: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["early_stopping_delay"]})
    """Evaluations to wait before tracking improvement. Valid: in [1, 10000]. Default: 5 (``None`` means the
    default)."""
    early_stopping_patience: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["early_stopping_patience"]})
    """Evaluations without improvement before stopping. Valid: in [1, 10000]. Default: 5 (``None`` means the
    default)."""
    enable_onnx_normalization: bool | None = attrs.field(
        default=None, metadata={"spec": _TP["enable_onnx_normalization"]})
    """Bake ImageNet normalisation into the ONNX export. Default: false (``None`` means the default)."""
    evaluation_frequency: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["evaluation_frequency"]})
    """Evaluate every N epochs. Valid: in [1, 10000]. Default: 1 (``None`` means the default)."""
    gradient_accumulation_step: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["gradient_accumulation_step"]})
    """Batches whose gradients are summed per optimiser update. Valid: in [1, 4096]. Default: 1 (``None`` means the
    default)."""
    layers_to_freeze: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["layers_to_freeze"]})
    """Freeze the first N layer groups of the model. Valid: in [0, 1000]. Default: 0 (``None`` means the
    default)."""
    learning_rate: float | None = attrs.field(
        default=None, converter=_to_float, metadata={"spec": _TP["learning_rate"]})
    """Initial learning rate. Valid: in [0, 1]. Default: per model and task (``None`` means the default)."""
    learning_rate_scheduler: LearningRateScheduler | None = attrs.field(
        default=None, converter=_to_learning_rate_scheduler, metadata={"spec": _TP["learning_rate_scheduler"]})
    """Learning-rate schedule. Valid: one of none, warmup_cosine, step. Default: warmup_cosine (``None`` means the
    default)."""
    model_name: str | None = attrs.field(default=None, metadata={"spec": _TP["model_name"]})
    """Model architecture. Valid: one of mobilenetv2, resnet18, resnet34, resnet50, resnet101, resnet152, resnest50,
    resnest101, seresnext, vits16r224, vitb16r224, vitl16r224. Default: seresnext (``None`` means the default)."""
    momentum: float | None = attrs.field(default=None, converter=_to_float, metadata={"spec": _TP["momentum"]})
    """SGD momentum. Valid: in [0, 1]. Default: 0.9 (``None`` means the default)."""
    nesterov: bool | None = attrs.field(default=None, metadata={"spec": _TP["nesterov"]})
    """Nesterov momentum with sgd. Default: true (``None`` means the default)."""
    number_of_epochs: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["number_of_epochs"]})
    """Training epochs. Valid: in [1, 10000]. Default: 15 (``None`` means the default)."""
    number_of_workers: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["number_of_workers"]})
    """Image-decoding threads (0: decode in the training thread). Valid: in [0, 1024]. Default: 4 (capped at the
    cores a trial gets) (``None`` means the default)."""
    optimizer: Optimizer | None = attrs.field(
        default=None, converter=_to_optimizer, metadata={"spec": _TP["optimizer"]})
    """Optimiser. Valid: one of none, sgd, adam, adamw. Default: sgd (``None`` means the default)."""
    random_seed: int | None = attrs.field(default=None, converter=_to_int, metadata={"spec": _TP["random_seed"]})
    """Seed of weights, augmentation and order. Valid: in [0, 4294967295]. Default: the plan's seed (``None`` means
    the default)."""
    step_lr_gamma: float | None = attrs.field(
        default=None, converter=_to_float, metadata={"spec": _TP["step_lr_gamma"]})
    """Step schedule: factor per step. Valid: in [0, 1]. Default: 0.5 (``None`` means the default)."""
    step_lr_step_size: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["step_lr_step_size"]})
    """Step schedule: epochs per step. Valid: in [1, 10000]. Default: 5 (``None`` means the default)."""
    training_batch_size: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["training_batch_size"]})
    """Training batch size. Valid: in [1, 4096]. Default: 78 (ViT: per model) (``None`` means the default)."""
    validation_batch_size: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["validation_batch_size"]})
    """Validation batch size. Valid: in [1, 4096]. Default: 78 (ViT: per model) (``None`` means the default)."""
    warmup_cosine_lr_cycles: float | None = attrs.field(
        default=None, converter=_to_float, metadata={"spec": _TP["warmup_cosine_lr_cycles"]})
    """Cosine schedule: cycles over training. Valid: in [0, 1]. Default: 0.45 (``None`` means the default)."""
    warmup_cosine_lr_warmup_epochs: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["warmup_cosine_lr_warmup_epochs"]})
    """Cosine schedule: linear warm-up epochs. Valid: in [1, 10000]. Default: 2 (``None`` means the default)."""
    weight_decay: float | None = attrs.field(default=None, converter=_to_float, metadata={"spec": _TP["weight_decay"]})
    """Weight decay (L2 for sgd/adam, decoupled for adamw). Valid: in [0, 1]. Default: 1e-4 (``None`` means the
    default)."""
    training_crop_size: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["training_crop_size"]})
    """Training crop size in pixels. Valid: in [1, 1024]. Default: 224 (``None`` means the default)."""
    validation_crop_size: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["validation_crop_size"]})
    """Validation centre-crop size in pixels. Valid: in [1, 1024]. Default: 224 (``None`` means the default)."""
    validation_resize_size: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["validation_resize_size"]})
    """Validation resize (shorter side) before the centre crop. Valid: in [1, 2048]. Default: 256 (``None`` means
    the default)."""
    weighted_loss: int | None = attrs.field(default=None, converter=_to_int, metadata={"spec": _TP["weighted_loss"]})
    """0 none, 1 sqrt(class weights), 2 class weights. Valid: one of 0, 1, 2. Default: 0 (``None`` means the
    default)."""


@attrs.frozen(kw_only=True, eq=False, repr=False, slots=False)  # no slots: a faster __init__
class ResolvedTrainingParameters(TrainingParameters):
    """Training parameters with every default filled in, as ``compile`` makes them (``Trial.parameters``).

    Only ``checkpoint_frequency``, ``checkpoint_run_id`` may be ``None``, which is itself
    a setting. It equals a :class:`TrainingParameters` with the same values.

    Example:
        >>> from imgtune.compiler.defaults import resolve
        >>> p = resolve(TrainingParameters(model_name="resnet18"), {}, multilabel=False, seed=0)
        >>> type(p).__name__, p.learning_rate, p.optimizer.value
        ('ResolvedTrainingParameters', 0.01, 'sgd')
    """

    advanced_settings: str = attrs.field(metadata={"spec": _TP["advanced_settings"]})
    """Extra settings as a JSON object (see below). Valid: a JSON object as text. Resolved by ``compile``."""
    ams_gradient: bool = attrs.field(metadata={"spec": _TP["ams_gradient"]})
    """Use AMSGrad with adam or adamw. Resolved by ``compile``."""
    beta1: float = attrs.field(converter=_to_float_resolved, metadata={"spec": _TP["beta1"]})
    """Adam/AdamW first-moment decay. Valid: in [0, 1]. Resolved by ``compile``."""
    beta2: float = attrs.field(converter=_to_float_resolved, metadata={"spec": _TP["beta2"]})
    """Adam/AdamW second-moment decay. Valid: in [0, 1]. Resolved by ``compile``."""
    checkpoint_frequency: int | None = attrs.field(
        default=None, converter=_to_int, metadata={"spec": _TP["checkpoint_frequency"]})
    """Checkpoint every N epochs (none: keep the best epoch by the primary metric). Valid: in [1, 10000]. ``None``:
    not set."""
    checkpoint_run_id: str | None = attrs.field(default=None, metadata={"spec": _TP["checkpoint_run_id"]})
    """A finished run whose best checkpoint to start from (incremental training). ``None``: not set."""
    distributed: bool = attrs.field(metadata={"spec": _TP["distributed"]})
    """Data-parallel training over all devices the trial is given. Resolved by ``compile``."""
    early_stopping: bool = attrs.field(metadata={"spec": _TP["early_stopping"]})
    """Stop when the primary metric stops improving. Resolved by ``compile``."""
    early_stopping_delay: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["early_stopping_delay"]})
    """Evaluations to wait before tracking improvement. Valid: in [1, 10000]. Resolved by ``compile``."""
    early_stopping_patience: int = attrs.field(
        converter=_to_int_resolved, metadata={"spec": _TP["early_stopping_patience"]})
    """Evaluations without improvement before stopping. Valid: in [1, 10000]. Resolved by ``compile``."""
    enable_onnx_normalization: bool = attrs.field(metadata={"spec": _TP["enable_onnx_normalization"]})
    """Bake ImageNet normalisation into the ONNX export. Resolved by ``compile``."""
    evaluation_frequency: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["evaluation_frequency"]})
    """Evaluate every N epochs. Valid: in [1, 10000]. Resolved by ``compile``."""
    gradient_accumulation_step: int = attrs.field(
        converter=_to_int_resolved, metadata={"spec": _TP["gradient_accumulation_step"]})
    """Batches whose gradients are summed per optimiser update. Valid: in [1, 4096]. Resolved by ``compile``."""
    layers_to_freeze: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["layers_to_freeze"]})
    """Freeze the first N layer groups of the model. Valid: in [0, 1000]. Resolved by ``compile``."""
    learning_rate: float = attrs.field(converter=_to_float_resolved, metadata={"spec": _TP["learning_rate"]})
    """Initial learning rate. Valid: in [0, 1]. Resolved by ``compile``."""
    learning_rate_scheduler: LearningRateScheduler = attrs.field(
        converter=_to_learning_rate_scheduler_resolved, metadata={"spec": _TP["learning_rate_scheduler"]})
    """Learning-rate schedule. Valid: one of none, warmup_cosine, step. Resolved by ``compile``."""
    model_name: str = attrs.field(metadata={"spec": _TP["model_name"]})
    """Model architecture. Valid: one of mobilenetv2, resnet18, resnet34, resnet50, resnet101, resnet152, resnest50,
    resnest101, seresnext, vits16r224, vitb16r224, vitl16r224. Resolved by ``compile``."""
    momentum: float = attrs.field(converter=_to_float_resolved, metadata={"spec": _TP["momentum"]})
    """SGD momentum. Valid: in [0, 1]. Resolved by ``compile``."""
    nesterov: bool = attrs.field(metadata={"spec": _TP["nesterov"]})
    """Nesterov momentum with sgd. Resolved by ``compile``."""
    number_of_epochs: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["number_of_epochs"]})
    """Training epochs. Valid: in [1, 10000]. Resolved by ``compile``."""
    number_of_workers: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["number_of_workers"]})
    """Image-decoding threads (0: decode in the training thread). Valid: in [0, 1024]. Resolved by ``compile``."""
    optimizer: Optimizer = attrs.field(converter=_to_optimizer_resolved, metadata={"spec": _TP["optimizer"]})
    """Optimiser. Valid: one of none, sgd, adam, adamw. Resolved by ``compile``."""
    random_seed: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["random_seed"]})
    """Seed of weights, augmentation and order. Valid: in [0, 4294967295]. Resolved by ``compile``."""
    step_lr_gamma: float = attrs.field(converter=_to_float_resolved, metadata={"spec": _TP["step_lr_gamma"]})
    """Step schedule: factor per step. Valid: in [0, 1]. Resolved by ``compile``."""
    step_lr_step_size: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["step_lr_step_size"]})
    """Step schedule: epochs per step. Valid: in [1, 10000]. Resolved by ``compile``."""
    training_batch_size: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["training_batch_size"]})
    """Training batch size. Valid: in [1, 4096]. Resolved by ``compile``."""
    validation_batch_size: int = attrs.field(
        converter=_to_int_resolved, metadata={"spec": _TP["validation_batch_size"]})
    """Validation batch size. Valid: in [1, 4096]. Resolved by ``compile``."""
    warmup_cosine_lr_cycles: float = attrs.field(
        converter=_to_float_resolved, metadata={"spec": _TP["warmup_cosine_lr_cycles"]})
    """Cosine schedule: cycles over training. Valid: in [0, 1]. Resolved by ``compile``."""
    warmup_cosine_lr_warmup_epochs: int = attrs.field(
        converter=_to_int_resolved, metadata={"spec": _TP["warmup_cosine_lr_warmup_epochs"]})
    """Cosine schedule: linear warm-up epochs. Valid: in [1, 10000]. Resolved by ``compile``."""
    weight_decay: float = attrs.field(converter=_to_float_resolved, metadata={"spec": _TP["weight_decay"]})
    """Weight decay (L2 for sgd/adam, decoupled for adamw). Valid: in [0, 1]. Resolved by ``compile``."""
    training_crop_size: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["training_crop_size"]})
    """Training crop size in pixels. Valid: in [1, 1024]. Resolved by ``compile``."""
    validation_crop_size: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["validation_crop_size"]})
    """Validation centre-crop size in pixels. Valid: in [1, 1024]. Resolved by ``compile``."""
    validation_resize_size: int = attrs.field(
        converter=_to_int_resolved, metadata={"spec": _TP["validation_resize_size"]})
    """Validation resize (shorter side) before the centre crop. Valid: in [1, 2048]. Resolved by ``compile``."""
    weighted_loss: int = attrs.field(converter=_to_int_resolved, metadata={"spec": _TP["weighted_loss"]})
    """0 none, 1 sqrt(class weights), 2 class weights. Valid: one of 0, 1, 2. Resolved by ``compile``."""


def _ss_ams_gradient(value: bool | Distribution | Mapping[str, Any] | None,
                     ) -> bool | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["ams_gradient"](value)  # type: ignore[no-any-return]


def _ss_beta1(value: float | Distribution | Mapping[str, Any] | None,
              ) -> float | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["beta1"](value)  # type: ignore[no-any-return]


def _ss_beta2(value: float | Distribution | Mapping[str, Any] | None,
              ) -> float | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["beta2"](value)  # type: ignore[no-any-return]


def _ss_distributed(value: bool | Distribution | Mapping[str, Any] | None,
                    ) -> bool | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["distributed"](value)  # type: ignore[no-any-return]


def _ss_early_stopping(value: bool | Distribution | Mapping[str, Any] | None,
                       ) -> bool | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["early_stopping"](value)  # type: ignore[no-any-return]


def _ss_early_stopping_delay(value: int | Distribution | Mapping[str, Any] | None,
                             ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["early_stopping_delay"](value)  # type: ignore[no-any-return]


def _ss_early_stopping_patience(value: int | Distribution | Mapping[str, Any] | None,
                                ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["early_stopping_patience"](value)  # type: ignore[no-any-return]


def _ss_enable_onnx_normalization(value: bool | Distribution | Mapping[str, Any] | None,
                                  ) -> bool | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["enable_onnx_normalization"](value)  # type: ignore[no-any-return]


def _ss_evaluation_frequency(value: int | Distribution | Mapping[str, Any] | None,
                             ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["evaluation_frequency"](value)  # type: ignore[no-any-return]


def _ss_gradient_accumulation_step(value: int | Distribution | Mapping[str, Any] | None,
                                   ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["gradient_accumulation_step"](value)  # type: ignore[no-any-return]


def _ss_layers_to_freeze(value: int | Distribution | Mapping[str, Any] | None,
                         ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["layers_to_freeze"](value)  # type: ignore[no-any-return]


def _ss_learning_rate(value: float | Distribution | Mapping[str, Any] | None,
                      ) -> float | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["learning_rate"](value)  # type: ignore[no-any-return]


def _ss_learning_rate_scheduler(value: LearningRateScheduler | str | Distribution | Mapping[str, Any] | None,
                                ) -> LearningRateScheduler | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["learning_rate_scheduler"](value)  # type: ignore[no-any-return]


def _ss_model_name(value: str | Distribution | Mapping[str, Any] | None,
                   ) -> str | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["model_name"](value)  # type: ignore[no-any-return]


def _ss_momentum(value: float | Distribution | Mapping[str, Any] | None,
                 ) -> float | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["momentum"](value)  # type: ignore[no-any-return]


def _ss_nesterov(value: bool | Distribution | Mapping[str, Any] | None,
                 ) -> bool | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["nesterov"](value)  # type: ignore[no-any-return]


def _ss_number_of_epochs(value: int | Distribution | Mapping[str, Any] | None,
                         ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["number_of_epochs"](value)  # type: ignore[no-any-return]


def _ss_number_of_workers(value: int | Distribution | Mapping[str, Any] | None,
                          ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["number_of_workers"](value)  # type: ignore[no-any-return]


def _ss_optimizer(value: Optimizer | str | Distribution | Mapping[str, Any] | None,
                  ) -> Optimizer | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["optimizer"](value)  # type: ignore[no-any-return]


def _ss_random_seed(value: int | Distribution | Mapping[str, Any] | None,
                    ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["random_seed"](value)  # type: ignore[no-any-return]


def _ss_step_lr_gamma(value: float | Distribution | Mapping[str, Any] | None,
                      ) -> float | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["step_lr_gamma"](value)  # type: ignore[no-any-return]


def _ss_step_lr_step_size(value: int | Distribution | Mapping[str, Any] | None,
                          ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["step_lr_step_size"](value)  # type: ignore[no-any-return]


def _ss_training_batch_size(value: int | Distribution | Mapping[str, Any] | None,
                            ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["training_batch_size"](value)  # type: ignore[no-any-return]


def _ss_validation_batch_size(value: int | Distribution | Mapping[str, Any] | None,
                              ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["validation_batch_size"](value)  # type: ignore[no-any-return]


def _ss_warmup_cosine_lr_cycles(value: float | Distribution | Mapping[str, Any] | None,
                                ) -> float | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["warmup_cosine_lr_cycles"](value)  # type: ignore[no-any-return]


def _ss_warmup_cosine_lr_warmup_epochs(value: int | Distribution | Mapping[str, Any] | None,
                                       ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["warmup_cosine_lr_warmup_epochs"](value)  # type: ignore[no-any-return]


def _ss_weight_decay(value: float | Distribution | Mapping[str, Any] | None,
                     ) -> float | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["weight_decay"](value)  # type: ignore[no-any-return]


def _ss_training_crop_size(value: int | Distribution | Mapping[str, Any] | None,
                           ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["training_crop_size"](value)  # type: ignore[no-any-return]


def _ss_validation_crop_size(value: int | Distribution | Mapping[str, Any] | None,
                             ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["validation_crop_size"](value)  # type: ignore[no-any-return]


def _ss_validation_resize_size(value: int | Distribution | Mapping[str, Any] | None,
                               ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["validation_resize_size"](value)  # type: ignore[no-any-return]


def _ss_weighted_loss(value: int | Distribution | Mapping[str, Any] | None,
                      ) -> int | Distribution | None:
    if value is None:  # not searched: the usual case
        return None
    return _SEARCH_CONVERTERS["weighted_loss"](value)  # type: ignore[no-any-return]


@attrs.frozen(kw_only=True, repr=False, slots=False)  # no slots: a faster __init__
class SearchSpace(_SearchSpaceBase):
    """One subspace of a search space (the 31 searchable training parameters).

    Each field is ``None`` (not searched), a fixed value, or a distribution, with
    the fact sheet's per-type rules: float fields take every distribution; integer
    fields take an int, a choice of ints, ``randint`` or a ``q*`` distribution with
    integer arguments; bool, string and enum fields take a value or a ``choice``.
    A job's ``search_space`` is a tuple of these (conditional subspaces).

    Example:
        >>> space = SearchSpace(learning_rate={"type": "uniform", "min_value": 0.001, "max_value": 0.01},
        ...                     model_name=Choice(values=("resnet18", "resnet50")))
        >>> sorted(space.distributions())
        ['learning_rate', 'model_name']
    """

    ams_gradient: bool | Distribution | None = attrs.field(
        default=None, converter=_ss_ams_gradient,
        metadata={"spec": _TP["ams_gradient"]})
    """Use AMSGrad with adam or adamw. Default: false (``None`` means the default). Or a distribution to search."""
    beta1: float | Distribution | None = attrs.field(
        default=None, converter=_ss_beta1,
        metadata={"spec": _TP["beta1"]})
    """Adam/AdamW first-moment decay. Valid: in [0, 1]. Default: 0.9 (``None`` means the default). Or a distribution
    to search."""
    beta2: float | Distribution | None = attrs.field(
        default=None, converter=_ss_beta2,
        metadata={"spec": _TP["beta2"]})
    """Adam/AdamW second-moment decay. Valid: in [0, 1]. Default: 0.999 (``None`` means the default). Or a
    distribution to search."""
    distributed: bool | Distribution | None = attrs.field(
        default=None, converter=_ss_distributed,
        metadata={"spec": _TP["distributed"]})
    """Data-parallel training over all devices the trial is given. Default: false (``None`` means the default). Or a
    distribution to search."""
    early_stopping: bool | Distribution | None = attrs.field(
        default=None, converter=_ss_early_stopping,
        metadata={"spec": _TP["early_stopping"]})
    """Stop when the primary metric stops improving. Default: true (``None`` means the default). Or a distribution
    to search."""
    early_stopping_delay: int | Distribution | None = attrs.field(
        default=None, converter=_ss_early_stopping_delay,
        metadata={"spec": _TP["early_stopping_delay"]})
    """Evaluations to wait before tracking improvement. Valid: in [1, 10000]. Default: 5 (``None`` means the
    default). Or a distribution to search."""
    early_stopping_patience: int | Distribution | None = attrs.field(
        default=None, converter=_ss_early_stopping_patience,
        metadata={"spec": _TP["early_stopping_patience"]})
    """Evaluations without improvement before stopping. Valid: in [1, 10000]. Default: 5 (``None`` means the
    default). Or a distribution to search."""
    enable_onnx_normalization: bool | Distribution | None = attrs.field(
        default=None, converter=_ss_enable_onnx_normalization,
        metadata={"spec": _TP["enable_onnx_normalization"]})
    """Bake ImageNet normalisation into the ONNX export. Default: false (``None`` means the default). Or a
    distribution to search."""
    evaluation_frequency: int | Distribution | None = attrs.field(
        default=None, converter=_ss_evaluation_frequency,
        metadata={"spec": _TP["evaluation_frequency"]})
    """Evaluate every N epochs. Valid: in [1, 10000]. Default: 1 (``None`` means the default). Or a distribution to
    search."""
    gradient_accumulation_step: int | Distribution | None = attrs.field(
        default=None, converter=_ss_gradient_accumulation_step,
        metadata={"spec": _TP["gradient_accumulation_step"]})
    """Batches whose gradients are summed per optimiser update. Valid: in [1, 4096]. Default: 1 (``None`` means the
    default). Or a distribution to search."""
    layers_to_freeze: int | Distribution | None = attrs.field(
        default=None, converter=_ss_layers_to_freeze,
        metadata={"spec": _TP["layers_to_freeze"]})
    """Freeze the first N layer groups of the model. Valid: in [0, 1000]. Default: 0 (``None`` means the default).
    Or a distribution to search."""
    learning_rate: float | Distribution | None = attrs.field(
        default=None, converter=_ss_learning_rate,
        metadata={"spec": _TP["learning_rate"]})
    """Initial learning rate. Valid: in [0, 1]. Default: per model and task (``None`` means the default). Or a
    distribution to search."""
    learning_rate_scheduler: LearningRateScheduler | Distribution | None = attrs.field(
        default=None, converter=_ss_learning_rate_scheduler,
        metadata={"spec": _TP["learning_rate_scheduler"]})
    """Learning-rate schedule. Valid: one of none, warmup_cosine, step. Default: warmup_cosine (``None`` means the
    default). Or a distribution to search."""
    model_name: str | Distribution | None = attrs.field(
        default=None, converter=_ss_model_name,
        metadata={"spec": _TP["model_name"]})
    """Model architecture. Valid: one of mobilenetv2, resnet18, resnet34, resnet50, resnet101, resnet152, resnest50,
    resnest101, seresnext, vits16r224, vitb16r224, vitl16r224. Default: seresnext (``None`` means the default). Or a
    distribution to search."""
    momentum: float | Distribution | None = attrs.field(
        default=None, converter=_ss_momentum,
        metadata={"spec": _TP["momentum"]})
    """SGD momentum. Valid: in [0, 1]. Default: 0.9 (``None`` means the default). Or a distribution to search."""
    nesterov: bool | Distribution | None = attrs.field(
        default=None, converter=_ss_nesterov,
        metadata={"spec": _TP["nesterov"]})
    """Nesterov momentum with sgd. Default: true (``None`` means the default). Or a distribution to search."""
    number_of_epochs: int | Distribution | None = attrs.field(
        default=None, converter=_ss_number_of_epochs,
        metadata={"spec": _TP["number_of_epochs"]})
    """Training epochs. Valid: in [1, 10000]. Default: 15 (``None`` means the default). Or a distribution to
    search."""
    number_of_workers: int | Distribution | None = attrs.field(
        default=None, converter=_ss_number_of_workers,
        metadata={"spec": _TP["number_of_workers"]})
    """Image-decoding threads (0: decode in the training thread). Valid: in [0, 1024]. Default: 4 (capped at the
    cores a trial gets) (``None`` means the default). Or a distribution to search."""
    optimizer: Optimizer | Distribution | None = attrs.field(
        default=None, converter=_ss_optimizer,
        metadata={"spec": _TP["optimizer"]})
    """Optimiser. Valid: one of none, sgd, adam, adamw. Default: sgd (``None`` means the default). Or a distribution
    to search."""
    random_seed: int | Distribution | None = attrs.field(
        default=None, converter=_ss_random_seed,
        metadata={"spec": _TP["random_seed"]})
    """Seed of weights, augmentation and order. Valid: in [0, 4294967295]. Default: the plan's seed (``None`` means
    the default). Or a distribution to search."""
    step_lr_gamma: float | Distribution | None = attrs.field(
        default=None, converter=_ss_step_lr_gamma,
        metadata={"spec": _TP["step_lr_gamma"]})
    """Step schedule: factor per step. Valid: in [0, 1]. Default: 0.5 (``None`` means the default). Or a
    distribution to search."""
    step_lr_step_size: int | Distribution | None = attrs.field(
        default=None, converter=_ss_step_lr_step_size,
        metadata={"spec": _TP["step_lr_step_size"]})
    """Step schedule: epochs per step. Valid: in [1, 10000]. Default: 5 (``None`` means the default). Or a
    distribution to search."""
    training_batch_size: int | Distribution | None = attrs.field(
        default=None, converter=_ss_training_batch_size,
        metadata={"spec": _TP["training_batch_size"]})
    """Training batch size. Valid: in [1, 4096]. Default: 78 (ViT: per model) (``None`` means the default). Or a
    distribution to search."""
    validation_batch_size: int | Distribution | None = attrs.field(
        default=None, converter=_ss_validation_batch_size,
        metadata={"spec": _TP["validation_batch_size"]})
    """Validation batch size. Valid: in [1, 4096]. Default: 78 (ViT: per model) (``None`` means the default). Or a
    distribution to search."""
    warmup_cosine_lr_cycles: float | Distribution | None = attrs.field(
        default=None, converter=_ss_warmup_cosine_lr_cycles,
        metadata={"spec": _TP["warmup_cosine_lr_cycles"]})
    """Cosine schedule: cycles over training. Valid: in [0, 1]. Default: 0.45 (``None`` means the default). Or a
    distribution to search."""
    warmup_cosine_lr_warmup_epochs: int | Distribution | None = attrs.field(
        default=None, converter=_ss_warmup_cosine_lr_warmup_epochs,
        metadata={"spec": _TP["warmup_cosine_lr_warmup_epochs"]})
    """Cosine schedule: linear warm-up epochs. Valid: in [1, 10000]. Default: 2 (``None`` means the default). Or a
    distribution to search."""
    weight_decay: float | Distribution | None = attrs.field(
        default=None, converter=_ss_weight_decay,
        metadata={"spec": _TP["weight_decay"]})
    """Weight decay (L2 for sgd/adam, decoupled for adamw). Valid: in [0, 1]. Default: 1e-4 (``None`` means the
    default). Or a distribution to search."""
    training_crop_size: int | Distribution | None = attrs.field(
        default=None, converter=_ss_training_crop_size,
        metadata={"spec": _TP["training_crop_size"]})
    """Training crop size in pixels. Valid: in [1, 1024]. Default: 224 (``None`` means the default). Or a
    distribution to search."""
    validation_crop_size: int | Distribution | None = attrs.field(
        default=None, converter=_ss_validation_crop_size,
        metadata={"spec": _TP["validation_crop_size"]})
    """Validation centre-crop size in pixels. Valid: in [1, 1024]. Default: 224 (``None`` means the default). Or a
    distribution to search."""
    validation_resize_size: int | Distribution | None = attrs.field(
        default=None, converter=_ss_validation_resize_size,
        metadata={"spec": _TP["validation_resize_size"]})
    """Validation resize (shorter side) before the centre crop. Valid: in [1, 2048]. Default: 256 (``None`` means
    the default). Or a distribution to search."""
    weighted_loss: int | Distribution | None = attrs.field(
        default=None, converter=_ss_weighted_loss,
        metadata={"spec": _TP["weighted_loss"]})
    """0 none, 1 sqrt(class weights), 2 class weights. Valid: one of 0, 1, 2. Default: 0 (``None`` means the
    default). Or a distribution to search."""


# END GENERATED


# --------------------------------------------------------------------------- the job
_SEARCH_SPACE = record_converter(SearchSpace)
_OUTPUT = record_converter(Output)


def _to_search_space(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, (SearchSpace, Mapping)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return (Invalid(value, (Problem("", f"must be a list of subspaces, got {fmt(value)}"),)),)
    build = _SEARCH_SPACE
    return tuple(build(v) for v in value)


def _to_outputs(value: Any) -> Any:
    if value is None:
        return FrozenMap()
    if not isinstance(value, Mapping):
        raise ValidationError([Problem("", f"must be a mapping of output names, got {fmt(value)}")])
    build = _OUTPUT
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
    return attrs.field(default=None, converter=_to_float, metadata={"spec": spec})


# Typed converters of the job's fields (type checkers read what a field accepts from them).
_INPUT = record_converter(Input)
_LIMITS = record_converter(Limits)
_TRAINING_PARAMETERS = record_converter(TrainingParameters)
_SWEEP = record_converter(Sweep)
_LENIENT_MAP = lenient(_to_map)
_LENIENT_OUTPUTS = lenient(_to_outputs)


def _to_input(value: Input | Mapping[str, Any] | None) -> Input:
    return _INPUT(value)  # type: ignore[no-any-return]  # None (unset) is reported by the checks


def _to_optional_input(value: Input | Mapping[str, Any] | None) -> Input | None:
    return _INPUT(value)  # type: ignore[no-any-return]


def _to_limits(value: Limits | Mapping[str, Any]) -> Limits:
    return _LIMITS(value)  # type: ignore[no-any-return]


def _to_training_parameters(value: TrainingParameters | Mapping[str, Any]) -> TrainingParameters:
    return _TRAINING_PARAMETERS(value)  # type: ignore[no-any-return]


def _to_sweep(value: Sweep | Mapping[str, Any] | None) -> Sweep | None:
    return _SWEEP(value)  # type: ignore[no-any-return]


def _to_spaces(value: SearchSpace | Mapping[str, Any] | Sequence[SearchSpace | Mapping[str, Any]] | None,
               ) -> tuple[SearchSpace, ...]:
    return _to_search_space(value)  # type: ignore[no-any-return]


def _to_frozen_map(value: Mapping[str, Any] | None) -> FrozenMap:
    return _LENIENT_MAP(value)  # type: ignore[no-any-return]


def _to_output_map(value: Mapping[str, Output | Mapping[str, Any]] | None) -> FrozenMap:
    return _LENIENT_OUTPUTS(value)  # type: ignore[no-any-return]


def _to_log_verbosity(value: LogVerbosity | str) -> LogVerbosity:
    return LogVerbosity.parse_or_keep(value)  # type: ignore[return-value]  # a bad value is reported by the checks


def _to_primary_metric(value: PrimaryMetric | str) -> PrimaryMetric:
    return PrimaryMetric.parse_or_keep(value)  # type: ignore[return-value]  # a bad value is reported by the checks


def _to_path_text(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else str(value)


@attrs.frozen(kw_only=True)
class ImageClassificationJobBase(Validated):
    """What both image-classification jobs share. Use a subclass.

    Every top-level key of Azure's ``type: automl`` image-classification YAML is
    a field (``$schema`` is ``schema``); Azure-only keys (``resources``,
    ``identity``, ``environment_id``, ``environment_variables``,
    ``queue_settings``, ``services``) are kept and written back, unused locally.
    ``base_path`` is where the YAML was loaded from; it is not part of equality.

    Example:
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> isinstance(job, ImageClassificationJobBase), job.type, sorted(job.inputs)
        (True, 'automl', ['training_data'])
    """

    TASK: ClassVar[TaskType]
    DEFAULT_METRIC: ClassVar[PrimaryMetric]
    METRICS: ClassVar[tuple[PrimaryMetric, ...]]

    schema: str | None = attrs.field(default=None, metadata={"key": "$schema"})
    """The YAML's ``$schema`` (kept, written back)."""
    name: str | None = None
    """The job's name (Azure's run id)."""
    display_name: str | None = None
    """A display name."""
    experiment_name: str | None = None
    """The experiment the job belongs to."""
    description: str | None = None
    """Free text."""
    tags: FrozenMap = attrs.field(factory=FrozenMap, converter=_to_frozen_map)
    """String keys to string values (as in Azure)."""
    properties: FrozenMap = attrs.field(factory=FrozenMap, converter=_to_frozen_map)
    """String keys to string values (as in Azure)."""
    compute: str | None = None
    """Azure's compute target (kept, unused locally)."""
    log_verbosity: LogVerbosity = attrs.field(default=LogVerbosity.INFO, converter=_to_log_verbosity)
    """``not_set``, ``debug``, ``info`` (default), ``warning``, ``error`` or ``critical``, in any casing."""
    primary_metric: PrimaryMetric = attrs.field(default=attrs.Factory(_default_metric, takes_self=True),
                                                converter=_to_primary_metric)
    """The metric the sweep maximises; default ``accuracy`` (multiclass) or ``iou`` (multilabel)."""
    target_column_name: str = None  # type: ignore[assignment]  # required: reported by the checks
    """The label column of the data (usually ``label``). Required."""
    training_data: Input = attrs.field(default=None, converter=_to_input)
    """The training images (an :class:`Input` or ``{path: ..., type: ...}``). Required."""
    validation_data: Input | None = attrs.field(default=None, converter=_to_optional_input)
    """Validation images; else ``validation_data_size`` of the training data is held out."""
    validation_data_size: float | None = _job_field(JOB_FIELDS["validation_data_size"])
    """Fraction of the training data held out for validation, in (0, 1); default 0.2."""
    test_data: Input | None = attrs.field(default=None, converter=_to_optional_input)
    """Test images, scored once with the best model (imgtune's extension)."""
    test_data_size: float | None = _job_field(JOB_FIELDS["test_data_size"])
    """Fraction of the training data held out for the final test, in (0, 1) (imgtune's extension)."""
    limits: Limits = attrs.field(factory=Limits, converter=_to_limits)
    """Trials at most, at once, and the sweep's timeout (a :class:`Limits` or a mapping)."""
    training_parameters: TrainingParameters = attrs.field(factory=TrainingParameters,
                                                          converter=_to_training_parameters)
    """The fixed training parameters (a :class:`TrainingParameters` or a mapping)."""
    sweep: Sweep | None = attrs.field(default=None, converter=_to_sweep)
    """Sampling algorithm and early termination; required with a ``search_space`` to compile or run
    (a job may be built in Azure's docs' order, the search space before the sweep)."""
    search_space: tuple[SearchSpace, ...] = attrs.field(default=(), converter=_to_spaces)
    """Subspaces to sample trials from (each a :class:`SearchSpace` or a mapping)."""
    extra_parameters: FrozenMap | None = attrs.field(default=None, converter=_to_extra)
    """imgtune's extension beyond Azure's schema: one's own hyperparameters (name -> scalar) for a custom trial
    function, the values of every trial unless a search-space entry's ``extra_parameters`` searches them. A job
    without them writes no such key (it stays loadable by azure-ai-ml)."""
    outputs: FrozenMap = attrs.field(factory=FrozenMap, converter=_to_output_map)
    """Azure's outputs, e.g. ``{best_model: {type: mlflow_model}}`` (kept, written back)."""
    resources: Any = attrs.field(default=None, converter=_free)
    """Azure-only (kept, written back)."""
    identity: Any = attrs.field(default=None, converter=_free)
    """Azure-only (kept, written back)."""
    environment_id: Any = None
    """Azure-only (kept, written back)."""
    environment_variables: Any = attrs.field(default=None, converter=_free)
    """Azure-only (kept, written back)."""
    queue_settings: Any = attrs.field(default=None, converter=_free)
    """Azure-only (kept, written back)."""
    services: Any = attrs.field(default=None, converter=_free)
    """Azure-only (kept, written back)."""
    base_path: str | None = attrs.field(default=None, eq=False, repr=False, metadata={"dump": False},
                                        converter=_to_path_text)
    """Where the job's YAML was loaded from: relative data paths resolve against it. Not part of equality."""

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

    def extensions(self) -> tuple[str, ...]:
        """What this job uses beyond Azure's schema, as dotted paths (empty: azure-ai-ml loads it as it is).

        One's own hyperparameters (``extra_parameters``, at the top level and in search-space entries)
        and one's own models (a ``model_name`` that names a builder, :func:`imgtune.spec.models.custom_model`).

        Example:
            >>> job = ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
            ...                              extra_parameters={"mixup_alpha": 0.2})
            >>> job.extensions()
            ('extra_parameters.mixup_alpha',)
        """
        out = []
        if isinstance(self.extra_parameters, Mapping):
            out += [f"{EXTRA_PARAMETERS}.{k}" for k in self.extra_parameters]
        tp = self.training_parameters
        if isinstance(getattr(tp, "model_name", None), str) and is_custom_model(tp.model_name):
            out.append(f"training_parameters.model_name ({tp.model_name}: one's own model)")
        for i, space in enumerate(self.search_space):
            if isinstance(space, Invalid):
                continue
            if isinstance(space.extra_parameters, Mapping):
                out += [f"search_space[{i}].{EXTRA_PARAMETERS}.{k}" for k in space.extra_parameters]
            names = space.model_name.values if isinstance(space.model_name, Choice) else (space.model_name,)
            out += [f"search_space[{i}].model_name ({m}: one's own model)" for m in names
                    if isinstance(m, str) and is_custom_model(m)]
        return tuple(out)

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
        _check_extra(checker, EXTRA_PARAMETERS, self.extra_parameters)
        tp = self.training_parameters
        if not isinstance(tp, Invalid) and getattr(tp, EXTRA_PARAMETERS, None) is not None:
            checker.add(f"training_parameters.{EXTRA_PARAMETERS}", "one's own hyperparameters go at the top level of "
                                                                  "the job (extra_parameters:), not in Azure's block")

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
            if isinstance(space.model_name, Choice) and all(is_vit(m) for m in space.model_name.values):
                model = space.model_name.values[0]

            def pick(name: str) -> Any:
                value = getattr(space, name)
                return _fixed(value) if value is not None else getattr(tp, name)

            if any(getattr(space, n) is not None for n in
                   ("model_name", "training_crop_size", "validation_crop_size", "validation_resize_size",
                    "layers_to_freeze")):
                _check_crops(checker, f"search_space[{i}].", model, pick("training_crop_size"),
                             pick("validation_crop_size"), pick("validation_resize_size"), pick("layers_to_freeze"))


@attrs.frozen(kw_only=True, repr=False, slots=False)  # no slots: a faster __init__ (sets __dict__)
class ImageClassificationJob(ImageClassificationJobBase):
    """A multiclass image-classification job (``task: image_classification``).

    Example:
        >>> job = ImageClassificationJob(
        ...     training_data={"path": "data/train", "type": "mltable"},
        ...     target_column_name="label",
        ...     limits={"max_trials": 4},
        ... )
        >>> job.primary_metric.value, job.limits.max_trials, job.task_type.value
        ('accuracy', 4, 'image_classification')
        >>> job
        ImageClassificationJob(target_column_name='label', training_data=Input(path='data/train'),
                               limits=Limits(max_trials=4))
    """

    TASK: ClassVar[TaskType] = TaskType.IMAGE_CLASSIFICATION
    DEFAULT_METRIC: ClassVar[PrimaryMetric] = PrimaryMetric.ACCURACY
    METRICS: ClassVar[tuple[PrimaryMetric, ...]] = CLASSIFICATION_METRICS


@attrs.frozen(kw_only=True, repr=False, slots=False)  # no slots: a faster __init__ (sets __dict__)
class ImageClassificationMultilabelJob(ImageClassificationJobBase):
    """A multilabel image-classification job (``task: image_classification_multilabel``).

    The default primary metric is ``iou``.

    Example:
        >>> job = ImageClassificationMultilabelJob(training_data=Input(path="data/train"),
        ...                                        target_column_name="labels")
        >>> job.primary_metric.value, job.multilabel
        ('iou', True)
    """

    TASK: ClassVar[TaskType] = TaskType.IMAGE_CLASSIFICATION_MULTILABEL
    DEFAULT_METRIC: ClassVar[PrimaryMetric] = PrimaryMetric.IOU
    METRICS: ClassVar[tuple[PrimaryMetric, ...]] = MULTILABEL_METRICS


JOB_CLASSES: dict[TaskType, type] = {c.TASK: c for c in (ImageClassificationJob, ImageClassificationMultilabelJob)}


def with_base_path(job: ImageClassificationJobBase, base_path: str | os.PathLike[str] | None) -> Any:
    """``attrs.evolve(job, base_path=base_path)`` without building and checking the job again.

    ``base_path`` takes no part in the checks (nor in equality), so a valid job stays valid.

    Example:
        >>> job = ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
        >>> moved = with_base_path(job, "/data")
        >>> moved.base_path, job.base_path, moved == job
        ('/data', None, True)
    """
    new = object.__new__(type(job))
    for name in _FIELD_NAMES.get(type(job)) or _field_names(type(job)):
        object.__setattr__(new, name, getattr(job, name))
    object.__setattr__(new, "base_path", _to_path_text(base_path))
    return new


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES[cls] = tuple(a.name for a in attrs.fields(cls))
    return names


def _unstructure_job(job: ImageClassificationJobBase) -> dict[str, Any]:
    """A job in Azure's shape: ``$schema``, ``type: automl`` and ``task`` first, then its fields."""
    head: dict[str, Any] = {} if job.schema is None else {"$schema": job.schema}
    head |= {"type": "automl", "task": job.TASK.value}
    return head | {k: v for k, v in unstructure_fields(job).items() if k != "$schema"}


register_unstructure(ImageClassificationJobBase, _unstructure_job)


# --------------------------------------------------------------------------- repr
def _is_default(record: Any, a: attrs.Attribute, value: Any) -> bool:
    default = a.default
    if default is attrs.NOTHING:
        return False
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory(record) if default.takes_self else default.factory()
    return type(value) is type(default) and value == default or value is None and default is None


def _shown(value: Any) -> str:
    if isinstance(value, AzureEnum):
        return repr(value.value)  # as a constructor accepts it
    if isinstance(value, FrozenMap):
        return repr(dict(value))
    return repr(value)


def record_repr(record: Any) -> str:
    """A record as its constructor call, with only the fields that differ from their defaults.

    >>> Limits(max_trials=4)
    Limits(max_trials=4)
    >>> Input(path="data/train", type="uri_folder")
    Input(path='data/train', type='uri_folder')
    """
    shown = [f"{a.name}={_shown(value)}" for a in attrs.fields(type(record))
             if a.repr and not _is_default(record, a, value := getattr(record, a.name))]
    return f"{type(record).__name__}({', '.join(shown)})"


for _cls in (Input, Output, Limits, RandomSampling, GridSampling, BayesianSampling, BanditPolicy,
             MedianStoppingPolicy, TruncationSelectionPolicy, Sweep, TrainingParameters, ResolvedTrainingParameters,
             SearchSpace, ImageClassificationJobBase, ImageClassificationJob, ImageClassificationMultilabelJob):
    _cls.__repr__ = record_repr  # type: ignore[method-assign]
