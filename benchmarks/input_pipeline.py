"""Input-pipeline throughput: decode + training augmentation of 224 px JPEGs.

Writes ~200 synthetic 224x224 JPEGs to a temp folder, then times one epoch of
:func:`imgtune.train.data.train_iterator` (crop 224, batch 32) with 1 worker
and with ``os.cpu_count()`` workers, next to a reference: a plain sequential
Pillow + numpy loop doing the same work (decode, random resized crop, flip,
colour jitter, normalise) without grain, threads or batching, written the
obvious way (channel broadcasting, ``np.clip`` with Python-float bounds).
A third line, ``sequential_imgtune_transforms``, calls imgtune's own
``load_image`` + ``train_transform`` in a plain loop, which separates the
transform's own speed-ups from the pipeline's (grain, threads, batching)
overhead or gain. Each timing is the best of ``--repeats`` runs after a
warm-up; ``ratio`` is images/s over the reference loop's.

Prints one JSON object per line::

    {"name": "reference_plain_loop", "workers": 0, "images": 192, "seconds": ..., "images_per_s": ...}
    {"name": "imgtune_pipeline", "workers": 1, ..., "ratio": <pipeline images/s / reference images/s>}

Run: ``python benchmarks/input_pipeline.py [--images 200] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from imgtune.train import data


def make_jpegs(folder: Path, n: int, size: int = 224, seed: int = 0) -> list[data.Example]:
    """``n`` smooth random-colour JPEGs (quality 90), about the entropy of photos."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = []
    for i in range(n):
        f = rng.uniform(1, 6, size=(3, 2))
        phase = rng.uniform(0, 6.3, size=3)
        img = np.stack([np.sin(f[c, 0] * 6 * xx + f[c, 1] * 4 * yy + phase[c]) for c in range(3)], -1)
        img = (img * 90 + 128 + rng.normal(0, 12, img.shape)).clip(0, 255).astype(np.uint8)
        path = folder / f"{i:04d}.jpg"
        Image.fromarray(img, "RGB").save(path, quality=90)
        out.append(data.Example(str(path), str(i % 10), str(path)))
    return out


def reference_loop(examples: list[data.Example], crop: int, seed: int) -> int:
    """The same work as the pipeline, written as the obvious sequential loop."""
    mean = np.array(data.IMAGENET_MEAN, np.float32)
    std = np.array(data.IMAGENET_STD, np.float32)
    rng = np.random.default_rng(seed)
    n = 0
    for ex in examples:
        with Image.open(ex.path) as im:
            im = im.convert("RGB")
        box = data.random_resized_crop_box(im.width, im.height, rng)
        x = np.asarray(im.crop(box).resize((crop, crop), Image.Resampling.BILINEAR), np.float32)
        if rng.random() < 0.5:
            x = x[:, ::-1]
        b, c, s = rng.uniform(0.6, 1.4, 3)
        x = np.clip(x * b, 0, 255)
        grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
        x = np.clip(c * x + (1 - c) * grey.mean(), 0, 255)
        grey = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        x = np.clip(s * x + (1 - s) * grey, 0, 255)
        _ = ((x / 255.0 - mean) / std).astype(np.float32)
        n += 1
    return n


def sequential_same_transforms(examples: list[data.Example], crop: int) -> int:
    """imgtune's own decode + transform, called in a plain loop (no grain, no batching)."""
    for i, ex in enumerate(examples):
        data.train_transform(data.load_image(ex.path), (0, 0, i), crop_size=crop)
    return len(examples)


def pipeline_epoch(examples: list[data.Example], crop: int, batch: int, workers: int) -> int:
    it = data.train_iterator(examples, tuple(str(d) for d in range(10)), multilabel=False,
                             batch_size=batch, seed=0, crop_size=crop, num_epochs=1,
                             workers=workers, prefetch=2)
    with it:
        return sum(b.size for b in it)


def best_of(fn, repeats: int) -> tuple[int, float]:
    fn()  # warm-up (imports, page cache)
    best = float("inf")
    n = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - t0)
    return n, best


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--crop", type=int, default=224)
    args = p.parse_args(argv)
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        examples = make_jpegs(Path(tmp), args.images)
        n, secs = best_of(lambda: reference_loop(examples, args.crop, 0), args.repeats)
        ref_rate = n / secs
        common = {"images": n, "image_size": 224, "crop": args.crop, "cpus": cpus}
        print(json.dumps({"name": "reference_plain_loop", "workers": 0, **common,
                          "seconds": round(secs, 4), "images_per_s": round(ref_rate, 1)}), flush=True)
        n, secs = best_of(lambda: sequential_same_transforms(examples, args.crop), args.repeats)
        print(json.dumps({"name": "sequential_imgtune_transforms", "workers": 0, **common,
                          "seconds": round(secs, 4), "images_per_s": round(n / secs, 1),
                          "ratio": round((n / secs) / ref_rate, 3)}), flush=True)
        for workers in sorted({1, cpus}):
            n, secs = best_of(lambda w=workers: pipeline_epoch(examples, args.crop, args.batch_size, w),
                              args.repeats)
            print(json.dumps({"name": "imgtune_pipeline", "workers": workers, **common,
                              "images": n, "batch_size": args.batch_size,
                              "seconds": round(secs, 4), "images_per_s": round(n / secs, 1),
                              "ratio": round((n / secs) / ref_rate, 3)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
