"""Default training parameters, resolved per model and task: here and only here.

Precedence, highest first: a value drawn from the search space, the job's
``training_parameters``, then the default below for the model and task.

Where Azure's documents conflict or are silent, imgtune chooses:

* ``model_name``: ``seresnext`` (the hyperparameter reference; the how-to's
  table says ``vitb16r224``).
* ``optimizer: none`` means "the service default", which is ``sgd``;
  ``learning_rate_scheduler: none`` is a real choice: a constant learning rate.
* ``distributed``: ``false``; ``enable_onnx_normalization``: ``false``
  (both unconfirmed in Azure).
* ``number_of_workers``: 4 (unconfirmed in Azure); the trainer caps it at the
  cores a trial is given, so a plan does not depend on the machine.
* ``random_seed``: the plan's seed, so a seeded sweep is reproducible end to end.
* ``advanced_settings``: ``"{}"``. ``checkpoint_frequency`` and
  ``checkpoint_run_id`` stay ``None``: for them ``None`` is a setting ("keep the
  best epoch", "start from scratch"), not a missing value.

Example:
    >>> from imgtune.spec.records import TrainingParameters
    >>> p = resolve(TrainingParameters(model_name="vitb16r224"), {}, multilabel=True, seed=3)
    >>> p.training_batch_size, p.learning_rate, p.optimizer.value, p.random_seed
    (48, 0.025, 'sgd', 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imgtune.spec.enums import LearningRateScheduler, Optimizer
from imgtune.spec.fields import UNRESOLVED
from imgtune.spec.models import DEFAULT_MODEL, model_spec
from imgtune.spec.records import EXTRA_PARAMETERS, ResolvedTrainingParameters, TrainingParameters

__all__ = ["UNSET_BY_DESIGN", "default_learning_rate", "resolve"]

#: Fields whose ``None`` is itself a setting and stays in a resolved trial (``extra_parameters``: none of one's own).
UNSET_BY_DESIGN = frozenset((*UNRESOLVED, EXTRA_PARAMETERS))

_FIXED: dict[str, Any] = {
    "advanced_settings": "{}",
    "ams_gradient": False,
    "beta1": 0.9,
    "beta2": 0.999,
    "distributed": False,
    "early_stopping": True,
    "early_stopping_delay": 5,
    "early_stopping_patience": 5,
    "enable_onnx_normalization": False,
    "evaluation_frequency": 1,
    "gradient_accumulation_step": 1,
    "layers_to_freeze": 0,
    "learning_rate_scheduler": LearningRateScheduler.WARMUP_COSINE,
    "momentum": 0.9,
    "nesterov": True,
    "number_of_epochs": 15,
    "number_of_workers": 4,
    "optimizer": Optimizer.SGD,
    "step_lr_gamma": 0.5,
    "step_lr_step_size": 5,
    "warmup_cosine_lr_cycles": 0.45,
    "warmup_cosine_lr_warmup_epochs": 2,
    "weight_decay": 1e-4,
    "training_crop_size": 224,
    "validation_crop_size": 224,
    "validation_resize_size": 256,
    "weighted_loss": 0,
}


def default_learning_rate(model_name: str, multilabel: bool) -> float:
    """Azure's default learning rate for a model and task.

    >>> default_learning_rate("resnet50", False), default_learning_rate("vitl16r224", True)
    (0.01, 0.002)
    """
    return model_spec(model_name).learning_rate(multilabel=multilabel)


def resolve(params: TrainingParameters, drawn: Mapping[str, Any], *, multilabel: bool,
            seed: int, extra: Mapping[str, Any] | None = None) -> ResolvedTrainingParameters:
    """The training parameters with every default filled in.

    Args:
        params: The job's ``training_parameters`` (what the user wrote).
        drawn: Values drawn from the search space for this trial; they win.
        multilabel: The task, for the learning-rate defaults.
        seed: The plan's seed, the default ``random_seed``.
        extra: The job's own hyperparameters (``extra_parameters``); drawn ``extra_parameters.<name>``
            values win. The result's ``extra_parameters`` holds them (``None`` when there are none).

    Raises:
        ValidationError: The combination is invalid (e.g. a ViT with unequal crops).

    Example:
        >>> from imgtune.spec.records import TrainingParameters
        >>> p = resolve(TrainingParameters(model_name="vitb16r224"), {"learning_rate": 0.001}, multilabel=False, seed=3)
        >>> p.learning_rate, p.training_batch_size, p.random_seed, p.optimizer.value
        (0.001, 48, 3, 'sgd')
    """
    values = {**params.set_fields(), **{k: v for k, v in drawn.items() if v is not None and "." not in k}}
    own = {**(extra or {}), **{k.split(".", 1)[1]: v for k, v in drawn.items()
                               if k.startswith(EXTRA_PARAMETERS + ".") and v is not None}}
    if own:
        values[EXTRA_PARAMETERS] = dict(sorted(own.items()))
    model = values.setdefault("model_name", DEFAULT_MODEL)
    batch = model_spec(model).batch_size
    values.setdefault("training_batch_size", batch)
    values.setdefault("validation_batch_size", batch)
    values.setdefault("learning_rate", default_learning_rate(model, multilabel))
    values.setdefault("random_seed", seed % 2**32)
    for name, default in _FIXED.items():
        values.setdefault(name, default)
    if values["optimizer"] in (Optimizer.NONE, "none"):
        values["optimizer"] = Optimizer.SGD
    return ResolvedTrainingParameters(**values)
