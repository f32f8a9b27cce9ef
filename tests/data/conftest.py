"""Fixtures for the input-pipeline tests: tiny images written on demand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_image(path: Path, size=(16, 16), color=None, mode="RGB", fmt=None, seed=0) -> Path:
    """Writes a small image (noise unless ``color`` is given); returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    if color is None:
        rng = np.random.default_rng(seed)
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
        if mode != "RGB":
            im = im.convert(mode)
    else:
        im = Image.new(mode, size, color)
    im.save(path, format=fmt)
    return path


def write_jsonl(path: Path, rows) -> Path:
    """Writes rows (dicts, or raw strings written as they are) one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def write_mltable(folder: Path, jsonl_name: str = "train.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLTable").write_text(f"paths:\n  - file: ./{jsonl_name}\n")
    return folder


@pytest.fixture
def labelled_images(tmp_path):
    """20 noise images in tmp_path/img, 4 classes x 5, plus their JSONL rows."""
    rows = []
    for i in range(20):
        name = f"img/{i:02d}.png"
        write_image(tmp_path / name, size=(16 + i % 3, 16), seed=i)
        rows.append({"image_url": name, "label": "abcd"[i % 4]})
    return tmp_path, rows


@pytest.fixture
def make_image():
    """``make_image(path, size=(16, 16), color=None, mode="RGB", fmt=None, seed=0)``."""
    return write_image


@pytest.fixture
def make_jsonl():
    """``make_jsonl(path, rows)``."""
    return write_jsonl


@pytest.fixture
def make_mltable():
    """``make_mltable(folder, jsonl_name="train.jsonl")``."""
    return write_mltable
