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
from collections.abc import Mapping
from typing import Any

__all__ = ["finite", "jsonable"]


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
