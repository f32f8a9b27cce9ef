"""Small example datasets built from scikit-learn's digits (no download).

scikit-learn ships the 1797 8x8 greyscale digits in its wheel; these helpers
upsample them to RGB PNGs and lay them out as job data:

* :func:`make_digits` -- an Azure MLTable folder (multiclass or multilabel)::

      dest_dir/images/00000.png ...         the images
      dest_dir/data/annotations.jsonl       {"image_url": "../images/00000.png", "label": "3"}
      dest_dir/data/MLTable                 paths: [- file: ./annotations.jsonl]

* :func:`make_image_folder` -- a ``uri_folder``: ``dest_dir/<digit>/<n>.png``.

Both are deterministic for a seed, write each file atomically (temp file +
``os.replace``) and leave files whose content is already right untouched, so
calling them again is cheap and changes nothing. scikit-learn is imported only
when they run.

Example:
    >>> import tempfile
    >>> folder = make_digits(tempfile.mkdtemp(), size=16, n=12)
    >>> sorted(p.name for p in folder.iterdir())
    ['MLTable', 'annotations.jsonl']
    >>> (folder / "annotations.jsonl").read_text().splitlines()[0]
    '{"image_url": "../images/00000.png", "label": "..."}'
"""

from __future__ import annotations

import io
import json
import os

from pathlib import Path

import numpy as np

from imgtune.atomic import write_atomic

__all__ = ["make_digits", "make_image_folder"]

MLTABLE_TEXT = """\
paths:
  - file: ./annotations.jsonl
transformations:
  - read_json_lines:
      encoding: utf8
      invalid_lines: error
      include_path_column: false
  - convert_column_types:
      - columns: image_url
        column_type: stream_info
"""


def make_digits(
    dest_dir: str | os.PathLike[str],
    *,
    size: int = 32,
    multilabel: bool = False,
    n: int | None = None,
    seed: int = 0,
) -> Path:
    """Writes a digits dataset as an MLTable folder and returns that folder.

    Args:
        dest_dir: Where to write (created if missing).
        size: Side of the square RGB PNGs, in pixels (at least 8).
        multilabel: Each image shows two different digits side by side, and
            its label is the sorted list of their names (``["3", "7"]``);
            else one digit, labelled by its name (``"3"``).
        n: Number of images (default and maximum: 1797), balanced over the
            ten digits (any ``n >= 10`` has every digit).
        seed: Chooses and orders the digits (and the pairs).

    Returns:
        ``dest_dir/data``, the folder holding ``MLTable`` and ``annotations.jsonl``.

    Example:
        >>> import tempfile
        >>> folder = make_digits(tempfile.mkdtemp(), size=8, n=20)
        >>> sorted(p.name for p in folder.iterdir())
        ['MLTable', 'annotations.jsonl']
    """
    dest = Path(dest_dir)
    images, targets = _digits()
    rng = np.random.default_rng(seed)
    order = _choose(rng, targets, n)
    lines = []
    for k, i in enumerate(order):
        name = f"{k:05d}.png"
        if multilabel:
            j = int(rng.integers(len(images)))
            while targets[j] == targets[i]:
                j = int(rng.integers(len(images)))
            pixels = _pair(images[i], images[j], size)
            label: str | list[str] = sorted([str(targets[i]), str(targets[j])])
        else:
            pixels = _upsample(images[i], size)
            label = str(targets[i])
        _write_if_changed(dest / "images" / name, _png(pixels))
        lines.append(json.dumps({"image_url": f"../images/{name}", "label": label}))
    data = dest / "data"
    _write_if_changed(data / "annotations.jsonl", ("\n".join(lines) + "\n").encode())
    _write_if_changed(data / "MLTable", MLTABLE_TEXT.encode())
    return data


def make_image_folder(
    dest_dir: str | os.PathLike[str], *, size: int = 32, n: int | None = None, seed: int = 0
) -> Path:
    """Writes digits as a ``uri_folder`` (``dest_dir/<digit>/<k>.png``) and returns ``dest_dir``.

    Stale ``.png`` files in the class folders (from an earlier, larger ``n``)
    are removed, so the folder holds exactly this dataset.

    >>> import tempfile
    >>> root = make_image_folder(tempfile.mkdtemp(), size=8, n=20)
    >>> sorted(p.name for p in root.iterdir())
    ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
    """
    if n is not None and n < 10:
        raise ValueError(f"n={n} leaves a digit without images (an empty class); use n >= 10")
    dest = Path(dest_dir)
    images, targets = _digits()
    order = _choose(np.random.default_rng(seed), targets, n)
    wanted: set[Path] = set()
    for k, i in enumerate(order):
        path = dest / str(targets[i]) / f"{k:05d}.png"
        _write_if_changed(path, _png(_upsample(images[i], size)))
        wanted.add(path)
    for digit in range(10):
        folder = dest / str(digit)
        folder.mkdir(parents=True, exist_ok=True)  # a class always exists
        for p in folder.glob("*.png"):
            if p not in wanted:
                p.unlink()
    return dest


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # lazily: sklearn is slow to import

    d = load_digits()
    pixels = np.clip(np.rint(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return pixels, d.target


def _choose(rng: np.random.Generator, targets: np.ndarray, n: int | None) -> np.ndarray:
    """``n`` digit indices, balanced: round-robin over the classes, then shuffled."""
    total = len(targets)
    if n is None:
        n = total
    if not 1 <= n <= total:
        raise ValueError(f"n must be in [1, {total}], got {n}")
    per_class = [rng.permutation(np.flatnonzero(targets == c)) for c in np.unique(targets)]
    rounds = max(len(p) for p in per_class)
    balanced = [int(p[r]) for r in range(rounds) for p in per_class if r < len(p)]
    return rng.permutation(np.array(balanced[:n]))


def _upsample(digit: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    im = Image.fromarray(digit, "L").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(im.convert("RGB"))


def _pair(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    half = max(8, size // 2)
    canvas = np.zeros((size, 2 * half if 2 * half > size else size, 3), np.uint8)
    top = (size - half) // 2
    canvas[top : top + half, :half] = _upsample(a, half)
    canvas[top : top + half, half : 2 * half] = _upsample(b, half)
    return canvas


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    write_atomic(path, data)
