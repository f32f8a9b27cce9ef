"""The train state: the device half (arrays, a pytree) and the host half (JSON).

A trial continues *exactly* from a checkpoint because the two halves together
hold everything its future depends on:

:class:`TrainState` (a pytree; what the jitted steps take and return)
    ``step`` (int32: training batches done, the big_vision step counter),
    ``params`` and ``batch_stats`` (``nnx.State`` of the model's
    ``nnx.Param`` and ``nnx.BatchStat`` variables) and ``opt_state`` (the
    Optax state: the optimiser's numbers (``opt_state.hyperparams``, see
    :func:`imgtune.train.optim.make_optimizer`) around the inner state, which holds the
    gradient-accumulation buffer of ``optax.MultiSteps`` and the schedule's update count).

    Randomness needs no key in the state: the dropout key of step ``t`` is
    ``fold_in(k0, t)`` where ``k0`` is the model's initial key (from
    ``random_seed``), and the augmentation of example ``i`` in epoch ``e`` is
    keyed by ``(random_seed, e, i)`` in the data pipeline.

:class:`Progress` (frozen attrs; saved as JSON beside the arrays)
    the data position (``BatchIterator.get_state()``), completed epochs, the
    running training-loss sum of the current epoch, the early-stopping
    counters, the best evaluation so far and the history of evaluations.

The host half is read and written by the one converter (:mod:`imgtune.spec.convert`).

Example:
    >>> from imgtune.spec.convert import structure, unstructure
    >>> p = Progress(epochs_done=2, early=EarlyStopping(3, 0.5, 1), history=({"epoch": 2, "accuracy": 0.5},))
    >>> structure(unstructure(p), Progress) == p
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import attrs
import jax
import optax

from imgtune.spec.convert import record_converter

__all__ = ["EarlyStopping", "Progress", "TrainState"]


class TrainState(NamedTuple):
    """The device arrays of a trial (a pytree; see the module doc)."""

    step: jax.Array
    params: Any
    batch_stats: Any
    opt_state: optax.OptState


@attrs.frozen
class EarlyStopping:
    """Counters of :func:`imgtune.train.loop.early_stopping_update`.

    Attributes:
        evaluations: Evaluations seen so far (tracked or not).
        best: The best tracked value of the primary metric; ``None`` before tracking starts.
        since_best: Tracked evaluations since ``best`` was set without improving on it.
    """

    evaluations: int = 0
    best: float | None = None
    since_best: int = 0


@attrs.frozen
class Progress:
    """The host half of the state (JSON-ready; see the module doc).

    Attributes:
        data: The training iterator's state ``{"epoch": e, "position": p}``.
        epochs_done: Completed epochs.
        epoch_loss_sum: Sum of the training losses of the current epoch's batches so far.
        early: Early-stopping counters.
        best: The best checkpointed evaluation (``{"epoch", "metric", "metrics",
            "confusion_matrix", "per_label"}``) or ``None``.
        history: One mapping per evaluation: ``epoch``, every metric, ``loss``
            (validation) and ``train_loss``.
    """

    data: Mapping[str, int] = attrs.field(factory=lambda: {"epoch": 0, "position": 0},
                                          converter=lambda d: {k: int(v) for k, v in d.items()})
    epochs_done: int = attrs.field(default=0, converter=int)
    epoch_loss_sum: float = attrs.field(default=0.0, converter=float)
    early: EarlyStopping = attrs.field(factory=EarlyStopping, converter=record_converter(EarlyStopping))
    best: Mapping[str, Any] | None = None
    history: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=tuple)
