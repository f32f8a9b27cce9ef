"""Prediction throughput on CPU: the JAX model and its ONNX export (onnxruntime), against PyTorch eager.

For each model: a checkpoint of the published architecture (random weights; 10 classes) is
written, exported to ONNX, and loaded as imgtune's two predictors
(``imgtune.prediction.load_predictor``). Timed: ``predictor.logits(pixels)`` on uint8
``[batch, 224, 224, 3]`` crops, which includes the normalisation, the host-device transfer
and, for onnxruntime, the NCHW transpose; decoding is not included (see the input-pipeline
benchmark). The peer is the hand-written PyTorch reference of the same architecture in eval
mode under ``torch.no_grad()``, on the same normalised input, timed first in its own process
(XLA's CPU threads linger and slow PyTorch down when interleaved).

Prints one JSON line per (model, batch): images/s for JAX, onnxruntime and PyTorch, and the
ratios onnx/jax and jax/torch, onnx/torch (> 1: the first is faster).

    python benchmarks/predict_speed.py [--models resnet18 vits16r224] [--batches 1 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SIZE = 224


def _rate(fn, batch: int, seconds: float = 6.0, min_reps: int = 3) -> float:
    """Images per second: after a warm-up call, as many calls as fit in ``seconds`` (at least ``min_reps``)."""
    fn()
    reps, start = 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - start < seconds:
        fn()
        reps += 1
    return batch * reps / (time.perf_counter() - start)


def _pixels(batch: int) -> np.ndarray:
    return (np.random.default_rng(batch).random((batch, SIZE, SIZE, 3)) * 255).astype(np.uint8)


def torch_rates(models: list[str], batches: list[int]) -> dict:
    import torch

    from imgtune.train.data import normalize
    from train_step import _torch_model

    out = {}
    for name in models:
        model = _torch_model(name, 10).eval()
        for batch in batches:
            x = torch.from_numpy(normalize(_pixels(batch)).transpose(0, 3, 1, 2).copy())
            with torch.no_grad():
                out[f"{name}/{batch}"] = _rate(lambda: model(x), batch)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["resnet18", "vits16r224"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 64])
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_only:
        print(json.dumps(torch_rates(args.models, args.batches)))
        return
    done = subprocess.run([sys.executable, __file__, "--torch-only", "--models", *args.models, "--batches",
                           *map(str, args.batches)], capture_output=True, text=True, check=True)
    torch_rate = json.loads(done.stdout.strip().splitlines()[-1])

    import jax
    import jax.numpy as jnp
    import onnxruntime
    from flax import nnx

    from imgtune.export import export_onnx
    from imgtune.prediction import load_predictor
    from imgtune.train.checkpoints import Checkpoints
    from imgtune.train.models import create_model
    from imgtune.train.state import Progress, TrainState

    for name in args.models:
        folder = Path(tempfile.mkdtemp(prefix=f"predict-{name}-"))
        model = create_model(name, 10, rngs=nnx.Rngs(0))
        _, params, stats = nnx.split(model, nnx.Param, nnx.BatchStat)
        info = {"model_name": name, "model_width": 1.0, "classes": [str(i) for i in range(10)], "multilabel": False,
                "primary_metric": "accuracy", "training_crop_size": SIZE, "validation_crop_size": SIZE,
                "validation_resize_size": 256, "compute_dtype": "float32", "enable_onnx_normalization": False}
        ck = Checkpoints(folder / "checkpoint")
        ck.save(TrainState(jnp.zeros((), jnp.int32), params, stats, ()), Progress(epochs_done=1), info=info, best=True)
        ck.finish()
        t = time.perf_counter()
        onnx_path = export_onnx(folder / "checkpoint", folder / "model.onnx")
        export_seconds = time.perf_counter() - t
        onnx_predictor = load_predictor(onnx_path)
        for batch in args.batches:
            jax_predictor = load_predictor(folder / "checkpoint", batch_size=batch)
            pixels = _pixels(batch)
            jax_rate = _rate(lambda: jax_predictor.logits(pixels), batch)
            onnx_rate = _rate(lambda: onnx_predictor.logits(pixels), batch)
            peer = torch_rate[f"{name}/{batch}"]
            print(json.dumps({
                "model": name, "size": SIZE, "batch": batch, "jax_images_per_s": round(jax_rate, 2),
                "onnxruntime_images_per_s": round(onnx_rate, 2), "torch_images_per_s": round(peer, 2),
                "onnx_over_jax": round(onnx_rate / jax_rate, 2), "jax_over_torch": round(jax_rate / peer, 2),
                "onnx_over_torch": round(onnx_rate / peer, 2), "export_seconds": round(export_seconds, 1),
                "jax": jax.__version__, "onnxruntime": onnxruntime.__version__, "backend": jax.default_backend(),
            }), flush=True)


if __name__ == "__main__":
    main()
