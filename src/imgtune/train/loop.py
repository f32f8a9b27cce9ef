"""The training loop: pure jitted steps, one cadence helper, early stopping, the loop.

**Steps.** :func:`make_train_step` builds ``train_step(state, images, labels,
mask) -> (state, loss)`` and :func:`make_eval_step` builds
``eval_step(params, batch_stats, images, labels, mask) -> (scores,
per_example_loss)``; both are ``jax.jit`` -ed pure functions of arrays (the
model's graph definition is closed over and rebuilt with ``nnx.merge`` inside,
so no Python object is mutated). ``scores`` are probabilities: softmax rows
(multiclass) or per-label sigmoids (multilabel). The train state's ``step``
advances by one per batch; the dropout key of a step is
``fold_in(initial key, step)``.

**Cadence** (:func:`due`, one helper for all of it; epochs count from 1):
evaluate after epoch ``e`` when ``e % evaluation_frequency == 0``, at the last
epoch, and at every checkpoint epoch; a checkpoint of the epoch is a *best
candidate* when it is evaluated and (``checkpoint_frequency`` unset, or
``e % checkpoint_frequency == 0``, or the last epoch). The resumable ``LAST``
checkpoint is written after every epoch; a log line is written at every
evaluation.

**Early stopping** (:func:`early_stopping_update`, a pure function),
counted in evaluations on the primary metric (which value is better, the metric says):
the first ``early_stopping_delay`` evaluations are not tracked; the next one
sets the tracked best; every later one that is not strictly better counts
one, one that is better resets the count; training stops at the evaluation
where the count reaches ``early_stopping_patience``. With delay 5 and
patience 5 and no improvement after evaluation 6, the trial stops after
evaluation 11. (A NaN metric never improves.)

**Report.** After each evaluation (and after its checkpoint is written)
``report(entry)`` is called with the history entry (``epoch``, every metric,
``loss``, ``train_loss``); it answers ``None``/``False`` (go on), ``True`` or
``"stop"`` (stop; reason ``"stopped by report"``) or any other string (stop,
with that string as the reason). The trial then ends ``Canceled``, keeping its
best checkpoint.

**Compiled programs.** The steps' numbers that vary between the trials of a sweep (learning
rate, momentum, schedule, ...) are values in the state (:func:`imgtune.train.optim.make_optimizer`),
so trials of one model, image size and batch size lower to the same programs and every trial after
the first loads them from JAX's persistent compilation cache. The first call of each step logs where
its program came from (:func:`program_source`: JAX's ``/jax/compilation_cache/*`` monitoring
events), e.g. ``train step: from the persistent compilation cache (first call 1.7 s)`` or
``train step: compiled; not in the persistent compilation cache (first call 6.9 s)``.

**Failure.** A non-finite training loss ends the trial ``Failed`` with the
step and epoch in the reason (checked one step late, so the device is never
idle waiting for the host).

Example:
    >>> due(2, num_epochs=10, evaluation_frequency=2, checkpoint_frequency=None)
    Due(evaluate=True, best_candidate=True)
    >>> due(3, num_epochs=10, evaluation_frequency=2, checkpoint_frequency=None).evaluate
    False
    >>> es = EarlyStopping()
    >>> stops = []
    >>> for v in [0.1, 0.5, 0.4, 0.3, 0.2]:
    ...     es, stop = early_stopping_update(es, v, metric=PrimaryMetric.ACCURACY, delay=1, patience=3)
    ...     stops.append(stop)
    >>> stops
    [False, False, False, False, True]
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from imgtune.spec.enums import JobStatus, PrimaryMetric
from imgtune.train import metrics
from imgtune.train.devices import put_global, to_host
from imgtune.train.inference import logits_to_scores
from imgtune.train.optim import LossFn, default_loss, multiclass_loss, multilabel_loss
from imgtune.train.state import EarlyStopping, Progress, TrainState
from imgtune.train.trial_types import TrialSettings
from imgtune.values import jsonable

__all__ = [
    "Due",
    "Loop",
    "Outcome",
    "due",
    "early_stopping_update",
    "evaluate",
    "itstime",
    "log_first_call",
    "make_eval_step",
    "make_train_step",
    "program_source",
    "run",
]

log = logging.getLogger("imgtune.train")


# -- steps ------------------------------------------------------------------------


def _step_rngs(rest: Any, step: jax.Array) -> Any:
    """The non-parameter state with every RNG key folded with ``step``."""

    def fold(x: Any) -> Any:
        if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.fold_in(x, step)
        return x

    return jax.tree.map(fold, rest)


def make_train_step(
    graphdef: Any,
    rest: Any,
    tx: optax.GradientTransformation,
    *,
    multilabel: bool,
    weights: np.ndarray | None = None,
    loss_fn: LossFn | None = None,
    frozen_stats: Any | None = None,
    state_sharding: Any | None = None,
    donate: bool = True,
) -> Callable[..., tuple[TrainState, jax.Array]]:
    """The jitted ``train_step(state, images, labels, mask) -> (state, loss)``.

    **Donation.** By default the step *donates* its input ``state`` to XLA (``donate_argnums=0``):
    the new state reuses the old one's device buffers, which halves the memory of the
    parameters and optimiser state, but the ``state`` passed in is deleted on GPU/TPU (reading
    it afterwards raises "Array has been deleted"; on CPU donation is ignored). Keep only the
    returned state, ``state, loss = step(state, ...)``, or pass ``donate=False`` to keep the
    input (e.g. to compare two steps from one state).

    Args:
        graphdef: The model's ``nnx`` graph definition.
        rest: The model's other variables (RNG streams), as from ``nnx.split``.
        tx: The update rule (:func:`imgtune.train.optim.make_optimizer`).
        multilabel: Sigmoid BCE instead of softmax cross-entropy.
        weights: Per-class loss weights of the default loss, or ``None``.
        loss_fn: One's own training loss ``(logits, labels, weights) -> scalar``
            (:data:`imgtune.train.optim.LossFn`; ``weights`` float32 ``[B]`` is the mask, 1 for an
            example and 0 for a padding row; ``logits`` as the model computes them). Default:
            :func:`imgtune.train.optim.default_loss` ``(multilabel, weights)``. The evaluation's loss
            stays the default one.
        frozen_stats: A tree of bools shaped like the batch statistics; true
            leaves keep their old value (frozen groups).
        state_sharding: Sharding of the state (replicated) for ``out_shardings``.
        donate: Donate the input state's buffers to the output (see above).
    """
    if loss_fn is not None and weights is not None:
        raise ValueError("weights are the default loss's class weights; give loss_fn or weights, not both")
    loss = default_loss(multilabel, weights) if loss_fn is None else loss_fn
    keep = frozen_stats if frozen_stats is not None and any(jax.tree.leaves(frozen_stats)) else None

    def train_step(state: TrainState, images: jax.Array, labels: jax.Array, mask: jax.Array):
        rngs = _step_rngs(rest, state.step)

        def compute(params: Any) -> tuple[jax.Array, Any]:
            model = nnx.merge(graphdef, params, state.batch_stats, rngs, copy=True)
            logits = model(images, train=True)
            return loss(logits, labels, mask.astype(jnp.float32)), nnx.state(model, nnx.BatchStat)

        (value, stats), grads = jax.value_and_grad(compute, has_aux=True)(state.params)
        if keep is not None:
            stats = jax.tree.map(lambda k, old, new: old if k else new, keep, state.batch_stats, stats)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(state.step + 1, params, stats, opt_state), value

    out = None if state_sharding is None else (state_sharding, state_sharding)
    return jax.jit(train_step, donate_argnums=0 if donate else (), out_shardings=out)


def make_eval_step(graphdef: Any, rest: Any, *, multilabel: bool, out_sharding: Any | None = None):
    """The jitted ``eval_step(params, batch_stats, images, labels, mask) -> (scores, per_example_loss)``."""
    loss_fn = multilabel_loss if multilabel else multiclass_loss

    def eval_step(params: Any, batch_stats: Any, images: jax.Array, labels: jax.Array, mask: jax.Array):
        model = nnx.merge(graphdef, params, batch_stats, rest, copy=True)
        logits = model(images, train=False).astype(jnp.float32)
        scores = logits_to_scores(logits, multilabel)
        _, per = loss_fn(logits, labels, mask)
        return scores, per

    out = None if out_sharding is None else (out_sharding, out_sharding)
    return jax.jit(eval_step, out_shardings=out)


# -- where a step's program came from ----------------------------------------------------

_REQUESTS = "/jax/compilation_cache/compile_requests_use_cache"
_HITS = "/jax/compilation_cache/cache_hits"


class _CacheEvents:
    """Counts JAX's persistent-cache events in this process (one listener, registered once)."""

    def __init__(self) -> None:
        self.counts = {_REQUESTS: 0, _HITS: 0}
        self.listening: bool | None = None

    def __call__(self, event: str, **_: Any) -> None:
        if event in self.counts:
            self.counts[event] += 1

    def listen(self) -> bool:
        if self.listening is None:
            try:
                from jax import monitoring

                monitoring.register_event_listener(self)
                self.listening = True
            except (ImportError, AttributeError):  # a JAX without monitoring events
                self.listening = False
        return self.listening


