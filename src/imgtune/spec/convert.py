"""Mappings <-> records: the one cattrs converter, owned by the spec layer.

Records accept nested values as records or as mappings in the YAML shape (as
Azure's setters accept dicts); :func:`structure` builds them, reporting every
problem at once with its dotted path, and :func:`unstructure` turns any record
back into plain data (dicts, lists, scalars) in Azure's shape. No text and no
files here: YAML lives in :mod:`imgtune.serialization`, one floor up.

Tagged unions (``type: bandit``) are registered by the module that defines their
members (:func:`register_union`); record-specific shapes (a job's ``type`` and
``task`` head, ``sampling_algorithm: random``'s short form) by
:func:`register_unstructure`. Field values are passed through as written: each
record's own converters normalise them and its checks report problems, so Python
construction and YAML loading give the same messages.

Example:
    >>> from imgtune.spec.records import Limits
    >>> structure({"max_trials": 2, "max_trails": 3}, Limits)
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem:
      max_trails: unknown key; did you mean 'max_trials'?
    >>> unstructure(structure({"max_trials": 2}, Limits))
    {'max_trials': 2}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any, Union

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, override
from cattrs.strategies import configure_tagged_union

from imgtune.errors import Problem, ValidationError, closest, join_path
from imgtune.spec.checks import field_key, fmt, lenient
from imgtune.spec.distributions import DISTRIBUTIONS, Distribution
from imgtune.spec.enums import AzureEnum
from imgtune.spec.frozen import FrozenMap

__all__ = ["record_converter", "register_union", "register_unstructure", "register_upgrade", "structure",
           "unstructure", "unstructure_fields"]

DistributionUnion = Union[tuple(DISTRIBUTIONS.values())]  # noqa: UP007

#: Union type -> {tag: member class}; the tag is each member's ``type``.
_UNIONS: dict[Any, Mapping[str, type]] = {}

#: Record class -> the function that brings its data written by an older version to the current shape.
_UPGRADES: dict[type, Callable[[Mapping[str, Any]], Mapping[str, Any]]] = {}


# --------------------------------------------------------------------------- the converter
def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook_factory(lambda t: isinstance(t, type) and attrs.has(t),
                                         lambda cls: _record_structure_fn(cls, conv))
    conv.register_unstructure_hook_func(lambda t: isinstance(t, type) and attrs.has(t), unstructure_fields)
    conv.register_unstructure_hook(FrozenMap, _unstructure_free)
    conv.register_unstructure_hook(tuple, _unstructure_free)
    # By class, not by predicate: cattrs' own hook for str subclasses would win over a predicate and
    # keep the enum member, which yaml.safe_dump and json.dumps cannot write.
    conv.register_unstructure_hook(AzureEnum, _enum_value)
    conv.register_unstructure_hook_func(lambda t: isinstance(t, type) and issubclass(t, PurePath), str)
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


def _enum_value(member: AzureEnum) -> str:
    return member.value  # type: ignore[no-any-return]


def _as_written(value: Any, _: Any) -> Any:
    return value


def _unstructure_free(value: Any) -> Any:
    """Free-form values (tags, Azure-only keys, outputs): plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _unstructure_free(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unstructure_free(v) for v in value]
    if attrs.has(type(value)) or isinstance(value, AzureEnum):
        return unstructure(value)
    return value


def _tagged(cls: type) -> bool:
    return any(cls in members.values() for members in _UNIONS.values())


def unstructure_fields(obj: Any) -> dict[str, Any]:
    """A record's fields as plain data under their YAML keys, ``type`` first for a union member.

    Unset (``None``) and empty values are left out, except in distributions.
    """
    cls = type(obj)
    out: dict[str, Any] = {"type": cls.type} if _tagged(cls) else {}
    for a in attrs.fields(cls):
        if a.metadata.get("dump") is False:
            continue
        value = getattr(obj, a.name)
        if value is None or (isinstance(value, (tuple, Mapping)) and not value and not isinstance(obj, Distribution)):
            continue
        out[field_key(a)] = _CONVERTER.unstructure(value, unstructure_as=type(value))
    return out


_CONVERTER = _make_converter()


def register_union(union: Any, members: Mapping[str, type]) -> None:
    """Registers a tagged union: a mapping's ``type`` (spelled loosely: ``Bandit``, ``median-stopping``)
    picks the member class."""
    _UNIONS[union] = members
    configure_tagged_union(union, _CONVERTER, tag_generator=lambda c: c.type, tag_name="type")


