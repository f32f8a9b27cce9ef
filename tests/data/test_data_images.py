"""Decoding, the up-front image check, and the transforms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imgtune.errors import ValidationError
from imgtune.train import data

MEAN = np.array(data.IMAGENET_MEAN, np.float32)
STD = np.array(data.IMAGENET_STD, np.float32)


@pytest.fixture
def tiny_bomb_limit(monkeypatch):
    """Pillow's decompression-bomb limit at 1000 px (restored afterwards)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)


def _truncate(path, keep=0.5):
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    return path


def test_validate_images_reports_every_bad_file_together(tmp_path, make_image, tiny_bomb_limit):
    good = [make_image(tmp_path / f"ok{i}.png", size=(16, 16), seed=i) for i in range(3)]
    good.append(make_image(tmp_path / "ok.jpg", size=(24, 24), fmt="JPEG"))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG but not really" * 10)
    trunc_png = _truncate(make_image(tmp_path / "trunc.png", size=(30, 30)))
    trunc_jpg = _truncate(make_image(tmp_path / "trunc.jpg", size=(30, 30), fmt="JPEG"), 0.6)
    bomb = make_image(tmp_path / "bomb.png", size=(64, 64), color=(1, 2, 3))  # > 2x the limit
    warn = make_image(tmp_path / "warn.png", size=(40, 40), color=(1, 2, 3))  # the warning range
    paths = [good[0], tmp_path / "missing.png", corrupt, good[1], trunc_png, trunc_jpg,
             bomb, warn, good[2], good[3]]
    ex = [data.Example(str(p), "a", f"training_data.image_url[line {i + 1}]") for i, p in enumerate(paths)]
    for workers in (0, 3):
        with pytest.raises(ValidationError) as err:
            data.validate_images(ex, workers=workers)
        problems = err.value.problems
        assert [p.path for p in problems] == [f"training_data.image_url[line {i}]" for i in (2, 3, 5, 6, 7, 8)]
        messages = [p.message for p in problems]
        assert "file not found" in messages[0]
        assert "not an image" in messages[1]
        assert all("truncated" in m.split("(", 1)[1].lower() for m in messages[2:4])  # Pillow's reason
        assert "decompression-bomb" in messages[4] and "decompression-bomb" in messages[5]
        assert all(m.startswith(str(tmp_path)) for m in messages)
    data.validate_images([ex[0], ex[3]], workers=2)  # the good ones pass
    with pytest.raises(ValidationError, match="decompression-bomb"):
        data.load_image(bomb)


def test_bomb_limit_restored_by_fixture():
    assert Image.MAX_IMAGE_PIXELS > 1000


def test_exif_orientation_honoured(tmp_path):
    im = Image.new("RGB", (20, 10), (255, 0, 0))
    im.paste((0, 0, 255), (10, 0, 20, 10))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    im.save(tmp_path / "o.png", exif=exif)
    out = data.load_image(tmp_path / "o.png")
    assert out.size == (10, 20)
    px = np.asarray(out)
    assert tuple(px[2, 5]) == (255, 0, 0) and tuple(px[17, 5]) == (0, 0, 255)


@pytest.mark.parametrize(
    ("mode", "color", "expect"),
    [("L", 200, (200, 200, 200)), ("RGBA", (10, 20, 30, 0), (10, 20, 30)),
     ("LA", (90, 255), (90, 90, 90)), ("CMYK", (0, 0, 0, 0), (255, 255, 255))],
)
def test_modes_become_rgb(tmp_path, mode, color, expect):
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    Image.new(mode, (5, 4), color).save(path)
    out = data.load_image(path)
    assert out.mode == "RGB" and out.size == (5, 4)
    assert tuple(np.asarray(out)[1, 1]) == expect


def test_palette_image_becomes_rgb(tmp_path):
    Image.new("RGB", (6, 6), (12, 34, 56)).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    out = data.load_image(tmp_path / "p.png")
    assert out.mode == "RGB" and tuple(np.asarray(out)[0, 0]) == (12, 34, 56)


