"""imgtune.train.metrics against scikit-learn on the same predictions."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import metrics as skm

from imgtune.spec.enums import CLASSIFICATION_METRICS, MULTILABEL_METRICS
from imgtune.train import metrics
from imgtune.train.metrics import Evaluation, evaluate

TOL = {"rtol": 1e-12, "atol": 1e-12}


# ---------------------------------------------------------------- references (scikit-learn)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _pad(a: np.ndarray) -> np.ndarray:
    """Appends an all-zero column: makes a one-column matrix a multilabel indicator for
    scikit-learn without changing any metric compared (its support and its predictions are 0)."""
    return np.hstack([a, np.zeros((a.shape[0], 1), dtype=a.dtype)])


def ref_multiclass(scores: np.ndarray, y: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    n, c = scores.shape
    pred = np.argmax(scores, axis=1)
    present = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(present) < 2:
            auc = metrics.UNDEFINED_AUC  # scikit-learn gives NaN (or raises)
        elif c == 2:
            auc = skm.roc_auc_score(y, scores[:, 1])
        else:
            auc = skm.roc_auc_score(y, scores, average="weighted", multi_class="ovr", labels=list(range(c)))
        recall_macro = skm.recall_score(y, pred, average="macro", zero_division=0)
        values = {
            "accuracy": skm.accuracy_score(y, pred),
            "auc_weighted": auc,
            "average_precision_score_weighted": skm.average_precision_score(
                np.eye(c, dtype=int)[y], scores, average="weighted"),
            "norm_macro_recall": (recall_macro - 1 / c) / (1 - 1 / c),
            "precision_score_weighted": skm.precision_score(y, pred, average="weighted", zero_division=0),
        }
    return values, skm.confusion_matrix(y, pred, labels=list(range(c)))


def ref_multilabel(scores: np.ndarray, y: np.ndarray, threshold: float = 0.5):
    n, c = scores.shape
    pred = (scores >= threshold).astype(int)
    yp, pp, sp = _pad(y), _pad(pred), _pad(scores)
    defined = (y.sum(axis=0) > 0) & (y.sum(axis=0) < n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if defined.any():  # scikit-learn on the columns with both positives and negatives
            auc = skm.roc_auc_score(_pad(y[:, defined]), _pad(scores[:, defined]), average="weighted")
        else:
            auc = metrics.UNDEFINED_AUC
        p, r, f, s = skm.precision_recall_fscore_support(yp, pp, average=None, zero_division=0)
        ap = skm.average_precision_score(yp, sp, average=None)
        values = {
            "accuracy": skm.accuracy_score(yp, pp),
            "auc_weighted": auc,
            "average_precision_score_weighted": skm.average_precision_score(yp, sp, average="weighted"),
            "norm_macro_recall": (float(np.mean(r[:c])) - 0.5) / 0.5,
            "precision_score_weighted": skm.precision_score(yp, pp, average="weighted", zero_division=0),
            "iou": skm.jaccard_score(yp, pp, average="samples", zero_division=metrics.IOU_ZERO_DIVISION),
        }
    per_label = {"precision": p[:c], "recall": r[:c], "f1": f[:c], "average_precision": ap[:c],
                 "support": s[:c]}
    return values, per_label


def names(c: int) -> list[str]:
    return [f"class_{k}" for k in range(c)]


def check_multiclass(scores, y) -> Evaluation:
    scores, y = np.asarray(scores, dtype=float), np.asarray(y)
    ev = evaluate(scores, y, multilabel=False, classes=names(scores.shape[1]))
    want, cm = ref_multiclass(scores, y)
    assert set(ev.values) == set(want)
    for key, value in ev.values.items():
        assert type(value) is float and math.isfinite(value), key
        np.testing.assert_allclose(value, want[key], **TOL, err_msg=key)
    assert ev.confusion_matrix == cm.tolist()
    assert ev.per_label is None
    return ev


def check_multilabel(scores, y) -> Evaluation:
    scores, y = np.asarray(scores, dtype=float), np.asarray(y)
    c = scores.shape[1]
    ev = evaluate(scores, y, multilabel=True, classes=names(c))
    want, per_label = ref_multilabel(scores, y)
    assert set(ev.values) == set(want)
    for key, value in ev.values.items():
        assert type(value) is float and math.isfinite(value), key
        np.testing.assert_allclose(value, want[key], **TOL, err_msg=key)
    assert ev.confusion_matrix is None
    assert list(ev.per_label) == names(c)
    for field, column in per_label.items():
        got = [ev.per_label[name][field] for name in names(c)]
        np.testing.assert_allclose(got, column, **TOL, err_msg=field)
    return ev


# ---------------------------------------------------------------- property tests

TIED_LOGITS = st.sampled_from([-1.0, 0.0, 0.5, 2.0])
TIED_PROBS = st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0])  # includes the threshold itself


@st.composite
def multiclass_case(draw):
    c = draw(st.integers(2, 6))
    n = draw(st.integers(1, 40))
    used = draw(st.integers(1, c))  # often leaves classes out of y_true
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, used - 1)))
    elements = TIED_LOGITS if draw(st.booleans()) else st.floats(-4, 4, allow_subnormal=False)
    logits = draw(hnp.arrays(np.float64, (n, c), elements=elements))
    return _softmax(logits), y


@st.composite
def multilabel_case(draw):
    c = draw(st.integers(1, 5))
    n = draw(st.integers(1, 40))
    y = draw(hnp.arrays(np.int64, (n, c), elements=st.integers(0, 1)))
    elements = TIED_PROBS if draw(st.booleans()) else st.floats(0, 1, allow_subnormal=False)
    return draw(hnp.arrays(np.float64, (n, c), elements=elements)), y


@given(multiclass_case())
def test_multiclass_matches_sklearn(case):
    check_multiclass(*case)


@given(multilabel_case())
def test_multilabel_matches_sklearn(case):
    check_multilabel(*case)


@given(multilabel_case())
def test_multilabel_matches_sklearn_unrestricted_when_defined(case):
    """Where scikit-learn's own weighted AUC is finite and non-degenerate, it is ours too."""
    scores, y = case
    support = y.sum(axis=0)
    if not (support.any() and np.all((support == 0) | (support < len(y)))):
        return
    ev = evaluate(scores, y, multilabel=True, classes=names(y.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = skm.roc_auc_score(_pad(y), _pad(scores), average="weighted")
    np.testing.assert_allclose(ev.values["auc_weighted"], want, **TOL)


# ---------------------------------------------------------------- edge cases


def test_metric_names_are_the_primary_metrics():
    ev = evaluate(np.eye(3), np.arange(3), multilabel=False, classes="abc")
    assert set(ev.values) == {m.value for m in CLASSIFICATION_METRICS}
    ev = evaluate(np.eye(3), np.eye(3, dtype=int), multilabel=True, classes="abc")
    assert set(ev.values) == {m.value for m in MULTILABEL_METRICS}


def test_class_absent_from_y_true():
    scores = _softmax(np.array([[2.0, 0, 1], [0, 2, 1], [1, 0, 2], [2, 1, 0]]))
    ev = check_multiclass(scores, [0, 1, 0, 0])  # class 2 is predicted but never true
    assert ev.confusion_matrix == [[2, 0, 1], [0, 1, 0], [0, 0, 0]]
    # recall_macro over {0, 1, 2} (2 is only predicted, recall 0): (2/3 + 1 + 0) / 3 = 5/9
    assert ev.values["norm_macro_recall"] == pytest.approx((5 / 9 - 1 / 3) / (2 / 3))


def test_class_absent_from_y_true_and_predictions():
    scores = _softmax(np.array([[2.0, 0, -3], [0, 2, -3], [1, 2, -3]]))
    ev = check_multiclass(scores, [0, 1, 0])  # class 2 appears nowhere: left out of recall_macro
    assert ev.values["norm_macro_recall"] == pytest.approx(((0.5 + 1) / 2 - 1 / 3) / (2 / 3))


@pytest.mark.parametrize("c", [2, 4])
def test_single_class_y_true(c):
    rng = np.random.default_rng(c)
    scores = _softmax(rng.normal(size=(7, c)))
    ev = check_multiclass(scores, np.full(7, 1))
    assert ev.values["auc_weighted"] == 0.5  # undefined: scikit-learn gives NaN
    assert ev.values["average_precision_score_weighted"] == 1.0


def test_single_class_multilabel():
    scores = np.array([[0.9, 0.2], [0.6, 0.7], [0.3, 0.1]])
    ev = check_multilabel(scores, [[1, 0], [1, 0], [1, 0]])  # label 0 everywhere, label 1 nowhere
    assert ev.values["auc_weighted"] == 0.5
    assert ev.values["average_precision_score_weighted"] == 1.0


def test_multilabel_all_positive_label_is_left_out_of_auc():
    scores = np.array([[0.9, 0.8], [0.6, 0.3], [0.3, 0.6]])
    y = np.array([[1, 1], [1, 0], [1, 1]])
    ev = check_multilabel(scores, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(skm.roc_auc_score(y, scores, average="weighted"))
        assert ev.values["auc_weighted"] == skm.roc_auc_score(y[:, 1], scores[:, 1]) == 1.0


def test_multilabel_without_positives():
    scores = np.array([[0.1, 0.7], [0.2, 0.3]])
    ev = check_multilabel(scores, np.zeros((2, 2), dtype=int))
    assert ev.values["auc_weighted"] == 0.5  # scikit-learn: 0
    assert ev.values["average_precision_score_weighted"] == 0.0
    assert ev.values["precision_score_weighted"] == 0.0
    assert ev.values["iou"] == 0.5  # the first sample predicts nothing and is right: 1
    assert ev.values["norm_macro_recall"] == -1.0


@pytest.mark.parametrize("c", [2, 3, 5])
def test_all_correct(c):
    y = np.arange(2 * c) % c
    ev = check_multiclass(_softmax(3 * np.eye(c)[y]), y)
    assert ev.values == dict.fromkeys(ev.values, 1.0)
    assert ev.confusion_matrix == (2 * np.eye(c, dtype=int)).tolist()


@pytest.mark.parametrize("c", [2, 3, 5])
def test_all_wrong(c):
    y = np.arange(2 * c) % c
    ev = check_multiclass(_softmax(3 * np.eye(c)[(y + 1) % c]), y)
    assert ev.values["accuracy"] == 0.0
    assert ev.values["precision_score_weighted"] == 0.0
    assert ev.values["norm_macro_recall"] == pytest.approx(-1 / (c - 1))
    if c == 2:
        assert ev.values["auc_weighted"] == 0.0


def test_multilabel_all_correct_and_all_wrong():
    y = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0], [1, 1, 1]])
    ev = check_multilabel(y * 0.8 + 0.1, y)
    assert ev.values == dict.fromkeys(ev.values, 1.0)
    ev = check_multilabel((1 - y) * 0.8 + 0.1, y)
    assert ev.values["accuracy"] == ev.values["iou"] == ev.values["auc_weighted"] == 0.0
    assert ev.values["norm_macro_recall"] == -1.0


