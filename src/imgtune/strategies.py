"""Hypothesis strategies that generate valid imgtune values: public API.

Use them in your own property tests to generate jobs and parts of jobs that
imgtune accepts (requires ``hypothesis``, which imgtune does not depend on)::

    from hypothesis import given
    from imgtune import strategies as its

    @given(its.jobs())
    def test_my_pipeline_keeps_jobs_valid(job):
        assert my_transform(job).limits.max_trials <= 1000

Every strategy is derived from the constraint table in
:mod:`imgtune.spec.fields`, so a field added there is generated here.

Narrowing: the strategies take keyword arguments that narrow what they generate (the task,
the sampling algorithms, the fields searched or set, numeric bounds per field, the number of
trials), checked when the strategy is made (a :class:`~imgtune.errors.ValidationError`
listing every problem); drawing from a strategy never raises. :func:`plans` and
:func:`run_results` generate compiled plans and run results consistent with them, to test
analysis code without training.

Example:
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, deadline=None)
    ... @given(jobs())
    ... def check(job):
    ...     assert loads(dumps(job)) == job
    >>> check()
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Collection, Mapping
from typing import Any

import attrs

try:
    from hypothesis import strategies as st
except ImportError as exc:  # Hypothesis comes with the test extra, not with imgtune itself
    raise ImportError("imgtune.strategies needs Hypothesis: pip install 'imgtune[test]' (or just hypothesis)") from exc

from imgtune.compiler import Plan, compile
from imgtune.errors import Problem, ValidationError, closest
from imgtune.runner.results import RunResult, TrialRecord, best_of_history
from imgtune.serialization import dumps, loads  # noqa: F401  (used by the doctest)
from imgtune.spec.distributions import (
    Choice,
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
from imgtune.spec.enums import JobStatus
from imgtune.spec.fields import (
    ADVANCED_SETTINGS,
    LIMITS,
    SEARCHABLE,
    TRAINING_PARAMETERS,
    FieldSpec,
    Kind,
)
from imgtune.spec.models import MODELS, VIT_MODELS
from imgtune.spec.records import (
    BanditPolicy,
    BayesianSampling,
    GridSampling,
    ImageClassificationJob,
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

__all__ = [
    "SAMPLING_ALGORITHMS",
    "TASKS",
    "field_values",
    "inputs",
    "jobs",
    "limits",
    "multiclass_jobs",
    "multilabel_jobs",
    "plans",
    "policies",
    "run_results",
    "sampling_algorithms",
    "search_spaces",
    "sweeps",
    "training_parameters",
]

_INT_CAP = 4096  # generated ints on fields without an upper bound stay below low + this

#: The tasks :func:`jobs` takes: ``multiclass`` (``image_classification``) and ``multilabel``
#: (``image_classification_multilabel``).
TASKS = {"multiclass": ImageClassificationJob, "image_classification": ImageClassificationJob,
         "multilabel": ImageClassificationMultilabelJob,
         "image_classification_multilabel": ImageClassificationMultilabelJob}
#: The sampling algorithms :func:`jobs` and :func:`sweeps` take; ``none``: a job without a sweep.
SAMPLING_ALGORITHMS = ("random", "sobol", "grid", "bayesian", "none")
#: Distribution kinds that keep every drawn value inside a field's bounds (for bounded fields).
_BOUNDED_KINDS = frozenset({"scalar", "choice", "uniform", "loguniform"})


# --------------------------------------------------------------------------- narrowing
def _narrow(spec: FieldSpec, bound: Any, path: str, problems: list[Problem]) -> FieldSpec:
    """``spec`` with its range narrowed to ``bound`` = ``(low, high)`` (either may be ``None``)."""
    if spec.kind not in (Kind.INT, Kind.FLOAT):
        problems.append(Problem(path, f"{spec.name} is not a number ({spec.kind.value}): only numeric fields "
                                      f"have bounds"))
        return spec
    if not (isinstance(bound, (tuple, list)) and len(bound) == 2 and all(
            b is None or (isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b))
            for b in bound)):
        problems.append(Problem(path, f"must be a pair (low, high) of numbers or None, got {bound!r}"))
        return spec
    low, high = bound
    new = spec
    if low is not None and (spec.low is None or low > spec.low):
        new = attrs.evolve(new, low=float(low) if spec.kind is Kind.FLOAT else math.ceil(low), low_open=False)
    if high is not None and (spec.high is None or high < spec.high):
        new = attrs.evolve(new, high=float(high) if spec.kind is Kind.FLOAT else math.floor(high), high_open=False)
    if new.allowed is not None:
        new = attrs.evolve(new, allowed=tuple(v for v in new.allowed if new.in_range(v)))
    empty = (new.allowed == () or new.low is not None and new.high is not None and (
        new.low > new.high or new.low == new.high and (new.low_open or new.high_open)))
    if empty:
        problems.append(Problem(path, f"leaves no valid value of {spec.name} ({spec.range_text()}), got {bound!r}"))
        return spec
    return new


def _specs(bounds: Mapping[str, Any] | None, problems: list[Problem]) -> dict[str, FieldSpec]:
    """The training-parameter table with the bounded fields narrowed."""
    specs = dict(TRAINING_PARAMETERS)
    if bounds is None:
        return specs
    if not isinstance(bounds, Mapping):
        problems.append(Problem("bounds", f"must be a mapping of field names to (low, high), got {bounds!r}"))
        return specs
    for name, bound in bounds.items():
        if name not in specs:
            hint = closest(str(name), list(specs))
            problems.append(Problem(f"bounds.{name}", "not a training parameter"
                                    + (f" (did you mean {hint!r}?)" if hint else "")))
            continue
        specs[name] = _narrow(specs[name], bound, f"bounds.{name}", problems)
    return specs


def _chosen(value: Collection[str] | None, known: Collection[str], path: str, problems: list[Problem]) -> list[str]:
    """The names asked for (all of ``known`` when ``None``), each checked."""
    if value is None:
        return list(known)
    if isinstance(value, str):
        value = [value]
    out = []
    for name in value:
        if name in known:
            out.append(name)
        else:
            hint = closest(str(name), [str(k) for k in known])
            problems.append(Problem(path, f"unknown {name!r}" + (f" (did you mean {hint!r}?)" if hint else "")
                                    + f"; one of {', '.join(map(str, known))}"))
    return sorted(set(out), key=list(known).index)


def _raise(problems: list[Problem], what: str) -> None:
    if problems:
        raise ValidationError(problems, what)


# --------------------------------------------------------------------------- scalars
def field_values(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Valid values of one field of the table.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(field_values(TRAINING_PARAMETERS["momentum"]))
        ... def check(value):
        ...     assert 0 <= value <= 1
        >>> check()
    """
    if spec.kind is Kind.BOOL:
        return st.booleans()
    if spec.kind is Kind.ENUM:
        return st.sampled_from(list(spec.enum))
    if spec.kind is Kind.STR:
        return st.sampled_from(spec.allowed) if spec.allowed else _text
    if spec.kind is Kind.JSON:
        return _advanced_settings()
    if spec.allowed is not None:
        return st.sampled_from(spec.allowed)
    if spec.kind is Kind.INT:
        low = int(spec.low) + (1 if spec.low_open else 0) if spec.low is not None else -_INT_CAP
        high = int(spec.high) - (1 if spec.high_open else 0) if spec.high is not None else low + _INT_CAP
        return st.integers(low, high)
    low = spec.low if spec.low is not None else -1e6
    high = spec.high if spec.high is not None else low + 1e6
    return st.floats(low, high, exclude_min=spec.low_open, exclude_max=spec.high_open,
                     allow_nan=False, allow_infinity=False)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Co", "Cn")), min_size=1, max_size=20).filter(str.strip)
