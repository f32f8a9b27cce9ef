"""Input images/s at 224 px: decoding per read against the decoded image store, host against device
augmentation, side by side with the train step's images/s, in one run.

Writes ``--images`` synthetic JPEGs of ``--width`` x ``--height`` (default 320x256: the store keeps them at a
shorter side of 256, the default validation resize), then prints one JSON line per row:

* ``build_store``: decoding every image once into the store (:func:`build_image_store`), images/s.
* ``decode_host``: today's path without a store: decode + host augmentation (``train_iterator``).
* ``store_host``: the store's rows + host augmentation (Pillow and numpy, in the iterator's threads).
* ``store_device``: the store's canvases gathered by the iterator, augmented by
  :func:`~imgtune.train.data.augment_device.train_augment` (jitted, on this machine's JAX backend),
  ``block_until_ready`` on each batch: the input path of a trial with ``augment_on: device``.
* ``device_augment_only``: ``train_augment`` alone on a batch already on the device.
* ``train_step``: the jitted train step (:func:`imgtune.train.loop.make_train_step`, float32, SGD) at
  224 px, per ``--models``, on random inputs: what the input path must keep up with.

Iterators run one epoch with ``--workers`` threads (default: the cores), batch ``--batch``; each row is the
best of ``--repeats`` after a warm-up (which compiles).

    python benchmarks/input_store.py [--images 256] [--batch 32] [--models resnet18 resnet50] [--step-batch 16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from imgtune.train import data
from imgtune.train.data.image_store import build_image_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from input_pipeline import best_of  # the input benchmarks' one timing helper (warm-up, best of N)

HERE = Path(__file__).resolve().parent


def make_jpegs(folder: Path, n: int, width: int, height: int, seed: int = 0) -> list[data.Example]:
    """Smooth random-colour JPEGs with noise (quality 90), about the entropy of photos."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) / max(width, height)
    out = []
    for i in range(n):
        f, phase = rng.uniform(1, 6, size=(3, 2)), rng.uniform(0, 6.3, size=3)
        img = np.stack([np.sin(f[c, 0] * 6 * xx + f[c, 1] * 4 * yy + phase[c]) for c in range(3)], -1)
        img = (img * 90 + 128 + rng.normal(0, 12, img.shape)).clip(0, 255).astype(np.uint8)
        path = folder / f"{i:04d}.jpg"
        Image.fromarray(img, "RGB").save(path, quality=90)
        out.append(data.Example(str(path), str(i % 10), str(path)))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--crop", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", nargs="*", default=["resnet18", "resnet50"])
    p.add_argument("--step-batch", type=int, default=16)
    p.add_argument("--step-reps", type=int, default=2)
    args = p.parse_args(argv)

    import jax  # here, after the arguments are parsed: --help needs no JAX

    from imgtune.train.data.augment_device import keys_for, train_augment  # imports JAX

    classes = tuple(str(d) for d in range(10))
    common = {"crop": args.crop, "batch": args.batch, "workers": args.workers, "backend": jax.default_backend(),
              "cpus": os.cpu_count()}

    def row(name: str, n: int, seconds: float, **extra) -> None:
        print(json.dumps({"name": name, "images": n, "seconds": round(seconds, 4),
                          "images_per_s": round(n / seconds, 1), **common, **extra}), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        examples = make_jpegs(folder, args.images, args.width, args.height)
        paths = [ex.path for ex in examples]

        def build() -> int:
            for f in ("images.npy", "images.json"):
                (folder / f).unlink(missing_ok=True)
            build_image_store(folder / "images.npy", folder / "images.json", paths, short_side=256,
                              workers=args.workers)
            return len(paths)

        n, secs = best_of(build, args.repeats)
        store = build_image_store(folder / "images.npy", folder / "images.json", paths, short_side=256)
        row("build_store", n, secs, canvas=list(store.images.shape[1:3]),
            store_mib=round(store.images.nbytes / 2**20, 1))

        def epoch(**kw) -> int:
            it = data.BatchIterator(examples, classes, multilabel=False, batch_size=args.batch, seed=0,
                                    num_epochs=1, workers=args.workers, **kw)
            with it:
                return sum(b.size for b in it)

        def host(image, key):
            return data.train_transform(image, key, crop_size=args.crop)

        n, secs = best_of(lambda: epoch(transform=host), args.repeats)
        row("decode_host", n, secs)
        n, secs = best_of(lambda: epoch(transform=host, load=lambda ex: store.image(ex.path)), args.repeats)
        row("store_host", n, secs)

        sizes = np.array([store.size(ex.path) for ex in examples], np.int32)

        def device_epoch() -> int:
            it = data.BatchIterator(examples, classes, multilabel=False, batch_size=args.batch, seed=0, num_epochs=1,
                                    workers=args.workers, transform=lambda image, key: image,
                                    load=lambda ex: store.canvas(ex.path))
            n = 0
            with it:
                for b in it:
                    train_augment(b.images, sizes[b.index], keys_for(0, b.epoch, b.index),
                                  crop_size=args.crop).block_until_ready()
                    n += b.size
            return n

        n, secs = best_of(device_epoch, args.repeats)
        row("store_device", n, secs)
        batch = jax.device_put(store.images[: args.batch])
        bsizes, bkeys = sizes[: args.batch], keys_for(0, 0, np.arange(args.batch))

        def augment_only() -> int:
            for _ in range(4):
                train_augment(batch, bsizes, bkeys, crop_size=args.crop).block_until_ready()
            return 4 * args.batch

        n, secs = best_of(augment_only, args.repeats)
        row("device_augment_only", n, secs)

    if args.models:
        sys.path.insert(0, str(HERE))
        from train_step import jax_time  # a sibling script, found through the path set just above

        step_args = argparse.Namespace(batch=args.step_batch, reps=args.step_reps, profile=0)
        for name in args.models:
            secs = jax_time(name, args.crop, step_args)
            row("train_step", args.step_batch, secs, model=name, dtype="float32", batch=args.step_batch)


if __name__ == "__main__":
    sys.exit(main())