def test_ties():
    # All scores equal: AUC one half, AP the prevalence, exactly as scikit-learn.
    scores = np.full((6, 3), 1 / 3)
    ev = check_multiclass(scores, [0, 0, 1, 1, 1, 2])
    assert ev.values["auc_weighted"] == pytest.approx(0.5)
    assert ev.values["average_precision_score_weighted"] == pytest.approx((2 * 2 + 3 * 3 + 1) / 36)
    # Partial ties: the tied positive/negative pair counts one half.
    s = np.array([0.1, 0.4, 0.4, 0.8, 0.8, 0.8])
    ev = check_multiclass(np.column_stack([1 - s, s]), [0, 1, 0, 1, 0, 1])
    assert ev.values["auc_weighted"] == pytest.approx(6.5 / 9)


def test_multilabel_ties_and_threshold():
    scores = np.array([[0.5, 0.5], [0.5, 0.2], [0.2, 0.5], [0.5, 0.5]])
    ev = check_multilabel(scores, [[1, 0], [0, 0], [1, 1], [0, 1]])
    assert ev.per_label["class_0"]["precision"] == pytest.approx(1 / 3)  # 0.5 is predicted


@pytest.mark.parametrize("label", [0, 2])
def test_single_sample(label):
    ev = check_multiclass(_softmax(np.array([[0.0, 1.0, 3.0]])), [label])
    assert ev.values["auc_weighted"] == 0.5
    assert ev.values["accuracy"] == float(label == 2)


