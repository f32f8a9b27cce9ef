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
from typing import Any, BinaryIO, TextIO

from imgtune.atomic import write_atomic
from imgtune.errors import Problem, ValidationError
from imgtune.serialization.azure_quirks import normalize
from imgtune.serialization.legacy import LegacySchemaWarning, migrate
from imgtune.serialization.yaml_text import dump_text, parse_with_marks, with_marks
from imgtune.spec.checks import fmt
from imgtune.spec.convert import structure, unstructure
from imgtune.spec.enums import TaskType
from imgtune.spec.records import JOB_CLASSES, ImageClassificationJobBase, with_base_path

__all__ = ["MAX_JOB_BYTES", "MAX_JOB_NODES", "dump", "dumps", "load", "loads", "max_job_bytes", "to_dict"]

#: The default size limit on job files (a job is a few kilobytes); ``IMGTUNE_MAX_JOB_BYTES`` overrides it.
MAX_JOB_BYTES = 1_000_000

#: The most nodes a job may expand to with its aliases followed (a billion-laughs guard).
MAX_JOB_NODES = 100_000

Job = ImageClassificationJobBase


def to_dict(job: Job) -> dict[str, Any]:
    """The job as the dict its YAML holds (Azure's ``job._to_dict()``).

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> to_dict(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label",
        ...                                training_parameters={"optimizer": "Adam"}))
        {'type': 'automl', 'task': 'image_classification', 'log_verbosity': 'info', 'primary_metric': 'accuracy',
         'target_column_name': 'label', 'training_data': {'path': 'd', 'type': 'mltable'}, 'limits': {},
         'training_parameters': {'optimizer': 'adam'}}
    """
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


def max_job_bytes(max_bytes: int | None = None) -> int:
    """The size limit on job files: ``max_bytes``, else ``IMGTUNE_MAX_JOB_BYTES``, else :data:`MAX_JOB_BYTES`.

    Raises:
        ValidationError: A limit that is not a positive integer.
    """
    if max_bytes is None:
        raw = os.environ.get("IMGTUNE_MAX_JOB_BYTES")
        if raw is None:
            return MAX_JOB_BYTES
        try:
            max_bytes = int(raw)
        except ValueError:
            raise ValidationError([Problem("IMGTUNE_MAX_JOB_BYTES", f"must be a positive integer, got {raw!r}")]) \
                from None
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
        raise ValidationError([Problem("max_bytes", f"must be a positive integer, got {max_bytes!r}")])
    return max_bytes


def loads(source: str | bytes | Mapping[str, Any], *, base_path: str | os.PathLike | None = None,
          max_bytes: int | None = None) -> Job:
    """Reads a job from YAML text, or from a mapping in the YAML's shape.

    Args:
        source: YAML text, or an already parsed mapping.
        base_path: The folder relative data paths resolve against.
        max_bytes: The size limit for text (default :func:`max_job_bytes`: 1 MB, or
            ``IMGTUNE_MAX_JOB_BYTES``). Aliases may expand the document to at most
            :data:`MAX_JOB_NODES` nodes.

    Returns:
        An :class:`ImageClassificationJob` or :class:`ImageClassificationMultilabelJob`.

    Raises:
        ValidationError: Listing every problem with its path (and line and
            column for text). Nothing else escapes, whatever the input.

    Example:
        >>> job = loads("type: automl\\ntask: image_classification\\ntarget_column_name: label\\n"
        ...             "training_data: {path: data, type: mltable}\\nlimits: {max_trials: 0}\\n")
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 1 problem in job:
          limits.max_trials: must be in [1, 1000], got 0 (line 5, column 22)
    """
    try:
        return _loads(source, base_path, max_job_bytes(max_bytes))
    except ValidationError:
        raise
    except RecursionError:
        raise ValidationError([Problem("", "is nested too deeply")]) from None
    except Exception as exc:  # a last guard: never a dependency's traceback for user input
        raise ValidationError([Problem("", f"could not be read ({type(exc).__name__}: {exc})")]) from None