_tricky = st.sampled_from(["1e-4", "true", "null", "~", "yes", "0x10", "- x", "a: b", "#x", "12", "1.5", "'q'"])
_names = st.one_of(_text, _tricky)


@st.composite
def _advanced_settings(draw: Any) -> str:
    settings: dict[str, Any] = {}
    if draw(st.booleans()):
        settings["path_map"] = {"azureml://datastores/workspaceblobstore/paths/": "data/"}
    if draw(st.booleans()):
        settings["compute_dtype"] = draw(st.sampled_from(["float32", "bfloat16"]))
    if draw(st.booleans()):
        settings["apply_automl_train_augmentations"] = draw(st.booleans())
    assert set(settings) <= set(ADVANCED_SETTINGS)
    return json.dumps(settings)


def _consistent_crops(values: dict[str, Any]) -> dict[str, Any]:
    """Applies the cross-field rules to fixed values: ViT crops equal, resize >= crop, no more
    layers frozen than the model has groups."""
    if values.get("model_name") in VIT_MODELS and "training_crop_size" in values and "validation_crop_size" in values:
        values["validation_crop_size"] = values["training_crop_size"]
    resize, crop = values.get("validation_resize_size"), values.get("validation_crop_size")
    if isinstance(resize, int) and isinstance(crop, int) and resize < crop:
        values["validation_resize_size"] = crop
    model, freeze = values.get("model_name"), values.get("layers_to_freeze")
    if isinstance(model, str) and model in MODELS and isinstance(freeze, int) and freeze > MODELS[model].layer_groups:
        values["layers_to_freeze"] = MODELS[model].layer_groups
    return values