_cache_events = _CacheEvents()


def program_source(requests: int, hits: int, *, cache_dir: str | None, listening: bool = True) -> str:
    """Where a step's program came from, from the persistent-cache events of its first call.

    >>> program_source(2, 2, cache_dir="/c")
    'from the persistent compilation cache'
    >>> program_source(1, 0, cache_dir="/c")
    'compiled; not in the persistent compilation cache'
    >>> program_source(0, 0, cache_dir=None)
    'compiled; no persistent compilation cache (set JAX_COMPILATION_CACHE_DIR)'
    """
    if not cache_dir:
        return "compiled; no persistent compilation cache (set JAX_COMPILATION_CACHE_DIR)"
    if not listening:
        return "persistent compilation cache use unknown (this JAX records no cache events)"
    if requests == 0:
        return "already compiled in this process, or too small for the persistent compilation cache"
    if hits >= requests:
        return "from the persistent compilation cache"
    if hits == 0:
        return "compiled; not in the persistent compilation cache"
    return f"{hits} of {requests} programs from the persistent compilation cache, the others compiled"


def log_first_call(fn: Callable, what: str) -> Callable:
    """``fn``, logging on its first call how long it took and where its program came from."""
    first = True

    def call(*args: Any) -> Any:
        nonlocal first
        if not first:
            return fn(*args)
        first = False
        listening = _cache_events.listen()
        before = dict(_cache_events.counts)
        t0 = time.perf_counter()
        out = fn(*args)
        seconds = time.perf_counter() - t0
        counts = {k: v - before[k] for k, v in _cache_events.counts.items()}
        log.info("%s: %s (first call %.1f s)", what,
                 program_source(counts[_REQUESTS], counts[_HITS], cache_dir=jax.config.jax_compilation_cache_dir,
                                listening=listening), seconds)
        return out

    return call


