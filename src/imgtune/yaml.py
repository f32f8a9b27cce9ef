"""Reading and writing jobs as Azure ML v2 YAML: the one cattrs converter.

``loads``/``load`` read a job (the current Azure schema, and the 2022 legacy
schema by migration with a :class:`LegacySchemaWarning`); ``dumps``/``dump``
write it so that ``loads(dumps(job)) == job`` and azure-ai-ml's ``load_job``
accepts a job that uses only Azure's features.

Differences from azure-ai-ml, on purpose:

* Paths are written exactly as given (the SDK prefixes ``azureml:`` to local
  paths on dump, which breaks its own round trip).
* ``$schema`` is kept (the SDK drops it).
* ``dump`` never overwrites an existing file unless ``overwrite=True`` (the SDK
  documents ``FileExistsError`` but overwrites), and writes atomically.
* Only safe YAML: a ``!!python/...`` tag is a validation error, never an object.
* Unquoted ``1e-4`` is read as a float (YAML 1.2), as azure-ai-ml also accepts.
* ``test_data``/``test_data_size`` load (the SDK raises a TypeError) and the
  local input types ``uri_file`` and ``uri_folder`` are imgtune's own.

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
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO, Union

import attrs
import cattrs
import yaml as pyyaml
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, override
from cattrs.strategies import configure_tagged_union

from imgtune.atomic import write_atomic
from imgtune.errors import Problem, ValidationError, closest, join_path
from imgtune.spec.checks import field_key, fmt
from imgtune.spec.distributions import DISTRIBUTIONS, Distribution, looks_like_distribution, parse_distribution
from imgtune.spec.enums import AzureEnum, TaskType
from imgtune.spec.frozen import FrozenMap
from imgtune.spec.records import (
    JOB_CLASSES,
    POLICIES,
    SAMPLING_ALGORITHMS,
    BayesianSampling,
    EarlyTerminationPolicy,
    GridSampling,
    ImageClassificationJobBase,
    RandomSampling,
    SamplingAlgorithm,
)

__all__ = ["Dumper", "LegacySchemaWarning", "dump", "dumps", "load", "loads", "parse_with_marks", "structure", "to_dict",
           "unstructure"]

Job = ImageClassificationJobBase
DistributionUnion = Union[tuple(DISTRIBUTIONS.values())]  # noqa: UP007
_UNIONS = {SamplingAlgorithm: SAMPLING_ALGORITHMS, EarlyTerminationPolicy: POLICIES,
           DistributionUnion: DISTRIBUTIONS, Distribution: DISTRIBUTIONS}


class LegacySchemaWarning(UserWarning):
    """A job used the pre-2022-09 schema (``image_model``, ``sweep.limits``, string distributions, ...)."""


# --------------------------------------------------------------------------- the converter
def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    # Field values are passed through as written; the records' converters normalise
    # them and their checks report problems, so Python construction and YAML
    # loading give the same messages.
    conv.register_structure_hook_factory(lambda t: isinstance(t, type) and attrs.has(t),
                                         lambda cls: _record_structure_fn(cls, conv))
    for union, members in ((SamplingAlgorithm, SAMPLING_ALGORITHMS), (EarlyTerminationPolicy, POLICIES),
                           (DistributionUnion, DISTRIBUTIONS)):
        configure_tagged_union(union, conv, tag_generator=lambda c: c.type, tag_name="type")
    conv.register_structure_hook(Distribution, conv.get_structure_hook(DistributionUnion))
    conv.register_unstructure_hook_func(lambda t: isinstance(t, type) and attrs.has(t), _unstructure_record)
    conv.register_unstructure_hook(FrozenMap, _unstructure_free)
    conv.register_unstructure_hook(tuple, _unstructure_free)
    conv.register_unstructure_hook_func(lambda t: isinstance(t, type) and issubclass(t, AzureEnum),
                                        lambda e: e.value)
    return conv


def _record_structure_fn(cls: type, conv: cattrs.Converter) -> Any:
    """Structures any attrs record (the job's, and the plan's in :mod:`imgtune.compiler`)."""
    overrides = {}
    for a in attrs.fields(cls):
        if a.metadata.get("dump") is False or not a.init:
            overrides[a.name] = override(omit=True)
        else:
            overrides[a.name] = override(rename=field_key(a), struct_hook=_as_written)
    return make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **overrides)


def _unstructure_free(value: Any) -> Any:
    """Free-form values (tags, Azure-only keys, outputs): plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _unstructure_free(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unstructure_free(v) for v in value]
    if attrs.has(type(value)) or isinstance(value, AzureEnum):
        return _CONVERTER.unstructure(value, unstructure_as=type(value))
    return value


