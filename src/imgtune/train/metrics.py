"""Classification metrics for image classification jobs, in plain numpy.

The values equal scikit-learn's on the same predictions (the tests compare them), without
importing scikit-learn or JAX at runtime. Metric names are the canonical spellings of
:class:`imgtune.spec.enums.PrimaryMetric` (section 7 of the Azure fact sheet).

Multiclass (predictions are the argmax of ``scores``; the first maximal column wins a tie,
like :func:`numpy.argmax`):

- ``accuracy``: ``accuracy_score(y, pred)``.
- ``auc_weighted``: ``roc_auc_score(y, scores, average='weighted', multi_class='ovr')``: the
  one-vs-rest ROC-AUC of each class weighted by its support. With two classes only the
  positive-class column ``scores[:, 1]`` is used, like scikit-learn's binary case.
- ``average_precision_score_weighted``: ``average_precision_score(one_hot(y), scores,
  average='weighted')`` (both columns when C = 2).
- ``norm_macro_recall``: ``(recall_macro - R) / (1 - R)`` with ``R = 1 / C`` (0.5 for binary),
  as Azure defines it; ``recall_macro`` is ``recall_score(y, pred, average='macro',
  zero_division=0)``, which averages over the classes present in ``y`` or ``pred`` (a class
  only predicted counts as recall 0; a class in neither is left out). It is not clipped, so it
  can be negative.
- ``precision_score_weighted``: ``precision_score(y, pred, average='weighted',
  zero_division=0)``.

Multilabel (a label is predicted when its score is ``>= threshold``, 0.5 by default):

- ``iou``: ``jaccard_score(Y, P, average='samples', zero_division=1)``. A sample with neither
  true nor predicted labels is a perfect prediction, so it scores 1 (scikit-learn's default
  would score it 0 with a warning).
- ``accuracy``: subset accuracy, ``accuracy_score(Y, P)``.
- ``auc_weighted`` and ``average_precision_score_weighted``: the scikit-learn functions on the
  label-indicator matrix with ``average='weighted'``.
- ``precision_score_weighted``: ``precision_score(Y, P, average='weighted', zero_division=0)``.
- ``norm_macro_recall``: ``(recall_macro - 0.5) / 0.5`` where ``recall_macro`` is
  ``recall_score(Y, P, average='macro', zero_division=0)`` over *all* labels (a label with no
  positives counts as recall 0, as in scikit-learn); every label is a binary problem, hence
  ``R = 0.5``.

No metric is ever NaN (scikit-learn returns NaN or raises in some of these cases):

- ROC-AUC is averaged over the classes that have both positives and negatives, weighted by
  support. A class without positives has weight 0 anyway; a multilabel label that is positive
  in every sample is left out (scikit-learn would give NaN). If no class qualifies (for
  instance a single-class ``y``), ``auc_weighted`` is 0.5, the value of an uninformative
  ranking. This also differs from scikit-learn when a multilabel ``Y`` has no positives at all,
  where scikit-learn returns 0.
- Average precision follows scikit-learn exactly: a class without positives has AP 0 and
  weight 0, a class that is positive everywhere has AP 1, and when there are no positives at
  all the weighted AP is 0.
- Ties in scores are handled like scikit-learn: tied scores share their average rank for
  ROC-AUC (ties count one half), and AP is the step-wise sum over distinct thresholds.

Example:
    >>> import numpy as np
    >>> scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])
    >>> ev = evaluate(scores, np.array([0, 1, 2, 1]), multilabel=False, classes=["cat", "dog", "owl"])
    >>> ev.values["accuracy"], ev.values["auc_weighted"]
    (0.75, 0.9375)
    >>> ev.confusion_matrix
    [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

__all__ = ["Evaluation", "IOU_ZERO_DIVISION", "THRESHOLD", "evaluate"]

THRESHOLD = 0.5
"""Default multilabel decision threshold: a label is predicted when its score is ``>=`` it."""

IOU_ZERO_DIVISION = 1.0
"""``iou`` of a sample with no true and no predicted labels (``jaccard_score`` ``zero_division``)."""

UNDEFINED_AUC = 0.5
"""``auc_weighted`` when no class has both positives and negatives."""

# Elements per block of the per-class ranking (bounds the temporaries to ~100 MB).
_BLOCK_ELEMENTS = 1 << 20


@attrs.frozen
class Evaluation:
    """The metrics of one evaluation.

    Attributes:
        values: Every metric by its canonical name (``accuracy``, ``auc_weighted``,
            ``average_precision_score_weighted``, ``norm_macro_recall``,
            ``precision_score_weighted``, plus ``iou`` for multilabel); all finite floats.
        confusion_matrix: Multiclass only (else ``None``): ``[true][predicted]`` counts with the
            classes in the given order.
        per_label: Multilabel only (else ``None``): for each label name, its ``precision``,
            ``recall``, ``f1`` (``zero_division=0``), ``average_precision`` and ``support``.
    """

    values: dict[str, float]
    confusion_matrix: list[list[int]] | None = None
    per_label: dict[str, dict[str, float]] | None = None


def evaluate(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    multilabel: bool,
    classes: Sequence[str],
    threshold: float = THRESHOLD,
) -> Evaluation:
    """Computes the Azure AutoML image classification metrics.

    Args:
        scores: ``[N, C]`` class probabilities (softmax for multiclass, sigmoid for multilabel).
        labels: Multiclass: integer class indices ``[N]`` in ``[0, C)``. Multilabel: a ``{0, 1}``
            multi-hot ``[N, C]`` matrix.
        multilabel: Whether the task is multilabel.
        classes: The ``C`` class names, in column order (must be distinct).
        threshold: Multilabel decision threshold (a label is predicted when ``score >=
            threshold``); ignored for multiclass.

    Returns:
        The :class:`Evaluation`; see the module docstring for the definitions.

    Raises:
        ValueError: On inconsistent shapes, ``N = 0``, non-finite scores, labels out of range,
            duplicate class names, or a multiclass task with fewer than two classes.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    classes = [str(c) for c in classes]
    n_classes = len(classes)
    if len(set(classes)) != n_classes:
        raise ValueError("class names must be distinct")
    if scores.ndim != 2 or scores.shape[1] != n_classes:
        raise ValueError(f"scores must have shape [N, {n_classes}], got {scores.shape}")
    n = scores.shape[0]
    if n == 0:
        raise ValueError("cannot evaluate zero samples")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    if multilabel:
        if labels.shape != scores.shape:
            raise ValueError(f"multilabel labels must have shape {scores.shape}, got {labels.shape}")
        if not np.all((labels == 0) | (labels == 1)):
            raise ValueError("multilabel labels must be 0 or 1")
        return _multilabel(scores, labels.astype(bool), classes, threshold)
    if n_classes < 2:
        raise ValueError("a multiclass task needs at least two classes")
    if labels.shape != (n,):
        raise ValueError(f"multiclass labels must have shape ({n},), got {labels.shape}")
    if labels.dtype.kind not in "iub":
        if labels.dtype.kind != "f" or not np.all(labels == np.round(labels)):
            raise ValueError("multiclass labels must be integers")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"multiclass labels must lie in [0, {n_classes})")
    return _multiclass(scores, labels, n_classes)