# -- cadence and early stopping ---------------------------------------------------------


def itstime(n: int, every: int | None, total: int, *, last: bool = True) -> bool:
    """Whether count ``n`` (from 1) is a multiple of ``every`` (or, with ``last``, the final one)."""
    return bool((every is not None and every > 0 and n % every == 0) or (last and n == total))


@attrs.frozen
class Due:
    """What happens at the end of an epoch (see the module doc)."""

    evaluate: bool
    best_candidate: bool


def due(epoch: int, *, num_epochs: int, evaluation_frequency: int, checkpoint_frequency: int | None) -> Due:
    """The cadence helper: what to do after epoch ``epoch`` (counted from 1)."""
    ckpt = checkpoint_frequency is None or itstime(epoch, checkpoint_frequency, num_epochs)
    evaluate = itstime(epoch, evaluation_frequency, num_epochs) or (
        checkpoint_frequency is not None and itstime(epoch, checkpoint_frequency, num_epochs))
    return Due(evaluate=evaluate, best_candidate=evaluate and ckpt)


def early_stopping_update(state: EarlyStopping, value: float, *, metric: PrimaryMetric, delay: int,
                          patience: int) -> tuple[EarlyStopping, bool]:
    """One evaluation's effect on early stopping: ``(new counters, stop?)`` (see the module doc).

    ``metric`` says which value is better (:meth:`~imgtune.spec.enums.PrimaryMetric.better`).
    """
    n = state.evaluations + 1
    if n <= delay:
        return EarlyStopping(n, state.best, state.since_best), False
    if state.best is None or metric.better(value, state.best):
        return EarlyStopping(n, float(value), 0), False
    since = state.since_best + 1
    return EarlyStopping(n, state.best, since), since >= patience


