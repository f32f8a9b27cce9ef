"""``key=value`` overrides (as Hydra's ``a.b=1``): :func:`override` and :func:`parse_override`.

The key is a dotted path (:func:`imgtune.spec.paths.parse_path`); the value is read as a YAML
scalar or flow collection (``0.01``, ``true``, ``[a, b]``, ``{type: choice, values: [1, 2]}``; safe
YAML only), and an empty value (``key=``) or ``null`` removes the key, back to its default. The
edits are made by :func:`imgtune.spec.paths.edit`: validated once, with the loader's messages.

Example:
    >>> from imgtune import ImageClassificationJob
    >>> job = ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
    >>> job = override(job, ["training_parameters.learning_rate=0.01", "limits.max_trials=2"])
    >>> job.training_parameters.learning_rate, job.limits.max_trials
    (0.01, 2)
    >>> override(job, ["limits.max_trails=2", "training_parameters.optimizer=adamm"])
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 2 problems in job:
      limits.max_trails: unknown key; did you mean 'max_trials'?
      training_parameters.optimizer: must be one of none, sgd, adam, adamw, got 'adamm' (did you mean 'adam'?)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from imgtune.errors import Problem, ValidationError
from imgtune.serialization.yaml_text import parse_with_marks
from imgtune.spec.paths import edit, parse_path
from imgtune.spec.records import ImageClassificationJobBase

__all__ = ["override", "parse_override"]

R = TypeVar("R")

#: A value is a scalar or a small flow collection: a bound on what one ``key=value`` may expand to.
_MAX_NODES = 10_000


def parse_override(text: str) -> tuple[str, Any]:
    """``"key=value"`` as ``(key, value)``: the value read as YAML.

    Raises:
        ValidationError: No ``=``, a key that is not a path, or a value that is not valid YAML.

    >>> parse_override("search_space[0].model_name={type: choice, values: [resnet18, resnet50]}")
    ('search_space[0].model_name', {'type': 'choice', 'values': ['resnet18', 'resnet50']})
    >>> parse_override("training_parameters.learning_rate=1e-3"), parse_override("limits.max_trials=")
    (('training_parameters.learning_rate', 0.001), ('limits.max_trials', None))
    >>> parse_override("limits.max_trials")
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      limits.max_trials: an override is KEY=VALUE (training_parameters.learning_rate=0.01), got no '='
    """
    if not isinstance(text, str):
        raise ValidationError([Problem("", f"an override is a KEY=VALUE string, got {type(text).__name__}")])
    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq:
        raise ValidationError([Problem(key, "an override is KEY=VALUE (training_parameters.learning_rate=0.01), "
                                            "got no '='")])
    parse_path(key)
    try:
        value, _ = parse_with_marks(raw, max_nodes=_MAX_NODES)
    except ValidationError as err:
        raise ValidationError([Problem(key, f"{p.message} in the value {raw!r}") for p in err.problems]) from None
    return key, value


def override(record: R, overrides: Iterable[str]) -> R:
    """``record`` (a job, or any record) with each ``key=value`` of ``overrides`` set, in order.

    Every problem (of the texts, the paths and the record they make) is reported at once, as
    the loader reports a job file's.

    Raises:
        ValidationError: Listing every problem with its dotted path.

    >>> from imgtune import ImageClassificationJob
    >>> job = ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
    >>> job = override(job, ["sweep.sampling_algorithm=grid",
    ...                      "search_space[0].optimizer={type: choice, values: [sgd, adam]}"])
    >>> [o.value for o in job.search_space[0].optimizer.values]
    ['sgd', 'adam']
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    changes: list[tuple[str, Any]] = []
    problems: list[Problem] = []
    for text in overrides:
        try:
            changes.append(parse_override(text))
        except ValidationError as err:
            problems += err.problems
    if not problems:
        return edit(record, changes)
    try:  # the problems of the texts, and those of the ones that could be read
        edit(record, changes)
    except ValidationError as err:
        problems += err.problems
    raise ValidationError(problems, "job" if isinstance(record, ImageClassificationJobBase) else type(record).__name__)