@pytest.mark.parametrize("row", [[0, 0], [1, 0], [1, 1]])
def test_single_sample_multilabel(row):
    check_multilabel(np.array([[0.2, 0.9]]), [row])


def test_iou_zero_division_is_one():
    y, scores = np.array([[0, 0], [1, 0]]), np.array([[0.1, 0.2], [0.9, 0.9]])
    ev = evaluate(scores, y, multilabel=True, classes="ab")
    assert ev.values["iou"] == 0.75
    assert ev.values["iou"] == skm.jaccard_score(y, scores >= 0.5, average="samples", zero_division=1)


def test_threshold_keyword():
    y, scores = np.array([[1, 0], [0, 1]]), np.array([[0.4, 0.3], [0.2, 0.45]])
    assert evaluate(scores, y, multilabel=True, classes="ab").values["accuracy"] == 0.0
    assert evaluate(scores, y, multilabel=True, classes="ab", threshold=0.4).values["accuracy"] == 1.0


def test_many_classes_across_blocks(monkeypatch):
    """Forces the per-class ranking to run over several column blocks."""
    monkeypatch.setattr(metrics, "_BLOCK_ELEMENTS", 97)
    rng = np.random.default_rng(0)
    n, c = 60, 23
    scores = _softmax(rng.integers(0, 3, size=(n, c)).astype(float))
    check_multiclass(scores, rng.integers(0, c - 3, size=n))
    check_multilabel(rng.integers(0, 4, size=(n, c)) / 4, (rng.random((n, c)) < 0.3).astype(int))