# -- evaluation ---------------------------------------------------------------------------


def evaluate(eval_step: Callable, params: Any, batch_stats: Any, batches: Any, *, sharding: Any,
             multilabel: bool, classes: Sequence[str]) -> tuple[Any, float]:
    """Runs ``eval_step`` over ``batches``; returns ``(metrics.Evaluation, mean loss)``."""
    scores, labels, losses = [], [], []
    for b in batches:
        s, per = eval_step(params, batch_stats, put_global(b.images, sharding), put_global(b.labels, sharding),
                           put_global(b.mask, sharding))
        m = b.mask
        scores.append(to_host(s)[m])
        losses.append(to_host(per)[m])
        labels.append(b.labels[m])
    scores_np, labels_np, loss_np = np.concatenate(scores), np.concatenate(labels), np.concatenate(losses)
    ev = metrics.evaluate(scores_np.astype(np.float64), labels_np, multilabel=multilabel, classes=tuple(classes))
    return ev, float(loss_np.mean()) if loss_np.size else float("nan")


# -- the loop -------------------------------------------------------------------------------


@attrs.frozen
class Outcome:
    """How :func:`run` ended: ``status`` Completed, Failed or Canceled; ``paused`` when it stopped at
    ``max_steps`` (then Canceled, and resumable)."""

    status: JobStatus
    reason: str | None
    state: TrainState
    progress: Progress
    paused: bool = False


@attrs.define
class Loop:
    """Everything :func:`run` needs, built by :func:`imgtune.train.trial.train_trial`.

    Attributes:
        train_step, eval_step: From :func:`make_train_step` / :func:`make_eval_step`.
        train_batches: The training :class:`~imgtune.train.data.BatchIterator` (all epochs).
        eval_batches: ``() -> iterable of batches`` over the validation data.
        batch_sharding: Where batches go.
        checkpoints: The trial's :class:`~imgtune.train.checkpoints.Checkpoints`.
        info: Written beside every checkpoint.
        classes: The class order.
        settings: The trial's :class:`~imgtune.train.trial_types.TrialSettings`: the task, the
            primary metric, the cadence and early stopping (its ``params``), ``max_steps``.
        report: The callback, or ``None``.
        on_step: Called after every training step (the sweep's sign of life), or ``None``.
    """

    train_step: Callable
    eval_step: Callable
    train_batches: Any
    eval_batches: Callable[[], Any]
    batch_sharding: Any
    checkpoints: Any
    info: Mapping[str, Any]
    classes: tuple[str, ...]
    settings: TrialSettings
    report: Callable[[Mapping[str, Any]], Any] | None = None
    on_step: Callable[[], Any] | None = None


def _report_answer(answer: Any) -> str | None:
    if answer is None or answer is False:
        return None
    if answer is True or answer == "stop":
        return "stopped by report"
    if isinstance(answer, str):
        return answer
    raise TypeError(f"report must return None, a bool or a str, got {answer!r}")


def _finite_or_reason(loss: jax.Array, step: int, epoch: int) -> str | None:
    value = float(to_host(loss))
    if math.isfinite(value):
        return None
    return f"training loss is {value} at step {step} (epoch {epoch + 1}); lower the learning rate or check the data"


