"""Pure functions that return a new job: the only way to "change" one.

Each transform takes a job and returns a new job; the input is never changed.
Called without a job, it returns a ``Job -> Job`` function, so transforms
compose in pipelines with :func:`pipe`.

An argument left out keeps the current value; an explicit ``None`` clears it
(resets it to its default). This differs from Azure's setters, where ``None``
means "keep".

Example:
    >>> from imgtune import ImageClassificationJob, Input, pipe
    >>> job = ImageClassificationJob(training_data=Input(path="data/train"), target_column_name="label")
    >>> tuned = pipe(
    ...     job,
    ...     with_limits(max_trials=8, max_concurrent_trials=2),
    ...     with_sweep(sampling_algorithm="random", early_termination={"type": "bandit", "slack_factor": 0.2}),
    ...     extend_search_space({"learning_rate": {"type": "uniform", "min_value": 0.001, "max_value": 0.01}}),
    ... )
    >>> tuned.limits.max_trials, job.limits.max_trials
    (8, None)
    >>> with_limits(tuned, max_trials=None).limits.max_trials is None
    True
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, Unpack, overload

import attrs

from imgtune.errors import Problem, ValidationError, closest
from imgtune.spec.enums import LogVerbosity, PrimaryMetric
from imgtune.spec.records import (
    EarlyTerminationPolicy,
    ImageClassificationJobBase,
    Input,
    SamplingAlgorithm,
    SearchSpace,
    Sweep,
    TrainingParameters,
    TrainingParameterValues,
)

__all__ = [
    "extend_search_space",
    "pipe",
    "replace_search_space",
    "with_data",
    "with_limits",
    "with_metadata",
    "with_primary_metric",
    "with_sweep",
    "with_training_parameters",
]

Job = ImageClassificationJobBase
#: Any job type: a transform returns the type it was given.
J = TypeVar("J", bound=ImageClassificationJobBase)
#: What a subspace argument accepts: a subspace or a mapping in the YAML shape, or a list of them.
Spaces = SearchSpace | Mapping[str, Any] | Sequence[SearchSpace | Mapping[str, Any]]


class JobFn(Protocol):
    """A ``job -> job`` function (a transform called without a job); it returns the job type it is given."""

    def __call__(self, job: J, /) -> J: ...


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


#: The default of every transform argument: keep the current value.
KEEP: Any = _Keep()


def _curried(fn: Callable[..., Job]) -> Callable[..., Any]:
    """Lets ``fn(job, *args, **kw)`` also be called as ``fn(*args, **kw)``, which returns
    ``job -> fn(job, *args, **kw)``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], Job):
            return fn(*args, **kwargs)

        def apply(job: Job) -> Job:
            if not isinstance(job, Job):
                raise TypeError(f"{fn.__name__}(...) takes a job, got {type(job).__name__}")
            return fn(job, *args, **kwargs)

        apply.__name__ = f"{fn.__name__}(...)"
        apply.__qualname__ = apply.__name__
        return apply

    return wrapper


def _changes(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not KEEP}


def pipe(job: J, *fns: Callable[[J], J]) -> J:
    """Applies ``fns`` to ``job`` in order: ``pipe(j, f, g) == g(f(j))``.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> pipe(job, with_limits(max_trials=4), with_primary_metric("precision_score_weighted")).limits
        Limits(max_trials=4)
    """
    for fn in fns:
        job = fn(job)
    return job


def _evolve(record: Any, changes: Mapping[str, Any], path: str) -> Any:
    try:
        return attrs.evolve(record, **changes)
    except ValidationError as err:
        raise err.prefixed(path) from None


@overload
def with_data(job: J, /, *, training_data: Input | Mapping[str, Any] = ..., target_column_name: str = ...,
              validation_data: Input | Mapping[str, Any] | None = ..., validation_data_size: float | None = ...,
              test_data: Input | Mapping[str, Any] | None = ..., test_data_size: float | None = ...) -> J: ...
@overload
def with_data(*, training_data: Input | Mapping[str, Any] = ..., target_column_name: str = ...,
              validation_data: Input | Mapping[str, Any] | None = ..., validation_data_size: float | None = ...,
              test_data: Input | Mapping[str, Any] | None = ..., test_data_size: float | None = ...) -> JobFn: ...