def register_upgrade(cls: type, fn: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> None:
    """Gives ``cls`` a reader of its older shapes: :func:`structure` passes a mapping to be built
    into a ``cls`` through ``fn(data) -> data`` first (``fn`` returns data in the current shape,
    and the current shape unchanged). The module that owns a versioned record registers it."""
    _UPGRADES[cls] = fn


def register_unstructure(cls: type, fn: Callable[[Any], Any]) -> None:
    """Gives ``cls`` and its subclasses their own plain shape (``fn(record) -> data``)."""
    _CONVERTER.register_unstructure_hook_func(lambda t: isinstance(t, type) and issubclass(t, cls), fn)


register_union(DistributionUnion, DISTRIBUTIONS)
_CONVERTER.register_structure_hook(Distribution, _CONVERTER.get_structure_hook(DistributionUnion))
_UNIONS[Distribution] = DISTRIBUTIONS


def unstructure(value: Any) -> Any:
    """Any record as plain YAML-ready data (dicts, lists, scalars) in Azure's shape.

    Example:
        >>> from imgtune.spec.records import TrainingParameters
        >>> unstructure(TrainingParameters(optimizer="AdamW", learning_rate=0.01))
        {'learning_rate': 0.01, 'optimizer': 'adamw'}
    """
    return _CONVERTER.unstructure(value, unstructure_as=type(value))


def structure(data: Any, cls: Any) -> Any:
    """Builds a record of ``cls`` (or a registered union) from plain data, reporting every problem at once.

    Raises:
        ValidationError: With the dotted path of each problem, relative to ``data``.

    Example:
        >>> from imgtune.spec.records import BanditPolicy, EarlyTerminationPolicy
        >>> structure({"type": "Bandit", "slack_factor": 0.1}, EarlyTerminationPolicy)
        BanditPolicy(slack_factor=0.1)
    """
    members = _UNIONS.get(cls)
    if members is not None:
        if type(data) is not dict and not isinstance(data, Mapping):
            raise ValidationError([Problem("", f"must be a mapping with a type, got {fmt(data)}")])
        tag = data.get("type")
        spellings = _tag_spellings(members)
        # A tag written as its spelling (the usual case) is its own snake_case.
        canon = (spellings.get(tag) or spellings.get(_snake_case(tag))) if isinstance(tag, str) else None
        if canon is None:
            hint = closest(str(tag), list(members)) if tag is not None else None
            extra = f" (did you mean {hint!r}?)" if hint else ""
            got = "nothing" if tag is None else fmt(tag)
            raise ValidationError([Problem("type", f"must be one of {', '.join(members)}, got {got}{extra}")])
        if canon != tag:
            data = {**data, "type": canon}
    elif type(data) is not dict and attrs.has(cls) and not isinstance(data, Mapping):
        raise ValidationError([Problem("", f"must be a mapping, got {fmt(data)}")])
    if cls in _UPGRADES:
        data = _UPGRADES[cls](data)
    problems: list[Problem] = []
    if type(data) is dict or isinstance(data, Mapping):
        target = members[data["type"]] if members is not None else cls
        record = attrs.has(target)
        known = _known_keys(target) if record else frozenset()
        odd = [k for k in data if k not in known]  # a known key is a string
        problems = [Problem("", f"keys must be strings, got {fmt(k)}") for k in odd if not isinstance(k, str)]
        if record:
            # Unknown keys are reported here, and dropped, so that the problems of
            # the known keys are reported in the same pass.
            unknown = [k for k in odd if isinstance(k, str) and (members is None or k != "type")]
            if unknown:
                problems += _unknown_key_problems(unknown, sorted(known - {"type"}), "")
            if unknown or problems or type(data) is not dict:
                data = {k: v for k, v in data.items() if isinstance(k, str) and (k in known or
                                                                                 members is not None and k == "type")}
    try:
        value = _CONVERTER.structure(data, cls)
    except ValidationError as err:
        problems += err.problems
    except Exception as exc:  # cattrs' exception groups: flatten with paths and messages kept
        problems += _problems(exc, "")
    if problems:
        raise ValidationError(problems)
    return value


def record_converter(cls: type) -> Any:
    """An attrs ``converter`` for a nested record field: a ``cls`` as it is, or one built from a mapping.

    Anything else is kept as an invalid value that the record's checks report under the field's path.
    """

    def build(value: Any) -> Any:
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return structure(value, cls)
        if type(value).__module__.startswith("azure.ai.ml"):  # the docs' objects: say how to carry them over
            raise ValidationError([Problem("", f"must be a {cls.__name__} or a mapping, got azure-ai-ml's "
                                               f"{type(value).__name__}: convert it with imgtune.from_azure(...)")])
        raise ValidationError([Problem("", f"must be a {cls.__name__} or a mapping, got {fmt(value)}")])

    build.__name__ = f"to_{cls.__name__}"
    return lenient(build)


# --------------------------------------------------------------------------- problems
#: Record class -> its YAML keys (computed once per class).
_KNOWN_KEYS: dict[type, frozenset[str]] = {}


def _known_keys(cls: type) -> frozenset[str]:
    keys = _KNOWN_KEYS.get(cls)
    if keys is None:
        keys = _KNOWN_KEYS[cls] = frozenset(field_key(a) for a in attrs.fields(cls)
                                            if a.init and a.metadata.get("dump") is not False)
    return keys


def _unknown_key_problems(keys: Any, known: list[str], path: str) -> list[Problem]:
    out = []
    for key in sorted(keys, key=str):
        hint = closest(str(key), known)
        extra = f"; did you mean {hint!r}?" if hint else f"; known keys: {', '.join(known)}"
        out.append(Problem(join_path(path, str(key)), f"unknown key{extra}"))
    return out


def _snake_case(tag: str) -> str:
    """A union tag as snake_case: ``MedianStopping`` and ``median-stopping`` -> ``median_stopping``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", tag.strip()).lower().replace("-", "_").replace("__", "_")


#: id(union members) -> (the members, their spellings); computed once per union.
_SPELLINGS: dict[int, tuple[Mapping[str, Any], dict[str, str]]] = {}


def _tag_spellings(members: Mapping[str, Any]) -> dict[str, str]:
    cached = _SPELLINGS.get(id(members))
    if cached is None or cached[0] is not members:
        cached = _SPELLINGS[id(members)] = (members, {_snake_case(k): k for k in members}
                                            | {k.replace("_", ""): k for k in members})
    return cached[1]


def _problems(exc: BaseException, path: str) -> list[Problem]:
    """cattrs' nested exception groups as flat problems, each with its path and message."""
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
