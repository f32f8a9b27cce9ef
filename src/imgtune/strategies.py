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
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # Hypothesis comes with the test extra, not with imgtune itself
    raise ImportError("imgtune.strategies needs Hypothesis: pip install 'imgtune[test]' (or just hypothesis)") from exc

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
    "field_values",
    "inputs",
    "jobs",
    "limits",
    "multiclass_jobs",
    "multilabel_jobs",
    "policies",
    "sampling_algorithms",
    "search_spaces",
    "sweeps",
    "training_parameters",
]

_INT_CAP = 4096  # generated ints on fields without an upper bound stay below low + this


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


@st.composite
def training_parameters(draw: Any) -> TrainingParameters:
    """Valid :class:`TrainingParameters`, any subset of the 34 fields set.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(training_parameters())
        ... def check(value):
        ...     assert TrainingParameters(**value.set_fields()) == value
        >>> check()
    """
    names = draw(st.lists(st.sampled_from(list(TRAINING_PARAMETERS)), unique=True, max_size=12))
    values = {name: draw(field_values(TRAINING_PARAMETERS[name])) for name in names}
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
        a = draw(st.floats(bottom, top, exclude_max=True, allow_nan=False))
        b = draw(st.floats(a, top, exclude_min=True, allow_nan=False))
        if not a < b:
            return draw(_choice(spec))
        return LogUniform(min_value=a, max_value=b) if cls is LogUniform else QLogUniform(
            min_value=a, max_value=b, q=draw(st.sampled_from([0.001, 0.01])))
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


def _distribution(spec: FieldSpec, kinds: frozenset[str]) -> st.SearchStrategy[Any]:
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


@st.composite
def search_spaces(draw: Any, kinds: frozenset[str] = ALL_KINDS, max_fields: int = 6) -> SearchSpace:
    """Valid :class:`SearchSpace` subspaces whose values are among ``kinds``
    (``scalar``, ``choice``, ``uniform``, ``quniform``, ``loguniform``,
    ``qloguniform``, ``normal``, ``randint``).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(search_spaces(GRID_KINDS))
        ... def check(value):
        ...     assert all(d.type == "choice" for d in value.distributions().values())
        >>> check()
    """
    names = draw(st.lists(st.sampled_from(list(SEARCHABLE)), unique=True, min_size=1, max_size=max_fields))
    values = {name: draw(_distribution(SEARCHABLE[name], kinds)) for name in names}
    # A one-value choice pins its value, as a scalar does (the records check both).
    pinned = {k: v.values[0] if isinstance(v, Choice) and len(v.values) == 1 else v for k, v in values.items()
              if not hasattr(v, "type") or isinstance(v, (str, int, float)) or isinstance(v, Choice) and len(v.values) == 1}
    values.update((k, v) for k, v in _consistent_crops(dict(pinned)).items() if v != pinned[k])
    if any(isinstance(values.get(k), Choice) for k in ("training_crop_size", "validation_crop_size")) and \
            (values.get("model_name") in VIT_MODELS or isinstance(values.get("model_name"), Choice)):
        values.pop("validation_crop_size", None)
    return SearchSpace(**values)


# --------------------------------------------------------------------------- limits and sweeps
@st.composite
def limits(draw: Any) -> Limits:
    """Valid :class:`Limits` (concurrency never above ``max_trials``).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(limits())
        ... def check(value):
        ...     assert value.max_concurrent_trials is None or value.max_concurrent_trials <= (value.max_trials or 100)
        >>> check()
    """
    trials = draw(st.none() | field_values(LIMITS["max_trials"]))
    concurrency = draw(st.none() | st.integers(1, min(100, trials or 100)))
    timeout = draw(st.none() | field_values(LIMITS["timeout_minutes"]))
    return Limits(max_trials=trials, max_concurrent_trials=concurrency, timeout_minutes=timeout)


def sampling_algorithms() -> st.SearchStrategy[Any]:
    """Random (seeded or not, random or sobol), grid and Bayesian sampling.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(sampling_algorithms())
        ... def check(value):
        ...     assert value.type in ("random", "grid", "bayesian")
        >>> check()
    """
    return st.one_of(
        st.builds(RandomSampling, seed=st.none() | st.integers(0, 2**32 - 1),
                  rule=st.none() | st.sampled_from(["random", "sobol"])),
        st.just(GridSampling()),
        st.just(BayesianSampling()),
    )


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


@st.composite
def sweeps(draw: Any) -> Sweep:
    """Valid :class:`Sweep` values (no policy with Bayesian sampling).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(sweeps())
        ... def check(value):
        ...     assert not (value.sampling_algorithm.type == "bayesian" and value.early_termination)
        >>> check()
    """
    algorithm = draw(sampling_algorithms())
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


@st.composite
def _job(draw: Any, cls: type) -> Any:
    sweep = draw(st.none() | sweeps())
    algorithm = sweep.sampling_algorithm if sweep is not None else None
    if algorithm is None:
        spaces: list[SearchSpace] = []
    elif isinstance(algorithm, BayesianSampling):
        spaces = draw(st.lists(search_spaces(BAYESIAN_KINDS), max_size=1))
    elif isinstance(algorithm, GridSampling):
        spaces = draw(st.lists(search_spaces(GRID_KINDS), max_size=3))
    else:
        spaces = draw(st.lists(search_spaces(), max_size=3))
    params = draw(training_parameters())
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
        limits=draw(limits()),
        training_parameters=params,
        sweep=sweep,
        search_space=spaces,
        outputs=draw(st.none() | st.just({"best_model": Output(type="mlflow_model")})),
        queue_settings=draw(st.none() | st.just({"job_tier": "standard"})),
    )


def jobs() -> st.SearchStrategy[Any]:
    """Valid jobs of both tasks.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(jobs())
        ... def check(value):
        ...     assert loads(dumps(value)) == value
        >>> check()
    """
    return st.one_of(_job(ImageClassificationJob), _job(ImageClassificationMultilabelJob))


def multilabel_jobs() -> st.SearchStrategy[ImageClassificationMultilabelJob]:
    """Valid multilabel jobs.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(multilabel_jobs())
        ... def check(value):
        ...     assert value.multilabel
        >>> check()
    """
    return _job(ImageClassificationMultilabelJob)


def multiclass_jobs() -> st.SearchStrategy[ImageClassificationJob]:
    """Valid multiclass jobs.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, deadline=None, database=None)
        ... @given(multiclass_jobs())
        ... def check(value):
        ...     assert not value.multilabel
        >>> check()
    """
    return _job(ImageClassificationJob)
