"""``help()`` teaches: every public callable's own docstring has an example, run as a doctest
(pytest collects ``src/imgtune`` with ``--doctest-modules``)."""

from __future__ import annotations

import inspect

import pytest

import imgtune
from imgtune import strategies

PUBLIC = [(module.__name__, name) for module in (imgtune, strategies) for name in module.__all__
          if callable(getattr(module, name))]


@pytest.mark.parametrize(("module", "name"), PUBLIC)
def test_every_public_callable_has_an_example(module, name):
    obj = getattr(imgtune if module == "imgtune" else strategies, name)
    assert ">>>" in (obj.__doc__ or ""), f"{module}.{name} has no example in its docstring"
    assert inspect.getmodule(obj).__name__.startswith("imgtune")  # so that the doctest run collects it


def test_there_are_many():
    assert len(PUBLIC) >= 70