def training_parameters(*, fields: Collection[str] | None = None,
                        bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
                        ) -> st.SearchStrategy[TrainingParameters]:
    """Valid :class:`TrainingParameters`, any subset of the 34 fields set.

    Args:
        fields: The fields that may be set (default: all).
        bounds: Field name -> ``(low, high)`` (either ``None``): numeric values stay within
            (but for the cross-field rules: a ViT's validation crop follows its training crop, the
            validation resize is at least the crop, no more layers frozen than the model has).

    Raises:
        ValidationError: An unknown field, or a bound that is not numeric or leaves no value.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(training_parameters(fields=["learning_rate", "momentum"], bounds={"momentum": (0.5, 0.6)}))
        ... def check(value):
        ...     assert TrainingParameters(**value.set_fields()) == value
        ...     assert set(value.set_fields()) <= {"learning_rate", "momentum"}
        ...     assert value.momentum is None or 0.5 <= value.momentum <= 0.6
        >>> check()
    """
    problems: list[Problem] = []
    specs = _specs(bounds, problems)
    names = _chosen(fields, list(TRAINING_PARAMETERS), "fields", problems)
    _raise(problems, "training_parameters()")
    return _training_parameters(specs, names)


@st.composite
def _training_parameters(draw: Any, specs: Mapping[str, FieldSpec], names: list[str]) -> TrainingParameters:
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=12)) if names else []
    values = {name: draw(field_values(specs[name])) for name in chosen}
    return TrainingParameters(**_consistent_crops(values))


# --------------------------------------------------------------------------- distributions
def _bounds(spec: FieldSpec) -> tuple[float, float]:
    low = spec.low if spec.low is not None else -1e3
    high = spec.high if spec.high is not None else low + 1e3
    return float(low), float(high)


@st.composite
def _choice(draw: Any, spec: FieldSpec) -> Choice:
    return Choice(values=draw(st.lists(field_values(spec), min_size=1, max_size=4, unique=True)))


@st.composite
def _ranged(draw: Any, spec: FieldSpec, cls: type) -> Any:
    low, high = _bounds(spec)
    if spec.kind is Kind.INT:
        a = draw(st.integers(int(low), int(high) - 1))
        b = draw(st.integers(a + 1, int(high)))
        q = draw(st.integers(1, max(1, b - a)))
        if cls is QLogUniform:  # exponents: keep exp(max) in range
            top = int(math.log(high)) if high >= 1 else 0
            a = draw(st.integers(0, max(0, top - 1)))
            b = draw(st.integers(a + 1, max(a + 1, top))) if top > a else a + 1
            if not spec.in_range(math.exp(a)) or not spec.in_range(math.exp(b)):
                return draw(_choice(spec))
            return QLogUniform(min_value=a, max_value=b, q=1)
        return QUniform(min_value=a, max_value=b, q=q)
    if cls in (LogUniform, QLogUniform):
        if high <= 0:
            return draw(_choice(spec))
        top = math.log(high)
        bottom = math.log(max(low, 1e-12)) if low > 0 else top - 20
        if not bottom < top:  # a range narrowed to less than the exponents can tell apart
            return draw(_choice(spec))
        a = draw(st.floats(bottom, top, exclude_max=True, allow_nan=False))
        b = draw(st.floats(a, top, exclude_min=True, allow_nan=False))
        if not a < b:
            return draw(_choice(spec))
        return LogUniform(min_value=a, max_value=b) if cls is LogUniform else QLogUniform(
            min_value=a, max_value=b, q=draw(st.sampled_from([0.001, 0.01])))
    if not low < high:
        return draw(_choice(spec))
    a = draw(st.floats(low, high, exclude_max=True, allow_nan=False))
    b = draw(st.floats(a, high, exclude_min=True, allow_nan=False))
    if not (a < b and spec.in_range(a) and spec.in_range(b)):
        return draw(_choice(spec))
    if cls is QUniform:
        return QUniform(min_value=a, max_value=b, q=draw(st.sampled_from([0.001, 0.01, 0.1])))
    return Uniform(min_value=a, max_value=b)


@st.composite
def _gaussian(draw: Any, spec: FieldSpec, integer: bool) -> Any:
    low, high = _bounds(spec)
    if integer:
        mu = draw(st.integers(int(low), int(min(high, low + 64))))
        sigma = draw(st.integers(1, 8))
        return draw(st.sampled_from([QNormal, QLogNormal]))(mu=mu, sigma=sigma, q=1)
    mu = draw(st.floats(low, high, allow_nan=False))
    sigma = draw(st.floats(0.001, 1.0))
    cls = draw(st.sampled_from([Normal, LogNormal, QNormal, QLogNormal]))
    return cls(mu=mu, sigma=sigma) if cls in (Normal, LogNormal) else cls(mu=mu, sigma=sigma, q=0.01)