def _too_big(limit: int) -> ValidationError:
    return ValidationError([Problem("", f"is larger than the {limit:,}-byte limit for job files (a job is a few "
                                        f"kilobytes; raise the limit with max_bytes= or IMGTUNE_MAX_JOB_BYTES)")])


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ValidationError([Problem("", f"is not UTF-8 text: {exc.reason} (byte 0x{data[exc.start]:02x} at "
                                           f"offset {exc.start})", line, column)]) from None


def _loads(source: Any, base_path: Any, limit: int) -> Job:
    marks: dict[str, tuple[int, int]] = {}
    if isinstance(source, (bytes, str)) and len(source) > limit:
        raise _too_big(limit)
    if isinstance(source, bytes):
        source = _decode(source)
    if isinstance(source, str):
        data, marks = parse_with_marks(source, max_nodes=MAX_JOB_NODES)
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
        job = with_base_path(job, str(base_path))
    return job


def load(source: str | os.PathLike | TextIO | BinaryIO, *, max_bytes: int | None = None) -> Job:
    """Reads a job from a YAML file (path or stream); ``base_path`` is its folder.

    At most ``max_bytes`` + 1 bytes are read (:func:`max_job_bytes`), so an endless or huge
    input costs nothing. Every problem names the file.

    Raises:
        ValidationError: The YAML is not a valid job, or the file is too big, binary or not UTF-8.
        FileNotFoundError: There is no such file.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "job.yml"
        >>> _ = path.write_text("type: automl\\ntask: image_classification\\ntarget_column_name: label\\n"
        ...                     "training_data: {path: data, type: mltable}\\n")
        >>> job = load(path)
        >>> job.target_column_name, job.base_path == str(path.parent)
        ('label', True)
    """
    limit = max_job_bytes(max_bytes)
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        label = name if isinstance(name, str) else "<stream>"
        base = Path(name).resolve().parent if isinstance(name, str) and os.path.exists(name) else None
        return _load_named(source.read(limit + 1), label, base, limit)
    path = Path(source)
    try:
        with open(path, "rb") as fh:
            data = fh.read(min(limit + 1, _FIRST_READ))  # a job is small: no buffer of the whole limit
            if len(data) == _FIRST_READ:
                data += fh.read(limit + 1 - _FIRST_READ)
    except IsADirectoryError:
        raise ValidationError([Problem("", f"{path} is a folder, not a YAML file")]) from None
    return _load_named(data, str(path), os.path.dirname(os.path.realpath(path)), limit)  # Path.resolve().parent


_FIRST_READ = 1 << 16  # bytes


def _load_named(data: str | bytes, label: str, base: str | Path | None, limit: int) -> Job:
    try:
        return loads(data, base_path=base, max_bytes=limit)
    except ValidationError as err:
        raise err.from_source(label) from None
def dumps(job: Job) -> str:
    """The job as YAML text in the Azure ML v2 schema, keys in a stable, readable order.

    Example:
        >>> from imgtune import ImageClassificationJob
        >>> print(dumps(ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")))
        type: automl
        task: image_classification
        log_verbosity: info
        primary_metric: accuracy
        target_column_name: label
        training_data:
          path: d
          type: mltable
        limits: {}
        training_parameters: {}
        <BLANKLINE>
    """
    if not isinstance(job, Job):
        raise TypeError(f"dumps takes a job, got {type(job).__name__}")
    return dump_text(to_dict(job))


def dump(job: Job, dest: str | os.PathLike | TextIO, *, overwrite: bool = False) -> None:
    """Writes the job as YAML to a path (atomically) or a text stream.

    Raises:
        FileExistsError: ``dest`` exists and ``overwrite`` is false.

    Example:
        >>> import pathlib, tempfile
        >>> from imgtune import ImageClassificationJob
        >>> job = ImageClassificationJob(training_data={"path": "d"}, target_column_name="label")
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "job.yml"
        >>> dump(job, path)
        >>> load(path) == job
        True
        >>> dump(job, path)
        Traceback (most recent call last):
        ...
        FileExistsError: ...
    """
    text = dumps(job)
    if hasattr(dest, "write"):
        dest.write(text)
        return
    write_atomic(Path(dest), text, overwrite=overwrite)