def test_normalisation_and_eval_shapes():
    im = Image.new("RGB", (50, 30), (255, 0, 128))
    y = data.eval_transform(im, resize_size=20, crop_size=16)
    assert y.shape == (16, 16, 3) and y.dtype == np.float32
    expect = (np.array([255, 0, 128], np.float32) / 255 - MEAN) / STD
    np.testing.assert_allclose(y, np.broadcast_to(expect, y.shape), rtol=1e-5, atol=1e-5)


def test_eval_resizes_shorter_side_and_centre_crops():
    # a 60x30 image: left third black, middle white, right third black
    px = np.zeros((30, 60, 3), np.uint8)
    px[:, 20:40] = 255
    y = data.eval_transform(px, resize_size=15, crop_size=10)  # -> 30x15, crop cols 10..20
    white = (1 - MEAN) / STD
    np.testing.assert_allclose(y[:, 3:7], np.broadcast_to(white, (10, 4, 3)), atol=1e-4)
    # smaller than the crop: zero padding (normalised zeros) around it
    z = data.eval_transform(np.full((4, 4, 3), 255, np.uint8), resize_size=4, crop_size=8)
    np.testing.assert_allclose(z[0, 0], -MEAN / STD, atol=1e-5)
    np.testing.assert_allclose(z[4, 4], white, atol=1e-5)


def test_train_transform_deterministic_per_key_and_varies_across_keys():
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    a = data.train_transform(px, (7, 1, 3), crop_size=16)
    assert a.shape == (16, 16, 3) and a.dtype == np.float32
    assert np.array_equal(a, data.train_transform(Image.fromarray(px), (7, 1, 3), crop_size=16))
    others = [data.train_transform(px, k, crop_size=16) for k in ((7, 1, 4), (7, 2, 3), (8, 1, 3))]
    assert all(not np.array_equal(a, o) for o in others)
    lo, hi = (0 - MEAN) / STD, (1 - MEAN) / STD
    assert (a >= lo - 1e-5).all() and (a <= hi + 1e-5).all()


def test_train_transform_flips_when_its_key_says_so_about_half_the_time():
    px = np.zeros((16, 16, 3), np.uint8)
    px[:, :8] = 255  # left half white
    seen = []
    for i in range(120):
        rng = data.rng_for((0, 0, i))
        box = data.random_resized_crop_box(16, 16, rng)
        if box[0] < 7 and box[2] > 9:  # the crop shows both halves
            flip = rng.random() < 0.5  # drawn right after the crop box
            out = data.train_transform(px, (0, 0, i), crop_size=8)
            seen.append((flip, bool(out[:, 0].mean() < out[:, -1].mean())))
    assert len(seen) > 20
    assert all(expected == observed for expected, observed in seen)
    assert 0.25 < np.mean([f for f, _ in seen]) < 0.75


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400), st.integers(0, 2**32))
def test_crop_box_inside_image_and_within_ratio_or_fallback(w, h, seed):
    left, top, right, bottom = data.random_resized_crop_box(w, h, np.random.default_rng(seed))
    assert 0 <= left < right <= w and 0 <= top < bottom <= h


def test_crop_box_fallback_is_centre_crop_clamped_to_ratio():
    # a 1x200 strip can never fit a 3/4..4/3 box of >= 8% area: fallback
    box = data.random_resized_crop_box(200, 1, np.random.default_rng(0))
    assert box == (99, 0, 100, 1)  # w = round(1 * 4/3) = 1, centred
    box = data.random_resized_crop_box(100, 10, np.random.default_rng(0))
    assert box[3] - box[1] <= 10


def test_normalize_matches_formula():
    x = np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 20
    np.testing.assert_allclose(data.normalize(x), (x / 255.0 - MEAN) / STD, rtol=1e-5)