def _distribution(spec: FieldSpec, kinds: frozenset[str], bounded: bool = False) -> st.SearchStrategy[Any]:
    if bounded:  # only what keeps every drawn value inside the bounds, and ranges only where there is room
        kinds = kinds & _BOUNDED_KINDS
        low, high = _bounds(spec)
        if not high - low >= (1 if spec.kind is Kind.INT else 1e-9):
            kinds = kinds & {"scalar", "choice"}
    options = [field_values(spec)] if "scalar" in kinds else []
    if "choice" in kinds:
        options.append(_choice(spec))
    numeric = spec.kind in (Kind.FLOAT, Kind.INT) and spec.allowed is None
    if numeric and spec.kind is Kind.FLOAT:
        for name, cls in (("uniform", Uniform), ("quniform", QUniform), ("loguniform", LogUniform),
                          ("qloguniform", QLogUniform)):
            if name in kinds:
                options.append(_ranged(spec, cls))
        if "normal" in kinds:
            options.append(_gaussian(spec, integer=False))
    if numeric and spec.kind is Kind.INT:
        if "quniform" in kinds:
            options.append(_ranged(spec, QUniform))
        if "randint" in kinds and spec.low is not None and spec.low <= 1:
            top = int(spec.high) + 1 if spec.high is not None else 512
            options.append(st.integers(int(spec.low) + 1, max(top, int(spec.low) + 1)).map(lambda u: Randint(upper=u)))
        if "normal" in kinds:
            options.append(_gaussian(spec, integer=True))
    return st.one_of(options) if options else field_values(spec)


ALL_KINDS = frozenset({"scalar", "choice", "uniform", "quniform", "loguniform", "qloguniform", "normal", "randint"})
GRID_KINDS = frozenset({"scalar", "choice"})
BAYESIAN_KINDS = frozenset({"scalar", "choice", "uniform", "quniform"})


def search_spaces(kinds: frozenset[str] = ALL_KINDS, max_fields: int = 6, *, fields: Collection[str] | None = None,
                  bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
                  ) -> st.SearchStrategy[SearchSpace]:
    """Valid :class:`SearchSpace` subspaces whose values are among ``kinds``
    (``scalar``, ``choice``, ``uniform``, ``quniform``, ``loguniform``,
    ``qloguniform``, ``normal``, ``randint``).

    Args:
        kinds: The kinds of values.
        max_fields: Fields per subspace at most.
        fields: The searchable fields that may appear (default: all 31).
        bounds: Field name -> ``(low, high)``: a bounded field's values and distributions stay
            within (it is searched by ``scalar``, ``choice``, ``uniform`` or ``loguniform`` only;
            the cross-field rules may still move a crop or resize size, as in
            :func:`training_parameters`).

    Raises:
        ValidationError: An unknown or unsearchable field, no field at all, a bad bound or kind.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(search_spaces(GRID_KINDS))
        ... def check(value):
        ...     assert all(d.type == "choice" for d in value.distributions().values())
        >>> check()
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(search_spaces(fields=["learning_rate"], bounds={"learning_rate": (0.001, 0.01)}))
        ... def check_narrowed(value):
        ...     assert list(value.set_fields()) == ["learning_rate"]
        >>> check_narrowed()
    """
    problems: list[Problem] = []
    specs = _specs(bounds, problems)
    names = _chosen(fields, list(SEARCHABLE), "fields", problems)
    unknown_kinds = sorted(set(kinds) - ALL_KINDS) if isinstance(kinds, (set, frozenset, list, tuple)) else [kinds]
    if unknown_kinds:
        problems.append(Problem("kinds", f"unknown {unknown_kinds!r}; among {', '.join(sorted(ALL_KINDS))}"))
    if not names and fields is not None and not problems:
        problems.append(Problem("fields", "a search space needs at least one field"))
    if not (isinstance(max_fields, int) and max_fields >= 1):
        problems.append(Problem("max_fields", f"must be an integer >= 1, got {max_fields!r}"))
    _raise(problems, "search_spaces()")
    return _search_spaces(frozenset(kinds), max_fields, specs, names, frozenset(bounds or ()))


@st.composite
def _search_spaces(draw: Any, kinds: frozenset[str], max_fields: int, specs: Mapping[str, FieldSpec],
                   fields: list[str], bounded: frozenset[str]) -> SearchSpace:
    names = draw(st.lists(st.sampled_from(fields), unique=True, min_size=1, max_size=max_fields))
    values = {name: draw(_distribution(specs[name], kinds, name in bounded)) for name in names}
    # A one-value choice pins its value, as a scalar does (the records check both).
    pinned = {k: v.values[0] if isinstance(v, Choice) and len(v.values) == 1 else v for k, v in values.items()
              if not hasattr(v, "type") or isinstance(v, (str, int, float)) or isinstance(v, Choice) and len(v.values) == 1}
    values.update((k, v) for k, v in _consistent_crops(dict(pinned)).items() if v != pinned[k])
    if any(isinstance(values.get(k), Choice) for k in ("training_crop_size", "validation_crop_size")) and \
            (values.get("model_name") in VIT_MODELS or isinstance(values.get("model_name"), Choice)):
        values.pop("validation_crop_size", None)
    return SearchSpace(**values)


