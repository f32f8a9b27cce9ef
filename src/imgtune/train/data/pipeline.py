"""Batches for training and evaluation: shuffled per epoch, decoded in parallel, resumable.

:class:`BatchIterator` yields :class:`Batch` es of numpy arrays. What decides
each batch is plain index arithmetic, so it is the same in every process, for
any worker count, and after a resume:

* The order of epoch ``e`` is ``default_rng(SeedSequence([0x5F1E, seed,
  e])).permutation(n)`` (or ``range(n)`` without shuffling).
* Batch ``p`` of the epoch holds positions ``[p * B, (p + 1) * B)`` of that
  order. With ``drop_remainder`` the ``n % B`` last positions of the order are
  not used (different examples each epoch); without it the last batch is
  padded to ``B`` with zeros and its ``mask`` says which rows are real.
* Example ``i`` (its position in ``examples``) is augmented with the key
  ``(seed, epoch, i)``, see :mod:`imgtune.train.data.augment`.

The state is ``{"epoch": e, "position": p}``: the next batch is batch ``p`` of
epoch ``e``. An iterator built with the same arguments and given that state
by :meth:`BatchIterator.set_state` yields bitwise the same remaining batches.

**Why grain, and why threads.** All epochs form one stream of *slots* (slot
``k`` is position ``k % slots`` of epoch ``k // slots``), run as
``grain.MapDataset.range(start, stop).map(decode + transform)
.to_iter_dataset(grain.ReadOptions(num_threads=workers)).batch(B)``. grain's
prefetch iterator runs ``workers`` threads over that random-access dataset
and hands elements back strictly in index order, so the output never depends
on thread timing or worker count; resuming is starting the range at
``(e * steps_per_epoch + p) * B`` -- exact and O(1), no replay -- and the
prefetch buffer stays full across epoch ends. That is the part grain does
better than a hand-written pool; the determinism itself comes from the index
arithmetic above, which is why our state is two integers rather than grain's
iterator state. We use threads, not grain's multiprocessing
(``mp_prefetch``): Pillow's decode and resize and the large numpy operations
release the GIL, so threads scale over the cores there are; worker
processes would have to be forked from a process running JAX (unsafe with
its threads) or spawned (re-importing everything and pickling the pipeline,
again at every resume), and every batch would be copied back through shared
memory. ``import grain`` imports JAX, so grain is imported lazily, when
iteration starts; reading, splitting, validating and the transforms never
import it.

For data parallelism, a batch is one global numpy array; the trainer shards
it (``batch_size`` a multiple of the device count).

Example:
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> from imgtune.train.data.read import Example
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> ex = []
    >>> for i in range(5):
    ...     Image.new("RGB", (20, 20), (40 * i, 0, 0)).save(d / f"{i}.png")
    ...     ex.append(Example(str(d / f"{i}.png"), "ab"[i % 2], f"img {i}"))
    >>> it = train_iterator(ex, ("a", "b"), multilabel=False, batch_size=2, seed=0,
    ...                     crop_size=8, num_epochs=2)
    >>> it.steps_per_epoch
    2
    >>> b = next(it)
    >>> b.images.shape, b.images.dtype, b.labels.dtype, b.epoch, b.step
    ((2, 8, 8, 3), dtype('float32'), dtype('int32'), 0, 0)
    >>> it.get_state()
    {'epoch': 0, 'position': 1}
    >>> len(list(it))
    3
    >>> [b.size for b in eval_iterator(ex, ("a", "b"), multilabel=False, batch_size=2,
    ...                                resize_size=8, crop_size=8)]
    [2, 2, 1]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from imgtune.errors import Problem, ValidationError
from imgtune.train.data.augment import IMAGENET_MEAN, IMAGENET_STD, eval_transform, train_transform
from imgtune.train.data.decode import load_image
from imgtune.train.data.read import Example, encode_labels

__all__ = ["Batch", "BatchIterator", "Loader", "Transform", "eval_iterator", "train_iterator"]

_SHUFFLE_TAG = 0x5F1E

Transform = Callable[[Any, tuple[int, int, int]], np.ndarray]
"""``(rgb PIL image, (seed, epoch, index)) -> float32 [H, W, 3]`` (or uint8, kept as it is)."""

Loader = Callable[[Example], Any]
"""``example -> its image`` (a PIL image or a uint8 ``[H, W, 3]`` array) for the transform."""


class Batch(NamedTuple):
    """One batch, all numpy, batch dimension first.

    Attributes:
        images: float32 ``[B, H, W, 3]``, normalised (uint8 when the transform gives uint8).
        labels: int32 ``[B]`` (multiclass) or float32 multi-hot ``[B, C]``.
        mask: bool ``[B]``; False for padding rows of a last partial batch.
        index: int32 ``[B]``: each row's position in ``examples``; -1 for padding.
        epoch: The epoch the batch belongs to.
        step: The batch's position within its epoch.
    """

    images: np.ndarray
    labels: np.ndarray
    mask: np.ndarray
    index: np.ndarray
    epoch: int
    step: int

    @property
    def size(self) -> int:
        """The number of real (unpadded) rows."""
        return int(self.mask.sum())


class BatchIterator(Iterator[Batch]):
    """Yields batches over one or more epochs; resumable with get/set_state.

    Args:
        examples: The examples; their positions are the ``index`` in keys.
        classes: The class order (from the training data).
        multilabel: Multi-hot float32 labels instead of int32 class indices.
        transform: ``(image, (seed, epoch, index)) -> float32 [H, W, 3]``;
            must give one shape for all images.
        batch_size: Rows per batch (global, before any device sharding).
        seed: Keys the per-epoch shuffle and the augmentation.
        shuffle: Permute each epoch (else input order).
        drop_remainder: Drop the epoch's last partial batch (training); else
            keep it, padded, with a mask (evaluation).
        num_epochs: Stop after this many epochs; None for no end.
        workers: Decoding threads; 0 decodes in the calling thread.
        prefetch: Batches to decode ahead when ``workers > 0``.
        load: ``example -> image`` (default: decode its file with
            :func:`~imgtune.train.data.decode.load_image`; the decoded image store gives its row).

    Raises:
        ValidationError: When an epoch would hold no batch, or a label is
            not in ``classes``. Decoding errors are raised from ``next()``.
    """

    def __init__(
        self,
        examples: Sequence[Example],
        classes: Sequence[str],
        *,
        multilabel: bool,
        transform: Transform,
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        drop_remainder: bool = True,
        num_epochs: int | None = 1,
        workers: int = 0,
        prefetch: int = 2,
        load: Loader | None = None,
    ):
        if batch_size < 1 or workers < 0 or prefetch < 0 or (num_epochs is not None and num_epochs < 0):
            raise ValueError(
                f"bad batch_size={batch_size}, workers={workers}, prefetch={prefetch} or num_epochs={num_epochs}"
            )
        self._examples = tuple(examples)
        self._labels = encode_labels(self._examples, classes, multilabel)
        self._transform = transform
        self._load = load or _decode
        self._batch_size = batch_size
        self._seed = int(seed)
        self._shuffle = shuffle
        self._num_epochs = num_epochs
        self._workers = workers
        self._prefetch = prefetch
        n = len(self._examples)
        self.steps_per_epoch = n // batch_size if drop_remainder else math.ceil(n / batch_size)
        """Batches in one epoch."""
        if self.steps_per_epoch == 0:
            raise ValidationError(
                [Problem("training_parameters.training_batch_size",
                         f"is {batch_size}, more than the {n} images to batch; "
                         "lower the batch size or add images")]
            )
        self._batch = 0  # batches yielded since the start of epoch 0
        self._it: Any = None

    # -- state -----------------------------------------------------------------

    def get_state(self) -> dict[str, int]:
        """``{"epoch": e, "position": p}``: the next batch is batch ``p`` of epoch ``e`` (JSON-ready)."""
        epoch, position = divmod(self._batch, self.steps_per_epoch)
        return {"epoch": epoch, "position": position}

    def set_state(self, state: Mapping[str, int]) -> None:
        """Continues from a state returned by :meth:`get_state`."""
        epoch, position = state.get("epoch"), state.get("position")
        if not (isinstance(epoch, int) and isinstance(position, int)
                and epoch >= 0 and 0 <= position <= self.steps_per_epoch):
            raise ValueError(f"not a state of this iterator: {dict(state)!r}")
        self.close()
        self._batch = epoch * self.steps_per_epoch + position

    # -- iteration ---------------------------------------------------------------

    def __iter__(self) -> BatchIterator:
        return self

    def __next__(self) -> Batch:
        if self._it is None:
            self._it = self._open(self._batch)
        images, index = next(self._it)  # StopIteration after the last epoch
        epoch, step = divmod(self._batch, self.steps_per_epoch)
        real = int((index >= 0).sum())
        labels = self._labels[np.maximum(index, 0)]
        if real < len(index):
            labels[real:] = 0
        self._batch += 1
        return Batch(images, labels, index >= 0, index, epoch, step)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The positions of ``examples`` in the order epoch ``epoch`` visits them."""
        return _epoch_order(self._seed, epoch, len(self._examples), self._shuffle).copy()

    def close(self) -> None:
        """Stops the decoding threads (iteration reopens them where it left off)."""
        it, self._it = self._it, None
        if it is not None and hasattr(it, "close"):
            it.close()

    def __enter__(self) -> BatchIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def _open(self, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """A grain iterator over all remaining slots, from global batch ``batch`` on.

        Slot ``k`` is position ``k % slots`` of epoch ``k // slots``, where an
        epoch has ``slots = steps_per_epoch * batch_size`` slots: the first
        ``min(n, slots)`` hold examples, any others are padding. One stream
        over all epochs keeps the prefetch buffer full across epoch ends.
        """
        import grain  # lazily: `import grain` imports JAX

        b = self._batch_size
        slots = self.steps_per_epoch * b
        stop = self._num_epochs * slots if self._num_epochs is not None else _ENDLESS
        ds = grain.MapDataset.range(min(batch * b, stop), stop).map(
            _Slot(self._examples, self._transform, self._seed, self._shuffle, slots, self._load)
        )
        buffer = max(self._workers, self._prefetch * b) if self._workers > 0 else 0
        opts = grain.ReadOptions(num_threads=self._workers, prefetch_buffer_size=buffer)
        return iter(ds.to_iter_dataset(opts).batch(b, batch_fn=_collate))


_ENDLESS = 2**62  # slots in a stream with no last epoch


@functools.lru_cache(maxsize=4)
def _epoch_order(seed: int, epoch: int, n: int, shuffle: bool) -> np.ndarray:
    if not shuffle:
        order = np.arange(n)
    else:
        rng = np.random.default_rng(np.random.SeedSequence([_SHUFFLE_TAG, seed % 2**63, epoch]))
        order = rng.permutation(n)
    order.flags.writeable = False  # shared between threads through the cache
    return order


class _Slot:
    """Decodes and transforms the example in stream slot ``k`` (runs in worker threads)."""

    def __init__(self, examples: tuple[Example, ...], transform: Transform, seed: int, shuffle: bool,
                 slots: int, load: Loader | None = None):
        self.examples, self.transform, self.seed = examples, transform, seed
        self.shuffle, self.slots, self.load = shuffle, slots, load or _decode

    def __call__(self, k: int) -> tuple[np.ndarray | None, int]:
        epoch, position = divmod(k, self.slots)
        if position >= len(self.examples):
            return None, -1  # padding of a kept last partial batch
        i = int(_epoch_order(self.seed, epoch, len(self.examples), self.shuffle)[position])
        ex = self.examples[i]
        out = np.asarray(self.transform(self.load(ex), (self.seed, epoch, i)))
        if out.dtype != np.uint8:
            out = out.astype(np.float32, copy=False)
        return out, i


def _decode(ex: Example) -> Any:
    return load_image(ex.path, ex.where)


def _collate(rows: Sequence[tuple[np.ndarray | None, int]]) -> tuple[np.ndarray, np.ndarray]:
    real = [r[0] for r in rows if r[0] is not None]  # padding comes last; the first row is real
    shapes = {x.shape for x in real}
    if len(shapes) != 1:
        raise ValueError(f"the transform gave images of different shapes: {sorted(shapes)}")
    images = np.zeros((len(rows), *real[0].shape), real[0].dtype)
    for j, x in enumerate(real):
        images[j] = x
    return images, np.array([r[1] for r in rows], np.int32)


def train_iterator(
    examples: Sequence[Example],
    classes: Sequence[str],
    *,
    multilabel: bool,
    batch_size: int,
    seed: int,
    crop_size: int = 224,
    num_epochs: int | None = None,
    workers: int = 0,
    prefetch: int = 2,
    load: Loader | None = None,
) -> BatchIterator:
    """Shuffled, augmented (:func:`~imgtune.train.data.augment.train_transform`),
    full batches only; ``num_epochs=None`` runs until stopped."""
    return BatchIterator(
        examples, classes, multilabel=multilabel,
        transform=functools.partial(train_transform, crop_size=crop_size),
        batch_size=batch_size, seed=seed, shuffle=True, drop_remainder=True,
        num_epochs=num_epochs, workers=workers, prefetch=prefetch, load=load,
    )


def eval_iterator(
    examples: Sequence[Example],
    classes: Sequence[str],
    *,
    multilabel: bool,
    batch_size: int,
    resize_size: int = 256,
    crop_size: int = 224,
    workers: int = 0,
    prefetch: int = 2,
    load: Loader | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> BatchIterator:
    """One pass in input order (:func:`~imgtune.train.data.augment.eval_transform`, normalised with
    ``mean``/``std``); the last batch padded, with ``mask``."""
    return BatchIterator(
        examples, classes, multilabel=multilabel,
        transform=functools.partial(eval_transform, resize_size=resize_size, crop_size=crop_size, mean=mean, std=std),
        batch_size=batch_size, seed=0, shuffle=False, drop_remainder=False,
        num_epochs=1, workers=workers, prefetch=prefetch, load=load,
    )
