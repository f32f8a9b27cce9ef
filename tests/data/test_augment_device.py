"""The device augmentation (JAX) against the host one (numpy, Pillow): same distributions, same
geometry and formulas, deterministic per key whatever the batch."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from imgtune.train.data.augment import IMAGENET_MEAN, IMAGENET_STD, random_resized_crop_box, rng_for
from imgtune.train.data.augment_device import crop_resize, draw, keys_for, train_augment

N = 400
H, W = 48, 64  # a landscape image: the ratio's clamping and the fallback both matter


def _host_draws():
    boxes, flips, jitter = [], [], []
    for i in range(N):
        rng = rng_for((3, 1, i))
        boxes.append(random_resized_crop_box(W, H, rng))  # the host path's draws, in its order
        flips.append(rng.random() < 0.5)
        jitter.append(rng.uniform(0.6, 1.4, size=3))
    return np.array(boxes), np.array(flips), np.array(jitter)


def _stats(boxes):
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return w * h / (W * H), np.log(w / h)


@pytest.fixture(scope="module")
def draws():
    d = draw(keys_for(3, 1, np.arange(N)), np.tile([[H, W]], (N, 1)))
    return np.asarray(d.box), np.asarray(d.flip), np.asarray(d.jitter)


def test_the_device_draws_follow_the_host_distributions(draws):
    (db, dflip, djit), (hb, hflip, hjit) = draws, _host_draws()
    for boxes in (db, hb):
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= W).all() and (boxes[:, 3] <= H).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    (ds, dr), (hs, hr) = _stats(db), _stats(hb)
    # scale in [0.08, 1] (up to rounding), log-ratio within log(3/4)..log(4/3) (up to rounding)
    assert ds.min() > 0.06 and ds.max() <= 1 and abs(dr).max() < math.log(4 / 3) + 0.08
    for ours, theirs in ((ds, hs), (dr, hr)):  # two-sample: quantiles within sampling error
        q = np.linspace(0.1, 0.9, 9)
        assert np.abs(np.quantile(ours, q) - np.quantile(theirs, q)).max() < 0.1
    # the crop's position: the box centre spreads over the image alike
    assert abs(((db[:, 0] + db[:, 2]) / 2).mean() - ((hb[:, 0] + hb[:, 2]) / 2).mean()) < 2.5
    assert abs(dflip.mean() - 0.5) < 0.08 and abs(hflip.mean() - 0.5) < 0.08
    assert djit.min() >= 0.6 and djit.max() <= 1.4 and abs(djit.mean() - 1.0) < 0.03
    assert abs(djit.std() - hjit.std()) < 0.02  # uniform on [0.6, 1.4]: 0.231
    assert len({tuple(b) for b in db}) > N * 0.9  # not one box over and over


def test_the_crop_resize_is_pillows(draws):
    boxes = draws[0][:25]
    im = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    for box in boxes:
        ours = np.asarray(crop_resize(jnp.asarray(im), jnp.asarray(box), 16))
        pil = np.asarray(Image.fromarray(im).crop(tuple(int(v) for v in box)).resize((16, 16), Image.BILINEAR))
        assert np.abs(ours - pil).max() <= 1.5  # Pillow rounds to uint8 between its two passes


def _host_augment(image, box, flip, jitter, crop):
    """The host path's steps, with the given draws (augment.train_transform's formulas)."""
    x = np.asarray(Image.fromarray(image).crop(tuple(int(v) for v in box)).resize((crop, crop), Image.BILINEAR),
                   np.float32)
    if flip:
        x = x[:, ::-1]
    b, c, s = jitter
    grey = np.array([0.299, 0.587, 0.114], np.float32)
    x = np.clip(x * b, 0, 255)
    x = np.clip(c * x + (1 - c) * (x @ grey).mean(), 0, 255)
    x = np.clip(s * x + (1 - s) * (x @ grey)[..., None], 0, 255)
    return (x / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)


def test_a_batch_is_the_host_steps_with_the_device_draws_and_independent_of_its_batch():
    rng = np.random.default_rng(1)
    sizes = np.array([[H, W], [40, 30], [H, W], [20, 20]], np.int32)
    canvas = np.zeros((4, H, W, 3), np.uint8)
    for j, (h, w) in enumerate(sizes):
        canvas[j, :h, :w] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    keys = keys_for(7, 2, np.array([10, 11, 12, 13]))
    out = np.asarray(train_augment(canvas, sizes, keys, crop_size=16))
    d = draw(keys, sizes)
    for j, (h, w) in enumerate(sizes):
        expected = _host_augment(canvas[j, :h, :w], np.asarray(d.box[j]), bool(d.flip[j]),
                                 np.asarray(d.jitter[j]), 16)
        assert np.abs(out[j] - expected).max() < 0.05  # about 2 grey levels of 255 after normalising
    # the same key gives the same output in another batch, at another position
    other = [3, 2, 2, 0]  # example 2 now beside others, at positions 1 and 2
    mixed = np.asarray(train_augment(canvas[other], sizes[other], keys[other], crop_size=16))
    np.testing.assert_allclose(mixed[1], out[2], atol=1e-5)
    np.testing.assert_allclose(mixed[2], out[2], atol=1e-5)
    np.testing.assert_allclose(mixed[0], out[3], atol=1e-5)
    np.testing.assert_array_equal(np.asarray(train_augment(canvas, sizes, keys, crop_size=16)), out)
    other_epoch = np.asarray(train_augment(canvas, sizes, keys_for(7, 3, np.array([10, 11, 12, 13])),
                                           crop_size=16))
    assert not np.allclose(other_epoch, out)


def test_mean_and_std_are_the_normalisation():
    canvas = np.full((4, H, W, 3), 90, np.uint8)
    args = (canvas, np.tile([[20, 20]], (4, 1)), keys_for(0, 0, np.arange(4)))
    imagenet = np.asarray(train_augment(*args, crop_size=8))
    plain = np.asarray(train_augment(*args, crop_size=8, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
    pixels = imagenet * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)
    np.testing.assert_allclose(plain, (pixels - 0.5) / 0.5, atol=1e-5)