# --------------------------------------------------------------------------- limits and sweeps
def limits(*, max_trials: int | None = None) -> st.SearchStrategy[Limits]:
    """Valid :class:`Limits` (concurrency never above ``max_trials``), with at most ``max_trials`` trials
    when it is given.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(limits())
        ... def check(value):
        ...     assert value.max_concurrent_trials is None or value.max_concurrent_trials <= (value.max_trials or 100)
        >>> check()
    """
    problems: list[Problem] = []
    spec = LIMITS["max_trials"]
    if max_trials is not None:
        spec = _narrow(spec, (None, max_trials), "max_trials", problems)
    _raise(problems, "limits()")
    return _limits(spec)


@st.composite
def _limits(draw: Any, trials_spec: FieldSpec) -> Limits:
    trials = draw(st.none() | field_values(trials_spec))
    concurrency = draw(st.none() | st.integers(1, min(100, trials or 100)))
    timeout = draw(st.none() | field_values(LIMITS["timeout_minutes"]))
    return Limits(max_trials=trials, max_concurrent_trials=concurrency, timeout_minutes=timeout)


def sampling_algorithms(names: Collection[str] | None = None) -> st.SearchStrategy[Any]:
    """Random (seeded or not, random or sobol), grid and Bayesian sampling; ``names`` narrows
    them (among ``random``, ``sobol``, ``grid``, ``bayesian``).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(sampling_algorithms())
        ... def check(value):
        ...     assert value.type in ("random", "grid", "bayesian")
        >>> check()
    """
    problems: list[Problem] = []
    chosen = _chosen(names, SAMPLING_ALGORITHMS[:-1], "names", problems)
    if not chosen and not problems:
        problems.append(Problem("names", "needs at least one sampling algorithm"))
    _raise(problems, "sampling_algorithms()")
    seeds = st.none() | st.integers(0, 2**32 - 1)
    options = {
        "random": st.builds(RandomSampling, seed=seeds, rule=st.sampled_from([None, "random"])),
        "sobol": st.builds(RandomSampling, seed=seeds, rule=st.just("sobol")),
        "grid": st.just(GridSampling()),
        "bayesian": st.just(BayesianSampling()),
    }
    return st.one_of([options[name] for name in chosen])


_algorithms = sampling_algorithms  # for the functions whose keyword argument has this name


def policies() -> st.SearchStrategy[Any]:
    """Valid early-termination policies.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(policies())
        ... def check(value):
        ...     assert value.type in ("bandit", "median_stopping", "truncation_selection")
        >>> check()
    """
    interval = st.integers(0, 10)
    delay = st.integers(0, 20)
    slack = st.floats(0.001, 10, allow_nan=False)
    return st.one_of(
        st.builds(BanditPolicy, slack_factor=slack, evaluation_interval=interval, delay_evaluation=delay),
        st.builds(BanditPolicy, slack_amount=slack, evaluation_interval=interval, delay_evaluation=delay),
        st.builds(MedianStoppingPolicy, evaluation_interval=interval, delay_evaluation=delay),
        st.builds(TruncationSelectionPolicy, truncation_percentage=st.integers(1, 99),
                  evaluation_interval=interval, delay_evaluation=delay),
    )


def sweeps(*, sampling_algorithms: Collection[str] | None = None) -> st.SearchStrategy[Sweep]:
    """Valid :class:`Sweep` values (no policy with Bayesian sampling), of the ``sampling_algorithms``
    named (default: all; see :func:`sampling_algorithms`).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(sweeps())
        ... def check(value):
        ...     assert not (value.sampling_algorithm.type == "bayesian" and value.early_termination)
        >>> check()
    """
    return _sweeps(_algorithms(sampling_algorithms))


@st.composite
def _sweeps(draw: Any, algorithms: st.SearchStrategy[Any]) -> Sweep:
    algorithm = draw(algorithms)
    policy = None if isinstance(algorithm, BayesianSampling) else draw(st.none() | policies())
    return Sweep(sampling_algorithm=algorithm, early_termination=policy)


# --------------------------------------------------------------------------- jobs
def inputs() -> st.SearchStrategy[Input]:
    """Valid data inputs of the three types.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(inputs())
        ... def check(value):
        ...     assert value.path and value.type.value in ("mltable", "uri_file", "uri_folder")
        >>> check()
    """
    path = st.sampled_from(["data/train", "./data/validation-mltable-folder", "azureml:fridge:1",
                            "azureml://datastores/x/paths/train", "/abs/train.jsonl", "images"])
    return st.builds(Input, path=path | _text, type=st.sampled_from(["mltable", "uri_file", "uri_folder"]))


_maps = st.dictionaries(_names, st.none() | _names, max_size=3)  # Azure: strings to strings


@attrs.frozen
class _JobShape:
    """What a narrowed job strategy draws from (checked once, when the strategy is made)."""

    classes: tuple[type, ...]
    algorithms: tuple[str, ...]
    specs: Mapping[str, FieldSpec]
    searchable: tuple[str, ...]
    bounded: frozenset[str]
    limits: Any