def _as_written(value: Any, _: Any) -> Any:
    return value


def _unstructure_record(obj: Any) -> Any:
    cls = type(obj)
    if cls in (GridSampling, BayesianSampling) or (cls is RandomSampling and obj == RandomSampling()):
        return cls.type  # Azure's short form: `sampling_algorithm: random`
    out: dict[str, Any] = {}
    if isinstance(obj, Job):
        if obj.schema is not None:
            out["$schema"] = obj.schema
        out["type"] = "automl"
        out["task"] = obj.TASK.value
    elif cls in SAMPLING_ALGORITHMS.values() or cls in POLICIES.values() or isinstance(obj, Distribution):
        out["type"] = cls.type
    for a in attrs.fields(cls):
        if a.metadata.get("dump") is False or (isinstance(obj, Job) and a.name == "schema"):
            continue
        value = getattr(obj, a.name)
        if value is None or (isinstance(value, (tuple, Mapping)) and not value and not isinstance(obj, Distribution)):
            continue
        out[field_key(a)] = _CONVERTER.unstructure(value, unstructure_as=type(value))
    return out


_CONVERTER = _make_converter()


def unstructure(value: Any) -> Any:
    """Any record as plain YAML-ready data (dicts, lists, scalars) in Azure's shape."""
    return _CONVERTER.unstructure(value, unstructure_as=type(value))


def to_dict(job: Job) -> dict[str, Any]:
    """The job as the dict its YAML holds (Azure's ``job._to_dict()``)."""
    return unstructure(job)


def structure(data: Any, cls: Any) -> Any:
    """Builds a record of ``cls`` from plain data, reporting every problem at once.

    Raises:
        ValidationError: With the dotted path of each problem, relative to ``data``.
    """
    members = _UNIONS.get(cls)
    if members is not None:
        if not isinstance(data, Mapping):
            raise ValidationError([Problem("", f"must be a mapping with a type, got {fmt(data)}")])
        tag = data.get("type")
        if not isinstance(tag, str) or tag.strip().lower().replace("-", "_") not in _folded(members):
            hint = closest(str(tag), list(members)) if tag is not None else None
            extra = f" (did you mean {hint!r}?)" if hint else ""
            got = "nothing" if tag is None else fmt(tag)
            raise ValidationError([Problem("type", f"must be one of {', '.join(members)}, got {got}{extra}")])
        data = {**data, "type": _folded(members)[_fold(tag)]}
    elif attrs.has(cls) and not isinstance(data, Mapping):
        raise ValidationError([Problem("", f"must be a mapping, got {fmt(data)}")])
    problems: list[Problem] = []
    if isinstance(data, Mapping):
        problems = [Problem("", f"keys must be strings, got {fmt(k)}") for k in data if not isinstance(k, str)]
        target = members[data["type"]] if members is not None else cls
        if attrs.has(target):
            # Unknown keys are reported here, and dropped, so that the problems of
            # the known keys are reported in the same pass.
            known = _known_keys(target) | ({"type"} if members is not None else set())
            unknown = [k for k in data if isinstance(k, str) and k not in known]
            problems += _unknown_key_problems(unknown, sorted(known - {"type"}), "")
            data = {k: v for k, v in data.items() if isinstance(k, str) and k in known}
    try:
        value = _CONVERTER.structure(data, cls)
    except ValidationError as err:
        problems += err.problems
    except Exception as exc:  # cattrs' exception groups: flatten with paths and messages kept
        problems += _problems(exc, "", cls)
    if problems:
        raise ValidationError(problems)
    return value


def _known_keys(cls: type) -> set[str]:
    return {field_key(a) for a in attrs.fields(cls) if a.init and a.metadata.get("dump") is not False}


def _unknown_key_problems(keys: Any, known: list[str], path: str) -> list[Problem]:
    out = []
    for key in sorted(keys, key=str):
        hint = closest(str(key), known)
        extra = f"; did you mean {hint!r}?" if hint else f"; known keys: {', '.join(known)}"
        out.append(Problem(join_path(path, str(key)), f"unknown key{extra}"))
    return out


