"""Plain values, floor 0: finite numbers and JSON-ready data. The one helper of each kind.

Example:
    >>> finite("0.5"), finite(float("nan")), finite(None), finite(True)
    (0.5, None, None, None)
    >>> import enum
    >>> class Color(enum.Enum):
    ...     RED = "red"
    >>> jsonable({"c": Color.RED, "t": (1, 2.5), 3: None})
    {'c': 'red', 't': [1, 2.5], '3': None}
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["data_frame", "finite", "jsonable"]


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (missing, a bool, not a number, NaN, infinite)."""
    if isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def jsonable(value: Any) -> Any:
    """``value`` as data ``json.dumps`` writes: enums as their values, mappings with string keys, sequences
    and arrays as lists, NumPy and JAX scalars as Python numbers, attrs records and named tuples as mappings;
    anything else as its string."""
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "_asdict"):
        return jsonable(value._asdict())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "__attrs_attrs__"):
        return {a.name: jsonable(getattr(value, a.name)) for a in value.__attrs_attrs__}
    if hasattr(value, "tolist"):  # NumPy arrays and scalars, JAX arrays: no import of either here
        return value.tolist()
    return str(value)


def data_frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Any:
    """A ``pandas.DataFrame`` of ``rows`` with at least ``columns`` (in that order; keys of the rows
    not among them follow, in the order first seen). Values are made plain by :func:`jsonable`
    (enums as their values), so a frame holds numbers, strings, ``None``, lists and dicts.

    pandas is optional (``pip install 'imgtune[frames]'``) and imported only here, when a frame is asked for.

    Raises:
        ImportError: pandas is not installed (saying how to install it).

    >>> frame = data_frame([{"a": 1, "c": (2, 3)}], ["b", "a"])
    >>> list(frame.columns), frame.c[0]
    (['b', 'a', 'c'], [2, 3])
    """
    try:
        import pandas  # optional and heavy: only when a frame is asked for, never when imgtune is imported
    except ImportError:
        raise ImportError("data frames need pandas: pip install 'imgtune[frames]'") from None
    rows = [{k: jsonable(v) for k, v in row.items()} for row in rows]
    order = {c: None for c in columns}
    for row in rows:
        order.update({k: None for k in row if k not in order})
    return pandas.DataFrame(rows, columns=list(order))