def _shape(task: str | Collection[str] | None, sampling_algorithms: Collection[str] | None,
           searchable: Collection[str] | None, bounds: Mapping[str, Any] | None, max_trials: int | None,
           what: str, classes: tuple[type, ...] | None = None) -> _JobShape:
    problems: list[Problem] = []
    if classes is None:
        tasks = _chosen(task, list(TASKS), "task", problems)
        classes = tuple(dict.fromkeys(TASKS[t] for t in tasks)) or (ImageClassificationJob,
                                                                     ImageClassificationMultilabelJob)
    algorithms = _chosen(sampling_algorithms, SAMPLING_ALGORITHMS, "sampling_algorithms", problems)
    if not algorithms and not problems:
        problems.append(Problem("sampling_algorithms", "needs at least one sampling algorithm (or 'none')"))
    specs = _specs(bounds, problems)
    names = _chosen(searchable, list(SEARCHABLE), "searchable", problems)
    trials = LIMITS["max_trials"]
    if max_trials is not None:
        trials = _narrow(trials, (None, max_trials), "max_trials", problems)
    _raise(problems, what)
    return _JobShape(classes=classes, algorithms=tuple(algorithms), specs=specs, searchable=tuple(names),
                     bounded=frozenset(bounds or ()), limits=_limits(trials))


@st.composite
def _job(draw: Any, shape: _JobShape) -> Any:
    cls = draw(st.sampled_from(shape.classes))
    named = [a for a in shape.algorithms if a != "none"]
    sweep = draw(_sweeps(_algorithms(named))) if named and (
        "none" not in shape.algorithms or draw(st.booleans())) else None
    algorithm = sweep.sampling_algorithm if sweep is not None else None

    def spaces_of(kinds: frozenset[str], most: int) -> list[SearchSpace]:
        if not shape.searchable:
            return []
        space = _search_spaces(kinds, 6, shape.specs, list(shape.searchable), shape.bounded)
        return draw(st.lists(space, max_size=most))

    if algorithm is None:
        spaces: list[SearchSpace] = []
    elif isinstance(algorithm, BayesianSampling):
        spaces = spaces_of(BAYESIAN_KINDS, 1)
    elif isinstance(algorithm, GridSampling):
        spaces = spaces_of(GRID_KINDS, 3)
    else:
        spaces = spaces_of(ALL_KINDS, 3)
    params = draw(_training_parameters(shape.specs, list(TRAINING_PARAMETERS)))
    if params.model_name in VIT_MODELS and any(
            s.training_crop_size is not None or s.validation_crop_size is not None for s in spaces):
        params = TrainingParameters(**{k: v for k, v in params.set_fields().items() if k != "model_name"})
    if any(s.model_name is not None and s.training_crop_size is None and s.validation_crop_size is None
           for s in spaces) and (params.training_crop_size is not None or params.validation_crop_size is not None):
        params = TrainingParameters(**{k: v for k, v in params.set_fields().items()
                                       if k not in ("training_crop_size", "validation_crop_size")})
    if any(s.model_name is not None for s in spaces) and params.layers_to_freeze is not None:
        params = TrainingParameters(**{k: v for k, v in params.set_fields().items() if k != "layers_to_freeze"})
    if any(s.layers_to_freeze is not None for s in spaces) and params.model_name is not None:
        params = TrainingParameters(**{k: v for k, v in params.set_fields().items() if k != "model_name"})
    if any(s.validation_crop_size is not None or s.validation_resize_size is not None for s in spaces):
        params = TrainingParameters(**{k: v for k, v in params.set_fields().items()
                                       if k not in ("validation_resize_size", "validation_crop_size")})
    validation = draw(st.none() | inputs())
    test = draw(st.none() | inputs())
    val_size = None if validation is not None else draw(st.none() | st.floats(0.05, 0.5))
    test_size = None if test is not None else draw(st.none() | st.floats(0.05, 0.4))
    return cls(
        schema=draw(st.none() | st.just("https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json")),
        name=draw(st.none() | _names),
        display_name=draw(st.none() | _names),
        experiment_name=draw(st.none() | _names),
        description=draw(st.none() | _names),
        tags=draw(_maps),
        properties=draw(_maps),
        compute=draw(st.none() | st.sampled_from(["local", "azureml:gpu-cluster"])),
        log_verbosity=draw(st.sampled_from(["not_set", "debug", "info", "warning", "error", "critical"])),
        primary_metric=draw(st.sampled_from(list(cls.METRICS))),
        target_column_name=draw(st.sampled_from(["label", "target"]) | _text),
        training_data=draw(inputs()),
        validation_data=validation,
        validation_data_size=val_size,
        test_data=test,
        test_data_size=test_size,
        limits=draw(shape.limits),
        training_parameters=params,
        sweep=sweep,
        search_space=spaces,
        outputs=draw(st.none() | st.just({"best_model": Output(type="mlflow_model")})),
        queue_settings=draw(st.none() | st.just({"job_tier": "standard"})),
    )


