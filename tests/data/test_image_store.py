"""The decoded image store: contents, reuse by content key, atomicity, the budget, the iterators reading it."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from imgtune.errors import ValidationError
from imgtune.train.data import eval_iterator, load_image, train_iterator
from imgtune.train.data.image_store import (
    BUDGET_ENV,
    build_image_store,
    image_store_budget,
    open_image_store,
    stored_size,
)
from imgtune.train.data.read import Example


def write_image(path, size, seed=0, fmt=None):
    """A noise image (not imported from tests/data/conftest.py: a module named conftest is ambiguous in a
    whole-suite run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, format=fmt)
    return path


@pytest.fixture
def images(tmp_path):
    """Six images: small ones kept as they are, large ones (landscape, portrait) reduced."""
    sizes = [(20, 16), (16, 20), (18, 18), (48, 32), (30, 60), (17, 24)]
    return [str(write_image(tmp_path / "img" / f"{i}.png", size=s, seed=i)) for i, s in enumerate(sizes)]


def _build(tmp_path, paths, **kw):
    lines = []
    store = build_image_store(tmp_path / "images.npy", tmp_path / "images.json", paths, short_side=20,
                              log=lines.append, **kw)
    return store, lines


def test_each_image_is_stored_decoded_and_reduced_to_the_short_side(tmp_path, images):
    store, lines = _build(tmp_path, images, workers=2)
    assert store is not None and len(store) == 6 and "decoded 6 images once" in lines[0]
    assert store.images.shape == (6, 40, 30, 3) and not store.images.flags.writeable
    for p in images:
        im = load_image(p)
        w, h = stored_size(im.width, im.height, 20)
        assert store.size(p) == (h, w) and min(h, w) == min(20, im.width, im.height)
        expected = np.asarray(im.resize((w, h), Image.Resampling.BILINEAR) if (w, h) != im.size else im)
        np.testing.assert_array_equal(store.image(p), expected)
        canvas = store.canvas(p)
        assert not canvas[h:].any() and not canvas[:, w:].any()  # zeros around the image


def test_a_rerun_reuses_a_complete_store_and_a_changed_file_rebuilds_it(tmp_path, images):
    _build(tmp_path, images)
    inode = os.stat(tmp_path / "images.npy").st_ino
    _, lines = _build(tmp_path, images)
    assert "reusing" in lines[0] and os.stat(tmp_path / "images.npy").st_ino == inode
    write_image(tmp_path / "img" / "2.png", size=(18, 18), seed=99)  # new content, same name and size
    os.utime(images[2], ns=(1, 1))
    rebuilt, lines = _build(tmp_path, images)
    assert "decoded" in lines[0]
    np.testing.assert_array_equal(rebuilt.image(images[2]), np.asarray(load_image(images[2])))
    assert open_image_store(tmp_path / "images.npy", tmp_path / "images.json", images[:3], short_side=20) is None


def test_a_failed_build_leaves_nothing_that_looks_complete(tmp_path, images):
    assert _build(tmp_path, images)[0] is not None
    bad = write_image(tmp_path / "img" / "bad.jpg", size=(64, 64), fmt="JPEG")
    bad.write_bytes(bad.read_bytes()[:1000])  # a header, then truncated: found while decoding, not before
    store, lines = _build(tmp_path, [*images, str(bad)])
    assert store is None and "not made, an image cannot be decoded" in lines[0], lines
    assert not (tmp_path / "images.json").exists()  # the old store went first: no stale one is used
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    assert open_image_store(tmp_path / "images.npy", tmp_path / "images.json") is None


def test_over_the_budget_the_trials_stream_and_the_log_says_so(tmp_path, images, monkeypatch):
    store, lines = _build(tmp_path, images, budget_bytes=1000)
    assert store is None and "over the budget" in lines[0] and BUDGET_ENV in lines[0]
    assert not (tmp_path / "images.npy").exists()
    monkeypatch.setenv(BUDGET_ENV, "0")
    store, lines = _build(tmp_path, images)
    assert image_store_budget() == 0 and store is None and "off" in lines[0]
    monkeypatch.setenv(BUDGET_ENV, "lots")
    with pytest.raises(ValidationError, match=BUDGET_ENV):
        image_store_budget()


def test_the_iterators_read_the_store_as_they_would_the_files(tmp_path, images):
    store, _ = _build(tmp_path, images[:3] + images[5:])  # all within the short side: stored as they are
    examples = [Example(p, "ab"[i % 2], f"img {i}") for i, p in enumerate(images[:3] + images[5:])]
    kw = {"multilabel": False, "batch_size": 3, "resize_size": 16, "crop_size": 12}
    from_files = list(eval_iterator(examples, ("a", "b"), **kw))
    from_store = list(eval_iterator(examples, ("a", "b"), load=lambda ex: store.image(ex.path), **kw))
    kw = {"multilabel": False, "batch_size": 2, "seed": 4, "crop_size": 12, "num_epochs": 2}
    from_files += list(train_iterator(examples, ("a", "b"), **kw))  # the host augmentation, bit for bit
    from_store += list(train_iterator(examples, ("a", "b"), load=lambda ex: store.image(ex.path), **kw))
    assert len(from_files) == 2 + 4
    for a, b in zip(from_files, from_store, strict=True):
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.index, b.index)