def _multiclass(scores: np.ndarray, y: np.ndarray, c: int) -> Evaluation:
    n = y.shape[0]
    pred = np.argmax(scores, axis=1)
    cm = np.bincount(y * c + pred, minlength=c * c).reshape(c, c)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)

    precision = _divide(tp, predicted)
    recall = _divide(tp, support)
    present = (support > 0) | (predicted > 0)  # sklearn's unique_labels(y_true, y_pred)
    recall_macro = float(recall[present].mean())
    chance = 1.0 / c

    auc, ap, defined = _ranking(y[:, None] == np.arange(c), scores)
    if c == 2:  # sklearn's binary case ranks by the positive-class column only
        auc, _, defined = _ranking(y[:, None] == 1, scores[:, 1:])
        auc_weighted = float(auc[0]) if defined[0] else UNDEFINED_AUC
    else:
        auc_weighted = _weighted(auc, support, defined, UNDEFINED_AUC)
    values = {
        "accuracy": float(tp.sum() / n),
        "auc_weighted": auc_weighted,
        "average_precision_score_weighted": _weighted(ap, support, support > 0, 0.0),
        "norm_macro_recall": float((recall_macro - chance) / (1.0 - chance)),
        "precision_score_weighted": _weighted(precision, support, support > 0, 0.0),
    }
    return Evaluation(values=values, confusion_matrix=cm.tolist(), per_label=None)


