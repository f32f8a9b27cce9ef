"""Seeded train/validation/test splits, used when the job gives no explicit data.

The algorithm (exactly; everything is keyed by the plan's ``seed``, never by
Python's ``hash``, so it is the same in every process and Python version):

1. **Test first.** ``k = max(1, floor(test_size * n + 0.5))`` examples are held
   out as test when ``test_size > 0`` and ``n >= 2``; the rest go on.
2. **Then validation**, the same way, with ``validation_size`` as a fraction
   of what is left after step 1.
3. Each step draws from its own generator,
   ``numpy.random.default_rng(SeedSequence([0x5EED5917, seed, step]))``.

How ``k`` examples are chosen in a step:

* **Multiclass (stratified).** Classes are taken in sorted name order, and a
  class's examples in input order. Class ``c`` with ``n_c`` examples may give
  at most ``cap_c = n_c - 1`` (so every class with two or more examples keeps
  one for training; a class with one example gives none). It first gets
  ``min(floor(frac * n_c), cap_c)``; the ``k`` still missing are handed out one
  at a time to classes with room, by largest remainder ``frac * n_c - given``
  first, ties broken by a seeded random key drawn once per class, cycling
  until ``k`` is reached or no class has room. Then each class's examples are
  permuted (one ``rng.permutation`` per class, in sorted class order) and the
  first ``given_c`` are held out.
* **Multilabel.** A plain ``rng.permutation(n)``; the first ``k`` are held out.

Each part keeps the input order of its examples.

Example:
    >>> from imgtune.train.data.read import Example
    >>> ex = [Example(str(i), "ab"[i % 2], "") for i in range(10)]
    >>> s = split_examples(ex, seed=0, validation_size=0.2)
    >>> len(s.train), len(s.validation), len(s.test)
    (8, 2, 0)
    >>> sorted(e.label for e in s.validation)
    ['a', 'b']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np

from imgtune.errors import Problem, ValidationError
from imgtune.train.data.read import Example

__all__ = ["Split", "split_examples"]

_SPLIT_TAG = 0x5EED5917


@attrs.frozen
class Split:
    """The three parts of a split, each in input order.

    Attributes:
        train: Training examples.
        validation: Validation examples.
        test: Test examples (empty when ``test_size`` is 0).
    """

    train: tuple[Example, ...]
    validation: tuple[Example, ...]
    test: tuple[Example, ...]


def split_examples(
    examples: Sequence[Example],
    *,
    seed: int,
    validation_size: float = 0.2,
    test_size: float = 0.0,
    multilabel: bool = False,
) -> Split:
    """Splits ``examples`` into train, validation and test (see the module doc).

    Args:
        examples: The training data's examples.
        seed: The plan's seed.
        validation_size: Fraction, in ``[0, 1)``, of what is left after the
            test split that goes to validation.
        test_size: Fraction, in ``[0, 1)``, of all examples that goes to test.
        multilabel: Plain permutation instead of stratification.

    Raises:
        ValidationError: When a fraction is outside ``[0, 1)``.
    """
    problems = [
        Problem(name, f"must be in [0, 1), got {value}")
        for name, value in (("validation_data_size", validation_size), ("test_data_size", test_size))
        if not 0.0 <= value < 1.0
    ]
    if problems:
        raise ValidationError(problems)
    items = list(examples)
    rest = list(range(len(items)))
    parts: list[list[int]] = []
    for step, frac in enumerate((test_size, validation_size)):
        rng = np.random.default_rng(np.random.SeedSequence([_SPLIT_TAG, int(seed) % 2**63, step]))
        held = _hold_out([items[i] for i in rest], frac, rng, multilabel)
        held_set = {rest[j] for j in held}
        parts.append(sorted(held_set))
        rest = [i for i in rest if i not in held_set]
    return Split(
        train=tuple(items[i] for i in rest),
        validation=tuple(items[i] for i in parts[1]),
        test=tuple(items[i] for i in parts[0]),
    )


def _hold_out(items: list[Example], frac: float, rng: np.random.Generator, multilabel: bool) -> list[int]:
    """Positions in ``items`` to hold out."""
    n = len(items)
    if frac <= 0.0 or n < 2:
        return []
    k = max(1, math.floor(frac * n + 0.5))
    if multilabel:
        return [int(i) for i in rng.permutation(n)[:k]]
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(items):
        label = ex.label if isinstance(ex.label, str) else (ex.label[0] if ex.label else "")
        groups.setdefault(label, []).append(i)
    names = sorted(groups)
    caps = [len(groups[c]) - 1 for c in names]
    ideal = [frac * len(groups[c]) for c in names]
    given = [min(math.floor(x), cap) for x, cap in zip(ideal, caps)]
    ties = rng.random(len(names))
    missing = k - sum(given)
    while missing > 0:
        room = [j for j in range(len(names)) if given[j] < caps[j]]
        if not room:
            break
        room.sort(key=lambda j: (-(ideal[j] - given[j]), ties[j]))
        for j in room[:missing]:
            given[j] += 1
        missing = k - sum(given)
    held: list[int] = []
    for j, c in enumerate(names):
        perm = rng.permutation(len(groups[c]))
        held.extend(groups[c][int(p)] for p in perm[: given[j]])
    return held
