"""Records addressed by dotted paths: :func:`set_in`, :func:`edit` and :func:`diff`.

A path names a value inside a record as error messages do: keys joined by dots, list items by
``[i]`` (``training_parameters.learning_rate``, ``search_space[0].model_name.values``). An edit is
pure: the record is turned into plain data (:func:`~imgtune.spec.convert.unstructure`), the values
are put in, and a new record of the same type is built from it, so it is validated like a job read
from YAML, with the same messages (an unknown key gets the loader's "did you mean"), all problems
at once. ``None`` as a value removes the key (the field goes back to its default) or the list item.
Text (``key=value``) is read one floor up, by :func:`imgtune.serialization.override`.

Example:
    >>> from imgtune import ImageClassificationJob
    >>> job = ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
    >>> set_in(job, "training_parameters.learning_rate", 0.01).training_parameters.learning_rate
    0.01
    >>> set_in(job, "training_parameters.learning_rat", 0.01)
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem in job:
      training_parameters.learning_rat: unknown key; did you mean 'learning_rate'?
    >>> [str(c) for c in diff(job, set_in(job, "limits.max_trials", 4))]
    ['limits.max_trials: None -> 4']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import attrs

from imgtune.errors import Problem, ValidationError, join_path
from imgtune.spec.checks import fmt
from imgtune.spec.convert import structure, unstructure
from imgtune.spec.enums import AzureEnum, TaskType
from imgtune.spec.records import JOB_CLASSES, ImageClassificationJobBase

__all__ = ["Change", "diff", "edit", "format_path", "parse_path", "set_in"]

R = TypeVar("R")

_KEY = r"[A-Za-z_$][\w$-]*"
_PATH = re.compile(rf"{_KEY}(?:\.{_KEY}|\[\d+\])*")
_STEP = re.compile(rf"({_KEY})|\[(\d+)\]")


def parse_path(path: str) -> tuple[str | int, ...]:
    """A dotted path as its keys (strings) and list indices (integers).

    Raises:
        ValidationError: The text is not a path.

    >>> parse_path("search_space[0].learning_rate")
    ('search_space', 0, 'learning_rate')
    >>> parse_path("limits..max_trials")
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      limits..max_trials: is not a path (keys joined by dots, list items as [i]: search_space[0].learning_rate)
    """
    text = path.strip() if isinstance(path, str) else ""
    if not _PATH.fullmatch(text):
        raise ValidationError([Problem(str(path), "is not a path (keys joined by dots, list items as [i]: "
                                                  "search_space[0].learning_rate)")])
    return tuple(m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _STEP.finditer(text))


def format_path(parts: Iterable[str | int]) -> str:
    """The dotted path of keys and indices (the inverse of :func:`parse_path`).

    >>> format_path(("search_space", 0, "learning_rate"))
    'search_space[0].learning_rate'
    """
    out = ""
    for p in parts:
        out = join_path(out, f"[{p}]" if isinstance(p, int) else p)
    return out


def _plain(value: Any) -> Any:
    """A value as the plain data a record is built from (records and enums as in YAML)."""
    if attrs.has(type(value)) or isinstance(value, AzureEnum):
        return unstructure(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _put(data: Any, parts: tuple[str | int, ...], value: Any, done: tuple[str | int, ...] = ()) -> Any:
    """``data`` with ``value`` at ``parts`` (a new container at every level; missing levels made);
    ``done``: the path down to ``data``, for messages."""
    head, rest = parts[0], parts[1:]
    if isinstance(head, str):
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise _not_a("mapping", data, head, done)
        out = dict(data)
        if rest:
            out[head] = _put(out.get(head), rest, value, (*done, head))
        elif value is None:
            out.pop(head, None)
        else:
            out[head] = value
        return out
    if data is None:
        data = []
    if not isinstance(data, (list, tuple)):
        raise _not_a("list", data, f"[{head}]", done)
    items = list(data)
    if head > len(items):
        raise ValidationError([Problem(format_path(done), f"has {len(items)} item{'s' if len(items) != 1 else ''}: "
                                           f"[{head}] is beyond its end (use [{len(items)}] to add one)")])
    if rest:
        items[head:head + 1] = [_put(items[head] if head < len(items) else None, rest, value, (*done, head))]
    elif value is None:
        del items[head:head + 1]
    else:
        items[head:head + 1] = [value]
    return items


def _not_a(kind: str, data: Any, step: str, done: tuple[str | int, ...]) -> ValidationError:
    whole = "{...}" if kind == "mapping" else "[...]"
    return ValidationError([Problem(format_path(done), f"is {fmt(data)}, not a {kind}: cannot set {step} in it "
                                                       f"(set the whole value: {format_path(done)}={whole})")])


def _build(record: Any, data: Mapping[str, Any]) -> Any:
    """A record of ``record``'s type (for a job: of the task's type) from plain data."""
    kept = {a.name: getattr(record, a.name) for a in attrs.fields(type(record))
            if a.init and a.metadata.get("dump") is False}  # not in the data (a job's base_path)
    if not isinstance(record, ImageClassificationJobBase):
        return attrs.evolve(structure(data, type(record)), **kept) if kept else structure(data, type(record))
    problems: list[Problem] = []
    if data.get("type") != "automl":
        problems.append(Problem("type", f"must be automl, got {fmt(data.get('type'))}"))
    task = data.get("task")
    cls = JOB_CLASSES.get(TaskType(task)) if task in TaskType.values() else None
    if cls is None:
        problems.append(Problem("task", f"must be one of {', '.join(TaskType.values())}, got {fmt(task)}"))
        cls = type(record)
    try:
        job = structure({k: v for k, v in data.items() if k not in ("type", "task")}, cls)
    except ValidationError as err:
        problems += err.problems
    if problems:
        raise ValidationError(problems)
    return attrs.evolve(job, **kept)


def edit(record: R, changes: Iterable[tuple[str, Any]]) -> R:
    """``record`` with each ``(path, value)`` of ``changes`` set, in order, validated once.

    Raises:
        ValidationError: Every problem of every change and of the record they make, each with its
            path (titled ``job`` for a job, as the loader's).

    >>> from imgtune import Limits
    >>> edit(Limits(max_trials=4), [("max_trials", 8), ("max_concurrent_trials", 2)])
    Limits(max_trials=8, max_concurrent_trials=2)
    """
    if not attrs.has(type(record)):
        raise TypeError(f"edit takes a record (a job, a plan, training parameters, ...), got {type(record).__name__}")
    title = "job" if isinstance(record, ImageClassificationJobBase) else type(record).__name__
    data = unstructure(record)
    problems: list[Problem] = []
    for path, value in changes:
        try:
            parts = parse_path(path)
        except ValidationError as err:
            problems += err.problems
            continue
        try:
            data = _put(data, parts, _plain(value))
        except ValidationError as err:
            problems += err.problems
    if not problems:
        try:
            return _build(record, data)  # type: ignore[no-any-return]
        except ValidationError as err:
            problems += err.problems
    raise ValidationError(problems, title)


def set_in(record: R, path: str, value: Any) -> R:
    """``record`` with ``value`` at the dotted ``path`` (see the module doc); ``record`` is unchanged.

    Args:
        record: A job, or any record (limits, training parameters, a policy, ...).
        path: ``a.b.c``, ``search_space[0].learning_rate``; missing levels are made.
        value: Plain data as in YAML, or a record; ``None`` removes the key (back to its default)
            or the list item.

    Raises:
        ValidationError: As the loader's, with the same messages and suggestions.

    >>> from imgtune import ImageClassificationJob
    >>> job = ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
    >>> job = set_in(job, "sweep.sampling_algorithm", "random")
    >>> job = set_in(job, "search_space[0].learning_rate", {"type": "uniform", "min_value": 0.001, "max_value": 0.1})
    >>> job.search_space[0].learning_rate
    Uniform(min_value=0.001, max_value=0.1)
    >>> set_in(job, "limits.max_trials", 0)
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem in job:
      limits.max_trials: must be in [1, 1000], got 0
    """
    return edit(record, [(path, value)])


@attrs.frozen
class Change:
    """One difference found by :func:`diff`: the path and its value in each record (``None``: not set there).

    >>> str(Change("limits.max_trials", 2, 4))
    'limits.max_trials: 2 -> 4'
    """

    path: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.path}: {self.old!r} -> {self.new!r}"


def _empty(value: Any) -> Any:
    """An empty mapping or list is the same as none; a tuple is a list."""
    if isinstance(value, (Mapping, list, tuple)) and not value:
        return None
    return list(value) if isinstance(value, tuple) else value


def _nested_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in value)


def _walk(x: Any, y: Any, path: str, out: list[Change]) -> None:
    """Compares two plain values, key by key (``x``'s keys, then ``y``'s new ones), into ``out``."""
    x, y = _empty(x), _empty(y)
    both = (x, y)
    if any(isinstance(v, Mapping) for v in both) and all(v is None or isinstance(v, Mapping) for v in both):
        xm, ym = x or {}, y or {}
        for k in [*xm, *(k for k in ym if k not in xm)]:
            _walk(xm.get(k), ym.get(k), join_path(path, str(k)), out)
    elif any(_nested_list(v) for v in both) and all(v is None or isinstance(v, list) for v in both):
        xs, ys = x or [], y or []
        for i in range(max(len(xs), len(ys))):
            _walk(xs[i] if i < len(xs) else None, ys[i] if i < len(ys) else None, join_path(path, f"[{i}]"), out)
    elif x != y:
        out.append(Change(path, x, y))


def diff(a: Any, b: Any) -> tuple[Change, ...]:
    """Every path where two records (two jobs, two plans, two trials' parameters, ...) differ,
    with its two values, in the order of the fields (``a``'s, then those only ``b`` has).

    Values are compared as they are written (:func:`~imgtune.spec.convert.unstructure`): enums as
    their values, a value not set as ``None``. A list of scalars (``values: [1, 2]``) is one value;
    a list of mappings is compared item by item (``search_space[1].model_name``).

    >>> from imgtune import TrainingParameters
    >>> for c in diff(TrainingParameters(learning_rate=0.1, optimizer="adam"), TrainingParameters(learning_rate=0.2)):
    ...     print(c)
    learning_rate: 0.1 -> 0.2
    optimizer: 'adam' -> None
    """
    out: list[Change] = []
    _walk(_plain(a), _plain(b), "", out)
    return tuple(out)
