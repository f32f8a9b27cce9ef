"""imgtune: AutoML image-classification jobs (Azure ML v2 compatible) as pure values.

A job is a frozen, validated record; transforms return new jobs; YAML reads and
writes Azure ML's v2 job schema. Importing imgtune does not import JAX: the
training and running layers are imported when first used.

Example:
    >>> import imgtune
    >>> job = imgtune.ImageClassificationJob(
    ...     training_data=imgtune.Input(path="data/train", type="mltable"),
    ...     target_column_name="label",
    ... )
    >>> job = imgtune.with_limits(job, max_trials=4)
    >>> imgtune.loads(imgtune.dumps(job)) == job
    True
"""

from typing import TYPE_CHECKING, Any

from imgtune.compiler import Plan, Trial, compile, extend, render
from imgtune.compiler.study import Observation, Study
from imgtune.errors import Problem, ValidationError
from imgtune.serialization import AzureQuirkWarning, LegacySchemaWarning, dump, dumps, from_azure, load, loads, to_dict
from imgtune.serialization.overrides import override
from imgtune.spec import *  # noqa: F403
from imgtune.spec import __all__ as _spec_all
from imgtune.spec.paths import Change, diff, set_in
from imgtune.spec.transforms import (
    KEEP,
    extend_search_space,
    pipe,
    replace_search_space,
    with_data,
    with_limits,
    with_metadata,
    with_primary_metric,
    with_sweep,
    with_training_parameters,
)
from imgtune.version import __version__ as __version__

#: Names served by a layer above spec and compile, imported on first use so that
#: ``import imgtune`` (and the spec and compile layers) never load the runner.
_LAZY = {"run": "imgtune.launch", "load_result": "imgtune.runner", "RunResult": "imgtune.runner",
         "TrialRecord": "imgtune.runner", "RayOptions": "imgtune.runner", "predict": "imgtune.prediction",
         "export_onnx": "imgtune.export"}


if TYPE_CHECKING:  # what type checkers and IDEs see of the lazily served names (nothing is imported at run time)
    from imgtune.export import export_onnx as export_onnx
    from imgtune.launch import run as run
    from imgtune.prediction import predict as predict
    from imgtune.runner import RayOptions as RayOptions
    from imgtune.runner import RunResult as RunResult
    from imgtune.runner import TrialRecord as TrialRecord
    from imgtune.runner import load_result as load_result
else:  # a module __getattr__ would make every misspelt name Any to a type checker: defined for run time only
    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'imgtune' has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value

__all__ = [
    *_spec_all,
    "Change",
    "KEEP",
    "AzureQuirkWarning",
    "LegacySchemaWarning",
    "Observation",
    "Plan",
    "Study",
    "RunResult",
    "TrialRecord",
    "Trial",
    "Problem",
    "ValidationError",
    "compile",
    "diff",
    "dump",
    "dumps",
    "extend",
    "export_onnx",
    "extend_search_space",
    "from_azure",
    "load",
    "load_result",
    "loads",
    "override",
    "pipe",
    "predict",
    "render",
    "replace_search_space",
    "run",
    "set_in",
    "to_dict",
    "with_data",
    "with_limits",
    "with_metadata",
    "with_primary_metric",
    "with_sweep",
    "with_training_parameters",
]