@_curried
def with_data(job: Job, *, training_data: Input | Mapping | None = KEEP, target_column_name: str | None = KEEP,
              validation_data: Input | Mapping | None = KEEP, validation_data_size: float | None = KEEP,
              test_data: Input | Mapping | None = KEEP, test_data_size: float | None = KEEP) -> Job:
    """Sets the data inputs (Azure's ``set_data``, plus ``test_data``).

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> with_data(job, validation_data={"path": "val", "type": "uri_folder"}).validation_data
        Input(path='val', type='uri_folder')
        >>> with_data(validation_data_size=0.1)(job).validation_data_size   # curried
        0.1
    """
    return attrs.evolve(job, **_changes(training_data=training_data, target_column_name=target_column_name,
                                        validation_data=validation_data, validation_data_size=validation_data_size,
                                        test_data=test_data, test_data_size=test_data_size))


@overload
def with_limits(job: J, /, *, max_trials: int | None = ..., max_concurrent_trials: int | None = ...,
                timeout_minutes: int | None = ...) -> J: ...
@overload
def with_limits(*, max_trials: int | None = ..., max_concurrent_trials: int | None = ...,
                timeout_minutes: int | None = ...) -> JobFn: ...
@_curried
def with_limits(job: Job, *, max_trials: int | None = KEEP, max_concurrent_trials: int | None = KEEP,
                timeout_minutes: int | None = KEEP) -> Job:
    """Merges the given limits into the job's (Azure's ``set_limits``).

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> with_limits(job, max_trials=10, timeout_minutes=60).limits
        Limits(max_trials=10, timeout_minutes=60)
    """
    limits = _evolve(job.limits, _changes(max_trials=max_trials, max_concurrent_trials=max_concurrent_trials,
                                          timeout_minutes=timeout_minutes), "limits")
    return attrs.evolve(job, limits=limits)


@overload
def with_sweep(job: J, /, *, sampling_algorithm: SamplingAlgorithm | str | Mapping[str, Any] | None = ...,
               early_termination: EarlyTerminationPolicy | Mapping[str, Any] | None = ...) -> J: ...
@overload
def with_sweep(*, sampling_algorithm: SamplingAlgorithm | str | Mapping[str, Any] | None = ...,
               early_termination: EarlyTerminationPolicy | Mapping[str, Any] | None = ...) -> JobFn: ...
@_curried
def with_sweep(job: Job, *, sampling_algorithm: Any = KEEP, early_termination: Any = KEEP) -> Job:
    """Sets the sampling algorithm and/or the early-termination policy.

    ``early_termination=None`` removes the policy (Azure's ``set_sweep`` keeps it).
    ``with_sweep(job, sampling_algorithm=None)`` removes the whole sweep.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> with_sweep(job, sampling_algorithm="random",
        ...            early_termination={"type": "bandit", "slack_factor": 0.1}).sweep
        Sweep(sampling_algorithm=RandomSampling(), early_termination=BanditPolicy(slack_factor=0.1))
    """
    if sampling_algorithm is None:
        return attrs.evolve(job, sweep=None)
    changes = _changes(sampling_algorithm=sampling_algorithm, early_termination=early_termination)
    if job.sweep is None:
        if "sampling_algorithm" not in changes:
            raise ValidationError([Problem("sweep.sampling_algorithm", "is required: the job has no sweep yet")])
        try:
            sweep = Sweep(**changes)
        except ValidationError as err:
            raise err.prefixed("sweep") from None
        return attrs.evolve(job, sweep=sweep)  # the job's own problems already carry their full paths
    return attrs.evolve(job, sweep=_evolve(job.sweep, changes, "sweep"))


@overload
def with_training_parameters(job: J, /, **parameters: Unpack[TrainingParameterValues]) -> J: ...
@overload
def with_training_parameters(**parameters: Unpack[TrainingParameterValues]) -> JobFn: ...
@_curried
def with_training_parameters(job: Job, **parameters: Any) -> Job:
    """Merges the given training parameters into the job's; ``None`` clears one.

    Raises:
        ValidationError: An unknown parameter name (with the closest valid one), or a bad value.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> with_training_parameters(job, learning_rate=0.01, optimizer="adamw").training_parameters
        TrainingParameters(learning_rate=0.01, optimizer='adamw')
        >>> with_training_parameters(job, lerning_rate=0.01)
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem:
          training_parameters.lerning_rate: unknown parameter; did you mean 'learning_rate'?
    """
    known = {a.name for a in attrs.fields(TrainingParameters)}
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ValidationError([
            Problem(f"training_parameters.{k}", "unknown parameter"
                    + (f"; did you mean {closest(k, sorted(known))!r}?" if closest(k, sorted(known)) else ""))
            for k in unknown])
    return attrs.evolve(job, training_parameters=_evolve(job.training_parameters, parameters, "training_parameters"))


