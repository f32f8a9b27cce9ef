"""Optimiser, learning-rate schedules, layer freezing and losses of one trial.

Everything is composed from Optax's own building blocks; this module only
chooses and wires them from the :class:`~imgtune.spec.records.TrainingParameters`.

**Optimisers** (``optimizer``; ``lr(t)`` is the schedule below, ``w`` a weight,
``g`` its gradient averaged over the batch, ``wd`` = ``weight_decay``):

* ``sgd``: ``chain(add_decayed_weights(wd), sgd(lr, momentum, nesterov))``.
  Weight decay is *coupled* (L2 added to the gradient, ``g + wd * w``), then
  heavy-ball momentum ``b = momentum * b + g'`` and ``w -= lr * (g' + momentum * b)``
  with Nesterov, ``w -= lr * b`` without -- PyTorch's ``SGD`` exactly
  (``momentum: 0`` is plain SGD).
* ``adam``: ``chain(add_decayed_weights(wd), scale_by_adam(beta1, beta2, eps=1e-8),
  scale_by_learning_rate(lr))``: coupled L2 as in PyTorch's ``Adam(weight_decay=)``.
* ``adamw``: ``chain(scale_by_adam(beta1, beta2), add_decayed_weights(wd),
  scale_by_learning_rate(lr))``: *decoupled* decay ``w -= lr * (adam(g) + wd * w)``,
  PyTorch's ``AdamW``.
* ``ams_gradient: true`` swaps ``scale_by_adam`` for ``scale_by_amsgrad`` (the
  running maximum of the bias-corrected second moment) in adam and adamw; it is
  ignored for sgd, as in Azure. ``optimizer: none`` is resolved to ``sgd``
  before it gets here (:mod:`imgtune.compiler.defaults`).

**Schedules** (``learning_rate_scheduler``), counted in *optimiser updates*
``t = 0, 1, ...`` (with gradient accumulation ``k``, one update per ``k``
batches). ``U = updates_per_epoch = max(1, steps_per_epoch // k)`` and
``T = number_of_epochs * U``; ``lr`` is ``learning_rate``:

* ``warmup_cosine``: ``W = warmup_cosine_lr_warmup_epochs * U``;
  ``lr * t / W`` for ``t < W`` (linear warmup from 0), then
  ``lr * 0.5 * (1 + cos(2 * pi * cycles * p))`` with
  ``p = (t - W) / max(1, T - W)`` and ``cycles`` = ``warmup_cosine_lr_cycles``
  (the pytorch-transformers ``WarmupCosineSchedule`` Azure uses; ``0.45``
  ends near ``0.024 * lr``). The warmup is ``optax.linear_schedule``; the
  cosine part is written out because ``optax.cosine_decay_schedule`` holds its
  value once ``t`` passes its ``decay_steps``, which differs for ``cycles > 0.5``.
* ``step``: ``lr * step_lr_gamma ** floor(t / (step_lr_step_size * U))``
  (``optax.exponential_decay(staircase=True)``).
* ``none``: ``lr`` throughout (``optax.constant_schedule``).

**Numbers as inputs.** :func:`make_optimizer` wraps the whole rule in
``optax.inject_hyperparams``: its numbers (:func:`hyperparameters`: the learning rate, momentum,
weight decay, betas and the schedule's lengths, cycles and gamma, each derived from the
parameters and ``steps_per_epoch``) are arrays in the optimiser state, read by the jitted step
like the weights, and the schedules above are written over those arrays (the same arithmetic as
Optax's schedules, which need Python numbers). Trials of one model, image size and batch size
that differ only in those numbers (or in the number of epochs) therefore share their compiled
programs. What still changes the program: the optimiser, ``ams_gradient``, ``nesterov``, momentum
zero or not (no momentum buffer), the scheduler, ``layers_to_freeze``,
``gradient_accumulation_step`` and ``weighted_loss``. Adam's ``1 - beta`` is computed in float32
from the float32 beta (before: from the Python number), so Adam updates may differ from earlier
versions' in the last bits.

**Gradient accumulation** (``gradient_accumulation_step`` = ``k``):
``optax.MultiSteps(every_k_schedule=k)`` averages the gradients of ``k``
consecutive batches and applies one update, so ``k`` batches of ``b`` equal one
batch of ``k * b`` when the loss is a plain mean (``weighted_loss: 0``) and the
model has no batch statistics. Between updates the parameters do not move.

**Freezing** (``layers_to_freeze`` = ``N``): the parameters whose path starts
with a prefix of one of the first ``N`` groups of
:func:`~imgtune.train.models.layer_groups` are labelled ``frozen`` and get
``optax.set_to_zero()`` through ``optax.multi_transform`` (no update, no weight
decay, no optimiser memory). Their batch statistics are kept as well: the
training step puts back the old running statistics of frozen groups after the
forward pass (:func:`frozen_mask`), so frozen BatchNorm layers still normalise
with batch statistics in training mode -- as PyTorch does for a layer whose
``requires_grad`` is off -- but their running averages never change.

**Losses** (``weighted_loss``: 0 none, 1 ``sqrt(w_c)``, 2 ``w_c``), with the
class weight ``w_c = N / (C * n_c)``: ``N`` training examples, ``C`` classes,
``n_c`` training examples of class ``c`` (for multilabel: examples carrying
label ``c``; a count of 0 counts as 1). Balanced classes give ``w_c = 1``.

* Multiclass: softmax cross-entropy
  ``l_i = -log softmax(z_i)[y_i]`` (``optax.softmax_cross_entropy_with_integer_labels``),
  reduced as PyTorch's ``CrossEntropyLoss(weight=v)``:
  ``sum_i v[y_i] * l_i / sum_i v[y_i]``.
* Multilabel: sigmoid binary cross-entropy per label
  (``optax.sigmoid_binary_cross_entropy``) with the weight on the positive term,
  as PyTorch's ``BCEWithLogitsLoss(pos_weight=v)``:
  ``l_ic = -(v_c * y_ic * log s(z_ic) + (1 - y_ic) * log(1 - s(z_ic)))``,
  averaged over all ``B * C`` entries.

Padding rows (``mask`` false) count for nothing in either loss.

Example:
    >>> import jax.numpy as jnp
    >>> from imgtune.spec.records import TrainingParameters
    >>> from imgtune.compiler.defaults import resolve
    >>> p = resolve(TrainingParameters(model_name="resnet18", learning_rate=0.1,
    ...             number_of_epochs=10, step_lr_step_size=2, step_lr_gamma=0.5,
    ...             learning_rate_scheduler="step"), {}, multilabel=False, seed=0)
    >>> lr = learning_rate_schedule(p, steps_per_epoch=4)
    >>> [round(float(lr(t)), 4) for t in (0, 7, 8, 16)]
    [0.1, 0.1, 0.05, 0.025]
    >>> class_weights([0, 0, 0, 1], 2)
    array([0.6666667, 2.       ], dtype=float32)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from imgtune.errors import Problem, ValidationError
from imgtune.spec.enums import LearningRateScheduler, Optimizer
from imgtune.spec.fields import UNRESOLVED
from imgtune.spec.records import TrainingParameters

__all__ = [
    "LossFn",
    "class_weights",
    "default_loss",
    "frozen_mask",
    "hyperparameters",
    "learning_rate_schedule",
    "loss_weights",
    "make_optimizer",
    "multiclass_loss",
    "multilabel_loss",
    "path_of",
    "updates_per_epoch",
]

_ADAM_EPS = 1e-8  # PyTorch's default

LossFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
"""A training loss ``loss_fn(logits, labels, weights) -> scalar``: ``logits`` ``[B, C]``, ``labels`` int32
``[B]`` (multiclass) or float32 multi-hot ``[B, C]`` (multilabel), ``weights`` float32 ``[B]``: 1 for an
example, 0 for a padding row (see :func:`default_loss`)."""


def updates_per_epoch(steps_per_epoch: int, accumulation: int) -> int:
    """Optimiser updates in one epoch of ``steps_per_epoch`` batches (at least 1)."""
    return max(1, steps_per_epoch // max(1, accumulation))


def _schedule_numbers(params: TrainingParameters, steps_per_epoch: int) -> tuple[str, dict[str, Any]]:
    """The schedule's kind (part of the program's structure) and its numbers (runtime values)."""
    lr = float(params.learning_rate)
    u = updates_per_epoch(steps_per_epoch, params.gradient_accumulation_step)
    total = max(1, int(params.number_of_epochs) * u)
    sched = LearningRateScheduler.parse(params.learning_rate_scheduler)
    if sched is LearningRateScheduler.NONE:
        return "constant", {"learning_rate": lr}
    if sched is LearningRateScheduler.STEP:
        gamma = float(params.step_lr_gamma)
        if gamma == 0:  # as optax.exponential_decay: a zero rate holds the initial value
            return "constant", {"learning_rate": lr}
        return "step", {"learning_rate": lr, "step_updates": max(1, int(params.step_lr_step_size) * u),
                        "step_gamma": gamma}
    warmup = int(params.warmup_cosine_lr_warmup_epochs) * u
    numbers = {"learning_rate": lr, "cosine_span": max(1, total - warmup),
               "cosine_angle": 2.0 * math.pi * float(params.warmup_cosine_lr_cycles)}
    if warmup == 0:
        return "cosine", numbers
    return "warmup_cosine", {**numbers, "warmup_updates": warmup}


def _schedule(kind: str, learning_rate: Any, *, step_updates: Any = None, step_gamma: Any = None,
              cosine_span: Any = None, cosine_angle: Any = None, warmup_updates: Any = None) -> optax.Schedule:
    """The schedule ``kind`` over (possibly traced) scalars: the same arithmetic as Optax's
    ``constant_schedule``, ``exponential_decay(staircase=True)``, ``linear_schedule`` and
    ``join_schedules``, which need Python numbers for their steps."""
    if kind == "constant":
        return lambda count: learning_rate
    if kind == "step":
        def step(count: Any) -> jax.Array:
            p = jnp.floor(count / step_updates)
            return jnp.where(count <= 0, learning_rate, learning_rate * jnp.power(step_gamma, p))

        return step

    def cosine(t: Any) -> jax.Array:
        progress = jnp.asarray(t, jnp.float32) / cosine_span
        return learning_rate * 0.5 * (1.0 + jnp.cos(cosine_angle * progress))

    if kind == "cosine":
        return cosine

    def warmup_cosine(count: Any) -> jax.Array:
        frac = 1 - jnp.clip(count, 0, warmup_updates) / warmup_updates
        warm = (0.0 - learning_rate) * frac + learning_rate
        return jnp.where(count < warmup_updates, warm, cosine(count - warmup_updates))

    return warmup_cosine


def learning_rate_schedule(params: TrainingParameters, steps_per_epoch: int) -> optax.Schedule:
    """The learning rate as a function of the optimiser update count (see the module doc).

    Args:
        params: Resolved training parameters.
        steps_per_epoch: Training batches per epoch (before accumulation).

    Raises:
        ValidationError: ``params`` are not resolved (a field is unset).
    """
    _require_resolved(params, "learning_rate_schedule")
    kind, numbers = _schedule_numbers(params, steps_per_epoch)
    return _schedule(kind, **_as_arrays(numbers))


def _as_arrays(numbers: dict[str, Any]) -> dict[str, np.ndarray]:
    """Python numbers as 0-d arrays: int32 counts, float32 values (what the state holds)."""
    return {k: np.asarray(v, np.int32 if isinstance(v, int) else np.float32) for k, v in numbers.items()}


def path_of(key_path: Sequence[Any]) -> tuple:
    """A JAX key path of an ``nnx.State`` leaf as a plain tuple, e.g. ``("layer1", 0, "conv1", "kernel")``."""
    out = []
    for k in key_path:
        if isinstance(k, jax.tree_util.DictKey):
            out.append(k.key)
        elif isinstance(k, jax.tree_util.SequenceKey):
            out.append(k.idx)
        elif isinstance(k, jax.tree_util.GetAttrKey):
            if k.name != "value":
                out.append(k.name)
        else:  # FlattenedIndexKey and others
            out.append(getattr(k, "key", k))
    return tuple(out)


def frozen_mask(tree: Any, groups: Sequence[Sequence[tuple]], layers_to_freeze: int) -> Any:
    """A tree of bools shaped like ``tree``: true where the leaf lies in one of the first
    ``layers_to_freeze`` groups (a leaf's path starts with one of the group's prefixes)."""
    prefixes = [tuple(p) for g in groups[: max(0, int(layers_to_freeze))] for p in g]

    def frozen(kp: Sequence[Any], _: Any) -> bool:
        path = path_of(kp)
        return any(path[: len(p)] == p for p in prefixes)

    return jax.tree_util.tree_map_with_path(frozen, tree)


def _update_rule(
    learning_rate: Any,
    weight_decay: Any,
    momentum: Any = None,
    beta1: Any = None,
    beta2: Any = None,
    step_updates: Any = None,
    step_gamma: Any = None,
    cosine_span: Any = None,
    cosine_angle: Any = None,
    warmup_updates: Any = None,
    *,
    optimizer: str,
    schedule: str,
    nesterov: bool,
    ams_gradient: bool,
    labels: Any,
    accumulation: int,
) -> optax.GradientTransformation:
    """The update rule from its numbers (traced inside ``optax.inject_hyperparams``) and its
    structure (keyword-only, static); see the module doc."""
    lr = _schedule(schedule, learning_rate, step_updates=step_updates, step_gamma=step_gamma,
                   cosine_span=cosine_span, cosine_angle=cosine_angle, warmup_updates=warmup_updates)
    if optimizer == "sgd":
        tx = optax.chain(optax.add_decayed_weights(weight_decay),
                         optax.sgd(lr, momentum=momentum, nesterov=nesterov and momentum is not None))
    else:
        scale = (optax.scale_by_amsgrad(beta1, beta2, eps=_ADAM_EPS) if ams_gradient
                 else optax.scale_by_adam(beta1, beta2, eps=_ADAM_EPS))
        if optimizer == "adam":
            tx = optax.chain(optax.add_decayed_weights(weight_decay), scale, optax.scale_by_learning_rate(lr))
        else:  # adamw
            tx = optax.chain(scale, optax.add_decayed_weights(weight_decay), optax.scale_by_learning_rate(lr))
    if labels is not None:
        tx = optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)
    if accumulation > 1:
        tx = optax.MultiSteps(tx, every_k_schedule=accumulation).gradient_transformation()
    return tx


def hyperparameters(params: TrainingParameters, *, steps_per_epoch: int) -> dict[str, np.ndarray]:
    """The update rule's runtime numbers: what :func:`make_optimizer` keeps in the optimiser state.

    Trials whose parameters differ only in these numbers (learning rate, momentum, weight decay,
    betas, the schedule's warmup, cycles, step size, gamma and length) share their compiled
    programs. Zero momentum (no momentum buffer) and zero warmup change the program's structure.

    Example:
        >>> from imgtune.compiler.defaults import resolve
        >>> p = resolve(TrainingParameters(model_name="resnet18", learning_rate=0.1, number_of_epochs=10,
        ...             learning_rate_scheduler="step", step_lr_step_size=2, step_lr_gamma=0.5), {},
        ...             multilabel=False, seed=0)
        >>> {k: round(v.item(), 6) for k, v in sorted(hyperparameters(p, steps_per_epoch=4).items())}
        {'learning_rate': 0.1, 'momentum': 0.9, 'step_gamma': 0.5, 'step_updates': 8, 'weight_decay': 0.0001}
    """
    return _as_arrays(_numbers_and_structure(params, steps_per_epoch)[0])


def _numbers_and_structure(params: TrainingParameters, steps_per_epoch: int) -> tuple[dict[str, Any],
                                                                                       dict[str, Any]]:
    kind = Optimizer.parse(params.optimizer)
    schedule, numbers = _schedule_numbers(params, steps_per_epoch)
    numbers["weight_decay"] = float(params.weight_decay)
    structure = {"schedule": schedule, "nesterov": False, "ams_gradient": False}
    if kind in (Optimizer.SGD, Optimizer.NONE):
        structure["optimizer"] = "sgd"
        momentum = float(params.momentum)
        if momentum > 0:  # zero: no momentum buffer (plain SGD)
            numbers["momentum"] = momentum
            structure["nesterov"] = bool(params.nesterov)
    elif kind in (Optimizer.ADAM, Optimizer.ADAMW):
        structure["optimizer"] = kind.value
        structure["ams_gradient"] = bool(params.ams_gradient)
        numbers.update(beta1=float(params.beta1), beta2=float(params.beta2))
    else:
        raise ValueError(f"unknown optimizer {params.optimizer!r}")
    return numbers, structure


def _require_resolved(params: TrainingParameters, user: str) -> None:
    """Raises one :class:`~imgtune.errors.ValidationError` naming every unset field of ``params``
    that ``compile`` would have filled in (``user`` names the caller in the message)."""
    if not isinstance(params, TrainingParameters):
        raise ValidationError([Problem("training_parameters", f"must be TrainingParameters, got "
                                                              f"{type(params).__name__}")], user)
    missing = [a.name for a in params.__attrs_attrs__  # extra_parameters: one's own, None when there are none
               if getattr(params, a.name) is None and a.name not in UNRESOLVED and a.name != "extra_parameters"]
    if missing:
        raise ValidationError([Problem(f"training_parameters.{name}",
                                       f"is unset: {user} takes resolved parameters (a compiled plan's "
                                       f"trial.parameters, or imgtune.compiler.defaults.resolve(params, ...))")
                               for name in missing], user)


def make_optimizer(
    params: TrainingParameters,
    *,
    steps_per_epoch: int,
    frozen: Any | None = None,
) -> optax.GradientTransformation:
    """The whole update rule: optimiser + schedule, frozen groups, gradient accumulation.

    Its numbers (:func:`hyperparameters`) are runtime values in the state
    (``optax.inject_hyperparams``: ``state.hyperparams``, around the inner state that the chain
    below keeps), not constants of the compiled step.

    Args:
        params: Resolved training parameters.
        steps_per_epoch: Training batches per epoch.
        frozen: ``None`` or a tree of bools shaped like the model parameters
            (:func:`frozen_mask`); true leaves are never updated.

    Returns:
        An Optax transformation; ``update`` takes ``params`` (needed for weight decay).

    Raises:
        ValidationError: ``params`` are not resolved (a field the rule reads is unset).

    Example:
        >>> make_optimizer(TrainingParameters(optimizer="adam"), steps_per_epoch=10)
        Traceback (most recent call last):
        ...
        imgtune.errors.ValidationError: 31 problems in make_optimizer:
          training_parameters.advanced_settings: is unset: make_optimizer takes resolved parameters ...
        ...
    """
    _require_resolved(params, "make_optimizer")
    numbers, structure = _numbers_and_structure(params, steps_per_epoch)
    labels = None
    if frozen is not None and any(jax.tree.leaves(frozen)):
        labels = jax.tree.map(lambda f: "frozen" if f else "train", frozen)
    rule = optax.inject_hyperparams(_update_rule, static_args=("accumulation",))
    return rule(**_as_arrays(numbers), **structure, labels=labels,
                accumulation=int(params.gradient_accumulation_step))


def class_weights(labels: Any, num_classes: int, *, multilabel: bool = False) -> np.ndarray:
    """``w_c = N / (C * n_c)`` from the training labels (class indices, or multi-hot rows).

    ``n_c`` counts the examples of class ``c`` (examples carrying label ``c`` for
    multilabel); an absent class counts as 1.
    """
    y = np.asarray(labels)
    n = y.shape[0]
    if multilabel:
        counts = y.reshape(n, num_classes).astype(np.float64).sum(axis=0)
    else:
        counts = np.bincount(y.astype(np.int64).ravel(), minlength=num_classes)[:num_classes].astype(np.float64)
    return (n / (num_classes * np.maximum(counts, 1.0))).astype(np.float32)


def loss_weights(weighted_loss: int, weights: np.ndarray) -> np.ndarray | None:
    """The per-class loss weights for ``weighted_loss`` 0 (``None``), 1 (``sqrt(w)``) or 2 (``w``)."""
    if weighted_loss == 0:
        return None
    if weighted_loss == 1:
        return np.sqrt(weights).astype(np.float32)
    if weighted_loss == 2:
        return np.asarray(weights, np.float32)
    raise ValueError(f"weighted_loss must be 0, 1 or 2, got {weighted_loss!r}")


def default_loss(multilabel: bool, class_weights: np.ndarray | None = None) -> LossFn:
    """The trainer's loss as a :data:`LossFn`: softmax cross-entropy (multiclass) or sigmoid binary
    cross-entropy (multilabel), with per-class weights (``weighted_loss``; see the module doc).

    Example:
        >>> loss = default_loss(False)
        >>> round(float(loss(jnp.zeros((2, 4)), jnp.array([0, 3]), jnp.ones(2))), 4)  # log 4
        1.3863
        >>> round(float(loss(jnp.array([[9.0, 0.0], [0.0, 0.0]]), jnp.array([0, 0]), jnp.array([0.0, 1.0]))), 4)
        0.6931
    """
    base = multilabel_loss if multilabel else multiclass_loss
    w = None if class_weights is None else np.asarray(class_weights, np.float32)

    def loss(logits: jax.Array, labels: jax.Array, weights: jax.Array) -> jax.Array:
        return base(logits, labels, weights, w)[0]

    return loss


def multiclass_loss(logits: jax.Array, labels: jax.Array, mask: jax.Array,
                    weights: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Softmax cross-entropy: ``(batch loss, per-example loss)``; see the module doc."""
    logits = logits.astype(jnp.float32)
    per = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    w = mask.astype(jnp.float32)
    if weights is not None:
        w = w * jnp.asarray(weights, jnp.float32)[labels]
    return jnp.sum(per * w) / jnp.maximum(jnp.sum(w), 1e-12), per


def multilabel_loss(logits: jax.Array, labels: jax.Array, mask: jax.Array,
                    weights: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Sigmoid binary cross-entropy, mean over rows and labels: ``(batch loss, per-example loss)``."""
    logits = logits.astype(jnp.float32)
    y = labels.astype(jnp.float32)
    if weights is None:
        per_label = optax.sigmoid_binary_cross_entropy(logits, y)
    else:  # pos_weight form: -(v * y * log s(z) + (1 - y) * log(1 - s(z)))
        v = jnp.asarray(weights, jnp.float32)
        per_label = -(v * y * jax.nn.log_sigmoid(logits) + (1.0 - y) * jax.nn.log_sigmoid(-logits))
    per = jnp.mean(per_label, axis=-1)
    m = mask.astype(jnp.float32)
    return jnp.sum(per * m) / jnp.maximum(jnp.sum(m), 1e-12), per
