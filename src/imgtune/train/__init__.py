"""The trainer, floor 4: one trial on JAX/Flax NNX, above the compiler and below the runner.

Modules: :mod:`~imgtune.train.trial` (one trial end to end, in its own process),
:mod:`~imgtune.train.loop` (pure ``train_step``/``eval_step`` and the loop),
:mod:`~imgtune.train.state`, :mod:`~imgtune.train.optim`, :mod:`~imgtune.train.checkpoints`,
:mod:`~imgtune.train.devices`, :mod:`~imgtune.train.metrics`,
:mod:`~imgtune.train.pretrained` (each trial's start and the models' ImageNet weights, fetched by the
driver before a sweep; it loads no JAX),
:mod:`~imgtune.train.inference` (a trained model's forward pass and scores, shared by the
runner's test scoring, prediction and export), :mod:`~imgtune.train.models` (the twelve
architectures) and :mod:`~imgtune.train.data` (reading, splitting, decoding, augmenting and
batching images).

**The trainer as a library** (:mod:`~imgtune.train.setup`, :mod:`~imgtune.train.arrays`):
:func:`init_state` (a model's starting train state, as a trial builds it, with its jitted steps),
:data:`LossFn` (one's own loss for ``make_train_step``, ``train_trial`` and ``fit``) and :func:`fit`
(the full training loop on in-memory numpy arrays), with :func:`make_train_step`,
:func:`make_eval_step`, :func:`make_optimizer`, :func:`hyperparameters`, :func:`create_model`,
:func:`train_trial` and their records, all importable from ``imgtune.train``.

The package itself imports nothing, so that ``import imgtune.train.data.read`` (reading a
manifest, light) does not load JAX; the modules that use JAX import it at their top, and the
floors above import them only inside the functions that train or predict. The names above are
loaded on first use (``imgtune.train.fit`` imports JAX then).

Example:
    >>> import imgtune.train as t
    >>> t.init_state.__module__, t.fit.__module__, t.LossFn is t.optim.LossFn
    ('imgtune.train.setup', 'imgtune.train.arrays', True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ below loads them
    from imgtune.train.arrays import fit as fit
    from imgtune.train.loop import make_eval_step as make_eval_step
    from imgtune.train.loop import make_train_step as make_train_step
    from imgtune.train.models import create_model as create_model
    from imgtune.train.optim import LossFn as LossFn
    from imgtune.train.optim import default_loss as default_loss
    from imgtune.train.optim import hyperparameters as hyperparameters
    from imgtune.train.optim import make_optimizer as make_optimizer
    from imgtune.train.setup import TrainSetup as TrainSetup
    from imgtune.train.setup import init_state as init_state
    from imgtune.train.state import TrainState as TrainState
    from imgtune.train.trial import train_trial as train_trial
    from imgtune.train.trial_types import TrialResult as TrialResult
    from imgtune.train.trial_types import TrialSettings as TrialSettings

#: Public name -> the module that defines it (imported on first use: they load JAX).
_EXPORTS = {
    "LossFn": "imgtune.train.optim", "default_loss": "imgtune.train.optim",
    "hyperparameters": "imgtune.train.optim", "make_optimizer": "imgtune.train.optim",
    "TrainSetup": "imgtune.train.setup", "init_state": "imgtune.train.setup",
    "fit": "imgtune.train.arrays",
    "make_eval_step": "imgtune.train.loop", "make_train_step": "imgtune.train.loop",
    "create_model": "imgtune.train.models", "TrainState": "imgtune.train.state",
    "train_trial": "imgtune.train.trial",
    "TrialResult": "imgtune.train.trial_types", "TrialSettings": "imgtune.train.trial_types",
}

__all__ = [
    "LossFn",
    "TrainSetup",
    "TrainState",
    "TrialResult",
    "TrialSettings",
    "create_model",
    "default_loss",
    "fit",
    "hyperparameters",
    "init_state",
    "make_eval_step",
    "make_optimizer",
    "make_train_step",
    "train_trial",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imgtune.train' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)  # on first use: these modules load JAX
