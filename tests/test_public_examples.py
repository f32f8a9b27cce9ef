"""``help()`` teaches: every public callable's own docstring has an example, run as a doctest
(pytest collects ``src/imgtune`` with ``--doctest-modules``)."""

from __future__ import annotations

import importlib
import inspect

import pytest

#: The modules a user imports from, and their ``__all__``.
MODULES = ["imgtune", "imgtune.strategies", "imgtune.compiler", "imgtune.serialization", "imgtune.spec.transforms",
           "imgtune.datasets", "imgtune.prediction", "imgtune.export", "imgtune.runner", "imgtune.tracking",
           "imgtune.report"]
#: Callable in name only: a type alias, and a class built when MLflow is first used (``model_class`` has the example).
NOT_CALLABLES = {("imgtune.prediction", "Images"), ("imgtune.tracking", "ImgtuneModel")}
PUBLIC = [(module, name) for module in MODULES for name in importlib.import_module(module).__all__
          if (module, name) not in NOT_CALLABLES and callable(getattr(importlib.import_module(module), name))]


@pytest.mark.parametrize(("module", "name"), PUBLIC)
def test_every_public_callable_has_an_example(module, name):
    obj = getattr(importlib.import_module(module), name)
    assert ">>>" in (obj.__doc__ or ""), f"{module}.{name} has no example in its docstring"
    assert inspect.getmodule(obj).__name__.startswith("imgtune")  # so that the doctest run collects it


def test_there_are_many():
    assert len(PUBLIC) >= 100
