"""The ten search-space distributions of Azure ML, as frozen records.

Each takes its parameters by keyword or, as in azure-ai-ml, in order: ``Choice(["a", "b"])``,
``Uniform(0.001, 0.01)``, ``QUniform(8, 64, 8)``, ``Randint(4)``, ``Normal(0.9, 0.02)``.
Semantics follow the fact sheet: ``loguniform`` bounds are *exponents*
(``exp(U(min, max))``), ``q*`` distributions round to multiples of ``q``, and
``randint(upper)`` draws from ``[0, upper)``. Sampling lives in
:mod:`imgtune.compiler`; these records only describe and validate.

Example:
    >>> Uniform(min_value=0.001, max_value=0.01).to_string()
    'uniform(0.001,0.01)'
    >>> Uniform(0.001, 0.01) == Uniform(min_value=0.001, max_value=0.01)   # Azure's positional form
    True
    >>> Choice(["vitb16r224", "vits16r224"]), QUniform(8, 64, 8)
    (Choice(values=('vitb16r224', 'vits16r224')), QUniform(min_value=8, max_value=64, q=8))
    >>> parse_distribution("choice('vitb16r224', 'vits16r224')")
    Choice(values=('vitb16r224', 'vits16r224'))
    >>> Uniform(min_value=0.5, max_value=0.01)
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem in Uniform:
      min_value: must be < max_value (0.01), got 0.5
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any, ClassVar

import attrs

from imgtune.errors import Problem, ValidationError
from imgtune.spec.checks import Checker, Validated, fmt, is_int, is_number

__all__ = [
    "DISTRIBUTIONS",
    "Choice",
    "Distribution",
    "LogNormal",
    "LogUniform",
    "Normal",
    "QLogNormal",
    "QLogUniform",
    "QNormal",
    "QUniform",
    "Randint",
    "Uniform",
    "parse_distribution",
    "looks_like_distribution",
]


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


class Distribution(Validated):
    """Base of the ten distributions; ``type`` is the YAML tag.

    Example:
        >>> from imgtune.spec.convert import structure
        >>> structure({"type": "uniform", "min_value": 0.001, "max_value": 0.01}, Distribution)
        Uniform(min_value=0.001, max_value=0.01)
    """

    type: ClassVar[str]

    def numeric_args(self) -> dict[str, Any]:
        """The numeric parameters by name (all but ``choice``'s values)."""
        return {a.name: getattr(self, a.name) for a in attrs.fields(type(self))}

    def to_string(self) -> str:
        """Azure's REST string form, e.g. ``quniform(8,64,8)``."""
        return f"{self.type}({','.join(_rest_literal(v) for v in self.numeric_args().values())})"

    def _check(self, checker: Checker) -> None:
        for name, value in self.numeric_args().items():
            if not is_number(value):
                checker.add(name, f"must be a finite number, got {fmt(value)}")


def _rest_literal(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        text = repr(value)
        if "e" in text:
            text = f"{value:.20f}".rstrip("0")
        return text
    return str(value)


@attrs.frozen
class Choice(Distribution):
    """One of ``values``, each equally likely.

    Example:
        >>> Choice(values=["resnet18", "resnet50"]).values
        ('resnet18', 'resnet50')
    """

    type: ClassVar[str] = "choice"
    values: tuple = attrs.field(converter=_tuple)

    def numeric_args(self) -> dict[str, Any]:
        return {}

    def to_string(self) -> str:
        return f"choice({','.join(_rest_literal(v) for v in self.values)})"

    def _check(self, checker: Checker) -> None:
        if not isinstance(self.values, tuple):
            checker.add("values", f"must be a list, got {fmt(self.values)}")
        elif not self.values:
            checker.add("values", "must hold at least one value")
        else:
            for i, v in enumerate(self.values):
                if not isinstance(v, (str, int, float, bool)) or (isinstance(v, float) and not math.isfinite(v)):
                    checker.add(f"values[{i}]", f"must be a string, number or bool, got {fmt(v)}")


@attrs.frozen
class Randint(Distribution):
    """An integer in ``[0, upper)``.

    Example:
        >>> Randint(upper=4)
        Randint(upper=4)
    """

    type: ClassVar[str] = "randint"
    upper: int

    def _check(self, checker: Checker) -> None:
        if not is_int(self.upper):
            checker.add("upper", f"must be an integer, got {fmt(self.upper)}")
        elif self.upper < 1:
            checker.add("upper", f"must be >= 1, got {self.upper}")


@attrs.frozen
class _Bounded(Distribution):
    min_value: float
    max_value: float

    def _check(self, checker: Checker) -> None:
        super()._check(checker)
        if is_number(self.min_value) and is_number(self.max_value) and not self.min_value < self.max_value:
            checker.add("min_value", f"must be < max_value ({self.max_value}), got {self.min_value}")


@attrs.frozen
class Uniform(_Bounded):
    """``U(min_value, max_value)``.

    Example:
        >>> Uniform(min_value=0.001, max_value=0.01).type
        'uniform'
    """

    type: ClassVar[str] = "uniform"


@attrs.frozen
class LogUniform(_Bounded):
    """``exp(U(min_value, max_value))``: the bounds are exponents.

    Example:
        >>> LogUniform(min_value=-7, max_value=-3)   # learning rates from exp(-7) to exp(-3)
        LogUniform(min_value=-7, max_value=-3)
    """

    type: ClassVar[str] = "loguniform"


def _check_q(checker: Checker, q: Any) -> None:
    if is_number(q) and q <= 0:
        checker.add("q", f"must be > 0, got {q}")


@attrs.frozen
class QUniform(_Bounded):
    """``round(U(min_value, max_value) / q) * q``.

    Example:
        >>> QUniform(min_value=8, max_value=64, q=8)   # 8, 16, ..., 64
        QUniform(min_value=8, max_value=64, q=8)
    """

    type: ClassVar[str] = "quniform"
    q: float

    def _check(self, checker: Checker) -> None:
        super()._check(checker)
        _check_q(checker, self.q)


@attrs.frozen
class QLogUniform(_Bounded):
    """``round(exp(U(min_value, max_value)) / q) * q``.

    Example:
        >>> QLogUniform(min_value=2, max_value=5, q=1).type
        'qloguniform'
    """

    type: ClassVar[str] = "qloguniform"
    q: float

    def _check(self, checker: Checker) -> None:
        super()._check(checker)
        _check_q(checker, self.q)


@attrs.frozen
class _Gaussian(Distribution):
    mu: float
    sigma: float

    def _check(self, checker: Checker) -> None:
        super()._check(checker)
        if is_number(self.sigma) and self.sigma <= 0:
            checker.add("sigma", f"must be > 0, got {self.sigma}")


@attrs.frozen
class Normal(_Gaussian):
    """``N(mu, sigma)``.

    Example:
        >>> Normal(mu=0.9, sigma=0.02)
        Normal(mu=0.9, sigma=0.02)
    """

    type: ClassVar[str] = "normal"


@attrs.frozen
class LogNormal(_Gaussian):
    """``exp(N(mu, sigma))``.

    Example:
        >>> LogNormal(mu=-5, sigma=1).type
        'lognormal'
    """

    type: ClassVar[str] = "lognormal"


@attrs.frozen
class QNormal(_Gaussian):
    """``round(N(mu, sigma) / q) * q``.

    Example:
        >>> QNormal(mu=32, sigma=8, q=4).type
        'qnormal'
    """

    type: ClassVar[str] = "qnormal"
    q: float

    def _check(self, checker: Checker) -> None:
        super()._check(checker)
        _check_q(checker, self.q)


@attrs.frozen
class QLogNormal(_Gaussian):
    """``round(exp(N(mu, sigma)) / q) * q``.

    Example:
        >>> QLogNormal(mu=3, sigma=0.5, q=1).type
        'qlognormal'
    """

    type: ClassVar[str] = "qlognormal"
    q: float

    def _check(self, checker: Checker) -> None:
        super()._check(checker)
        _check_q(checker, self.q)


#: The ten distributions by their YAML ``type``.
DISTRIBUTIONS: dict[str, type[Distribution]] = {
    cls.type: cls
    for cls in (Choice, Randint, Uniform, LogUniform, QUniform, QLogUniform, Normal, LogNormal, QNormal, QLogNormal)
}

_STRING_FORM = re.compile(r"^\s*(" + "|".join(DISTRIBUTIONS) + r")\s*\((.*)\)\s*$", re.DOTALL)


def looks_like_distribution(text: object) -> bool:
    """Whether ``text`` is a legacy string-form distribution such as ``"uniform(0.1, 1)"``."""
    return isinstance(text, str) and _STRING_FORM.match(text) is not None


def parse_distribution(text: str) -> Distribution:
    """Parses Azure's string form (``"quniform(8, 64, 8)"``, ``"choice('a','b')"``).

    Arguments are read as Python literals only (never evaluated). ``choice``
    takes either the values or one list of them.

    Raises:
        ValidationError: The text is not a valid distribution.
    """
    match = _STRING_FORM.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationError([Problem("", f"is not a distribution such as 'uniform(0.1, 1)': {fmt(text)}")])
    name, body = match.group(1), match.group(2)
    try:
        args = ast.literal_eval(f"({body},)") if body.strip() else ()
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValidationError([Problem("", f"cannot read the arguments of {text!r}")]) from None
    cls = DISTRIBUTIONS[name]
    if cls is Choice:
        if len(args) == 1 and isinstance(args[0], (list, tuple)):
            args = tuple(args[0])
        return Choice(values=args)
    names = [a.name for a in attrs.fields(cls)]
    if len(args) != len(names):
        raise ValidationError([Problem("", f"{name} takes {len(names)} arguments ({', '.join(names)}), "
                                           f"got {len(args)} in {text!r}")])
    return cls(**dict(zip(names, args)))