def jobs(*, task: str | Collection[str] | None = None, sampling_algorithms: Collection[str] | None = None,
         searchable: Collection[str] | None = None,
         bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
         max_trials: int | None = None) -> st.SearchStrategy[Any]:
    """Valid jobs of both tasks, or of those narrowed to.

    Args:
        task: ``multiclass`` or ``multilabel`` (or their task names, :data:`TASKS`), or several.
        sampling_algorithms: Among :data:`SAMPLING_ALGORITHMS`: ``random``, ``sobol``, ``grid``,
            ``bayesian``, and ``none`` for jobs without a sweep.
        searchable: The fields a search space may search (none: no search space).
        bounds: Field name -> ``(low, high)``, for the training parameters and the search spaces
            (see :func:`search_spaces`).
        max_trials: ``limits.max_trials`` at most (it may still be unset, which means 1).

    Raises:
        ValidationError: An unknown task, algorithm or field, or a bad bound (every problem at once).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(jobs())
        ... def check(value):
        ...     assert loads(dumps(value)) == value
        >>> check()
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(jobs(task="multilabel", sampling_algorithms=["grid"], searchable=["learning_rate"],
        ...             bounds={"learning_rate": (0.001, 0.01)}, max_trials=4))
        ... def check_narrowed(value):
        ...     assert value.multilabel and value.sweep.sampling_algorithm.type == "grid"
        ...     assert all(list(s.set_fields()) == ["learning_rate"] for s in value.search_space)
        ...     assert (value.limits.max_trials or 1) <= 4
        >>> check_narrowed()
        >>> jobs(task="multiclas", bounds={"optimizer": (0, 1)})
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 2 problems in jobs():
          task: unknown 'multiclas' (did you mean 'multiclass'?); one of ...
          bounds.optimizer: optimizer is not a number (enum): only numeric fields have bounds
    """
    return _job(_shape(task, sampling_algorithms, searchable, bounds, max_trials, "jobs()"))


_jobs = jobs  # for the functions whose keyword argument has this name


def multilabel_jobs(**narrowing: Any) -> st.SearchStrategy[ImageClassificationMultilabelJob]:
    """Valid multilabel jobs (narrowed as :func:`jobs`, but for the task).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(multilabel_jobs())
        ... def check(value):
        ...     assert value.multilabel
        >>> check()
    """
    return _job(_narrowed_shape(narrowing, "multilabel_jobs()", ImageClassificationMultilabelJob))


def _narrowed_shape(narrowing: Mapping[str, Any], what: str, cls: type) -> _JobShape:
    unknown = sorted(set(narrowing) - {"sampling_algorithms", "searchable", "bounds", "max_trials"})
    if unknown:
        raise ValidationError([Problem(name, "not a keyword argument (sampling_algorithms, searchable, bounds, "
                                             "max_trials)") for name in unknown], what)
    return _shape(None, narrowing.get("sampling_algorithms"), narrowing.get("searchable"), narrowing.get("bounds"),
                  narrowing.get("max_trials"), what, classes=(cls,))


def multiclass_jobs(**narrowing: Any) -> st.SearchStrategy[ImageClassificationJob]:
    """Valid multiclass jobs (narrowed as :func:`jobs`, but for the task).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(multiclass_jobs())
        ... def check(value):
        ...     assert not value.multilabel
        >>> check()
    """
    return _job(_narrowed_shape(narrowing, "multiclass_jobs()", ImageClassificationJob))


# --------------------------------------------------------------------------- plans and run results
@st.composite
def _plans(draw: Any, job_strategy: st.SearchStrategy[Any]) -> Plan:
    job = draw(job_strategy)
    seed = draw(st.integers(0, 2**32 - 1))
    with warnings.catch_warnings():  # a job whose concurrency is above max_trials: compile caps it, and says so
        warnings.simplefilter("ignore", UserWarning)
        return compile(job, seed=seed)


def plans(jobs: st.SearchStrategy[Any] | None = None, *, max_trials: int = 6) -> st.SearchStrategy[Plan]:
    """Valid plans: jobs compiled (:func:`imgtune.compile`) with a drawn seed.

    Args:
        jobs: The jobs to compile (default: :func:`jobs` with at most ``max_trials`` trials).
        max_trials: The trials of the default jobs at most (compiling many takes long).

    Example:
        >>> from hypothesis import given, settings
        >>> from imgtune.compiler import dumps_plan, loads_plan
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(plans())
        ... def check(plan):
        ...     assert loads_plan(dumps_plan(plan)) == plan and len(plan.trials) <= plan.limits.max_trials <= 6
        >>> check()
    """
    if jobs is None:
        problems: list[Problem] = []
        if not (isinstance(max_trials, int) and not isinstance(max_trials, bool) and max_trials >= 1):
            problems.append(Problem("max_trials", f"must be an integer >= 1, got {max_trials!r}"))
        _raise(problems, "plans()")
        jobs = _jobs(max_trials=max_trials)
    return _plans(jobs)


