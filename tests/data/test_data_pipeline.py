"""Batching: determinism, shuffling per epoch, workers, resume, padding."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imgtune.errors import ValidationError
from imgtune.train import data

CLASSES = ("a", "b", "c", "d")


@pytest.fixture
def examples(labelled_images):
    root, rows = labelled_images
    return [data.Example(str(root / r["image_url"]), r["label"], f"line {i + 1}") for i, r in enumerate(rows)]


def _train(ex, **kw):
    args = dict(multilabel=False, batch_size=6, seed=5, crop_size=8, num_epochs=3)
    return data.train_iterator(ex, CLASSES, **{**args, **kw})


def _same(xs, ys):
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys):
        assert (x.epoch, x.step) == (y.epoch, y.step)
        for name in ("images", "labels", "mask", "index"):
            a, b = getattr(x, name), getattr(y, name)
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tobytes() == b.tobytes(), name  # bitwise


def test_shapes_labels_and_epochs(examples):
    batches = list(_train(examples))
    assert len(batches) == 3 * 3  # 20 // 6 = 3 per epoch, remainder dropped
    b = batches[0]
    assert b.images.shape == (6, 8, 8, 3) and b.images.dtype == np.float32
    assert b.labels.dtype == np.int32 and b.mask.all() and b.size == 6
    labels = np.array([CLASSES.index(e.label) for e in examples], np.int32)
    for b in batches:
        assert np.array_equal(b.labels, labels[b.index])
    assert [(b.epoch, b.step) for b in batches[:4]] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    for e in range(3):
        idx = np.concatenate([b.index for b in batches if b.epoch == e])
        assert len(set(idx.tolist())) == 18  # no repeats within an epoch


def test_same_seed_same_batches_other_epoch_other_order(examples):
    first, second = list(_train(examples)), list(_train(examples))
    _same(first, second)
    order = [np.concatenate([b.index for b in first if b.epoch == e]).tolist() for e in range(3)]
    assert order[0] != order[1] != order[2]
    it = _train(examples)
    assert order[1] == it.epoch_order(1)[:18].tolist()
    other = list(_train(examples, seed=6))
    assert [b.index.tolist() for b in other] != [b.index.tolist() for b in first]


def test_augmentation_keyed_by_example_not_by_batch(examples):
    a = {(b.epoch, int(i)): b.images[r] for b in _train(examples, batch_size=6) for r, i in enumerate(b.index)}
    b4 = {(b.epoch, int(i)): b.images[r] for b in _train(examples, batch_size=4) for r, i in enumerate(b.index)}
    common = set(a) & set(b4)
    assert len(common) > 20
    assert all(np.array_equal(a[k], b4[k]) for k in common)
    both = [i for (e, i) in a if e == 0 and (1, i) in a]
    assert both
    assert all(not np.array_equal(a[(0, i)], a[(1, i)]) for i in both)  # new epoch, new augmentation


def test_workers_do_not_change_the_batches(examples):
    _same(list(_train(examples, workers=0)), list(_train(examples, workers=2, prefetch=1)))
    ev = dict(multilabel=False, batch_size=7, resize_size=10, crop_size=8)
    _same(list(data.eval_iterator(examples, CLASSES, **ev)),
          list(data.eval_iterator(examples, CLASSES, workers=2, **ev)))


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_mid_epoch_is_bitwise_identical(examples, workers):
    full = list(_train(examples, workers=workers))
    for stop in (1, 3, 4, 7):  # mid-epoch, at an epoch boundary, in later epochs
        it = _train(examples, workers=workers)
        for _ in range(stop):
            next(it)
        state = json.loads(json.dumps(it.get_state()))
        assert set(state) == {"epoch", "position"}
        it.close()
        resumed = _train(examples, workers=workers)
        resumed.set_state(state)
        _same(list(resumed), full[stop:])
    assert _train(examples).get_state() == {"epoch": 0, "position": 0}


def test_state_at_epoch_end_points_to_next_epoch(examples):
    it = _train(examples)
    for _ in range(3):
        next(it)
    assert it.get_state() == {"epoch": 1, "position": 0}
    with pytest.raises(ValueError):
        it.set_state({"epoch": 0, "position": 99})


def test_eval_keeps_last_partial_batch_padded_with_mask(examples):
    batches = list(data.eval_iterator(examples, CLASSES, multilabel=False, batch_size=8,
                                      resize_size=10, crop_size=8))
    assert [b.size for b in batches] == [8, 8, 4]
    last = batches[-1]
    assert last.images.shape == (8, 8, 8, 3)
    assert last.mask.tolist() == [True] * 4 + [False] * 4
    assert last.index.tolist() == [16, 17, 18, 19, -1, -1, -1, -1]
    assert not last.images[4:].any()
    assert np.concatenate([b.index[b.mask] for b in batches]).tolist() == list(range(20))


def test_multilabel_multi_hot(examples):
    ex = [data.Example(e.path, ("x", e.label) if i % 2 else (), e.where) for i, e in enumerate(examples)]
    classes = data.class_names(ex)
    b = next(iter(data.eval_iterator(ex, classes, multilabel=True, batch_size=4,
                                     resize_size=8, crop_size=8)))
    assert b.labels.dtype == np.float32 and b.labels.shape == (4, len(classes))
    assert b.labels[0].sum() == 0 and b.labels[1, classes.index("x")] == 1 and b.labels[1].sum() == 2


def test_batch_larger_than_data_and_unknown_label(examples):
    with pytest.raises(ValidationError, match="more than the 20 images"):
        _train(examples, batch_size=21)
    with pytest.raises(ValidationError, match="'d'"):
        data.train_iterator(examples, ("a", "b", "c"), multilabel=False, batch_size=2, seed=0)


def test_unreadable_image_raises_validation_error_from_next(examples, tmp_path):
    bad = [*examples[:3], data.Example(str(tmp_path / "gone.png"), "a", "training_data.image_url[line 4]")]
    it = data.eval_iterator(bad, CLASSES, multilabel=False, batch_size=4, resize_size=8, crop_size=8,
                            workers=2)
    with pytest.raises(ValidationError, match=r"line 4\]: .*gone.png: file not found"):
        next(it)


def test_endless_stream_crosses_epochs_identically_for_any_worker_count(examples):
    import itertools

    def take(workers):
        with _train(examples, num_epochs=None, workers=workers) as it:
            return list(itertools.islice(it, 10))

    zero, two = take(0), take(2)
    _same(zero, two)
    assert [(b.epoch, b.step) for b in zero][-2:] == [(2, 2), (3, 0)]
    _same(zero[:9], list(_train(examples, num_epochs=3)))  # num_epochs only sets the end


def test_rows_are_the_documented_transform_of_their_example(examples):
    for b in list(_train(examples, workers=2))[::4]:
        for row, i in enumerate(b.index):
            ex = examples[i]
            expect = data.train_transform(data.load_image(ex.path), (5, b.epoch, int(i)), crop_size=8)
            assert np.array_equal(b.images[row], expect)
