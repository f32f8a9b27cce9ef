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
from typing import Any

import attrs

from imgtune.errors import Problem, ValidationError, closest
from imgtune.spec.records import (
    ImageClassificationJobBase,
    Input,
    SearchSpace,
    Sweep,
    TrainingParameters,
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
JobFn = Callable[[Job], Job]


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


def pipe(job: Job, *fns: JobFn) -> Job:
    """Applies ``fns`` to ``job`` in order: ``pipe(j, f, g) == g(f(j))``."""
    for fn in fns:
        job = fn(job)
    return job


def _evolve(record: Any, changes: Mapping[str, Any], path: str) -> Any:
    try:
        return attrs.evolve(record, **changes)
    except ValidationError as err:
        raise err.prefixed(path) from None


@_curried
def with_data(job: Job, *, training_data: Input | Mapping | None = KEEP, target_column_name: str | None = KEEP,
              validation_data: Input | Mapping | None = KEEP, validation_data_size: float | None = KEEP,
              test_data: Input | Mapping | None = KEEP, test_data_size: float | None = KEEP) -> Job:
    """Sets the data inputs (Azure's ``set_data``, plus ``test_data``)."""
    return attrs.evolve(job, **_changes(training_data=training_data, target_column_name=target_column_name,
                                        validation_data=validation_data, validation_data_size=validation_data_size,
                                        test_data=test_data, test_data_size=test_data_size))


@_curried
def with_limits(job: Job, *, max_trials: int | None = KEEP, max_concurrent_trials: int | None = KEEP,
                timeout_minutes: int | None = KEEP) -> Job:
    """Merges the given limits into the job's (Azure's ``set_limits``)."""
    limits = _evolve(job.limits, _changes(max_trials=max_trials, max_concurrent_trials=max_concurrent_trials,
                                          timeout_minutes=timeout_minutes), "limits")
    return attrs.evolve(job, limits=limits)


@_curried
def with_sweep(job: Job, *, sampling_algorithm: Any = KEEP, early_termination: Any = KEEP) -> Job:
    """Sets the sampling algorithm and/or the early-termination policy.

    ``early_termination=None`` removes the policy (Azure's ``set_sweep`` keeps it).
    ``with_sweep(job, sampling_algorithm=None)`` removes the whole sweep.
    """
    if sampling_algorithm is None:
        return attrs.evolve(job, sweep=None)
    changes = _changes(sampling_algorithm=sampling_algorithm, early_termination=early_termination)
    if job.sweep is None:
        if "sampling_algorithm" not in changes:
            raise ValidationError([Problem("sweep.sampling_algorithm", "is required: the job has no sweep yet")])
        try:
            return attrs.evolve(job, sweep=Sweep(**changes))
        except ValidationError as err:
            raise err.prefixed("sweep") from None
    return attrs.evolve(job, sweep=_evolve(job.sweep, changes, "sweep"))


@_curried
def with_training_parameters(job: Job, **parameters: Any) -> Job:
    """Merges the given training parameters into the job's; ``None`` clears one.

    Raises:
        ValidationError: An unknown parameter name (with the closest valid one), or a bad value.
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


@_curried
def extend_search_space(job: Job, spaces: SearchSpace | Mapping | Sequence[SearchSpace | Mapping]) -> Job:
    """Appends one subspace or several (Azure's ``extend_search_space``)."""
    return attrs.evolve(job, search_space=(*job.search_space, *_as_spaces(spaces)))


@_curried
def replace_search_space(job: Job, spaces: SearchSpace | Mapping | Sequence[SearchSpace | Mapping] | None) -> Job:
    """Replaces the whole search space; ``None`` or ``[]`` removes it."""
    return attrs.evolve(job, search_space=() if spaces is None else tuple(_as_spaces(spaces)))


@_curried
def with_primary_metric(job: Job, primary_metric: Any) -> Job:
    """Sets the primary metric (any Azure casing); ``None`` restores the task's default."""
    if primary_metric is None:
        primary_metric = type(job).DEFAULT_METRIC
    return attrs.evolve(job, primary_metric=primary_metric)


@_curried
def with_metadata(job: Job, *, name: str | None = KEEP, display_name: str | None = KEEP,
                  experiment_name: str | None = KEEP, description: str | None = KEEP,
                  tags: Mapping[str, Any] | None = KEEP, properties: Mapping[str, Any] | None = KEEP,
                  compute: str | None = KEEP, log_verbosity: Any = KEEP) -> Job:
    """Sets descriptive fields: names, description, tags, properties, compute, log verbosity."""
    changes = _changes(name=name, display_name=display_name, experiment_name=experiment_name,
                       description=description, tags=tags, properties=properties, compute=compute,
                       log_verbosity=log_verbosity)
    if changes.get("log_verbosity", KEEP) is None:
        changes["log_verbosity"] = "info"
    return attrs.evolve(job, **changes)
