"""Small reusable pieces for collecting every problem before raising once.

attrs validators stop at the first failure, so imgtune records validate in
``__attrs_post_init__`` through a :class:`Checker` that gathers all problems,
and nested values that could not be built are carried as :class:`Invalid`
until the enclosing record reports them under its own path.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from imgtune.errors import Problem, ValidationError

__all__ = ["Checker", "Invalid", "Validated", "lenient", "is_int", "is_number", "fmt"]


@attrs.frozen
class Invalid:
    """A nested value that could not be built, with the problems it had."""

    raw: Any
    problems: tuple[Problem, ...]


class Checker:
    """Collects problems; raises one :class:`ValidationError` at the end."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def extend(self, prefix: str, problems: Iterable[Problem]) -> None:
        self.problems.extend(p.prefixed(prefix) for p in problems)

    def raise_if_any(self, title: str | None = None) -> None:
        if self.problems:
            raise ValidationError(self.problems, title)


def lenient(build: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wraps a converter so a failure becomes an :class:`Invalid` value.

    The enclosing record then reports the problems under its field's path,
    together with every other problem it finds. Idempotent: ``Invalid`` and
    already-built values pass through ``build`` unchanged.
    """

    def convert(value: Any) -> Any:
        if isinstance(value, Invalid):
            return value
        try:
            return build(value)
        except ValidationError as err:
            return Invalid(value, err.problems)

    convert.__name__ = getattr(build, "__name__", "convert")
    return convert


def field_key(a: attrs.Attribute) -> str:
    """The YAML key of an attrs field (``metadata['key']``, else its name)."""
    return a.metadata.get("key", a.name)


#: Record class -> its fields' YAML keys, and a function giving the fields' values as a tuple
#: (computed once per class).
_KEYS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


_NESTED = (Invalid, tuple)  # the values that may hold an Invalid


class _MayHoldInvalid(dict):
    """Type -> whether its values may hold an :class:`Invalid` (an Invalid, or a tuple); filled as types come."""

    def __missing__(self, kind: type) -> bool:
        self[kind] = answer = issubclass(kind, _NESTED)
        return answer


_MAY_HOLD_INVALID = _MayHoldInvalid()


def _field_values(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving the field values of a ``cls`` record as a tuple, in one call."""
    names = tuple(a.name for a in attrs.fields(cls))
    if len(names) > 1:
        return operator.attrgetter(*names)  # type: ignore[return-value]
    if names:
        one = operator.attrgetter(names[0])
        return lambda record: (one(record),)
    return lambda record: ()


class Validated:
    """Mixin: on construction, report nested :class:`Invalid` values and run
    ``_check(checker)``, then raise once with every problem."""

    def __attrs_post_init__(self) -> None:
        checker = Checker()
        cls = type(self)
        cached = _KEYS.get(cls)
        if cached is None:  # once per class
            cached = _KEYS[cls] = (tuple(field_key(a) for a in attrs.fields(cls)), _field_values(cls))
        keys, get_values = cached
        values = get_values(self)
        if any(map(_MAY_HOLD_INVALID.__getitem__, set(map(type, values)))):  # else: no Invalid anywhere
            nested = map(_MAY_HOLD_INVALID.__getitem__, map(type, values))
            for key, value in itertools.compress(zip(keys, values), nested):
                if isinstance(value, Invalid):
                    checker.extend(key, value.problems)
                else:
                    for i, item in enumerate(value):
                        if isinstance(item, Invalid):
                            checker.extend(f"{key}[{i}]", item.problems)
        self._check(checker)
        checker.raise_if_any(type(self).__name__)

    def _check(self, checker: Checker) -> None:  # pragma: no cover - overridden
        pass


def is_int(value: object) -> bool:
    """True for ints (and numpy ints), never for bools."""
    return isinstance(value, int) and not isinstance(value, bool) or type(value).__name__ in (
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def is_number(value: object) -> bool:
    """True for finite ints and floats, never for bools."""
    if isinstance(value, bool):
        return False
    if is_int(value):
        return True
    return isinstance(value, float) and math.isfinite(value)


def fmt(value: object) -> str:
    """A value as it appears in messages: strings quoted, the rest as ``repr``."""
    if attrs.has(type(value)):
        return type(value).__name__
    return repr(value)