def test_large_input_is_fast():
    import time

    rng = np.random.default_rng(1)
    n, c = 20_000, 100
    scores = _softmax(rng.normal(size=(n, c)))
    y = rng.integers(0, c, size=n)
    start = time.perf_counter()
    ev = evaluate(scores, y, multilabel=False, classes=names(c))
    assert time.perf_counter() - start < 5.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = skm.roc_auc_score(y, scores, average="weighted", multi_class="ovr")
    np.testing.assert_allclose(ev.values["auc_weighted"], want, rtol=1e-10)


@pytest.mark.parametrize(
    ("scores", "labels", "multilabel", "classes"),
    [
        (np.ones((2, 2)) / 2, [0, 2], False, "ab"),  # label out of range
        (np.ones((2, 2)) / 2, [0, -1], False, "ab"),
        (np.ones((2, 2)) / 2, [0, 0.5], False, "ab"),  # not an integer
        (np.ones((2, 3)) / 3, [0, 1], False, "ab"),  # scores do not match the classes
        (np.ones((2, 2)) / 2, [0, 1], False, ["a", "a"]),  # duplicate names
        (np.ones((0, 2)), np.zeros(0, int), False, "ab"),  # no samples
        (np.array([[np.nan, 1.0]]), [1], False, "ab"),  # non-finite score
        (np.ones((2, 1)), [0, 0], False, "a"),  # a one-class multiclass task
        (np.ones((2, 2)) / 2, [0, 1], True, "ab"),  # multilabel wants a matrix
        (np.ones((2, 2)) / 2, [[0, 2], [1, 0]], True, "ab"),  # not multi-hot
    ],
)
def test_rejects_bad_input(scores, labels, multilabel, classes):
    with pytest.raises(ValueError):
        evaluate(np.asarray(scores), np.asarray(labels), multilabel=multilabel, classes=classes)


def test_does_not_import_sklearn_or_jax():
    code = ("import sys, imgtune.train.metrics; "
            "assert not {'sklearn', 'jax', 'scipy'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