def run(loop: Loop, state: TrainState, progress: Progress) -> Outcome:
    """Trains from ``(state, progress)`` until the last epoch, a stop, a failure or ``max_steps``."""
    it = loop.train_batches
    it.set_state(progress.data)
    spe = it.steps_per_epoch
    step = progress.data["epoch"] * spe + progress.data["position"]
    loss_sum = jnp.float32(progress.epoch_loss_sum)
    previous: tuple[jax.Array, int, int] | None = None  # (loss, step, epoch) not checked yet
    t0 = time.perf_counter()
    put = loop.batch_sharding
    saved_at = -1
    train_step = log_first_call(loop.train_step, "train step")
    loop = attrs.evolve(loop, eval_step=log_first_call(loop.eval_step, "eval step"))
    for batch in it:
        state, loss = train_step(state, put_global(batch.images, put), put_global(batch.labels, put),
                                      put_global(batch.mask, put))
        if previous is not None:
            reason = _finite_or_reason(*previous)
            if reason is not None:
                return Outcome(JobStatus.FAILED, reason, state, progress)
        previous = (loss, step, batch.epoch)
        loss_sum = loss_sum + loss
        step += 1
        if loop.on_step is not None:
            loop.on_step()
        progress = attrs.evolve(progress, data=it.get_state())
        if batch.step == spe - 1:  # the epoch is complete
            reason = _finite_or_reason(*previous)
            previous = None
            if reason is not None:
                return Outcome(JobStatus.FAILED, reason, state, progress)
            epoch = batch.epoch + 1
            train_loss = float(to_host(loss_sum)) / spe
            loss_sum = jnp.float32(0.0)
            progress = attrs.evolve(progress, epochs_done=epoch, epoch_loss_sum=0.0)
            outcome = _end_of_epoch(loop, state, progress, epoch, train_loss, step, t0)
            saved_at = step
            if isinstance(outcome, Outcome):
                return outcome
            progress = outcome
        if loop.settings.max_steps is not None and step >= loop.settings.max_steps:
            progress = attrs.evolve(progress, epoch_loss_sum=float(to_host(loss_sum)))
            if previous is not None:
                reason = _finite_or_reason(*previous)
                if reason is not None:
                    return Outcome(JobStatus.FAILED, reason, state, progress)
            if saved_at != step:
                loop.checkpoints.save(state, progress, info=loop.info, last=True)
            return Outcome(JobStatus.CANCELED, f"paused after {step} steps (max_steps); call again to resume", state,
                           progress, paused=True)
    return Outcome(JobStatus.COMPLETED, None, state, progress)


def _end_of_epoch(loop: Loop, state: TrainState, progress: Progress, epoch: int, train_loss: float, step: int,
                  t0: float) -> Progress | Outcome:
    params, metric = loop.settings.params, loop.settings.primary_metric
    d = due(epoch, num_epochs=int(params.number_of_epochs), evaluation_frequency=int(params.evaluation_frequency),
            checkpoint_frequency=params.checkpoint_frequency)
    if not d.evaluate:
        loop.checkpoints.save(state, progress, info=loop.info, last=True)
        return progress
    ev, val_loss = evaluate(loop.eval_step, state.params, state.batch_stats, loop.eval_batches(),
                            sharding=loop.batch_sharding, multilabel=loop.settings.multilabel, classes=loop.classes)
    values = {k: float(v) for k, v in ev.values.items()}
    entry = {"epoch": epoch, **values, "loss": val_loss, "train_loss": train_loss}
    value = values[metric.value]
    log.info("epoch %d step %d: %s (%.1f s)", epoch, step,
             " ".join(f"{k}={v:.4g}" for k, v in entry.items() if k != "epoch"), time.perf_counter() - t0)
    best = progress.best
    is_best = d.best_candidate and (best is None or metric.better(value, best["metric"]))
    if is_best:
        best = {"epoch": epoch, "metric": value, "metrics": values, "loss": val_loss,
                "confusion_matrix": jsonable(getattr(ev, "confusion_matrix", None)),
                "per_label": jsonable(getattr(ev, "per_label", None))}
    early, stop = progress.early, False
    if params.early_stopping:
        early, stop = early_stopping_update(early, value, metric=metric, delay=int(params.early_stopping_delay),
                                            patience=int(params.early_stopping_patience))
    progress = attrs.evolve(progress, best=best, early=early, history=progress.history + (entry,))
    loop.checkpoints.save(state, progress, info=loop.info, last=True, best=is_best)
    if loop.report is not None:
        reason = _report_answer(loop.report(dict(entry)))
        if reason is not None:
            return Outcome(JobStatus.CANCELED, reason, state, progress)
    if stop:
        return Outcome(JobStatus.COMPLETED, f"early stopping: {metric.value} did not improve on "
                       f"{early.best:.6g} in {params.early_stopping_patience} evaluations (epoch {epoch})",
                       state, progress)
    return progress