def _fold(tag: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", tag.strip()).lower().replace("-", "_").replace("__", "_")


def _folded(members: Mapping[str, Any]) -> dict[str, str]:
    return {_fold(k): k for k in members} | {k.replace("_", ""): k for k in members}


def _problems(exc: BaseException, path: str, cls: Any = None) -> list[Problem]:
    if isinstance(exc, ValidationError):
        return [p.prefixed(path) for p in exc.problems]
    if isinstance(exc, ForbiddenExtraKeysError):
        known = sorted(_known_keys(exc.cl)) if attrs.has(exc.cl) else []
        return _unknown_key_problems(exc.extra_fields, known, path)
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        out = []
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            name = getattr(note, "name", None)
            index = getattr(note, "index", None)
            sub = join_path(path, f"[{index}]" if name is None else name)
            if isinstance(inner, KeyError):
                out.append(Problem(sub, "is required"))
            else:
                out.extend(_problems(inner, sub))
        for inner in without:
            out.extend(_problems(inner, path))
        return out
    if isinstance(exc, KeyError):
        return [Problem(join_path(path, str(exc.args[0]) if exc.args else ""), "is required")]
    return [Problem(path, f"is invalid: {exc}")]


# --------------------------------------------------------------------------- jobs
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


# --------------------------------------------------------------------------- YAML text
_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _Loader(pyyaml.SafeLoader):
    """Safe loading, with YAML 1.2 floats such as ``1e-4``."""


class Dumper(pyyaml.SafeDumper):
    """Safe dumping that quotes strings our loader would read as floats."""


for _cls in (_Loader, Dumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def _represent_str(dumper: pyyaml.SafeDumper, data: str) -> Any:
    style = "|" if "\n" in data and data.strip() == data and "\r" not in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_list(dumper: pyyaml.SafeDumper, data: list) -> Any:
    flow = all(isinstance(v, (str, int, float, bool)) and (not isinstance(v, str) or len(v) < 40) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow and bool(data))


Dumper.add_representer(str, _represent_str)
Dumper.add_representer(list, _represent_list)
Dumper.add_multi_representer(AzureEnum, lambda d, e: d.represent_str(e.value))


def _node_marks(node: pyyaml.Node, path: str, marks: dict[str, tuple[int, int]], problems: list[Problem]) -> None:
    marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, pyyaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = join_path(path, key)
            if key in seen and isinstance(key_node, pyyaml.ScalarNode):
                problems.append(Problem(sub, "duplicate key", key_node.start_mark.line + 1,
                                        key_node.start_mark.column + 1))
            seen.add(key)
            _node_marks(value_node, sub, marks, problems)
    elif isinstance(node, pyyaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_marks(item, f"{path}[{i}]", marks, problems)


def parse_with_marks(text: str) -> tuple[Any, dict[str, tuple[int, int]]]:
    """YAML text parsed safely, with the (line, column) of every dotted key path, for error messages.

    Raises:
        ValidationError: The text is not valid YAML (with where).
    """
    marks: dict[str, tuple[int, int]] = {}
    problems: list[Problem] = []
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _node_marks(node, "", marks, problems)
                data = loader.construct_document(node)
            else:
                data = None
        finally:
            loader.dispose()
    except pyyaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"not valid YAML: {exc.problem or exc.context}"
        if exc.problem and "could not determine a constructor" in exc.problem:
            message = f"unsafe YAML tag rejected: {exc.problem.split('tag ')[-1]} (only plain YAML is read)"
        raise ValidationError([Problem("", message, mark.line + 1 if mark else None,
                                       mark.column + 1 if mark else None)]) from None
    except (pyyaml.YAMLError, ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise ValidationError([Problem("", f"not valid YAML: {exc}")]) from None
    if problems:
        raise ValidationError(problems)
    return data, marks


def _with_marks(err: ValidationError, marks: Mapping[str, tuple[int, int]], renames: Mapping[str, str]) -> ValidationError:
    out = []
    for p in err.problems:
        if p.line is not None:
            out.append(p)
            continue
        path = p.path
        for new, old in renames.items():
            if path == new or path.startswith(new + ".") or path.startswith(new + "["):
                path = old + path[len(new):]
                break
        probe = path
        while probe not in marks and probe:
            probe = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", probe) if re.search(r"(\.[^.\[]*|\[\d+\])$", probe) else ""
        line, col = marks.get(probe, (None, None))
        out.append(attrs.evolve(p, line=line, column=col))
    return ValidationError(out, err.title)


# --------------------------------------------------------------------------- legacy migration
_RENAMED_PARAMETERS = {
    "grad_accumulation_step": "gradient_accumulation_step",
    "valid_resize_size": "validation_resize_size",
    "valid_crop_size": "validation_crop_size",
    "train_crop_size": "training_crop_size",
    "lr_scheduler": "learning_rate_scheduler",
    "amsgrad": "ams_gradient",
}


def _migrate(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], dict[str, str], list[Problem]]:
    """Rewrites the legacy schema into the current one.

    Returns:
        The new data, a note per legacy key, new-path -> old-path renames (for
        line numbers), and the problems found (conflicts, unreadable strings).
    """
    data = dict(data)
    notes: list[str] = []
    renames: dict[str, str] = {}
    problems: list[Problem] = []
    if "image_model" in data:
        if "training_parameters" in data:
            problems.append(Problem("image_model", "cannot be given with training_parameters (its new name)"))
        else:
            data["training_parameters"] = data.pop("image_model")
            notes.append("image_model -> training_parameters")
            renames["training_parameters"] = "image_model"
    sweep = data.get("sweep")
    if isinstance(sweep, Mapping) and "limits" in sweep:
        sweep = dict(sweep)
        old = sweep.pop("limits")
        data["sweep"] = sweep
        limits = data.get("limits") or {}
        if isinstance(old, Mapping) and isinstance(limits, Mapping):
            clash = sorted(set(old) & set(limits))
            for key in clash:
                if old[key] != limits[key]:
                    problems.append(Problem(f"sweep.limits.{key}", f"conflicts with limits.{key}"))
            data["limits"] = {**limits, **old}
            for key in old:
                renames[f"limits.{key}"] = f"sweep.limits.{key}"
            notes.append("sweep.limits -> limits")
        else:
            problems.append(Problem("sweep.limits", "must be a mapping"))
    params = data.get("training_parameters")
    if isinstance(params, Mapping):
        params = dict(params)
        if "split_ratio" in params:
            data.setdefault("validation_data_size", params.pop("split_ratio"))
            notes.append("training_parameters.split_ratio -> validation_data_size")
        data["training_parameters"] = _rename_params(params, "training_parameters", notes, renames)
    spaces = data.get("search_space")
    if isinstance(spaces, Mapping):
        spaces = [spaces]
    if isinstance(spaces, list):
        new_spaces = []
        for i, space in enumerate(spaces):
            if isinstance(space, Mapping):
                space = _rename_params(dict(space), f"search_space[{i}]", notes, renames)
                for key, value in list(space.items()):
                    if looks_like_distribution(value):
                        try:
                            space[key] = unstructure(parse_distribution(value))
                            notes.append(f"search_space[{i}].{key}: {value!r} -> {space[key]}")
                        except ValidationError as err:
                            problems.extend(p.prefixed(f"search_space[{i}].{key}") for p in err.problems)
            new_spaces.append(space)
        data["search_space"] = new_spaces
    return data, notes, renames, problems


def _rename_params(params: dict[str, Any], path: str, notes: list[str], renames: dict[str, str]) -> dict[str, Any]:
    for old, new in _RENAMED_PARAMETERS.items():
        if old in params and new not in params:
            params[new] = params.pop(old)
            notes.append(f"{path}.{old} -> {new}")
            renames[f"{path}.{new}"] = f"{path}.{old}"
    return params


# --------------------------------------------------------------------------- public API
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
    data, notes, renames, problems = _migrate(data)
    try:
        job = _structure_job(data)
    except ValidationError as err:
        raise _with_marks(ValidationError(problems + list(err.problems), "job"), marks, renames) from None
    if problems:
        raise _with_marks(ValidationError(problems, "job"), marks, renames)
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
    return pyyaml.dump(to_dict(job), Dumper=Dumper, sort_keys=False, default_flow_style=False,
                       allow_unicode=True, width=100)


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