_plans_of = plans  # for run_results, whose keyword argument has this name

#: How a generated run ended: every trial finished, some still running, or canceled part way.
_RUN_STATES = ("finished", "running", "canceled")


def _evaluations(draw: Any, metric: str, count: int) -> list[dict[str, Any]]:
    values = st.floats(0, 1, allow_nan=False)
    return [{"epoch": epoch, metric: draw(values), "loss": draw(st.floats(0, 10, allow_nan=False))}
            for epoch in range(1, count + 1)]


@st.composite
def _run_results(draw: Any, plan_strategy: st.SearchStrategy[Plan]) -> RunResult:
    plan = draw(plan_strategy)
    metric = plan.job.primary_metric
    state = draw(st.sampled_from(_RUN_STATES))
    n = len(plan.trials)
    done = n if state == "finished" else draw(st.integers(0, n))  # the trials that finished, in order
    clock = draw(st.floats(1.7e9, 1.8e9))
    records = []
    for trial in plan.trials:
        epochs = min(trial.parameters.number_of_epochs, 4)
        base = {"id": trial.id, "index": trial.index, "parameters": trial.parameters, "sampled": trial.sampled}
        if trial.index < done:
            status = draw(st.sampled_from([JobStatus.COMPLETED, JobStatus.COMPLETED, JobStatus.FAILED,
                                           JobStatus.CANCELED]))
            count = {JobStatus.COMPLETED: epochs, JobStatus.FAILED: draw(st.integers(0, epochs)),
                     JobStatus.CANCELED: draw(st.integers(1, epochs))}[status]
            reason = {JobStatus.COMPLETED: None, JobStatus.FAILED: "the trial failed: RuntimeError('out of memory')",
                      JobStatus.CANCELED: f"bandit: stopped at interval {count}"}[status]
            start = clock + 10 * trial.index
            fields = {"status": status, "stop_reason": reason, "started_at": start,
                      "ended_at": start + draw(st.floats(1, 1e4)), "attempts": draw(st.integers(1, 3))}
        elif trial.index < done + plan.limits.max_concurrent_trials and state != "finished":
            count = draw(st.integers(0, max(epochs - 1, 0)))
            running = state == "running"
            fields = {"status": JobStatus.RUNNING if running else JobStatus.CANCELED,
                      "stop_reason": None if running else "canceled by the user (Ctrl-C)",
                      "resumable": not running, "started_at": clock + 10 * trial.index,
                      "ended_at": None if running else clock + 1e5, "attempts": 1}
        else:
            count, fields = 0, {"status": JobStatus.NOT_STARTED}
        history = _evaluations(draw, metric.value, count)
        best, epoch = best_of_history(history, metric)
        records.append(TrialRecord(**base, **fields, history=history, best_metric=best, best_epoch=epoch))
    statuses = [r.status for r in records]
    if state == "running" and any(s is JobStatus.RUNNING for s in statuses):
        status = JobStatus.RUNNING
    elif state == "canceled" and not all(s.is_terminal for s in statuses) or any(r.resumable for r in records):
        status = JobStatus.CANCELED
    else:
        status = JobStatus.FAILED if statuses and all(s is JobStatus.FAILED for s in statuses) else \
            JobStatus.COMPLETED
    ended = None if status is JobStatus.RUNNING else clock + 2e5
    return RunResult(status=status, trials=records, primary_metric=metric, started_at=clock, ended_at=ended,
                     elapsed_seconds=draw(st.floats(0, 1e5)),
                     message="canceled by the user (Ctrl-C)" if status is JobStatus.CANCELED else None)


def run_results(plans: st.SearchStrategy[Plan] | None = None) -> st.SearchStrategy[RunResult]:
    """Valid run results, as :func:`imgtune.load_result` reads them, of generated plans (default:
    :func:`plans`): one :class:`~imgtune.runner.TrialRecord` per trial of the plan, with the trial's id,
    parameters and drawn values, a status and a history that agree (a completed trial evaluated every
    epoch, a trial not started has no history, ...), ``best_metric`` its history's best, and the run's
    status what the sweep gives such trials (``Running`` while one runs, ``Canceled`` when canceled,
    ``Failed`` when every trial failed, else ``Completed``). Nothing is written: ``output_dir`` is empty.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(run_results())
        ... def check(result):
        ...     for trial in result.trials:
        ...         assert (trial.status.value == "NotStarted") == (trial.started_at is None)
        ...         assert trial.best_metric is None or trial.best_metric >= max(
        ...             h[result.primary_metric.value] for h in trial.history)
        >>> check()
    """
    return _run_results(plans if plans is not None else _plans_of())