def _multilabel(scores: np.ndarray, y: np.ndarray, classes: list[str], threshold: float) -> Evaluation:
    pred = scores >= threshold
    tp = (y & pred).sum(axis=0).astype(np.float64)
    support = y.sum(axis=0).astype(np.float64)
    predicted = pred.sum(axis=0).astype(np.float64)

    precision = _divide(tp, predicted)
    recall = _divide(tp, support)
    f1 = _divide(2.0 * tp, support + predicted)
    auc, ap, defined = _ranking(y, scores)

    inter = (y & pred).sum(axis=1)
    union = (y | pred).sum(axis=1)
    iou = np.where(union > 0, inter / np.maximum(union, 1), IOU_ZERO_DIVISION)

    values = {
        "accuracy": float(np.all(y == pred, axis=1).mean()),
        "auc_weighted": _weighted(auc, support, defined, UNDEFINED_AUC),
        "average_precision_score_weighted": _weighted(ap, support, support > 0, 0.0),
        "norm_macro_recall": float((recall.mean() - 0.5) / 0.5),
        "precision_score_weighted": _weighted(precision, support, support > 0, 0.0),
        "iou": float(iou.mean()),
    }
    per_label = {
        name: {
            "precision": float(precision[k]),
            "recall": float(recall[k]),
            "f1": float(f1[k]),
            "average_precision": float(ap[k]),
            "support": float(support[k]),
        }
        for k, name in enumerate(classes)
    }
    return Evaluation(values=values, confusion_matrix=None, per_label=per_label)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den != 0)


def _weighted(values: np.ndarray, weights: np.ndarray, mask: np.ndarray, default: float) -> float:
    """The ``weights``-weighted mean of ``values`` over ``mask``; ``default`` if that is empty."""
    w = np.where(mask, weights, 0.0)
    total = w.sum()
    if total <= 0:
        return float(default)
    return float(np.dot(np.where(mask, values, 0.0), w) / total)


def _ranking(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column ROC-AUC and average precision of ``scores`` against boolean ``y``.

    Each column is sorted once. Tied scores form a group ``[lo, hi]`` of the ascending order:

    - ROC-AUC is the Mann-Whitney statistic with average ranks ``(lo + hi) / 2 + 1``, which is
      exactly the trapezoidal area under scikit-learn's ROC curve (a tie counts one half).
    - AP is scikit-learn's step sum ``sum_k (R_k - R_{k-1}) P_k`` over distinct thresholds:
      each positive contributes, divided by the number of positives, the precision at its
      group's threshold, ``positives >= s / count >= s = (P - pos_below(lo)) / (N - lo)``.

    Returns ``(auc, ap, defined)``: ``defined`` marks the columns with both positives and
    negatives (elsewhere ``auc`` is 0); ``ap`` is 0 for a column without positives, as in
    scikit-learn.
    """
    n, c = scores.shape
    auc = np.zeros(c)
    ap = np.zeros(c)
    positives = y.sum(axis=0).astype(np.float64)
    defined = (positives > 0) & (positives < n)
    block = max(1, _BLOCK_ELEMENTS // n)
    idx = np.arange(n)[None, :]
    for start in range(0, c, block):
        s = scores[:, start:start + block].T  # [b, N]
        order = np.argsort(s, axis=1)  # tie order is irrelevant: ties are grouped
        s = np.take_along_axis(s, order, axis=1)
        t = np.take_along_axis(y[:, start:start + block].T, order, axis=1)
        new = np.ones(s.shape, dtype=bool)
        new[:, 1:] = s[:, 1:] != s[:, :-1]
        lo = np.maximum.accumulate(np.where(new, idx, 0), axis=1)
        p = positives[start:start + block]
        ok = defined[start:start + block]
        last = np.ones(s.shape, dtype=bool)
        last[:, :-1] = new[:, 1:]
        hi = np.minimum.accumulate(np.where(last, idx, n - 1)[:, ::-1], axis=1)[:, ::-1]
        rank_sum = np.where(t, (lo + hi) * 0.5 + 1.0, 0.0).sum(axis=1)
        auc[start:start + block] = np.where(
            ok, (rank_sum - p * (p + 1) * 0.5) / np.where(ok, p * (n - p), 1.0), 0.0)
        pos_below = np.cumsum(t, axis=1) - t  # positives strictly before each position
        at_lo = np.take_along_axis(pos_below, lo, axis=1)
        total = np.where(t, (p[:, None] - at_lo) / (n - lo), 0.0).sum(axis=1)
        ap[start:start + block] = np.where(p > 0, total / np.maximum(p, 1.0), 0.0)
    return auc, ap, defined
