"""Jobs as Azure ML v2 YAML text or mappings: :func:`loads`/:func:`load` and :func:`dumps`/:func:`dump`.

Example:
    >>> job = loads('''
    ... type: automl
    ... task: image_classification
    ... target_column_name: label
    ... training_data: {path: data/train, type: mltable}
    ... limits: {max_trials: 2}
    ... ''')
    >>> job.limits.max_trials
    2
    >>> loads(dumps(job)) == job
    True
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import attrs

from imgtune.atomic import write_atomic
from imgtune.errors import Problem, ValidationError
from imgtune.serialization.azure_quirks import normalize
from imgtune.serialization.legacy import LegacySchemaWarning, migrate
from imgtune.serialization.yaml_text import dump_text, parse_with_marks, with_marks
from imgtune.spec.checks import fmt
from imgtune.spec.convert import structure, unstructure
from imgtune.spec.enums import TaskType
from imgtune.spec.records import JOB_CLASSES, ImageClassificationJobBase

__all__ = ["dump", "dumps", "load", "loads", "to_dict"]

Job = ImageClassificationJobBase


def to_dict(job: Job) -> dict[str, Any]:
    """The job as the dict its YAML holds (Azure's ``job._to_dict()``)."""
    return unstructure(job)


def _structure_job(data: Any) -> Job:
    if not isinstance(data, Mapping):
        raise ValidationError([Problem("", f"a job must be a mapping of keys, got {fmt(data)}")])
    problems: list[Problem] = []
    kind = data.get("type")
    if kind is None:
        problems.append(Problem("type", "is required: automl"))
    elif kind != "automl":
        problems.append(Problem("type", f"must be automl, got {fmt(kind)}"))
    task = data.get("task")
    cls = JOB_CLASSES.get(TaskType(task)) if task in TaskType.values() else None
    if cls is None:
        tasks = ", ".join(TaskType.values())
        if task is None:
            problems.append(Problem("task", f"is required: one of {tasks}"))
        else:
            parsed = TaskType.parse(task)
            hint = f" (did you mean {parsed.value!r}? Azure requires the exact snake_case)" if parsed else ""
            problems.append(Problem("task", f"must be one of {tasks}, got {fmt(task)}{hint}"))
        cls = JOB_CLASSES[TaskType.IMAGE_CLASSIFICATION]  # keep checking the rest
    rest = {k: v for k, v in data.items() if k not in ("type", "task")}
    try:
        job = structure(rest, cls)
    except ValidationError as err:
        problems.extend(err.problems)
        job = None
    if problems:
        raise ValidationError(problems, "job")
    return job


def loads(source: str | bytes | Mapping[str, Any], *, base_path: str | os.PathLike | None = None) -> Job:
    """Reads a job from YAML text, or from a mapping in the YAML's shape.

    Args:
        source: YAML text, or an already parsed mapping.
        base_path: The folder relative data paths resolve against.

    Returns:
        An :class:`ImageClassificationJob` or :class:`ImageClassificationMultilabelJob`.

    Raises:
        ValidationError: Listing every problem with its path (and line and
            column for text). Nothing else escapes, whatever the input.
    """
    try:
        return _loads(source, base_path)
    except ValidationError:
        raise
    except RecursionError:
        raise ValidationError([Problem("", "is nested too deeply")]) from None
    except Exception as exc:  # a last guard: never a dependency's traceback for user input
        raise ValidationError([Problem("", f"could not be read ({type(exc).__name__}: {exc})")]) from None


def _loads(source: Any, base_path: Any) -> Job:
    marks: dict[str, tuple[int, int]] = {}
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError([Problem("", f"is not UTF-8 text: {exc.reason} at byte {exc.start}")]) from None
    if isinstance(source, str):
        data, marks = parse_with_marks(source)
    elif isinstance(source, Mapping):
        data = source
    else:
        raise ValidationError([Problem("", f"must be YAML text or a mapping, got {type(source).__name__}")])
    if not isinstance(data, Mapping):
        raise ValidationError([Problem("", f"a job must be a mapping of keys, got {fmt(data)}", 1, 1)])
    data, notes, renames, problems = migrate(data)
    data = normalize(data)
    try:
        job = _structure_job(data)
    except ValidationError as err:
        raise with_marks(ValidationError(problems + list(err.problems), "job"), marks, renames) from None
    if problems:
        raise with_marks(ValidationError(problems, "job"), marks, renames)
    if notes:
        warnings.warn("legacy Azure schema migrated (" + "; ".join(notes) + ")", LegacySchemaWarning, stacklevel=3)
    if base_path is not None:
        job = attrs.evolve(job, base_path=str(base_path))
    return job


def load(source: str | os.PathLike | TextIO) -> Job:
    """Reads a job from a YAML file (path or text stream); ``base_path`` is its folder.

    Raises:
        ValidationError: The YAML is not a valid job.
        FileNotFoundError: There is no such file.
    """
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        base = Path(name).resolve().parent if isinstance(name, str) and os.path.exists(name) else None
        return loads(source.read(), base_path=base)
    path = Path(source)
    try:
        text = path.read_bytes()
    except IsADirectoryError:
        raise ValidationError([Problem("", f"{path} is a folder, not a YAML file")]) from None
    return loads(text, base_path=path.resolve().parent)


def dumps(job: Job) -> str:
    """The job as YAML text in the Azure ML v2 schema, keys in a stable, readable order."""
    if not isinstance(job, Job):
        raise TypeError(f"dumps takes a job, got {type(job).__name__}")
    return dump_text(to_dict(job))


def dump(job: Job, dest: str | os.PathLike | TextIO, *, overwrite: bool = False) -> None:
    """Writes the job as YAML to a path (atomically) or a text stream.

    Raises:
        FileExistsError: ``dest`` exists and ``overwrite`` is false.
    """
    text = dumps(job)
    if hasattr(dest, "write"):
        dest.write(text)
        return
    write_atomic(Path(dest), text, overwrite=overwrite)