def _as_spaces(spaces: Any) -> list[Any]:
    if isinstance(spaces, (SearchSpace, Mapping)):
        return [spaces]
    if isinstance(spaces, Sequence) and not isinstance(spaces, str):
        return list(spaces)
    raise ValidationError([Problem("search_space", f"must be a subspace or a list of them, "
                                                   f"got {type(spaces).__name__}")])


@overload
def extend_search_space(job: J, spaces: Spaces, /) -> J: ...
@overload
def extend_search_space(spaces: Spaces, /) -> JobFn: ...
@_curried
def extend_search_space(job: Job, spaces: SearchSpace | Mapping | Sequence[SearchSpace | Mapping]) -> Job:
    """Appends one subspace or several (Azure's ``extend_search_space``).

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> job = with_sweep(job, sampling_algorithm="random")
        >>> job = extend_search_space(job, [{"model_name": "resnet18"}, {"model_name": "resnet50"}])
        >>> [space.model_name for space in job.search_space]
        ['resnet18', 'resnet50']
    """
    return attrs.evolve(job, search_space=(*job.search_space, *_as_spaces(spaces)))


@overload
def replace_search_space(job: J, spaces: Spaces | None, /) -> J: ...
@overload
def replace_search_space(spaces: Spaces | None, /) -> JobFn: ...
@_curried
def replace_search_space(job: Job, spaces: SearchSpace | Mapping | Sequence[SearchSpace | Mapping] | None) -> Job:
    """Replaces the whole search space; ``None`` or ``[]`` removes it.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> job = with_sweep(job, sampling_algorithm="grid")
        >>> job = replace_search_space(job, {"optimizer": {"type": "choice", "values": ["sgd", "adam"]}})
        >>> len(job.search_space), replace_search_space(job, None).search_space
        (1, ())
    """
    return attrs.evolve(job, search_space=() if spaces is None else tuple(_as_spaces(spaces)))


@overload
def with_primary_metric(job: J, primary_metric: PrimaryMetric | str | None, /) -> J: ...
@overload
def with_primary_metric(primary_metric: PrimaryMetric | str | None, /) -> JobFn: ...
@_curried
def with_primary_metric(job: Job, primary_metric: Any) -> Job:
    """Sets the primary metric (any Azure casing); ``None`` restores the task's default.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> with_primary_metric(job, "PrecisionScoreWeighted").primary_metric.value
        'precision_score_weighted'
        >>> with_primary_metric(job, "iou")
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem in ImageClassificationJob:
          primary_metric: iou is only for multilabel jobs (task image_classification_multilabel)
    """
    if primary_metric is None:
        primary_metric = type(job).DEFAULT_METRIC
    return attrs.evolve(job, primary_metric=primary_metric)


@overload
def with_metadata(job: J, /, *, name: str | None = ..., display_name: str | None = ...,
                  experiment_name: str | None = ..., description: str | None = ...,
                  tags: Mapping[str, str | None] | None = ..., properties: Mapping[str, str | None] | None = ...,
                  compute: str | None = ..., log_verbosity: LogVerbosity | str | None = ...) -> J: ...
@overload
def with_metadata(*, name: str | None = ..., display_name: str | None = ...,
                  experiment_name: str | None = ..., description: str | None = ...,
                  tags: Mapping[str, str | None] | None = ..., properties: Mapping[str, str | None] | None = ...,
                  compute: str | None = ..., log_verbosity: LogVerbosity | str | None = ...) -> JobFn: ...
@_curried
def with_metadata(job: Job, *, name: str | None = KEEP, display_name: str | None = KEEP,
                  experiment_name: str | None = KEEP, description: str | None = KEEP,
                  tags: Mapping[str, Any] | None = KEEP, properties: Mapping[str, Any] | None = KEEP,
                  compute: str | None = KEEP, log_verbosity: Any = KEEP) -> Job:
    """Sets descriptive fields: names, description, tags, properties, compute, log verbosity.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "data"}, target_column_name="label")
        >>> tagged = with_metadata(job, experiment_name="sweeps", tags={"team": "vision"})
        >>> tagged.experiment_name, dict(tagged.tags)
        ('sweeps', {'team': 'vision'})
    """
    changes = _changes(name=name, display_name=display_name, experiment_name=experiment_name,
                       description=description, tags=tags, properties=properties, compute=compute,
                       log_verbosity=log_verbosity)
    if changes.get("log_verbosity", KEEP) is None:
        changes["log_verbosity"] = "info"
    return attrs.evolve(job, **changes)
